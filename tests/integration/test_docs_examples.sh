#!/usr/bin/env bash
# tests/integration/test_docs_examples.sh: the examples of README.md and
# docs/*.md do what they say, so the docs cannot drift from drover. Every
# fenced block has a language, and the language says what is checked:
#
#   yaml     a plan, or a part of one (a step is added when it has none):
#            `drover validate` passes; a YAML inventory (top key `all`):
#            `drover inventory --list` passes
#   ini      an inventory: `drover inventory --list` passes
#   json     parses (one document, or one per line)
#   sh       every `drover` command in it names a real subcommand and only
#            options its `drover help CMD` lists; files written with a
#            heredoc (`cat > hosts.ini <<'EOF'`) are checked by their kind
#   console  `$ COMMAND` lines run in a scratch directory; the lines after
#            each are its exact output (stdout, then stderr)
#   text, c  not run: output samples, synopses, grammars, source excerpts
#
# An HTML comment on the line before a block changes that:
#   <!-- example: skip REASON -->   not checked (the reason is printed)
#   <!-- example: file NAME -->     written to NAME in the scratch directory
#                                   of its page, for the console blocks after it
#   <!-- example: exit N -->        a console block's commands exit N
#   <!-- example: deploy ARGS... [expect="REGEX"]... -->
#                                   a plan deployed with ARGS on a loopback
#                                   sshd fleet (hosts h1, h2, group fleet),
#                                   exit 0, its -v output matching each REGEX
# A block without a language fails the test. Finally docs/cli.md's
# reference must be what `drover help --markdown` prints.
set -euo pipefail
export FLEET_NET=127.0.27 FLEET_PORT=22703
. "$TOP/tests/integration/lib/engine.sh"

"$TOP/tests/integration/lib/cli_md.py" "$DROVER" "$TOP/docs/cli.md" ||
    fail "docs/cli.md's reference is stale"

