#!/usr/bin/env bash
# tests/integration/test_resume_retry.sh: a step's retries across a kill -9
# of the coordinator. Each case kills the coordinator once its `--json`
# output shows the step's retry pending (or its host failed), then `drover
# resume` goes on from the journal: an attempt whose outcome is journaled
# never runs again, and `retries: 1` means two runs at most in the deploy,
# whatever the coordinator went through:
#  1. a deploy step that failed attempt 0, retry pending (SSH);
#  2. the same after a timeout (SSH);
#  3. a rollback step that failed attempt 0 in a rollback (SSH);
#  4. a host whose retries were used up (it failed), while another host's
#     step still ran (SSH): resume does not run it again;
#  5. a `before` step that failed attempt 0, retry pending (SSH);
#  6. case 1 on a drover-agent.
# Ground truth: a line each run of the step appends to a file of its host,
# and on SSH hosts the step records of the host-side wrapper, one per
# step id (its fifth field is the attempt).
set -euo pipefail
FLEET_NET=127.0.54 FLEET_PORT=24701 FLEET_APP_PORT=24702
AGENTS_NET=127.0.55 AGENTS_PORT=24703
. "$TOP/tests/integration/lib/fleet.sh"
. "$TOP/tests/integration/lib/agents.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

fleet_start 2
work=$FLEET_DIR/work
mkdir -p "$work"
flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS")

# plan FILE STEP-RUN [ROLLBACK-RUN]: a plan whose step `prepare` runs
# STEP-RUN with $RETRIES (1) retries $DELAY (2s: time to kill the
# coordinator) apart and a 1 s timeout; a rollback step `back` running
# ROLLBACK-RUN the same way; $MAX_FAIL (0) hosts may fail
plan() {
    local rb=
    [ -z "${3:-}" ] || rb="rollback:
  steps:
    - name: back
      run: \"$3\"
      retries: 1
      delay: 2s"
    cat >"$work/$1" <<EOF
name: retry
hosts: fleet
strategy:
  waves: ["100%"]
  max_fail: ${MAX_FAIL:-0}
steps:
  - name: prepare
    run: "$2"
    retries: ${RETRIES:-1}
    delay: ${DELAY:-2s}
    timeout: 1s
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
$rb
EOF
}

# killed_at PATTERN CMD...: run drover CMD with --json and kill -9 it
# once a line of its output matches PATTERN
killed_at() {
    local pat=$1 out=$work/killed.json i
    shift
    "$DROVER" "$@" --json >"$out" 2>&1 &
    local pid=$!
    for i in $(seq 200); do
        grep -Eq "$pat" "$out" && break
        sleep 0.05
    done
    grep -Eq "$pat" "$out" || { cat "$out"; kill -9 "$pid" 2>/dev/null; fail "no '$pat' in the output"; }
    kill -9 "$pid" || { cat "$out"; fail "it ended before the kill"; }
    wait "$pid" 2>/dev/null || true
}

# resume_expect STATUS STATE-DIR: drover resume exits STATUS
resume_expect() {
    local rc=0
    "$DROVER" resume "${flags[@]}" --state-dir "$2" >"$work/resume.out" 2>&1 || rc=$?
    [ "$rc" = "$1" ] || { cat "$work/resume.out"; fail "resume exited $rc, want $1"; }
}

# runs FILE: how many runs the step logged there
runs() { grep -c . "$1" 2>/dev/null || echo 0; }

# attempts X PHASE STEP: the attempts of step STEP of PHASE the wrapper of
# host hX started in the deploy killed last (any generation)
attempts() {
    local d dep
    dep=$(grep -o '"deploy":"DEP-[^"]*"' "$work/killed.json" | head -1 | cut -d'"' -f4)
    for d in "$(fleet_host_dir "$1")"/fence/steps/"$dep":h"$1":"$2":"$3":*; do
        [ -d "$d" ] && basename "$d" | awk -F: '{ print $(NF - 1) }'
    done | sort | tr '\n' ' '
}

