#!/usr/bin/env bash
# tests/integration/test_ssh_unreachable.sh: hosts that cannot be reached
# are reported within the connect timeout and do not hold up the others:
# one address with nothing listening (refused at once) and one sshd that
# accepts TCP but never answers (stopped with SIGSTOP: timed out).
set -euo pipefail
. "$(dirname "$0")/lib/fleet.sh"
: "${DROVER:?DROVER must point at the drover binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

fleet_start 6
inv=$FLEET_DIR/unreach.ini
{
    cat "$FLEET_INVENTORY"
    echo "dead ansible_host=127.0.1.250 ansible_port=2222 ansible_user=root"
} >"$inv"
out=$FLEET_DIR/out

# h6's sshd stops answering: the kernel still completes the TCP handshake.
sshd6=$(fleet_sshd_pid 6)
kill -STOP "$sshd6"
fleet_atexit "kill -CONT $sshd6 2>/dev/null"

t0=$(date +%s%N)
rc=0
"$DROVER" run -i "$inv" --key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" \
    --connect-timeout 2s fleet -- 'sleep 0.2; echo fine' >"$out" 2>&1 || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$out"
[ $rc -eq 4 ] || fail "exit $rc, want 4 (EXIT_UNREACHABLE)"
grep -q '^dead: \[unreachable\] .*127.0.1.250:2222.*refused' "$out" || fail "dead host not reported as refused"
grep -q '^h6: \[unreachable\] .*timed out after 2.00s' "$out" || fail "silent host not reported as timed out"
grep -q '^7 hosts: 5 ok, 0 failed, 2 unreachable' "$out" || fail "summary"
for x in 1 2 3 4 5; do
    grep -q "^h$x: fine$" "$out" || fail "h$x output missing"
done
[ $ms -lt 3500 ] || fail "took ${ms}ms with a 2s connect timeout"
ok "refused and silent hosts reported in ${ms}ms (connect timeout 2s)"

# The reachable hosts finished long before the silent one gave up.
last_ok=$(grep -n '^h[1-5]: \[ok\]' "$out" | tail -1 | cut -d: -f1)
h6_line=$(grep -n '^h6: \[unreachable\]' "$out" | cut -d: -f1)
[ "$last_ok" -lt "$h6_line" ] || fail "reachable hosts waited for the silent one"
ok "reachable hosts were not held up"

# --forks 1: the hosts behind an unreachable one still run.
rc=0
"$DROVER" run -i "$inv" --key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" \
    --connect-timeout 1s --forks 1 fleet -- true >"$out" 2>&1 || rc=$?
[ $rc -eq 4 ] || { cat "$out"; fail "forks 1: exit $rc"; }
grep -q '^7 hosts: 5 ok, 0 failed, 2 unreachable' "$out" || fail "forks 1 summary: $(cat "$out")"
ok "--forks 1 goes on past unreachable hosts"
