#!/usr/bin/env python3
"""tests/reliability/driver.py: drover's random-operations suite.

Runs a seeded random sequence of operations (deploys good and bad,
--canary then promote or abort, drover rollback, kill -9 of the
coordinator then drover resume, SIGSTOP of one coordinator while another
takes over, a host going down and coming back, ...) on a real mixed fleet
of sshd hosts and drover-agents, each with a demo-app (tests/reliability/
fleet.sh starts it with tests/integration/lib), and after every command
checks the invariants I1-I7 (docs/reliability.md) against what the hosts
themselves record: each step appends "DEPLOY STEP HOST EPOCH STEP_ID
begin|end" to a log on its host, the demo-app serves its version and says
whether it runs the scheduler.

  driver.py [--seed N] [--ops N | --minutes M] [--ssh N] [--agents N]

Exit 0: no violation; 1: a violation (the seed, the history and the
invariant are printed, the fleet directory is kept); 2: the driver itself
could not run (the fleet did not start).
python3 stdlib only.

Why one file of more than 1,000 lines: it is copied as is to replay a seed
anywhere python3 runs, and its operations, ground truth and invariants
read the same driver state (the history, the last deploy, the hosts' logs).
"""

import argparse
import base64
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

# docs/cli.md, "Exit statuses"
DOCUMENTED_EXITS = {0, 1, 2, 3, 4, 5, 6, 7, 8, 70}
EXIT_NAMES = {0: "ok", 1: "failed", 2: "usage", 3: "bad input", 4: "unreachable",
              5: "rollback failed", 6: "paused", 7: "refused", 8: "locked",
              70: "internal error"}

OP_KINDS = ["good", "bad", "canary", "rollback", "kill", "supersede",
            "takeover", "flap", "flaky"]


class Violation(Exception):
    """An invariant drover broke: inv is "I1".."I7"."""

    def __init__(self, inv, msg):
        super().__init__("%s: %s" % (inv, msg))
        self.inv = inv
        self.msg = msg


class EnvTooSlow(Exception):
    """The test environment, not drover, failed (a peer did not answer)."""


def log(msg):
    print("reliability: %s" % msg, file=sys.stderr, flush=True)


# --- the fleet --------------------------------------------------------------

