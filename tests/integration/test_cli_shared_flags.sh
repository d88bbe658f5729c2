#!/usr/bin/env bash
# tests/integration/test_cli_shared_flags.sh: the flags several commands
# share (-i, -e, --forks, --lock-wait, the SSH options) are read in one
# place (coordinator/cmd.c, cmd_shared_opt): a bad value gets the same
# message, the command's synopsis and exit status 2 from every command
# that takes it (deploy and run once printed the message alone, resume
# the synopsis too), and -i may be given any number of times (run once
# stopped at 16, deploy, plan and validate at 64). No host is reached.
set -euo pipefail
: "${DROVER:?DROVER must point at the drover binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -m 700 "$work/state"
printf '[web]\nh1 drover_transport=local\n' >"$work/inv.ini"
printf 'name: ok\nsteps: [{run: "true"}]\n' >"$work/ok.yml"
printf 'x: [\n' >"$work/bad.yml"

# expect STATUS TEXT COMMAND...: drover COMMAND exits STATUS and its
# stderr starts a line with "drover COMMAND: TEXT", then (status 2) holds
# the command's usage lines.
expect() {
    local want=$1 text=$2 rc=0
    shift 2
    "$DROVER" "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
    [ $rc -eq "$want" ] || { cat "$work/err"; fail "drover $*: exit $rc, want $want"; }
    grep -q "^drover $1: " "$work/err" && grep -qF -- "drover $1: $text" "$work/err" ||
        { cat "$work/err"; fail "drover $*: no line 'drover $1: $text'"; }
    if [ "$want" = 2 ]; then
        grep -q "^usage: drover $1 " "$work/err" ||
            { cat "$work/err"; fail "drover $*: no usage line"; }
        grep -qxF "(drover $1 --help lists the options)" "$work/err" ||
            { cat "$work/err"; fail "drover $*: no pointer to --help"; }
    fi
}

tail_of() { # the arguments each command needs after its flags
    case $1 in
    run) echo "all -- true" ;;
    deploy | plan | validate) echo "$work/ok.yml" ;;
    resume) echo "" ;;
    *) echo "DEP-1" ;;
    esac
}

forks="--forks: expected a number 1..10000, not '5x'"
for cmd in run deploy resume promote abort rollback; do
    # shellcheck disable=SC2046
    expect 2 "$forks" $cmd --forks 5x -i "$work/inv.ini" $(tail_of $cmd)
done
echo "ok: --forks 5x: one message, the synopsis, exit 2 (run, deploy, resume, promote, abort, rollback)"

for cmd in deploy plan validate resume promote abort rollback; do
    # shellcheck disable=SC2046
    expect 2 "-e 'x': expected name=value (e.g. -e version=2)" \
        $cmd -e x -i "$work/inv.ini" $(tail_of $cmd)
    # shellcheck disable=SC2046
    expect 3 "$work/bad.yml:2:1: did not find expected node content" \
        $cmd -e "@$work/bad.yml" -i "$work/inv.ini" $(tail_of $cmd)
done
echo "ok: -e x: one message, the synopsis, exit 2; a bad -e @file: exit 3"

for cmd in deploy resume promote abort rollback; do
    # shellcheck disable=SC2046
    expect 2 "--lock-wait: bad duration 'soon': expected a number (expected e.g. 500ms, 2s, 5m, 1h, 1m30s)" \
        $cmd --lock-wait soon -i "$work/inv.ini" $(tail_of $cmd)
done
for cmd in run deploy resume; do
    # shellcheck disable=SC2046
    expect 2 "--user: expected a user name" \
        $cmd --user "" -i "$work/inv.ini" $(tail_of $cmd)
done
echo "ok: --lock-wait and the SSH options: the same, from every command"

many=()
for _ in $(seq 1 70); do many+=(-i "$work/inv.ini"); done
"$DROVER" run "${many[@]}" all -- echo here >"$work/out" 2>&1 ||
    { cat "$work/out"; fail "run with 70 -i failed"; }