engine_start 2
engine_reset
export DOCS_WORK=$WORK/docs DOCS_INV=$FLEET_INVENTORY
export DOCS_DFLAGS="${DFLAGS[*]}"
mkdir -p "$DOCS_WORK"
cd "$TOP"
python3 - README.md docs/*.md <<'PY' || fail "a docs example does not hold"
import json, os, re, shlex, subprocess, sys

drover = os.environ["DROVER"]
work = os.environ["DOCS_WORK"]
inv = os.environ["DOCS_INV"]
dflags = os.environ["DOCS_DFLAGS"].split()
failures = []
counts = {}
helps = {}


def bad(where, msg):
    failures.append(f"{where}: {msg}")
    print(f"FAIL {where}: {msg}", file=sys.stderr)


def run(args, cwd=None):
    p = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stdout, p.stderr


def top_keys(text):
    """Top-level mapping keys of a YAML text, read without a YAML library."""
    return [m.group(1) for m in re.finditer(r"^([A-Za-z_][\w-]*):", text, re.M)]


def check_plan(where, text):
    path = os.path.join(work, "plan.yml")
    keys = top_keys(text)
    if "steps" not in keys:  # a part of a plan: complete it
        text += '\nsteps: [ { run: "true" } ]\n'
    open(path, "w").write(text)
    rc, out, err = run([drover, "validate", path])
    if rc != 0:
        bad(where, f"drover validate exited {rc}: {err.strip()}")


def check_inventory(where, text, ext):
    path = os.path.join(work, "hosts" + ext)
    open(path, "w").write(text)
    rc, out, err = run([drover, "inventory", "-i", path, "--list"])
    if rc != 0:
        bad(where, f"drover inventory --list exited {rc}: {err.strip()}")


def check_yaml(where, text):
    if "all" in top_keys(text):
        check_inventory(where, text, ".yml")
    else:
        check_plan(where, text)


def check_json(where, text):
    try:
        json.loads(text)
        return
    except ValueError:
        pass
    for n, line in enumerate(text.splitlines(), 1):
        try:
            json.loads(line)
        except ValueError as e:
            bad(where, f"line {n} is not JSON: {e}")


def help_of(cmd):
    if cmd not in helps:
        rc, out, err = run([drover, "help", cmd])
        helps[cmd] = out if rc == 0 else None
    return helps[cmd]


def check_drover_line(where, words):
    """drover CMD [options and arguments]: CMD exists, each option too."""
    if len(words) < 2 or words[1].startswith("-"):
        return
    text = help_of(words[1])
    if text is None:
        bad(where, f"drover {words[1]}: no such command")
        return
    for w in words[2:]:
        if w == "--":
            break
        m = re.match(r"^(--[a-z][\w-]*|-[a-zA-Z])(=.*)?$", w)
        if m and not re.search(r"(^|[\s,])" + re.escape(m.group(1)) + r"\b",
                               text):
            bad(where, f"drover {words[1]}: no option {m.group(1)} "
                       f"(drover help {words[1]})")


def check_sh(where, text):
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        i += 1
        m = re.search(r"cat > (\S+) <<'?(\w+)'?", line)
        if m:  # a heredoc: a file the example writes
            name, tag = m.group(1), m.group(2)
            end = lines.index(tag, i)
            body = "\n".join(lines[i:end]) + "\n"
            i = end + 1
            sub = f"{where} ({name})"
            if name.endswith(".ini"):
                check_inventory(sub, body, ".ini")
            elif name.endswith((".yml", ".yaml")):
                check_yaml(sub, body)
            continue
        code = line.split(" #")[0]
        try:
            words = shlex.split(code)
        except ValueError:
            words = code.split()
        while words and re.match(r"^\w+=", words[0]):
            words = words[1:]  # VAR=value before the command
        if words and words[0] in ("drover", "build/drover"):
            check_drover_line(where, words)


def check_console(where, text, files, status, cwd):
    os.makedirs(cwd, exist_ok=True)
    for name, body in files.items():
        open(os.path.join(cwd, name), "w").write(body)
    blocks = re.split(r"^\$ ", text, flags=re.M)[1:]
    for b in blocks:
        cmd, _, want = b.partition("\n")
        args = shlex.split(cmd)
        if args[0] == "drover":
            args[0] = drover
        rc, out, err = run(args, cwd=cwd)
        if rc != status:
            bad(where, f"'{cmd}' exited {rc}, the docs say {status}")
        if out + err != want:
            bad(where, f"'{cmd}' printed\n{out + err}the docs say\n{want}")


def check_deploy(where, text, marker):
    words = shlex.split(marker)
    args = [w for w in words if not w.startswith("expect=")]
    expects = [w[len("expect="):] for w in words if w.startswith("expect=")]
    path = os.path.join(work, "deploy.yml")
    if "hosts" not in top_keys(text):
        text = "hosts: fleet\n" + text
    open(path, "w").write(text)
    rc, out, err = run([drover, "deploy", "-i", inv, "-v"] + dflags + args +
                       [path])
    if rc != 0:
        bad(where, f"drover deploy exited {rc}:\n{out}{err}")
    for x in expects:
        if not re.search(x, out + err, re.M):
            bad(where, f"drover deploy output lacks /{x}/:\n{out}{err}")


for page in sys.argv[1:]:
    lines = open(page).read().split("\n")
    files = {}
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.group(1), m.group(2)
        end = i + 1
        while end < len(lines) and not re.match(r"^\s*```\s*$", lines[end]):
            end += 1
        text = "\n".join(l[len(indent):] for l in lines[i + 1:end]) + "\n"
        where = f"{page}:{i + 1}"
        prev = lines[i - 1] if i > 0 else ""
        mk = re.match(r"^<!-- example: (\w+)\s*(.*?)\s*-->$", prev)
        kind, arg = (mk.group(1), mk.group(2)) if mk else (None, "")
        i = end + 1
        counts[lang or "none"] = counts.get(lang or "none", 0) + 1
        if kind == "skip":
            print(f"skip {where}: {arg}")
            continue
        if kind == "file":
            files[arg] = text
            continue
        if not lang:
            bad(where, "a block without a language (use text for output)")
        elif kind == "deploy":
            check_deploy(where, text, arg)
        elif lang == "yaml":
            check_yaml(where, text)
        elif lang == "ini":
            check_inventory(where, text, ".ini")
        elif lang == "json":
            check_json(where, text)
        elif lang == "sh":
            check_sh(where, text)
        elif lang == "console":
            status = int(arg) if kind == "exit" else 0
            check_console(where, text, files, status,
                          os.path.join(work, os.path.basename(page)))
        elif lang not in ("text", "c"):
            bad(where, f"unknown block language '{lang}'")

print("blocks:", ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
sys.exit(1 if failures else 0)
PY
echo "PASS test_docs_examples"
