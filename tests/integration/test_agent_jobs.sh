#!/usr/bin/env bash
# tests/integration/test_agent_jobs.sh: jobs on real agents. A job id sent
# twice runs once (also across an agent restart); a lower epoch is refused;
# timeout and cancel kill the whole process group; output over the cap is
# cut with a marker; stdin and env arrive; SIGTERM reports running jobs.
set -u
. "$TOP/tests/integration/lib/agents.sh"

AGENTS_OUTPUT_MAX=4096 agents_start 1
count=$AGENTS_DIR/count

# a job id sent twice runs once
agents_exec 1 --job once-1 -- "echo run >> $count; exit 3" 2>/dev/null
rc=$?
[ $rc -eq 3 ] || agents_fail "first run: exit $rc"
agents_exec 1 --job once-1 -- "echo run >> $count; exit 3" 2>"$AGENTS_DIR/err"
rc=$?
[ $rc -eq 3 ] || agents_fail "second run: exit $rc"
grep -q "not run again" "$AGENTS_DIR/err" || agents_fail "second run not reported as stored"
[ "$(wc -l <"$count")" -eq 1 ] || agents_fail "job ran $(wc -l <"$count") times"
# ... and after the agent restarts
kill -TERM "$(agents_pid 1)"
wait "$(agents_pid 1)" 2>/dev/null
agents_launch 1
agents_exec 1 --job once-1 -- "echo run >> $count" 2>/dev/null
[ "$(wc -l <"$count")" -eq 1 ] || agents_fail "job ran again after a restart"

# a lower epoch is refused, and nothing runs
agents_exec 1 --job ep-1 --epoch 7 -- true || agents_fail "epoch 7 refused"
agents_exec 1 --job ep-2 --epoch 6 -- "echo run >> $count" 2>"$AGENTS_DIR/err"
rc=$?
[ $rc -eq 75 ] || agents_fail "epoch 6: exit $rc, wanted 75"
grep -q "lower than 7" "$AGENTS_DIR/err" || agents_fail "epoch 6: $(cat "$AGENTS_DIR/err")"
[ "$(wc -l <"$count")" -eq 1 ] || agents_fail "a fenced job ran"
[ "$(head -n 1 "$AGENTS_DIR/a1/state/epoch")" = 7 ] || agents_fail "epoch not on disk"

# timeout kills the whole group (a background child that ignores TERM too)
out=$(agents_exec 1 --job to-1 --epoch 7 --timeout 300 -- \
    'trap "" TERM; sleep 60 & echo $!; sleep 60' 2>/dev/null)
rc=$?
[ $rc -eq 124 ] || agents_fail "timeout: exit $rc"
sleep 0.2
kill -0 "$out" 2>/dev/null && agents_fail "timeout left pid $out running"
# cancel kills the whole group
out=$(agents_exec 1 --job cancel-1 --epoch 7 --cancel-after 300 -- \
    'sleep 60 & echo $!; sleep 60' 2>/dev/null)
rc=$?
[ $rc -eq 130 ] || agents_fail "cancel: exit $rc"
sleep 0.2
kill -0 "$out" 2>/dev/null && agents_fail "cancel left pid $out running"

# output over the cap (4096 here) is cut, with a marker
agents_exec 1 --job cap-1 --epoch 7 -- 'seq 1 100000' >"$AGENTS_DIR/out" 2>"$AGENTS_DIR/err"
[ "$(wc -c <"$AGENTS_DIR/out")" -eq 4096 ] || agents_fail "capped stdout is $(wc -c <"$AGENTS_DIR/out") bytes"
grep -q "output cut at 4096 bytes" "$AGENTS_DIR/err" || agents_fail "no cut marker"
grep -q "dropped=584799" "$AGENTS_DIR/err" || agents_fail "dropped count wrong: $(cat "$AGENTS_DIR/err")"

# stdin and env arrive; env values never reach the agent's log
out=$(echo "from-stdin" | agents_exec 1 --job in-1 --epoch 7 --stdin \
    --env SECRET_TOKEN=hunter2-canary -- 'cat; echo "$SECRET_TOKEN"' 2>/dev/null)
[ "$out" = "$(printf 'from-stdin\nhunter2-canary')" ] || agents_fail "stdin/env: '$out'"
grep -q hunter2-canary "$AGENTS_DIR/a1/agent.log" && agents_fail "secret in the agent log"

# SIGTERM: a running job is killed and reported, not orphaned
agents_exec 1 --job term-1 --epoch 7 -- 'sleep 60 & echo $!; sleep 60' \
    >"$AGENTS_DIR/out" 2>"$AGENTS_DIR/err" &
client=$!
sleep 0.5
kill -TERM "$(agents_pid 1)"
wait "$client"
rc=$?
[ $rc -eq 130 ] || agents_fail "shutdown: client exit $rc"
grep -q "shutting down" "$AGENTS_DIR/err" || agents_fail "shutdown not reported: $(cat "$AGENTS_DIR/err")"
bg=$(head -1 "$AGENTS_DIR/out")
sleep 0.2
kill -0 "$bg" 2>/dev/null && agents_fail "shutdown left pid $bg running"
wait "$(agents_pid 1)"
rc=$?
[ $rc -eq 0 ] || agents_fail "agent exit $rc after SIGTERM"
echo "ok"
