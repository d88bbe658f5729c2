#!/usr/bin/env bash
# tests/integration/test_run.sh: `drover run` on 50 real sshd hosts: every
# host's output lines (stdout and stderr, with its prefix), its exit status
# and the summary are right; exit codes follow the worst result; --forks
# bounds the hosts in flight; stdin-less commands do not hang; many
# aliases of one sshd get through MaxStartups by capping and retrying.
set -euo pipefail
. "$(dirname "$0")/lib/fleet.sh"
: "${DROVER:?DROVER must point at the drover binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

N=50
fleet_start $N
out=$FLEET_DIR/out
err=$FLEET_DIR/err
run() { # pattern command [flags]
    local pat=$1 cmd=$2
    shift 2
    "$DROVER" run -i "$FLEET_INVENTORY" --key "$FLEET_KEY" \
        --known-hosts "$FLEET_KNOWN_HOSTS" "$@" "$pat" -- "$cmd" >"$out" 2>"$err"
}

# 1. Every host says where it is, on stdout and stderr, over two lines,
# with a last line lacking its newline; and reads an empty stdin.
t0=$(date +%s%N)
run fleet 'set -- $SSH_CONNECTION; echo "addr $3"; echo "err $3" >&2; cat; printf "tail-$3"' ||
    { cat "$out" "$err"; fail "run on $N hosts"; }
ms=$((($(date +%s%N) - t0) / 1000000))
for ((x = 1; x <= N; x++)); do
    grep -qx "h$x: addr 127.0.1.$x" "$out" || fail "h$x stdout line"
    grep -qx "h$x: tail-127.0.1.$x" "$out" || fail "h$x unterminated last line"
    grep -qx "h$x: err 127.0.1.$x" "$err" || fail "h$x stderr line"
    grep -q "^h$x: \[ok\] exit 0 (" "$out" || fail "h$x result line"
done
[ "$(grep -c '^h[0-9]*: addr ' "$out")" -eq $N ] || fail "duplicate or stray output"
grep -q "^$N hosts: $N ok, 0 failed, 0 unreachable (" "$out" || fail "summary: $(tail -1 "$out")"
[ "$(tail -1 "$out" | cut -d' ' -f1-2)" = "$N hosts:" ] || fail "summary is not the last line"
grep -q 'drover-pgid' "$out" "$err" && fail "the pgid report leaked into output"
ok "$N hosts: output, results and summary right (${ms}ms)"

# 2. Exit status per host: X % 4. Hosts with 0 are ok, the rest failed
# with their own code; drover exits 1.
rc=0
run fleet 'set -- $SSH_CONNECTION; exit $(( ${3##*.} % 4 ))' || rc=$?
[ $rc -eq 1 ] || fail "mixed exit: drover exit $rc, want 1"
okn=0
for ((x = 1; x <= N; x++)); do
    code=$((x % 4))
    if [ $code -eq 0 ]; then
        grep -q "^h$x: \[ok\] exit 0 " "$out" || fail "h$x should be ok"
        okn=$((okn + 1))
    else
        grep -q "^h$x: \[failed\] exit $code " "$out" || fail "h$x should fail with $code"
    fi
done
grep -q "^$N hosts: $okn ok, $((N - okn)) failed, 0 unreachable" "$out" ||
    fail "mixed summary: $(tail -1 "$out")"
ok "per-host exit statuses and summary right ($okn ok)"

# 3. --forks 5: never more than 5 commands at once (each host records
# itself in a shared directory while it runs).
live=$FLEET_DIR/live
mkdir -p "$live"
run fleet "touch $live/\$\$; ls $live | wc -l >> $live.max; sleep 0.1; rm $live/\$\$" --forks 5 ||
    { cat "$out" "$err"; fail "--forks 5"; }
max=$(sort -n "$live.max" | tail -1)
[ "$max" -le 5 ] || fail "--forks 5 ran $max at once"
[ "$(wc -l <"$live.max")" -eq $N ] || fail "--forks 5: not every host ran"
ok "--forks 5 bounds concurrency (max $max)"

# 4. A pattern naming one host, and one that matches nothing.
run h7 'echo one' || fail "single host"
grep -qx 'h7: one' "$out" && grep -q '^1 host: 1 ok' "$out" || fail "single host output"
rc=0
run nosuchgroup true || rc=$?
[ $rc -ne 0 ] && grep -q "no hosts match 'nosuchgroup'" "$err" || fail "empty pattern: exit $rc $(cat "$err")"
ok "single-host and empty patterns"

# 5. 40 inventory hosts on ONE sshd (MaxStartups 10:30:100): with 40
# concurrent handshakes allowed, sshd drops some; drover retries them.
inv40=$FLEET_DIR/one.ini
{
    echo "[one]"
    for ((i = 1; i <= 40; i++)); do
        echo "a$i ansible_host=127.0.1.1 ansible_port=2222 ansible_user=root"
    done
} >"$inv40"
"$DROVER" run -v -i "$inv40" --key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" \
    --forks 40 --handshakes-per-target 40 one -- true >"$out" 2>"$err" ||
    { tail -5 "$out"; grep -v debug "$err" | tail; fail "40 on one sshd"; }
grep -q '^40 hosts: 40 ok' "$out" || fail "40 on one sshd: $(tail -1 "$out")"
retries=$(grep -c 'handshake dropped' "$err" || true)
ok "40 hosts on one sshd all ok ($retries MaxStartups drops retried)"
"$DROVER" run -i "$inv40" --key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" \
    --forks 40 one -- true >"$out" 2>"$err" || fail "40 on one sshd, default cap"
grep -q '^40 hosts: 40 ok' "$out" || fail "default cap: $(tail -1 "$out")"
ok "40 hosts on one sshd with the default cap of 8"