class Fleet:
    """The mixed fleet, through tests/reliability/fleet.sh."""

    def __init__(self, run_dir, nssh, nagents):
        self.dir = run_dir
        os.makedirs(run_dir, exist_ok=True)
        self.proc = subprocess.Popen(
            ["bash", os.path.join(HERE, "fleet.sh"), str(nssh), str(nagents),
             run_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=open(os.path.join(run_dir, "fleet.log"), "ab"),
            text=True, start_new_session=True)
        line = self.proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError("the fleet did not start (see %s/fleet.log)"
                               % run_dir)
        self.env = {}
        with open(os.path.join(run_dir, "fleet.env")) as f:
            for l in f:
                k, _, v = l.rstrip("\n").partition("=")
                self.env[k] = v
        self.app_port = int(self.env["FLEET_APP_PORT"])
        self.hosts = ["h%d" % i for i in range(1, nssh + 1)] + \
            ["a%d" % i for i in range(1, nagents + 1)]

    def addr(self, h):
        net = self.env["FLEET_NET"] if h[0] == "h" else self.env["AGENTS_NET"]
        return "%s.%s" % (net, h[1:])

    def app_dir(self, h):
        if h[0] == "h":
            return os.path.join(self.env["FLEET_DIR"], "hosts", h)
        return os.path.join(self.env["AGENTS_DIR"], h, "host")  # agents_host_dir

    def command(self, line, timeout=60):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        box = []
        t = threading.Thread(target=lambda: box.append(
            self.proc.stdout.readline().strip()), daemon=True)
        t.start()
        t.join(timeout)
        if not box:
            raise EnvTooSlow("fleet.sh did not answer '%s' in %ds"
                             % (line, timeout))
        if box[0] != "ok":
            if "exited:" in box[0]:
                # the daemon itself refused to run: drover's fault
                raise Violation("I7", "%s: %s" % (line, box[0]))
            raise EnvTooSlow("fleet.sh: %s: %s" % (line, box[0]))

    def stop(self, keep):
        try:
            if keep:
                self.command("keep")
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
        except (OSError, EnvTooSlow):
            pass
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# --- one drover command ----------------------------------------------------

class Cmd:
    """A drover command running in the background; its --json events are
    read as they come so a kill can be timed on them."""

    def __init__(self, drv, argv, label, deadline):
        self.drv = drv
        self.argv = argv
        self.label = label
        self.deadline = deadline
        self.n = drv.next_cmd()
        drv.cmds.append(self)
        base = os.path.join(drv.logs, "%04d-%s" % (self.n, label))
        self.out_path = base + ".out"
        self.err_path = base + ".err"
        self.events = []
        self.lines = []
        self.cond = threading.Condition()
        self.start = time.monotonic()
        self.killed = None
        self.stopped_for = 0.0
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE,
            stderr=open(self.err_path, "wb"), env=drv.cmd_env,
            start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        with open(self.out_path, "wb") as out:
            for raw in self.proc.stdout:
                out.write(raw)
                out.flush()
                line = raw.decode("utf-8", "replace")
                ev = None
                if line.startswith("{"):
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        ev = None
                with self.cond:
                    self.lines.append(line)
                    if ev is not None:
                        self.events.append(ev)
                    self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_event(self, pred, timeout):
        """Wait until an event matches pred (True) or the command ends or
        timeout passes (False)."""
        end = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                while seen < len(self.events):
                    if pred(self.events[seen]):
                        return True
                    seen += 1
                if self.proc.poll() is not None and not self.reader.is_alive():
                    return False
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))

    def alive(self):
        return self.proc.poll() is None

    def kill9(self, why):
        """kill -9 the coordinator (its process only: what a crash does)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.killed = why

    def finish(self):
        """Wait for the end within the deadline (I7); the result."""
        left = self.deadline + self.stopped_for - (time.monotonic() - self.start)
        try:
            rc = self.proc.wait(max(left, 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.reader.join(5)
            raise Violation("I7", "%s did not end within its deadline of %ds "
                            "(hung; killed): %s" % (self.label, self.deadline,
                                                    " ".join(self.argv)))
        self.reader.join(10)
        self.rc = rc
        self.secs = time.monotonic() - self.start
        with open(self.err_path, "rb") as f:
            self.err = f.read().decode("utf-8", "replace")
        self.out = "".join(self.lines)
        self.drv.scan_secret(self.out_path)
        self.drv.scan_secret(self.err_path)
        if self.killed is not None:
            return self
        if rc < 0 or rc not in DOCUMENTED_EXITS:
            raise Violation("I7", "%s exited %s, not a documented status "
                            "(docs/cli.md)" % (self.label, rc))
        if rc == 70:
            raise Violation("I7", "%s exited 70 (internal error): %s"
                            % (self.label, self.err.strip()[-400:]))
        return self

    def text(self):
        return self.out + self.err


# --- the driver --------------------------------------------------------------

class Driver:
    def __init__(self, args, seed):
        self.args = args
        self.seed = seed
        self.rng = random.Random(self.seed)
        self.drover = os.environ.get("DROVER") or os.path.join(
            TOP, os.environ.get("BUILD", "build"), "drover")
        self.run_dir = tempfile.mkdtemp(prefix="drover-reliability.")
        self.logs = os.path.join(self.run_dir, "logs")
        os.makedirs(self.logs)
        self.plans = os.path.join(self.run_dir, "plans")
        os.makedirs(self.plans)
        self.ncmd = 0
        self.cmds = []          # every command started (ended at the end)
        self.history = []
        self.stats = {}
        self.totals = {"operations": 0, "commands": 0, "kills": 0,
                       "resumes": 0, "takeovers": 0, "violations": 0,
                       "slow": 0, "surprises": 0}
        # the secret canaries: one in the coordinator's environment
        # (secret_env), one an -e variable with a secret-looking name
        self.tok = "tokcanary%016x" % self.rng.getrandbits(64)
        self.pw = "pwcanary%016x" % self.rng.getrandbits(64)
        self.secret_forms = []
        for s in (self.tok, self.pw):
            self.secret_forms.append(s.encode())
            self.secret_forms.append(base64.b64encode(s.encode()))
        self.cmd_env = dict(os.environ)
        self.cmd_env["TOK"] = self.tok
        self.cmd_env.pop("DROVER_STATE_DIR", None)
        self.state_dirs = []
        self.version = 10
        self.plan_n = 0
        self.believed = {}      # host -> version it serves (checked)
        self.retried = set()    # (deploy, host, step) run again on purpose
        self.last = None        # (deploy id, result) of the last deploy
        self.deadline = args.deadline

    # -- plumbing --
    def next_cmd(self):
        self.ncmd += 1
        self.totals["commands"] += 1
        return self.ncmd

    def note(self, what):
        self.history.append(what)
        log(what)

    def stat(self, kind, key, n=1):
        self.stats.setdefault(kind, {})
        self.stats[kind][key] = self.stats[kind].get(key, 0) + n

    def tag(self, dep):
        """How the hosts' logs name deploy dep of the current state dir."""
        return "s%d:%s" % (len(self.state_dirs), dep)

    @property
    def state(self):
        return self.state_dirs[-1]

    def ssh_flags(self):
        e = self.fleet.env
        return ["--key", e["FLEET_KEY"], "--known-hosts", e["FLEET_KNOWN_HOSTS"],
                "--coordinator-key", e["AGENTS_KEY"],
                "--known-agents", e["KNOWN_AGENTS"]]

    def start_deploy(self, plan, version, label, extra=(), state=None):
        argv = [self.drover, "deploy", "-i", self.fleet.env["INVENTORY"],
                "--state-dir", state or self.state, "--json", "-v",
                "-e", "version=%s" % version, "-e", "db_password=%s" % self.pw]
        argv += self.ssh_flags() + list(extra) + [plan]
        return Cmd(self, argv, label, self.deadline)

    def start_continue(self, verb, dep, extra=()):
        argv = [self.drover, verb, dep, "--state-dir", self.state, "--json",
                "-v", "-e", "db_password=%s" % self.pw]
        argv += self.ssh_flags() + list(extra)
        return Cmd(self, argv, verb, self.deadline)

    def drover_json(self, args, label):
        c = Cmd(self, [self.drover] + args, label, 60).finish()
        if c.rc != 0:
            raise Violation("I7", "%s exited %d: %s" % (label, c.rc,
                                                         c.err.strip()[-300:]))
        try:
            return json.loads(c.out)
        except ValueError:
            raise Violation("I3", "%s printed no JSON document" % label)

    def show(self, dep):
        r = self.drover_json(["show", "--state-dir", self.state, "--format",
                              "json", dep], "show")
        # the other formats must not leak either
        for fmt in ("text", "markdown"):
            Cmd(self, [self.drover, "show", "--state-dir", self.state,
                       "--format", fmt, dep], "show-" + fmt, 60).finish()
        return r

    def status(self):
        return self.drover_json(["status", "--state-dir", self.state, "--json"],
                                "status")

    def scan_secret(self, path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return
        for form in self.secret_forms:
            if form in data:
                raise Violation("I6", "the secret canary (%s) is in %s"
                                % (form.decode()[:12] + "...", path))

    def scan_state(self):
        """I6 over every byte of every state directory (journal, records,
        locks, sqlite files and their WAL)."""
        for sd in self.state_dirs:
            for root, _, files in os.walk(sd):
                for fn in files:
                    self.scan_secret(os.path.join(root, fn))

    # -- releases and plans --
    def http(self, h, path):
        url = "http://%s:%d%s" % (self.fleet.addr(h), self.fleet.app_port, path)
        last = None
        for _ in range(20):
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()
            except OSError as e:
                last = e
                time.sleep(0.25)
        raise EnvTooSlow("the demo-app of %s does not answer %s: %s"
                         % (h, path, last))

    def served(self):
        return {h: self.http(h, "/version")[1].strip() for h in self.fleet.hosts}

    def holders(self):
        out = []
        for h in self.fleet.hosts:
            _, body = self.http(h, "/health")
            if '"scheduler":"active"' in body:
                out.append(h)
        return out

    def new_release(self, bad=None, bad_hosts=()):
        """A new release on every host; bad: 'gate', 'smoke' or 'step' on
        bad_hosts."""
        self.version += 1
        v = str(self.version)
        for h in self.fleet.hosts:
            d = os.path.join(self.fleet.app_dir(h), "releases", v)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "VERSION"), "w") as f:
                f.write(v + "\n")
            if h in bad_hosts:
                if bad == "gate":
                    with open(os.path.join(d, "BEHAVIOR"), "w") as f:
                        f.write("ready=503\n")
                elif bad == "smoke":
                    open(os.path.join(d, "SMOKE_FAIL"), "w").close()
                elif bad == "step":
                    open(os.path.join(d, "STEP_FAIL"), "w").close()
        return v

    def write_plan(self, p):
        """A plan with the features p asks for (a dict); its path."""
        self.plan_n += 1
        q = json.dumps
        port = self.fleet.app_port

        def logline(name, where):
            return ('echo "{{ sd }}:{{ deploy_id }} %s {{ inventory_hostname }} '
                    '$DROVER_EPOCH $DROVER_STEP_ID %s" >> {{ app_dir }}/steps.log'
                    % (name, where))

        sched = ('if [ -n "${ENABLE_SCHEDULER-}" ]; then echo '
                 '"$ENABLE_SCHEDULER" > {{ app_dir }}/scheduler; fi')
        y = ["# random-operations plan %d (seed %d)" % (self.plan_n, self.seed),
             "name: rel", 'hosts: "fleet:agents"',
             # deploy ids restart in each state directory: the hosts' logs
             # name both
             "vars: { sd: s%d }" % len(self.state_dirs), "strategy:",
             "  order: shuffle", "  seed: %d" % p["order_seed"],
             "  waves: %s" % q(p["waves"]), "  max_fail: 0"]
        if p["before"]:
            y.append("before:")
            for i in range(p["before"]):
                y += ["  - name: b%d" % (i + 1),
                      "    on: once",
                      "    run: %s" % q(logline("b%d" % (i + 1), "begin") + "; sleep %s; "
                                        % p["nap"] + logline("b%d" % (i + 1), "end"))]
        # an attempt that fails on purpose logs 'failed', not 'begin': I1
        # counts both when the step id names the attempt, only begins
        # without one (an older drover)
        prep = ("if [ -e {{ app_dir }}/FAIL_ONCE ]; then rm -f {{ app_dir }}/FAIL_ONCE; " +
                logline("prepare", "failed") + "; echo failing once; exit 1; fi"
                "; if [ -e {{ app_dir }}/releases/{{ version }}/STEP_FAIL ]; then " +
                logline("prepare", "failed") + "; echo release {{ version }} is "
                "broken; exit 1; fi; " + logline("prepare", "begin") + "; " +
                logline("prepare", "end"))
        switch = (logline("switch", "begin") + "; echo tok=$TOK pw=$DBPW; "
                  "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current; "
                  + sched + "; sleep %s; " % p["nap"] + logline("switch", "end"))
        y += ["steps:",
              "  - name: prepare", "    run: %s" % q(prep),
              "    retries: 1", "    delay: 100ms",
              "  - name: switch", "    run: %s" % q(switch),
              "    secret_env: [TOK]",
              '    env: { DBPW: "{{ db_password }}" }',
              "health:", "  checks:",
              "    - name: ready",
              "      http: %s" % q("http://{{ address }}:%d/health/ready" % port),
              '      expect: { version: "{{ version }}" }',
              "  interval: 100ms",
              "  min_healthy_time: %s" % p["soak"],
              "  healthy_deadline: %s" % p["gate_deadline"]]
        if p["smoke"]:
            y += ["smoke:", "  - name: smoke",
                  "    command: %s" % q("test ! -e {{ app_dir }}/releases/{{ version }}/SMOKE_FAIL")]
        if p["singleton"]:
            y += ["singleton:", "  role: scheduler"]
            if not self.args.compat:
                y += ["  hosts: %s" % q(":".join(self.eligible))]
            y += ["  env: ENABLE_SCHEDULER",
                  "  check:",
                  "    http: %s" % q("http://{{ address }}:%d/health" % port),
                  "    expect: { json: { scheduler: active } }"]
        back = (logline("back", "begin") +
                "; ln -sfn {{ app_dir }}/releases/{{ previous_version | default('1') }}"
                " {{ app_dir }}/current; " + sched + "; " + logline("back", "end"))
        y += ["rollback:", "  auto: %s" % ("true" if p["auto"] else "false"),
              "  steps:", "    - name: back", "      run: %s" % q(back)]
        path = os.path.join(self.plans, "plan-%03d.yml" % self.plan_n)
        with open(path, "w") as f:
            f.write("\n".join(y) + "\n")
        return path

    def random_plan(self, **force):
        n = len(self.fleet.hosts)
        waves = self.rng.choice([[1], [1, 1, n], [1, 2], [2], [1, "50%"]])
        p = {"order_seed": self.rng.randrange(1, 10**6), "waves": waves,
             "before": self.rng.choice([0, 1, 2, 3]),
             "smoke": self.rng.random() < 0.5,
             "singleton": self.rng.random() < 0.6 and self.args.singleton,
             "auto": self.rng.random() < 0.8,
             "nap": self.rng.choice(["0", "0.2", "0.5"]),
             "soak": self.rng.choice(["0", "200ms"]),
             "gate_deadline": "2s"}
        p.update(force)
        return p

    # -- ground truth --
    def step_logs(self):
        """host -> [(deploy, step, host, epoch, step_id, begin|end)]; epoch
        and step id are "" when drover gave the step none (an older
        drover)."""
        out = {}
        for h in self.fleet.hosts:
            rows = []
            try:
                with open(os.path.join(self.fleet.app_dir(h), "steps.log")) as f:
                    for l in f:
                        w = l.split()
                        if len(w) < 4:
                            continue
                        mid = w[3:-1]
                        ep = next((x for x in mid if x.isdigit()), "")
                        sid = next((x for x in mid if ":" in x), "")
                        rows.append((w[0], w[1], w[2], ep, sid, w[-1]))
            except FileNotFoundError:
                pass
            out[h] = rows
        return out

    # -- the invariants --
    def check(self, label, deps, live=False, paused=()):
        """I1-I7 after a command. deps: the deploys it touched; live: a
        coordinator may still run (kill or takeover under way): only the
        hosts' logs and the secret are checked."""
        self.scan_state()
        logs = self.step_logs()
        # I4: no host logs an action of an epoch lower than one it logged;
        # a later state directory starts above every epoch of the earlier
        # ones (an older drover gives no epoch: then only that order)
        for h, rows in logs.items():
            top = (0, 0)
            for r in rows:
                if r[5] != "begin":
                    continue
                sd = int(r[0].split(":")[0][1:] or 0)
                rank = (sd, int(r[3]) if r[3] else 0)
                if sd < top[0] or (r[3] and sd == top[0] and rank < top):
                    raise Violation("I4", "%s ran %s of %s at epoch %s after "
                                    "an action of state dir s%d epoch %d (a "
                                    "fenced coordinator acted)"
                                    % (h, r[1], r[0], r[3] or "?", top[0],
                                       top[1]))
                top = max(top, rank)
        if live:
            return
        st = self.status()
        for lk in st.get("locks", []):
            if lk.get("held"):
                raise Violation("I7", "lock %s is held after %s though no "
                                "coordinator runs: %s" % (lk.get("name"), label, lk))
        listed = {d.get("id"): d for d in st.get("deploys", [])}
        for dep in deps:
            rec = self.show(dep)
            self.check_steps(dep, rec, logs)
            self.check_served(dep, rec, paused=dep in paused)
            # I3: drover status says the same as drover show
            row = listed.get(dep)
            if rec.get("result") is None and (
                    row is None or row.get("state") != rec.get("state") or
                    row.get("version") != rec.get("version") or row.get("live")):
                raise Violation("I3", "%s is unfinished (%s, version %s) but "
                                "drover status lists %s" % (dep, rec.get("state"),
                                                            rec.get("version"), row))
            if rec.get("result") is not None and row is not None:
                raise Violation("I3", "%s ended (%s) but drover status still "
                                "lists it: %s" % (dep, rec.get("result"), row))
        self.check_singleton(label)

    def check_steps(self, dep, rec, logs):
        """I1 for one deploy, from the hosts' logs."""
        seen = {}
        for h, rows in logs.items():
            for r in rows:
                if r[0] != self.tag(dep) or r[5] not in ("begin", "failed"):
                    continue
                sid = r[4].split(":")
                # a failed attempt counts too when the step id names it
                # (an attempt is never run twice, also across a resume)
                if r[5] == "failed" and len(sid) != 6:
                    continue
                attempt = sid[4] if len(sid) == 6 else "?"
                key = (r[1], h, attempt)
                seen.setdefault(key, []).append(r)
        for (step, h, attempt), rows in seen.items():
            if len(rows) > 1 and (dep, h, step) not in self.retried:
                raise Violation("I1", "%s: step '%s' (attempt %s) ran %d times "
                                "on %s: %s" % (dep, step, attempt, len(rows), h,
                                               [" ".join(r) for r in rows]))
        once = {}
        for (step, h, attempt), rows in seen.items():
            if re.match(r"b[0-9]+$", step):
                once.setdefault((step, attempt), set()).add(h)
        for (step, attempt), hs in once.items():
            if len(hs) > 1:
                raise Violation("I1", "%s: once step '%s' ran on %d hosts: %s"
                                % (dep, step, len(hs), sorted(hs)))
        if rec.get("result") == "success":
            ran = {(s, h) for (s, h, _) in seen}
            for h in [x["host"] for x in rec.get("hosts", [])]:
                for s in ("prepare", "switch"):
                    if (s, h) not in ran:
                        raise Violation("I1", "%s succeeded but step '%s' never "
                                        "ran on %s (its log)" % (dep, s, h))
            plan_before = sorted({s["name"] for s in rec.get("steps", [])
                                  if s.get("phase") == "before"})
            for s in plan_before:
                if not any(k[0] == s for k in seen):
                    raise Violation("I1", "%s succeeded but before step '%s' "
                                    "never ran (hosts' logs)" % (dep, s))

    def check_served(self, dep, rec, paused=False):
        """I3 (finished) / I5 (stopped or paused): what each host serves
        is what the record says it serves."""
        served = self.served()
        prev = rec.get("previous_version") or "1"
        new = rec.get("version")
        result = rec.get("result")
        states = {x["host"]: x.get("state") for x in rec.get("hosts", [])}
        bad = []
        for h in self.fleet.hosts:
            st = states.get(h)
            before = self.believed.get(h)
            if st in ("healthy", "done"):
                ok = {new}
            elif st == "rolled back":
                ok = {prev}
            elif st == "rollback failed":
                ok = None   # a human decides: drover says so
            elif st in ("failed", "unreachable"):
                # a host that failed in a paused deploy: its steps may have
                # switched it or not; rolled back / failed deploys must
                # have put it back
                ok = {new, before, prev} if paused or result in (None, "failed") \
                    else {prev}
            elif st is not None and paused:
                # caught in a step or a gate (running, gating): it may
                # have switched or not
                ok = {new, before}
            else:
                ok = {before}
            if ok is not None and served[h] not in ok:
                bad.append("%s serves %s, record says %s (want %s)"
                           % (h, served[h], st or "untouched",
                              "/".join(sorted(x for x in ok if x))))
        if bad:
            inv = "I3" if result == "success" else "I5"
            raise Violation(inv, "%s (%s, %s): %s" % (dep, rec.get("state"),
                                                       result, "; ".join(bad)))
        self.believed.update(served)

    def check_singleton(self, label):
        """I2: exactly one eligible host runs the scheduler."""
        hs = self.holders()
        if len(hs) != 1 or hs[0] not in self.eligible:
            raise Violation("I2", "after %s the scheduler runs on %s; want "
                            "exactly one of %s" % (label, hs or "no host",
                                                   self.eligible))

    # -- continuing a stopped deploy --
    def answers(self, dep, text):
        """The --retry-step / --skip-step answers a resume asks for, from
        the hosts' logs: a step whose end its host logged completed."""
        asks = set(re.findall(r"--retry-step ([A-Za-z0-9._-]+):([^ ]+) \(run it again\)",
                              text))
        if not asks:
            return []
        logs = self.step_logs()
        out = []
        for h, step in sorted(asks):
            done = any(r[0] == self.tag(dep) and r[1] == step and r[5] == "end"
                       for r in logs.get(h, []))
            if done:
                out.append("--skip-step=%s:%s" % (h, step))
            else:
                out.append("--retry-step=%s:%s" % (h, step))
                self.retried.add((dep, h, step))
        self.note("  resume asks about %s: answering %s"
                  % (sorted(asks), " ".join(out)))
        return out

    def settle(self, kind, dep, c, paused_choice=None, kill_p=0.0):
        """Drive dep (whose last command is c, finished) to an end: resume
        a killed coordinator, answer what resume asks, decide a pause.
        Checks the invariants after each command. (last rc, whether the
        driver decided a pause: promote, abort, rollback)."""
        decided = False
        for _ in range(8):
            if c.killed is not None:
                self.check("%s (killed)" % c.label, [dep], live=True)
                # killed after the end was journaled: nothing to resume
                # (drover resume would refuse it with exit 2)
                ended = self.show(dep).get("result")
                if ended is not None and c.label not in ("rollback", "abort"):
                    return (0 if ended == "success" else 1), decided
                # a killed rollback or abort is run again (resume refuses
                # a deploy that had ended: 'drover rollback puts ...')
                verb = c.label if c.label in ("rollback", "abort") else "resume"
                c = self.run_continue(kind, verb, dep, [], kill_p)
                continue
            if c.rc == 6:
                self.check(c.label, [dep], paused=[dep])
                text = c.text()
                ans = self.answers(dep, text)
                if ans:
                    c = self.run_continue(kind, "resume", dep, ans, kill_p)
                    continue
                verb = paused_choice or self.rng.choice(["rollback", "abort",
                                                         "resume"])
                if "canary" not in text and verb == "resume" and \
                        "rollback.auto" in text:
                    verb = self.rng.choice(["rollback", "abort"])
                paused_choice = None
                decided = decided or verb != "resume"
                c = self.run_continue(kind, verb, dep, [], kill_p)
                continue
            self.check(c.label, [dep])
            return c.rc, decided
        raise Violation("I7", "%s did not end after 8 commands" % dep)

    def run_continue(self, kind, verb, dep, extra, kill_p):
        if self.rng.random() < 0.15:
            # first without the secret -e: drover must ask for it (exit 2)
            # and touch nothing
            argv = [self.drover, verb, dep, "--state-dir", self.state,
                    "--json"] + self.ssh_flags() + list(extra)
            c = Cmd(self, argv, verb + "-nosecret", self.deadline).finish()
            self.note("  %s %s without -e db_password -> %d" % (verb, dep, c.rc))
            self.stat(kind, "rc %s-nosecret %d" % (verb, c.rc))
            if c.rc != 2 or "db_password" not in c.err:
                self.surprise(kind, dep, "%s without the secret -e exited %d, "
                              "want 2 asking for db_password" % (verb, c.rc))
            self.check(c.label, [dep], live=True)
        c = self.start_continue(verb, dep, extra)
        if verb == "resume":
            self.totals["resumes"] += 1
            self.stat(kind, "resumes")
        if self.rng.random() < kill_p:
            self.kill_at_random(kind, c)
        c.finish()
        self.note("  %s %s %s -> %s" % (verb, dep, " ".join(extra),
                                        "killed" if c.killed else c.rc))
        if c.killed is None:
            self.stat(kind, "rc %s %d" % (verb, c.rc))
        return c

    def kill_at_random(self, kind, c, plan=None, bad=True):
        """kill -9 c at a moment picked from its events or by time; a
        moment the deploy cannot have (plan, bad: whether it rolls back)
        becomes one it has."""
        moments = {
            "in a step": lambda e: e.get("event") == "wave" and e.get("state") == "started",
            "in a before step": lambda e: e.get("event") == "step" and e.get("state") == "started",
            "in a gate": lambda e: e.get("event") == "check",
            "between waves": lambda e: e.get("event") == "wave" and e.get("state") == "done",
            "in a rollback": lambda e: e.get("event") == "rollback",
            "in a smoke test": lambda e: e.get("event") == "smoke",
            "at a random time": None,
        }
        what = self.rng.choice(sorted(moments))
        if plan is not None:
            if what == "in a rollback" and not bad:
                what = "in a gate"
            elif what == "in a smoke test" and not plan["smoke"]:
                what = "between waves"
            elif what == "in a before step" and not plan["before"]:
                what = "in a step"
        delay = self.rng.uniform(0, 0.4)
        if moments[what] is None:
            delay = self.rng.uniform(0.1, 3.0)
            hit = True
        else:
            hit = c.wait_event(moments[what], 30)
        if hit:
            time.sleep(delay)
            if c.alive():
                c.kill9(what)
                self.totals["kills"] += 1
                self.stat(kind, "kills")
                self.note("  kill -9 %s %s (+%.2fs)" % (c.label, what, delay))

    # -- the operations --
    def op_good(self, kind="good", plan=None, **force):
        plan = plan or self.random_plan(**force)
        v = self.new_release()
        path = self.write_plan(plan)
        c = self.start_deploy(path, v, "deploy")
        c.finish()
        dep = self.dep_of(c)
        self.note("  deploy %s (good) %s -> %s" % (v, dep, c.rc))
        self.stat(kind, "rc deploy %d" % c.rc)
        rc, decided = self.settle(kind, dep, c)
        if rc != 0 and not decided:
            self.surprise(kind, dep, "a good release ended with exit %d" % rc)
        self.last = (dep, self.show(dep).get("result"))

    def op_bad(self):
        how = self.rng.choice(["gate", "smoke", "step"])
        plan = self.random_plan(smoke=True) if how == "smoke" else self.random_plan()
        hosts = self.rng.sample(self.fleet.hosts, self.rng.choice([1, 2]))
        v = self.new_release(how, hosts)
        path = self.write_plan(plan)
        c = self.start_deploy(path, v, "deploy")
        c.finish()
        dep = self.dep_of(c)
        self.note("  deploy %s (bad: %s on %s, rollback.auto %s) %s -> %s"
                  % (v, how, ",".join(hosts), plan["auto"], dep, c.rc))
        self.stat("bad", "rc deploy %d" % c.rc)
        if c.rc == 0:
            self.surprise("bad", dep, "a bad release (%s on %s) was deployed"
                          % (how, ",".join(hosts)))
        self.settle("bad", dep, c,
                    paused_choice=self.rng.choice(["rollback", "abort"]))
        self.last = (dep, self.show(dep).get("result"))

    def op_canary(self):
        plan = self.random_plan(waves=self.rng.choice([[1, 1, 2], [1, "50%"], [2]]))
        v = self.new_release()
        path = self.write_plan(plan)
        c = self.start_deploy(path, v, "deploy-canary", ["--canary"])
        c.finish()
        dep = self.dep_of(c)
        self.note("  deploy --canary %s %s -> %s" % (v, dep, c.rc))
        self.stat("canary", "rc deploy %d" % c.rc)
        if c.rc != 6:
            self.surprise("canary", dep, "--canary exited %d, want 6 (paused)"
                          % c.rc)
            self.settle("canary", dep, c)
        else:
            self.check(c.label, [dep], paused=[dep])
            verb = self.rng.choice(["promote", "abort"])
            c = self.run_continue("canary", verb, dep, [], 0.0)
            self.settle("canary", dep, c, paused_choice=verb)
        self.last = (dep, self.show(dep).get("result"))

    def op_rollback(self):
        if self.last is None or self.last[1] != "success":
            return self.op_good("rollback")
        dep = self.last[0]
        c = self.run_continue("rollback", "rollback", dep, [],
                              0.3 if self.args.kills else 0.0)
        self.settle("rollback", dep, c, paused_choice="rollback")
        self.last = (dep, self.show(dep).get("result"))

    def op_kill(self):
        bad = self.rng.random() < 0.4
        plan = self.random_plan(nap=self.rng.choice(["0.2", "0.5", "1"]))
        if bad:
            how = self.rng.choice(["gate", "step"])
            hosts = self.rng.sample(self.fleet.hosts, 1)
            v = self.new_release(how, hosts)
        else:
            v = self.new_release()
        path = self.write_plan(plan)
        c = self.start_deploy(path, v, "deploy")
        self.kill_at_random("kill", c, plan, bad)
        c.finish()
        dep = self.dep_of(c)
        self.note("  deploy %s (%s) %s -> %s" % (v, "bad" if bad else "good", dep,
                                                 "killed" if c.killed else c.rc))
        rc, decided = self.settle("kill", dep, c, kill_p=0.3)
        if not decided and (rc == 0) == bad:
            self.surprise("kill", dep, "a %s release ended with exit %d after "
                          "kill -9 and resume" % ("bad" if bad else "good", rc))
        self.last = (dep, self.show(dep).get("result"))

    def op_supersede(self):
        """A deploy killed at a random moment is not resumed: a new deploy
        of the plan supersedes it (docs/state.md): the old one must end
        'abandoned', its steps in flight must not run again."""
        plan = self.random_plan(nap=self.rng.choice(["0.2", "0.5", "1"]))
        bad = self.rng.random() < 0.3
        v = self.new_release(self.rng.choice(["gate", "step"]) if bad else None,
                             self.rng.sample(self.fleet.hosts, 1) if bad else ())
        c = self.start_deploy(self.write_plan(plan), v, "deploy")
        self.kill_at_random("supersede", c, plan, bad)
        c.finish()
        old = self.dep_of(c)
        self.note("  deploy %s (%s) %s -> %s" % (v, "bad" if bad else "good", old,
                                                 "killed" if c.killed else c.rc))
        if c.killed is None:
            self.settle("supersede", old, c)
            self.last = (old, self.show(old).get("result"))
            return
        self.check("%s (killed)" % c.label, [old], live=True)
        # killed after its end was journaled: nothing left to supersede
        ended = self.show(old).get("result")
        v2 = self.new_release()
        n = self.start_deploy(self.write_plan(self.random_plan()), v2, "deploy")
        n.finish()
        new = self.dep_of(n)
        self.note("  deploy %s %s supersedes %s -> %s" % (v2, new, old, n.rc))
        self.stat("supersede", "rc deploy %d" % n.rc)
        rc, decided = self.settle("supersede", new, n)
        if rc != 0 and not decided:
            self.surprise("supersede", new, "a good release ended with exit %d"
                          % rc)
        rec = self.show(old)
        self.check_steps(old, rec, self.step_logs())
        if ended is None and rec.get("result") != "abandoned":
            raise Violation("I3", "%s was superseded by %s but its record ends "
                            "%s (%s), not abandoned" % (old, new, rec.get("result"),
                                                        rec.get("state")))
        self.last = (new, self.show(new).get("result"))

    def op_flaky(self):
        h = self.rng.choice(self.fleet.hosts)
        open(os.path.join(self.fleet.app_dir(h), "FAIL_ONCE"), "w").close()
        self.note("  step 'prepare' fails once on %s" % h)
        self.op_good("flaky")

    def op_flap(self):
        h = self.rng.choice(self.fleet.hosts)
        plan = self.random_plan(nap=self.rng.choice(["0.5", "1"]))
        v = self.new_release()
        path = self.write_plan(plan)
        c = self.start_deploy(path, v, "deploy")
        time.sleep(self.rng.uniform(0.2, 2.0))
        down = self.rng.uniform(0.2, 3.0)
        self.fleet.command("down %s" % h)
        self.note("  %s down for %.1fs" % (h, down))
        time.sleep(down)
        self.fleet.command("up %s" % h)
        c.finish()
        dep = self.dep_of(c)
        self.note("  deploy %s %s -> %s" % (v, dep, c.rc))
        self.stat("flap", "rc deploy %d" % c.rc)
        self.settle("flap", dep, c)
        self.last = (dep, self.show(dep).get("result"))

    def op_takeover(self):
        """A (this state directory) is stopped mid-step, B (a new state
        directory whose epochs start above A's) deploys, A continues: A
        must be refused at its next action (fenced), never act."""
        plan = self.random_plan(nap="1", waves=[1, 1, len(self.fleet.hosts)],
                                auto=True)
        # what B rolls back to: what the fleet served before A (B's new
        # journal knows no earlier deploy)
        served = sorted(self.believed.values())
        before = max(served, key=served.count)
        va = self.new_release()
        a = self.start_deploy(self.write_plan(plan), va, "deploy-A")
        hit = a.wait_event(lambda e: e.get("event") == "wave" and
                           e.get("state") == "started", 30)
        time.sleep(self.rng.uniform(0.05, 0.6))
        if not hit or not a.alive():
            a.finish()
            self.note("  A %s ended before it could be stopped: %s"
                      % (self.dep_of(a), a.rc))
            self.settle("takeover", self.dep_of(a), a)
            return
        a.proc.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        self.note("  SIGSTOP deploy-A %s" % self.dep_of(a))
        old = self.state
        with open(os.path.join(old, "epoch")) as f:
            top = int(f.read().split()[0])
        new = os.path.join(self.run_dir, "state-%d" % (len(self.state_dirs) + 1))
        os.makedirs(new, mode=0o700)
        with open(os.path.join(new, "epoch"), "w") as f:
            f.write("%d\n" % (top + 10))
        os.chmod(os.path.join(new, "epoch"), 0o600)
        self.state_dirs.append(new)
        self.totals["takeovers"] += 1
        self.stat("takeover", "takeovers")
        vb = self.new_release()
        b = self.start_deploy(self.write_plan(self.random_plan(auto=True)), vb,
                              "deploy-B", ["-e", "previous_version=%s" % before])
        b.finish()
        depb = self.dep_of(b)
        self.note("  deploy-B %s (new state dir, epoch > %d) %s -> %s"
                  % (vb, top, depb, b.rc))
        if b.rc != 0:
            self.surprise("takeover", depb, "B exited %d" % b.rc)
        self.check("deploy-B", [], live=True)
        a.proc.send_signal(signal.SIGCONT)
        a.stopped_for = time.monotonic() - t0
        a.finish()
        depa = self.dep_of(a)
        self.note("  SIGCONT deploy-A %s -> %s" % (depa, a.rc))
        self.stat("takeover", "rc A %d" % a.rc)
        if a.rc == 0:
            raise Violation("I4", "coordinator A (%s) was stopped while B (%s, "
                            "a higher epoch) deployed, and then succeeded: it "
                            "was not fenced" % (depa, depb))
        if "newer coordinator" not in a.text():
            self.surprise("takeover", depa, "A exited %d without saying it "
                          "was fenced" % a.rc)
        self.check("deploy-A", [], live=True)
        self.settle("takeover", depb, b)
        self.last = (depb, self.show(depb).get("result"))

    # -- helpers of the operations --
    def dep_of(self, c):
        for e in c.events:
            if e.get("deploy"):
                return e["deploy"]
        m = re.search(r"DEP-\d{4}-\d{2}-\d{2}-\d{3}", c.text())
        if m:
            return m.group(0)
        raise Violation("I7", "%s names no deploy (exit %s): %s"
                        % (c.label, c.rc, c.text().strip()[-400:]))

    def surprise(self, kind, dep, what):
        """drover did something the operation did not expect, without
        breaking an invariant: counted, classified (the machine too slow
        when dep's record names a deadline, a timeout or an unreachable
        host), not a violation."""
        said = ""
        for c in reversed(self.cmds):    # what the last drover command said
            if not c.label.startswith(("show", "status")):
                lines = [ln for ln in getattr(c, "err", "").splitlines()
                         if ln.strip()]
                said = lines[-1][:200] if lines else ""
                break
        slow = False
        try:
            rec = self.show(dep)
        except Violation:
            rec = {}
        text = json.dumps(rec)
        if re.search(r"healthy_deadline|timed out|progress_deadline|unreachable",
                     text):
            slow = True
        key = "slow" if slow else "surprises"
        self.totals[key] += 1
        self.stat(kind, key)
        self.note("  %s: %s: %s%s" % ("environment too slow" if slow
                                      else "surprise", dep, what,
                                      " (it said: %s)" % said if said else ""))

    # -- the run --
    def setup(self):
        self.fleet = Fleet(os.path.join(self.run_dir, "fleet"), self.args.ssh,
                           self.args.agents)
        hs = self.fleet.hosts
        self.eligible = [hs[1], hs[-1]] if len(hs) > 2 and \
            not self.args.compat else hs[:]
        holder = self.rng.choice(self.eligible)
        for h in hs:
            with open(os.path.join(self.fleet.app_dir(h), "scheduler"), "w") as f:
                f.write("true\n" if h == holder else "false\n")
        sd = os.path.join(self.run_dir, "state-1")
        os.makedirs(sd, mode=0o700)
        self.state_dirs.append(sd)
        self.believed = self.served()
        self.note("seed %d: %d ssh hosts, %d agents, scheduler on %s (may run "
                  "on %s), run dir %s" % (self.seed, self.args.ssh,
                                         self.args.agents, holder,
                                         ",".join(self.eligible), self.run_dir))

    def pick(self):
        w = {"good": 3, "bad": 3, "canary": 2, "rollback": 2, "kill": 4,
             "supersede": 1, "takeover": 1, "flap": 1, "flaky": 1}
        if not self.args.kills:
            w["kill"] = w["supersede"] = w["takeover"] = 0
        if self.args.kinds:
            w = {k: (w[k] if k in self.args.kinds else 0) for k in w}
        kinds = [k for k in OP_KINDS if w[k] > 0]
        return self.rng.choices(kinds, weights=[w[k] for k in kinds])[0]

    def run(self, end=None):
        """--ops operations, or fewer when end (a monotonic time) comes."""
        self.t0 = time.monotonic()
        i = 0
        self.kind = "good"
        self.op_good("good", before=1, singleton=self.args.singleton)
        self.totals["operations"] += 1
        self.stat("good", "operations")
        while True:
            if end is not None and time.monotonic() >= end:
                break
            if i >= self.args.ops - 1:
                break
            i += 1
            kind = self.kind = self.pick()
            self.note("op %d: %s" % (i + 1, kind))
            getattr(self, "op_" + kind)()
            self.totals["operations"] += 1
            self.stat(kind, "operations")
        self.duration = time.monotonic() - self.t0

    def report(self, out=sys.stdout):
        t = self.totals
        print("reliability report: seed %d, %d operations, %d commands, %d kills, "
              "%d resumes, %d takeovers, %d violations, %d slow, %d surprises, "
              "%.0fs" % (self.seed, t["operations"], t["commands"], t["kills"],
                         t["resumes"], t["takeovers"], t["violations"], t["slow"],
                         t["surprises"], getattr(self, "duration", 0)), file=out)
        for kind in OP_KINDS:
            if kind in self.stats:
                s = self.stats[kind]
                print("  %-9s %s" % (kind, ", ".join(
                    "%s %d" % (k, s[k]) for k in sorted(s))), file=out)