grep -q '^h1: here$' "$work/out" || { cat "$work/out"; fail "run with 70 -i: no output"; }
"$DROVER" validate "${many[@]}" "$work/ok.yml" >"$work/out" 2>&1 ||
    { cat "$work/out"; fail "validate with 70 -i failed"; }
"$DROVER" plan "${many[@]}" "$work/ok.yml" >"$work/out" 2>&1 ||
    { cat "$work/out"; fail "plan with 70 -i failed"; }
"$DROVER" deploy "${many[@]}" --state-dir "$work/state" -e version=1 \
    "$work/ok.yml" >"$work/out" 2>&1 || { cat "$work/out"; fail "deploy with 70 -i failed"; }
echo "ok: -i given 70 times: run, validate, plan and deploy take them all"

# resume reads every -i too (it once kept the last only: the hosts of the
# others dropped out of the rollout and the deploy "succeeded" without
# them). A deploy over two inventories pauses after its first wave.
printf '[web]\nh1 drover_transport=local\n' >"$work/a.ini"
printf '[web]\nh2 drover_transport=local\n' >"$work/b.ini"
cat >"$work/two.yml" <<PLAN
name: two
strategy:
  waves: [1, 1]
  pause: manual
steps: [{run: "echo {{ inventory_hostname }} >> $work/ran"}]
PLAN
mkdir -m 700 "$work/two"
rc=0
"$DROVER" deploy -i "$work/a.ini" -i "$work/b.ini" --state-dir "$work/two" \
    -e version=1 "$work/two.yml" >"$work/out" 2>&1 || rc=$?
[ $rc -eq 6 ] || { cat "$work/out"; fail "deploy over two inventories: exit $rc, want 6 (paused)"; }
"$DROVER" resume -i "$work/a.ini" -i "$work/b.ini" --state-dir "$work/two" \
    >"$work/out" 2>&1 || { cat "$work/out"; fail "resume with two -i failed"; }
grep -q '^deploy succeeded: 2 hosts: 2 healthy' "$work/out" ||
    { cat "$work/out"; fail "resume with two -i: not both hosts"; }
[ "$(sort "$work/ran" | tr '\n' ' ')" = "h1 h2 " ] ||
    fail "resume with two -i: ran on $(tr '\n' ' ' <"$work/ran")"
echo "ok: resume -i A -i B reads both inventories"

# ... and without -i, every inventory the deploy was given: the journal
# keeps them all (it once kept the first only, and a resume without -i
# dropped the second inventory's hosts and "succeeded" without them).
rm -f "$work/ran"
mkdir -m 700 "$work/two-again"
rc=0
"$DROVER" deploy -i "$work/a.ini" -i "$work/b.ini" --state-dir "$work/two-again" \
    -e version=1 "$work/two.yml" >"$work/out" 2>&1 || rc=$?
[ $rc -eq 6 ] || { cat "$work/out"; fail "deploy over two inventories: exit $rc, want 6 (paused)"; }
"$DROVER" resume --state-dir "$work/two-again" >"$work/out" 2>&1 ||
    { cat "$work/out"; fail "resume without -i failed"; }
grep -q '^deploy succeeded: 2 hosts: 2 healthy' "$work/out" ||
    { cat "$work/out"; fail "resume without -i: not both hosts"; }
[ "$(sort "$work/ran" | tr '\n' ' ')" = "h1 h2 " ] ||
    fail "resume without -i: ran on $(tr '\n' ' ' <"$work/ran")"
"$DROVER" show --state-dir "$work/two-again" --format json last >"$work/show.json" 2>&1 ||
    { cat "$work/show.json"; fail "show failed"; }
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); i=r.get("inventory"); sys.exit(0 if i == sys.argv[2] else "record inventory %r" % i)' \
    "$work/show.json" "$work/a.ini, $work/b.ini" || fail "the record does not name both inventories"
echo "ok: resume without -i reads every inventory the deploy was given"