retry_ev='"state": ?"retry"'
h1=$(fleet_host_dir 1)
fails="echo run >> {{ app_dir }}/prep.log; [ {{ inventory_hostname }} != h1 ]"

# retry_case N PLAN STATUS PHASE [PATTERN]: case N: a deploy of PLAN
# (version 2, inventory $inv, state $state) killed once its output matches
# PATTERN (default: a retry pending), then `drover resume`, which exits
# STATUS; the step ran twice in all ($runs, emptied first) and, unless
# PHASE is -, h1 started attempts 0 and 1 of step 0 of PHASE.
inv=$FLEET_INVENTORY state=$work/state runs=$h1/prep.log
retry_case() {
    local n=$1 plan=$2 status=$3 phase=$4 pat=${5:-$retry_ev}
    rm -f "$runs"
    killed_at "$pat" deploy -i "$inv" "${flags[@]}" --state-dir "$state" -e version=2 "$work/$plan"
    resume_expect "$status" "$state"
    [ "$(runs "$runs")" = 2 ] || fail "case $n: the step ran $(runs "$runs") times, want 2"
    [ "$phase" = - ] || [ "$(attempts 1 "$phase" 0)" = "0 1 " ] ||
        fail "case $n: h1 started $phase attempts '$(attempts 1 "$phase" 0)', want '0 1 '"
}

# 1. attempt 0 failed, retry pending: resume runs attempt 1 only
plan p1.yml "$fails"
retry_case 1 p1.yml 1 deploy
echo "ok: a retry pending at the kill: resume ran attempt 1 only"

# 2. attempt 0 timed out, retry pending
plan p2.yml "echo run >> {{ app_dir }}/prep.log; [ -e {{ app_dir }}/prep.log.2 ] || { touch {{ app_dir }}/prep.log.2; sleep 3; }"
retry_case 2 p2.yml 0 deploy
echo "ok: a retry pending after a timeout: resume ran attempt 1 only"

# 3. a rollback step failed attempt 0, retry pending
RETRIES=0 plan p3.yml "[ {{ inventory_hostname }} != h1 ]" "$fails"
retry_case 3 p3.yml 5 rollback
echo "ok: a rollback step's retry pending at the kill: resume ran attempt 1 only"

# 4. h1's retries used up (it failed, before the kill) while h2's step
# still runs; h1 failed, within max_fail: the deploy failed
DELAY=100ms MAX_FAIL=1 plan p4.yml "$fails || exit 1; sleep 0.8"
retry_case 4 p4.yml 1 - '"host": ?"h1".*"state": ?"failed"|"state": ?"failed".*"host": ?"h1"'
grep -q "h1: FAILED: step 'prepare' failed 2 times before the coordinator died" "$work/resume.out" ||
    fail "case 4: resume does not say why h1 failed: $(cat "$work/resume.out")"
echo "ok: a step whose retries were used up is not run again by resume"

# 5. a `before` step (on: once) failed attempt 0, retry pending
plan p5.yml "true"
sed -i "s|^steps:\$|before:\n  - name: migrate\n    run: \"$fails\"\n    on: once\n    retries: 1\n    delay: 2s\nsteps:|" "$work/p5.yml"
retry_case 5 p5.yml 1 before
echo "ok: a before step's retry pending at the kill: resume ran attempt 1 only"

# 6. case 1 on a drover-agent (its app_dir a host directory: lib/hostdir.sh)
AGENTS_HOSTS=1
agents_start 1
fleet_atexit agents_stop # agents.sh took the EXIT trap: the fleet's stops both
trap fleet_on_exit EXIT
flags=(--coordinator-key "$AGENTS_KEY" --known-agents "$AGENTS_DIR/known_agents")
sed -e 's/^hosts: fleet$/hosts: agents/' -e 's/!= h1/!= a1/' "$work/p1.yml" >"$work/p6.yml"
inv=$AGENTS_DIR/inventory.ini state=$work/s6 runs=$(agents_host_dir 1)/prep.log
retry_case 6 p6.yml 1 -
echo "ok: a retry pending on an agent: resume ran attempt 1 only"
set +e # the agents lib stops its daemons on exit
echo ok