def episode(args, seed, end=None):
    """One seed on a fresh fleet; (driver, status): 0 clean, 1 a violation,
    2 the fleet did not start, 3 the environment failed (not drover)."""
    drv = Driver(args, seed)
    try:
        drv.setup()
    except (RuntimeError, EnvTooSlow, OSError) as e:
        log("the fleet did not start: %s" % e)
        if getattr(drv, "fleet", None) is not None:
            drv.fleet.stop(False)
        return drv, 2
    keep = False
    rc = 0
    try:
        drv.run(end)
    except Violation as v:
        drv.totals["violations"] += 1
        drv.stat(getattr(drv, "kind", "good"), "violations")
        keep = True
        rc = 1
        text = ["VIOLATION %s (seed %d): %s" % (v.inv, seed, v.msg),
                "history:"] + ["  " + h for h in drv.history] + [
            "reproduce: %s --seed %d --ops %d --ssh %d --agents %d%s"
            % (os.path.relpath(os.path.abspath(__file__), TOP), seed,
               drv.totals["operations"] + 1, args.ssh, args.agents,
               " --kinds " + ",".join(args.kinds) if args.kinds else "")]
        print("\n".join(text), flush=True)
        with open(os.path.join(drv.run_dir, "violation.txt"), "w") as f:
            f.write("\n".join(text) + "\n")
    except EnvTooSlow as e:
        keep = True
        rc = 3
        drv.totals["slow"] += 1
        print("ENVIRONMENT (seed %d): %s: not a drover violation" % (seed, e),
              flush=True)
    finally:
        drv.duration = time.monotonic() - getattr(drv, "t0", time.monotonic())
        for c in drv.cmds:      # a coordinator left stopped or running
            if c.proc.poll() is None:
                try:
                    os.killpg(c.proc.pid, signal.SIGCONT)
                    os.killpg(c.proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                c.proc.wait()
        drv.fleet.stop(keep)
    drv.report()
    if keep:
        print("kept for inspection: %s (agents: %s)"
              % (drv.run_dir, drv.fleet.env.get("AGENTS_DIR")), flush=True)
    else:
        shutil.rmtree(drv.run_dir, ignore_errors=True)
    return drv, rc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None,
                    help="the (first) seed; default: drawn and printed")
    ap.add_argument("--ops", type=int, default=30,
                    help="operations per seed (default 30)")
    ap.add_argument("--minutes", type=float, default=0,
                    help="run seeds one after the other (each --ops "
                    "operations on a fresh fleet) for this long")
    ap.add_argument("--replay", default=None, metavar="FILE",
                    help="first replay each 'SEED OPS' line of FILE")
    ap.add_argument("--ssh", type=int, default=2, help="sshd hosts (default 2)")
    ap.add_argument("--agents", type=int, default=2,
                    help="drover-agents (default 2)")
    ap.add_argument("--deadline", type=int, default=120,
                    help="seconds any drover command may take (I7)")
    ap.add_argument("--no-kills", dest="kills", action="store_false",
                    help="no kill -9, no SIGSTOP")
    ap.add_argument("--compat", action="store_true",
                    help="plans an older drover reads (no singleton.hosts: "
                    "the role may run on any host)")
    ap.add_argument("--no-singleton", dest="singleton", action="store_false",
                    help="plans without a singleton role (I2 still holds: "
                    "the role stays where it is)")
    ap.add_argument("--kinds", default=None,
                    help="only these operations, comma-separated (%s)"
                    % ",".join(OP_KINDS))
    args = ap.parse_args()
    if args.kinds:
        args.kinds = args.kinds.split(",")
        bad = [k for k in args.kinds if k not in OP_KINDS]
        if bad:
            ap.error("unknown operation kind %s" % ",".join(bad))
    # make reliability's addresses unless told (the short run in make test
    # has its own): long runs and tests can run side by side
    for k, v in (("FLEET_NET", "127.0.48"), ("FLEET_PORT", "24601"),
                 ("FLEET_APP_PORT", "24602"), ("AGENTS_NET", "127.0.49"),
                 ("AGENTS_PORT", "24603")):
        os.environ.setdefault(k, v)
    t0 = time.monotonic()
    end = t0 + args.minutes * 60 if args.minutes else None
    runs = []
    if args.replay:
        with open(args.replay) as f:
            for line in f:
                w = line.split("#")[0].split()
                if len(w) >= 2:
                    runs.append((int(w[0]), int(w[1]),
                                 w[2].split(",") if len(w) > 2 else None))
    seed = args.seed
    if seed is None:
        seed = random.SystemRandom().randrange(1, 10**9)
    runs.append((seed, args.ops, args.kinds))
    total = {}
    kinds = {}
    status = 0
    failed = []
    n = 0
    while runs:
        s, ops, only = runs.pop(0)
        n += 1
        log("seed %d: %d operations%s" % (s, ops, " (%s)" % ",".join(only)
                                           if only else ""))
        a = argparse.Namespace(**vars(args))
        a.ops = ops
        a.kinds = only
        drv, rc = episode(a, s, end)
        for k, v in drv.totals.items():
            total[k] = total.get(k, 0) + v
        for kind, st in drv.stats.items():
            for k, v in st.items():
                kinds.setdefault(kind, {})
                kinds[kind][k] = kinds[kind].get(k, 0) + v
        if rc == 1:
            failed.append(s)
        if rc in (1, 3) and status != 1:
            status = rc
        if rc == 2:
            return 2
        if end is not None and time.monotonic() < end and not runs:
            runs.append((random.Random(s).randrange(1, 10**9), args.ops,
                         args.kinds))
    if n > 1:
        print("reliability total: %d seeds, %d operations, %d commands, %d kills, "
              "%d resumes, %d takeovers, %d violations%s, %d slow, %d surprises, "
              "%.0fs" % (n, total["operations"], total["commands"], total["kills"],
                         total["resumes"], total["takeovers"], total["violations"],
                         " (seeds %s)" % " ".join(map(str, failed)) if failed else "",
                         total["slow"], total["surprises"], time.monotonic() - t0))
        for kind in OP_KINDS:
            if kind in kinds:
                st = kinds[kind]
                print("  %-9s %s" % (kind, ", ".join(
                    "%s %d" % (k, st[k]) for k in sorted(st))))
    return status


if __name__ == "__main__":
    sys.exit(main())
