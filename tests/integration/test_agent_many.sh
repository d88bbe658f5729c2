#!/usr/bin/env bash
# tests/integration/test_agent_many.sh: `drover run` over 600 agents (one
# drover-agent --simulate process, CURVE on, commands run for real) started
# with a soft descriptor limit of 128: drover raises it to the hard limit,
# holds one connection per agent, and every host answers with its own
# output. Then the simulator is stopped mid-fleet: every host is reported
# unreachable, none hangs.
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }

N=600
work=$(mktemp -d)
sim=
cleanup() {
    [ -n "$sim" ] && kill -TERM "$sim" 2>/dev/null && wait "$sim" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$DROVER" keygen -f "$work/coordinator.key" >/dev/null 2>&1
cp "$work/coordinator.key.pub" "$work/authorized_keys"
# a free block of ports on a loopback address of our own
addr=127.0.6.1
base=$((21000 + RANDOM % 20000))
"$DROVER_AGENT" --foreground --simulate "$N" --simulate-exec=real \
    --listen "tcp://$addr:$base" --simulate-known "$work/known_agents" \
    --authorized-keys "$work/authorized_keys" --state-dir "$work/state" \
    2>"$work/sim.log" &
sim=$!
for _ in $(seq 200); do
    grep -q "simulated agents on" "$work/sim.log" && break
    kill -0 "$sim" 2>/dev/null || { cat "$work/sim.log"; fail "simulator died"; }
    sleep 0.05
done
grep -q "simulated agents on" "$work/sim.log" || fail "simulator did not start"

{
    echo "[sim]"
    for i in $(seq 0 $((N - 1))); do
        echo "s$i ansible_host=$addr drover_agent_port=$((base + i)) drover_transport=agent"
    done
} >"$work/inventory.ini"

flags=(-i "$work/inventory.ini" --coordinator-key "$work/coordinator.key"
    --known-agents "$work/known_agents" --forks "$N")
set +e
(
    ulimit -Sn 128
    exec "$DROVER" run "${flags[@]}" sim -- 'echo up'
) >"$work/out" 2>"$work/err"
rc=$?
set -e
tail -n 3 "$work/out"; tail -n 3 "$work/err"
[ "$rc" = 0 ] || fail "run over $N agents with ulimit -Sn 128 exited $rc"
grep -q "^$N hosts: $N ok, 0 failed, 0 unreachable" "$work/out" ||
    fail "summary: $(tail -1 "$work/out")"
[ "$(grep -c ': up$' "$work/out")" = "$N" ] || fail "not every host answered"

# the simulator goes away: every host is unreachable, promptly
kill -TERM "$sim"
wait "$sim" 2>/dev/null || true
sim=
start=$(date +%s)
set +e
"$DROVER" run "${flags[@]}" sim -- true >"$work/out2" 2>"$work/err2"
rc=$?
set -e
took=$(($(date +%s) - start))
tail -1 "$work/out2"
[ "$rc" != 0 ] || fail "run against a stopped simulator succeeded"
grep -q "^$N hosts: 0 ok, 0 failed, $N unreachable" "$work/out2" ||
    fail "summary: $(tail -1 "$work/out2")"
[ "$took" -lt 20 ] || fail "took ${took}s to give up (connect deadline 10 s)"
echo "ok: $N agents"
