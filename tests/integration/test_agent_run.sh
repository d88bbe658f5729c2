#!/usr/bin/env bash
# tests/integration/test_agent_run.sh: `drover run` unchanged over real
# drover-agents (drover_transport=agent in the inventory): 10 agents answer
# with their output and exit statuses, a mixed inventory of sshd hosts and
# agents runs in one command, a stopped agent is reported unreachable.
set -euo pipefail
. "$TOP/tests/integration/lib/fleet.sh"
. "$TOP/tests/integration/lib/agents.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

fleet_start 2
agents_start 10
fleet_atexit agents_stop
trap fleet_on_exit EXIT
work=$FLEET_DIR/work
mkdir -p "$work"
aflags=(--coordinator-key "$AGENTS_KEY" --known-agents "$AGENTS_DIR/known_agents")
sflags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS")

# 1. 10 agents: each line prefixed, exit statuses, the summary
set +e
"$DROVER" run -i "$AGENTS_DIR/inventory.ini" "${aflags[@]}" agents -- \
    'echo "hello from $(hostname)"; case $PPID in *) test -n "$PPID";; esac; exit 0' \
    >"$work/out1" 2>"$work/err1"
rc=$?
set -e
cat "$work/out1" "$work/err1"
[ "$rc" = 0 ] || fail "run over 10 agents exited $rc"
for x in $(seq 1 10); do
    grep -q "^a$x: hello from" "$work/out1" || fail "no output from a$x"
done
grep -q "^10 hosts: 10 ok, 0 failed, 0 unreachable" "$work/out1" || fail "summary wrong"

# 2. failing exit statuses are per host
set +e
"$DROVER" run -i "$AGENTS_DIR/inventory.ini" "${aflags[@]}" 'agents[0:2]' -- 'exit 3' \
    >"$work/out2" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "failed commands should exit 1, got $rc: $(cat "$work/out2")"
grep -q "^3 hosts: 0 ok, 3 failed" "$work/out2" || fail "$(cat "$work/out2")"

# 3. a mixed inventory: sshd hosts and agents in one run
cat "$FLEET_INVENTORY" "$AGENTS_DIR/inventory.ini" >"$work/mixed.ini"
set +e
"$DROVER" run -i "$work/mixed.ini" "${sflags[@]}" "${aflags[@]}" 'fleet:agents[0:1]' -- \
    'echo ok' >"$work/out3" 2>&1
rc=$?
set -e
cat "$work/out3"
[ "$rc" = 0 ] || fail "mixed run exited $rc"
for h in h1 h2 a1 a2; do grep -q "^$h: ok" "$work/out3" || fail "no output from $h"; done

# 4. a stopped agent is unreachable, the others answer
kill -STOP "$(agents_pid 4)"
set +e
timeout 60 "$DROVER" run -i "$AGENTS_DIR/inventory.ini" "${aflags[@]}" 'agents[2:4]' -- 'echo up' \
    >"$work/out4" 2>&1
rc=$?
set -e
kill -CONT "$(agents_pid 4)"
cat "$work/out4"
[ "$rc" = 4 ] || fail "an unreachable agent should exit 4, got $rc"
grep -q "^a3: up" "$work/out4" || fail "a3 did not answer"
grep -q "unreachable" "$work/out4" || fail "a5 not reported unreachable"
echo ok
