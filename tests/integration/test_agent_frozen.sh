#!/usr/bin/env bash
# tests/integration/test_agent_frozen.sh: a frozen agent (SIGSTOP) is
# marked unreachable within the heartbeat timeout, and after SIGCONT the
# agent serves again (the job it ran meanwhile finished and is stored).
set -u
. "$TOP/tests/integration/lib/agents.sh"

agents_start 1
agents_exec 1 --job f-0 -- true || agents_fail "warm-up exec"
agents_exec 1 --job f-1 --heartbeat-timeout 1000 -- 'sleep 2; echo done' \
    >"$AGENTS_DIR/out" 2>"$AGENTS_DIR/err" &
client=$!
sleep 0.4
kill -STOP "$(agents_pid 1)"
t0=$(date +%s%N)
wait "$client"
rc=$?
took=$((($(date +%s%N) - t0) / 1000000))
kill -CONT "$(agents_pid 1)"
[ $rc -eq 77 ] || agents_fail "frozen agent: exit $rc, wanted 77 ($(cat "$AGENTS_DIR/err"))"
grep -q "unreachable" "$AGENTS_DIR/err" || agents_fail "not reported unreachable"
# 1000 ms timeout, checked every third of it
[ "$took" -lt 2000 ] || agents_fail "marked unreachable after ${took}ms"
echo "unreachable after ${took}ms"
# thawed: the job finished meanwhile; asking again returns its result
sleep 2
out=$(agents_exec 1 --job f-1 -- 'echo again' 2>"$AGENTS_DIR/err")
rc=$?
[ $rc -eq 0 ] || agents_fail "after SIGCONT: exit $rc"
[ -z "$out" ] || agents_fail "f-1 ran again: '$out'"
grep -q "not run again" "$AGENTS_DIR/err" || agents_fail "no stored result"
echo "ok"
