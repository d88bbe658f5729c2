#!/usr/bin/env python3
"""tests/integration/lib/record_check.py: is a deploy's record complete and
true? Compares `drover show --format json DEPLOY` with what the hosts
themselves say (ground truth the test collects), and the record's fields
with each other. python3 stdlib only.

From python:

    import record_check
    problems = record_check.check(
        record,                      # the parsed JSON (dict)
        served={"h1": "2", ...},     # what each host serves now (required:
                                     #   every host of the deploy)
        ran=[("h1", "deploy", "switch"), ...],  # steps that ran, as the
                                     #   hosts logged them (None: not checked)
        result="success",            # expected result (None: not checked)
        rolled_back=False)           # did a rollback run (None: not checked)
    assert not problems, problems    # or record_check.assert_true(...)

From a shell (exit 1 and the problems on stderr when it is not true):

    python3 record_check.py show.json --served h1=2 h2=2 h3=2 \
        [--ran FILE] [--phases deploy,rollback] [--result success] \
        [--rolled-back yes|no]

--ran FILE: one line per step that ran, "HOST PHASE STEP" (a step's
command appends it to a log as its first action; STEP is the step's name
with spaces as they are). Only the phases listed in --phases are compared
(default deploy,rollback).

What is checked:
- every host served is in the record once, and the record has no other;
  a host "healthy" serves the deploy's version, a host "rolled back" its
  previous_version, a host still "pending" does not serve the new version
  (unless both versions are the same);
- each host and wave: ended >= started, a host of wave N started no earlier
  than wave N;
- the steps that ran on each host (with their repetitions) are the
  record's rows of those phases whose outcome says they ran (ok, failed,
  timeout), plus at most the rows whose outcome leaves it open (lost,
  skipped by --skip-step, cancelled, unreachable); a finished deploy has no
  row without an outcome;
- result and rolled_back as expected; "Rollback Executed" agrees with
  rolled_back and the result;
- validation: a success has Health PASS, every host healthy, Smoke PASS or
  NOT RUN; Health FAIL has a failed deploy gate in the evidence and PASS
  has none; Smoke FAIL has a failed smoke gate;
- Issues Encountered is not empty when anything failed: a result other
  than success, a host not healthy at the end of a finished deploy, a
  precheck or step that did not end ok, a failed gate.
"""
import json
import sys

RAN_OUTCOMES = ("ok", "failed", "timeout")
# the record cannot tell whether these ran (the host could not say)
UNKNOWN_OUTCOMES = (None, "lost", "skipped", "cancelled", "unreachable")


def _gates(record, phase):
    """{host: last gate verdict} of phase, from the health evidence."""
    last = {}
    for e in record.get("health_evidence") or []:
        if e.get("phase") == phase and e.get("check") == "gate":
            last[e.get("host")] = e.get("verdict")
    return last


