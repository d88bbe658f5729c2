#!/usr/bin/env bash
# tests/integration/test_ssh_timeout.sh: a command past --timeout fails
# its host and its remote processes are gone (the whole process group,
# also a child that ignores SIGTERM); a command killed by a signal fails;
# the other hosts are not disturbed.
set -euo pipefail
. "$(dirname "$0")/lib/fleet.sh"
: "${DROVER:?DROVER must point at the drover binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

fleet_start 3
out=$FLEET_DIR/out
run() { # pattern command [flags]
    local pat=$1 cmd=$2
    shift 2
    "$DROVER" run -i "$FLEET_INVENTORY" --key "$FLEET_KEY" \
        --known-hosts "$FLEET_KNOWN_HOSTS" "$@" "$pat" -- "$cmd" >"$out" 2>&1
}
# Unique sleep lengths mark this test's remote processes (pgrep only
# looks; anything left runs under the fleet's sshd and stops with it).
n1=$((4000 + RANDOM % 1000))
n2=$((5000 + RANDOM % 1000))

# 1. Past the timeout: a shell with a background child and a foreground
# child that ignores TERM (KILL must follow after the grace period).
t0=$(date +%s%N)
rc=0
run h1 "sleep $n1 & (trap '' TERM; sleep $n2); echo never" --timeout 1s || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$out"
[ $rc -eq 1 ] || fail "timeout: exit $rc, want 1"
grep -q '^h1: \[failed\] timed out: timed out after 1.00s; remote process group [0-9]* killed' "$out" ||
    fail "no timeout result line"
grep -q never "$out" && fail "the command went on after its timeout"
[ $ms -lt 5000 ] || fail "timeout took ${ms}ms"
sleep 0.3
if pgrep -f "sleep $n1" >/dev/null || pgrep -f "sleep $n2" >/dev/null; then
    pgrep -af "sleep $n" >&2 || true
    fail "remote processes survived the timeout"
fi
ok "timed out after 1s, process group gone (${ms}ms)"

# 2. Under the timeout: unaffected.
run fleet 'sleep 0.3; echo done' --timeout 5s || { cat "$out"; fail "short command"; }
[ "$(grep -c ': done$' "$out")" -eq 3 ] || fail "short command output: $(cat "$out")"
ok "commands within the timeout run normally"

# 3. Killed by a signal: a failure, named.
rc=0
run h2 'echo before; kill -KILL $$' || rc=$?
cat "$out"
[ $rc -eq 1 ] || fail "signal: exit $rc, want 1"
grep -q '^h2: before$' "$out" || fail "output before the signal lost"
grep -q '^h2: \[failed\] killed by signal KILL' "$out" || fail "signal not reported"
rc=0
run h3 'kill -SEGV $$' || rc=$?
[ $rc -eq 1 ] && grep -q 'killed by signal SEGV' "$out" || fail "SEGV: $(cat "$out")"
ok "commands killed by a signal fail"

# 4. One host times out, the others finish normally in the same run.
rc=0
run fleet "case \$SSH_CONNECTION in *127.0.1.1\ *) sleep $n1;; esac; echo quick" \
    --timeout 1s || rc=$?
[ $rc -eq 1 ] || { cat "$out"; fail "mixed: exit $rc"; }
grep -q '^3 hosts: 2 ok, 1 failed, 0 unreachable' "$out" || fail "mixed summary: $(cat "$out")"
sleep 0.3
pgrep -f "sleep $n1" >/dev/null && fail "remote sleep survived (mixed)"
ok "one host's timeout leaves the others alone"

# 5. Ctrl-C: running commands are cancelled and killed on the hosts.
n3=$((6000 + RANDOM % 1000))
"$DROVER" run -i "$FLEET_INVENTORY" --key "$FLEET_KEY" \
    --known-hosts "$FLEET_KNOWN_HOSTS" fleet -- "sleep $n3" >"$out" 2>&1 &
drv=$!
fleet_atexit "kill $drv 2>/dev/null"
for _ in $(seq 50); do
    [ "$(pgrep -fc "sleep $n3" || true)" -ge 3 ] && break
    sleep 0.1
done
kill -INT $drv
rc=0
wait $drv || rc=$?
cat "$out"
[ $rc -eq 1 ] || fail "Ctrl-C: exit $rc, want 1"
[ "$(grep -c '\[failed\] cancelled' "$out")" -eq 3 ] || fail "Ctrl-C: hosts not cancelled"
sleep 0.3
pgrep -f "sleep $n3" >/dev/null && fail "remote commands survived Ctrl-C"
ok "Ctrl-C cancels and kills the remote commands"
