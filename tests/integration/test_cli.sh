#!/usr/bin/env bash
# tests/integration/test_cli.sh: the command line keeps its word
# (docs/cli.md). `drover help CMD` and `drover CMD --help` print the same
# full usage (SSH options included) from the command's option table, and
# every option it lists is accepted; `drover help bogus` is a usage error.
# Exit statuses follow the one table: --outside-window without --reason
# is a usage error (2, not the refusal 7), and a DEPLOY the journal does
# not have is a bad argument (2) for show and promote alike.
set -euo pipefail
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmds=$("$DROVER" help | awk '/^commands:/ {on=1; next} on && NF {print $1} on && !NF {exit}')
[ "$(echo "$cmds" | wc -l)" -ge 13 ] || fail "drover help lists: $cmds"
for c in $cmds; do
    "$DROVER" help "$c" >"$work/help" || fail "drover help $c exited $?"
    "$DROVER" "$c" --help >"$work/dash" || fail "drover $c --help exited $?"
    cmp -s "$work/help" "$work/dash" || {
        diff "$work/help" "$work/dash" >&2
        fail "drover help $c and drover $c --help differ"
    }
    grep -q "^usage: drover $c" "$work/help" || fail "drover help $c: no usage line"
    case $c in
    run | deploy | resume | promote | abort | rollback)
        for o in --user --key --known-hosts --accept-new --connect-timeout \
            --handshakes-per-target --ssh-config; do
            grep -q -- "$o" "$work/help" || fail "drover help $c lacks $o"
        done
        ;;
    esac
done
rc=0
"$DROVER" help bogus >"$work/out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "drover help bogus exited $rc, want 2"
grep -q "unknown command 'bogus'" "$work/out" || fail "drover help bogus: $(cat "$work/out")"

# exit statuses
printf '[web]\nw1 drover_transport=local\n' >"$work/hosts.ini"
printf 'name: cli\nsteps: [ { run: "true" } ]\n' >"$work/plan.yml"
expect_exit() { # STATUS GREP CMD...
    local want=$1 pat=$2 rc=0
    shift 2
    "$@" >"$work/out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || { cat "$work/out" >&2; fail "$* exited $rc, want $want"; }
    grep -q -- "$pat" "$work/out" || { cat "$work/out" >&2; fail "$*: output lacks '$pat'"; }
}
expect_exit 2 "--outside-window needs --reason" "$DROVER" deploy -i "$work/hosts.ini" \
    --state-dir "$work/state" --outside-window "$work/plan.yml"
# a journal with one deploy (run on this machine), then one it lacks
expect_exit 0 "deploy succeeded" "$DROVER" deploy -i "$work/hosts.ini" \
    --state-dir "$work/state" "$work/plan.yml"
expect_exit 2 "no deploy DEP-2026-01-01-009" "$DROVER" show --state-dir "$work/state" \
    DEP-2026-01-01-009
expect_exit 2 "no deploy DEP-2026-01-01-009" "$DROVER" promote --state-dir "$work/state" \
    DEP-2026-01-01-009
expect_exit 2 "no journal" "$DROVER" show --state-dir "$work/nostate" DEP-2026-01-01-009
expect_exit 2 "unknown option" "$DROVER" run -i "$work/hosts.ini" --state-dir x web -- true
echo "PASS test_cli"