def check(record, served, ran=None, result=None, rolled_back=None,
          phases=("deploy", "rollback")):
    """The list of ways record is not complete and true (empty: it is)."""
    p = []
    version, previous = record.get("version"), record.get("previous_version")
    hosts = record.get("hosts") or []
    names = [h["host"] for h in hosts]
    if sorted(names) != sorted(served):
        p.append("hosts listed %s, the fleet has %s" % (sorted(names), sorted(served)))
    waves = {w["wave"]: w for w in record.get("waves") or []}
    finished = record.get("result") is not None
    for h in hosts:
        name, state = h["host"], h["state"]
        on = served.get(name)
        if state == "healthy" and on != version:
            p.append("%s is healthy on %s in the record, serves %r" % (name, version, on))
        if state == "rolled back" and on != previous:
            p.append("%s is rolled back to %s in the record, serves %r" % (name, previous, on))
        if state == "pending" and version != previous and on == version:
            p.append("%s is pending in the record, serves the new version %r" % (name, on))
        if h.get("started") and h.get("ended") and h["ended"] < h["started"]:
            p.append("%s ended (%s) before it started (%s)" % (name, h["ended"], h["started"]))
        w = waves.get(h.get("wave"))
        if w and h.get("started") and w.get("started") and h["started"] < w["started"]:
            p.append("%s (wave %s) started %s, before its wave (%s)" %
                     (name, h.get("wave"), h["started"], w["started"]))
    for w in waves.values():
        if w.get("started") and w.get("ended") and w["ended"] < w["started"]:
            p.append("wave %s ended before it started" % w["wave"])
    steps = record.get("steps") or []
    if finished:
        for s in steps:
            if s.get("outcome") is None:
                p.append("step %s on %s (%s) has no outcome in a finished deploy" %
                         (s["name"], s.get("host"), s["phase"]))
    if ran is not None:
        want = sorted(tuple(r) for r in ran if r[1] in phases)
        key = lambda s: (s.get("host"), s["phase"], s["name"])
        got = [key(s) for s in steps
               if s["phase"] in phases and s.get("outcome") in RAN_OUTCOMES]
        maybe = [key(s) for s in steps
                 if s["phase"] in phases and s.get("outcome") in UNKNOWN_OUTCOMES]
        left = list(want)
        for g in got:
            if g in left:
                left.remove(g)
            else:
                p.append("the record says %s ran; the host did not log it" % (g,))
        for m in maybe:
            if m in left:
                left.remove(m)
        if left:
            p.append("steps ran on the hosts that the record does not say "
                     "ran: %s" % left)
    if result is not None and record.get("result") != result:
        p.append("result %r, want %r" % (record.get("result"), result))
    if rolled_back is not None and record.get("rolled_back") is not rolled_back:
        p.append("rolled_back %r, want %r" % (record.get("rolled_back"), rolled_back))
    rb = record.get("rollback_executed", "")
    if record.get("rolled_back") != rb.startswith("YES"):
        p.append("Rollback Executed %r with rolled_back %r" % (rb, record.get("rolled_back")))
    if record.get("result") == "rollback failed" and "FAILED" not in rb:
        p.append("Rollback Executed %r for a failed rollback" % rb)
    v = record.get("validation") or {}
    deploy_gates, smoke_gates = _gates(record, "deploy"), _gates(record, "smoke")
    if record.get("result") == "success":
        if v.get("health") != "PASS":
            p.append("a success with Health %r" % v.get("health"))
        if v.get("smoke") not in ("PASS", "NOT RUN"):
            p.append("a success with Smoke %r" % v.get("smoke"))
        if any(h["state"] != "healthy" for h in hosts):
            p.append("a success with hosts not healthy: %s" %
                     [(h["host"], h["state"]) for h in hosts])
    failed_gate = any(x == "failed" for x in deploy_gates.values())
    if v.get("health") == "FAIL" and not failed_gate:
        p.append("Health FAIL, and no deploy gate failed")
    if v.get("health") == "PASS" and failed_gate:
        p.append("Health PASS, and a deploy gate failed: %s" % deploy_gates)
    if v.get("smoke") == "FAIL" and "failed" not in smoke_gates.values():
        p.append("Smoke FAIL, and no smoke gate failed")
    if v.get("smoke") == "PASS" and "failed" in smoke_gates.values():
        p.append("Smoke PASS, and a smoke gate failed")
    trouble = []
    if finished and record.get("result") != "success":
        trouble.append("result %s" % record.get("result"))
    if finished:
        trouble += ["host %s %s" % (h["host"], h["state"]) for h in hosts
                    if h["state"] not in ("healthy", "pending")]
    trouble += ["precheck %s" % e["name"] for e in record.get("precheck_evidence") or []
                if not e.get("ok")]
    trouble += ["step %s on %s: %s" % (s["name"], s.get("host"), s.get("outcome"))
                for s in steps if s.get("outcome") not in ("ok", None)]
    trouble += ["gate failed on %s" % h for h, x in
                list(deploy_gates.items()) + list(smoke_gates.items()) if x == "failed"]
    if trouble and not record.get("issues"):
        p.append("Issues Encountered is empty, yet: %s" % "; ".join(trouble))
    for k in ("issues", "decisions"):
        for n in record.get(k) or []:
            if not n.get("at") or not n.get("text"):
                p.append("%s entry without a time or text: %s" % (k, n))
    return p


def assert_true(record, served, **kw):
    """check(), raising AssertionError with every problem."""
    problems = check(record, served, **kw)
    if problems:
        raise AssertionError("the record of %s is not true:\n  %s" %
                             (record.get("id"), "\n  ".join(problems)))


def read_ran(path):
    """[(host, phase, step)] from a log of "HOST PHASE STEP" lines."""
    out = []
    with open(path) as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) == 3:
                out.append((parts[0], parts[1], parts[2].strip()))
    return out


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="is a drover record true?")
    ap.add_argument("record", help="drover show --format json output")
    ap.add_argument("--served", nargs="+", required=True, metavar="HOST=VERSION")
    ap.add_argument("--ran", metavar="FILE")
    ap.add_argument("--phases", default="deploy,rollback")
    ap.add_argument("--result")
    ap.add_argument("--rolled-back", choices=("yes", "no"))
    a = ap.parse_args(argv)
    with open(a.record) as f:
        record = json.load(f)
    served = dict(x.split("=", 1) for x in a.served)
    problems = check(record, served,
                     ran=read_ran(a.ran) if a.ran else None,
                     result=a.result,
                     rolled_back=None if a.rolled_back is None else a.rolled_back == "yes",
                     phases=tuple(a.phases.split(",")))
    if problems:
        print("the record of %s is not true:" % record.get("id"), file=sys.stderr)
        for x in problems:
            print("  " + x, file=sys.stderr)
        print(json.dumps(record, indent=1)[:8000], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
