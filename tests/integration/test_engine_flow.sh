#!/usr/bin/env bash
# tests/integration/test_engine_flow.sh: the phases and controls of
# `drover deploy` over a real sshd fleet (4 hosts): prechecks (local, once,
# each) refuse before any change; `before` steps run once; --canary and
# pause_after_canary stop paused after a verified canary; Ctrl-C finishes
# the steps in flight and pauses, a second Ctrl-C cancels them; the
# singleton role has exactly one holder after every wave; --json is one
# valid JSON event per line.
set -euo pipefail
. "$TOP/tests/integration/lib/engine.sh"

engine_start 4

SWITCH='  - name: switch
    run: "echo {{ inventory_hostname }} {{ wave }} >> '"$WORK"'/logs/deploy.log && ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"'
HEALTH='health:
  checks:
    - name: ready
      http: "http://{{ address }}:8080/health/ready"
  interval: 100ms
  healthy_deadline: 1s'

# 1. prechecks: a failing one (local, once, or each on one host) refuses
# the deploy with exit 7; no host changed, no deploy step journaled.
for kind in local once each; do
    engine_reset
    case $kind in
    local) pc='  - { name: disk ok, on: local, run: "test -e /nonexistent/drover" }' ;;
    once) pc='  - { name: backup fresh, on: once, run: "test -e /nonexistent/drover" }' ;;
    each) pc='  - { name: no debug, on: each, run: "test {{ inventory_hostname }} != h3" }' ;;
    esac
    cat >"$WORK/pre-$kind.yml" <<EOF
name: engine-flow
hosts: fleet
strategy: { waves: [1, 1, 2] }
prechecks:
  - { name: fine first, on: local, run: "true" }
  - { name: fine, on: each, run: "true" }
$pc
before:
  - { name: migrate, run: "echo migrate >> $WORK/logs/deploy.log" }
steps:
$SWITCH
$HEALTH
EOF
    if [ $kind = each ]; then
        want='refused: prechecks failed on 1 host; nothing was changed'
    else
        want='refused: a precheck failed; nothing was changed'
    fi
    deploy_expect 7 "$WORK/logs/pre-$kind" "$WORK/pre-$kind.yml" -e version=2 -- \
        "$want" 'deploy refused'
    versions_are 1 1 1 1
    [ ! -e "$WORK/logs/deploy.log" ] || fail "$kind precheck failed, yet: $(cat "$WORK/logs/deploy.log")"
    show_json "$(deploy_id "$WORK/logs/pre-$kind")" >"$WORK/logs/pre-$kind.json"
    json_check "$WORK/logs/pre-$kind.json" '
assert r["result"] == "refused", r["result"]
assert not [s for s in r["steps"] if s["phase"] in ("deploy", "before")], r["steps"]
bad = [p for p in r["precheck_evidence"] if not p["ok"]]
assert len(bad) == 1, r["precheck_evidence"]
assert any(p["ok"] for p in r["precheck_evidence"]), r["precheck_evidence"]
'
done
expect_in "$WORK/logs/pre-each" 'h3: FAILED: '

# 2. before steps (once on a host, and local) run once per deploy, before
# wave 1.
engine_reset
cat >"$WORK/before.yml" <<EOF
name: engine-flow
hosts: fleet
strategy: { waves: [1, 1, 2] }
before:
  - { name: migrate, run: "echo migrate {{ inventory_hostname }} >> $WORK/logs/deploy.log" }
  - { name: announce, on: local, run: "echo announce >> $WORK/logs/deploy.log" }
steps:
$SWITCH
$HEALTH
EOF
deploy_expect 0 "$WORK/logs/before" "$WORK/before.yml" -e version=2 -- \
    'deploy succeeded: 4 hosts: 4 healthy'
[ "$(grep -c '^migrate' "$WORK/logs/deploy.log")" = 1 ] || fail "migrate ran $(grep -c '^migrate' "$WORK/logs/deploy.log") times"
[ "$(grep -c '^announce' "$WORK/logs/deploy.log")" = 1 ] || fail "the local before step did not run once"
[ "$(head -n 2 "$WORK/logs/deploy.log" | tr '\n' ' ')" = "migrate h1 announce " ] ||
    fail "before steps did not run first, in order: $(tr '\n' ' ' <"$WORK/logs/deploy.log")"
versions_are 2 2 2 2

# 3. --canary: only the canary wave runs; verified, then paused (exit 6);
# pause_after_canary: true does the same without the flag.
engine_reset
cat >"$WORK/canary.yml" <<EOF
name: engine-flow
hosts: fleet
strategy: { canary: 1, waves: ["50%"] }
steps:
$SWITCH
$HEALTH
EOF
deploy_expect 6 "$WORK/logs/canary" "$WORK/canary.yml" -e version=2 --canary -- \
    'wave 1/3 \(canary\): 1 host: h1' \
    'canary verified: 1 host healthy in wave 1; the deploy is paused' \
    'deploy paused'
versions_are 2 1 1 1
[ "$(wc -l <"$WORK/logs/deploy.log")" = 1 ] || fail "more than the canary ran: $(cat "$WORK/logs/deploy.log")"
id=$(deploy_id "$WORK/logs/canary")
show_json "$id" >"$WORK/logs/canary.json"
json_check "$WORK/logs/canary.json" '
assert r["state"] == "paused" and r["result"] is None, (r["state"], r["result"])
'
engine_reset
sed 's/strategy: { canary: 1,/strategy: { canary: 1, pause_after_canary: true,/' \
    "$WORK/canary.yml" >"$WORK/canary-pause.yml"
deploy_expect 6 "$WORK/logs/canary-pause" "$WORK/canary-pause.yml" -e version=2 -- \
    'canary verified: 1 host healthy in wave 1'
versions_are 2 1 1 1

# a single-node canary (canary: 1 of a one-host plan) is the whole deploy
engine_reset
sed 's/^hosts: fleet$/hosts: h2/; s/, waves: \["50%"\]//' "$WORK/canary.yml" >"$WORK/canary-one.yml"
deploy_expect 0 "$WORK/logs/canary-one" "$WORK/canary-one.yml" -e version=2 --canary -- \
    'wave 1/1 \(canary\): 1 host: h2' 'deploy succeeded: 1 host: 1 healthy'
versions_are 1 2 1 1

# 4. Ctrl-C: the first SIGINT lets the steps in flight finish and pauses
# (exit 6); later waves are untouched.
engine_reset
cat >"$WORK/slow.yml" <<EOF
name: engine-flow
hosts: fleet
strategy: { waves: [2] }
steps:
  - { name: slow, run: "sleep 1" }
$SWITCH
$HEALTH
EOF
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=2 \
    "$WORK/slow.yml" >"$WORK/logs/int1" 2>&1 &
pid=$!
fleet_atexit "kill -KILL $pid 2>/dev/null"
for _ in $(seq 100); do
    grep -q 'wave 1/2' "$WORK/logs/int1" && break
    sleep 0.05
done
sleep 0.3
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 6 ] || { cat "$WORK/logs/int1"; fail "Ctrl-C: exit $rc, want 6 (paused)"; }
expect_in "$WORK/logs/int1" 'interrupted: finishing the steps in flight' \
    'deploy paused: interrupted \(Ctrl-C\) in wave 1; steps in flight were allowed to finish' \
    '^  h1 +wave 1 +healthy' '^  h3 +wave 2 +skipped'
versions_are 2 2 1 1
grep -q ' 2$' "$WORK/logs/deploy.log" && fail "wave 2 started after Ctrl-C"

# 5. A second SIGINT cancels the running steps (their remote processes
# end): the deploy pauses at once.
engine_reset
sed 's/sleep 1"/sleep 7.31"/' "$WORK/slow.yml" >"$WORK/slower.yml"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=2 \
    "$WORK/slower.yml" >"$WORK/logs/int2" 2>&1 &
pid=$!
fleet_atexit "kill -KILL $pid 2>/dev/null"
for _ in $(seq 100); do
    [ "$(pgrep -fc 'sleep 7.31' || true)" -ge 2 ] && break
    sleep 0.05
done
[ "$(pgrep -fc 'sleep 7.31' || true)" -ge 2 ] || fail "the steps did not start: $(cat "$WORK/logs/int2")"
t0=$(date +%s%N)
kill -INT "$pid"
sleep 0.3
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" = 6 ] || { cat "$WORK/logs/int2"; fail "Ctrl-C twice: exit $rc, want 6 (paused)"; }
[ "$ms" -lt 4000 ] || fail "Ctrl-C twice took ${ms}ms: the steps were not cancelled"
expect_in "$WORK/logs/int2" 'interrupted again: cancelling the running steps' \
    'running steps were cancelled'
for _ in $(seq 40); do
    [ "$(pgrep -fc 'sleep 7.31' || true)" = 0 ] && break
    sleep 0.05
done
[ "$(pgrep -fc 'sleep 7.31' || true)" = 0 ] || fail "cancelled steps still run on the hosts: $(pgrep -fa 'sleep 7.31')"
versions_are 1 1 1 1

# 6. singleton: ENABLE_SCHEDULER is true on exactly one host. The holder
# drover finds, h4, may not hold it (singleton.hosts: h2); it is deployed
# in the last wave: the role stays on it while waves 1 and 2 roll, then
# moves to h2, already deployed, stop before start: h4 restarts with
# false, then h2 restarts with true. After every wave exactly one host
# reports the role active.
engine_reset
for x in 1 2 3; do echo false >"$(fleet_host_dir "$x")/scheduler"; done
echo true >"$(fleet_host_dir 4)/scheduler"
cat >"$WORK/single.yml" <<EOF
name: engine-flow
hosts: fleet
strategy: { waves: [1, 1, 2] }
steps:
  - name: scheduler flag
    run: 'echo "\$ENABLE_SCHEDULER" > {{ app_dir }}/scheduler; echo "{{ inventory_hostname }} \$ENABLE_SCHEDULER" >> $WORK/logs/sched.log'
$SWITCH
$HEALTH
singleton:
  role: scheduler
  hosts: h2
  env: ENABLE_SCHEDULER
  check: { command: "grep -qx true {{ app_dir }}/scheduler" }
EOF
rm -f "$WORK/logs/sched.log"
deploy_expect 0 "$WORK/logs/single" "$WORK/single.yml" -e version=2 -- \
    'deploy succeeded'
[ "$(grep -c "singleton 'scheduler': active on exactly one host (h4)" "$WORK/logs/single")" = 2 ] ||
    fail "h4 is not the one holder after waves 1 and 2"
grep -q "singleton 'scheduler' moves from h4 (restarting in this wave, not one of singleton.hosts) to h2" "$WORK/logs/single" ||
    fail "the role did not move off h4 before its restart"
[ "$(grep -c "singleton 'scheduler': active on exactly one host (h2)" "$WORK/logs/single")" = 1 ] ||
    fail "h2 is not the one holder after wave 3"
# stop before start: h4 restarted with false before h2 restarted with true
h4=$(grep -n '^h4 false$' "$WORK/logs/sched.log" | cut -d: -f1)
h2=$(grep -n '^h2 true$' "$WORK/logs/sched.log" | cut -d: -f1)
[ -n "$h4" ] && [ -n "$h2" ] && [ "$h4" -lt "$h2" ] ||
    fail "not stop before start: $(tr '\n' ' ' <"$WORK/logs/sched.log")"
for x in 1 2 3 4; do
    want=false
    [ $x = 2 ] && want=true
    [ "$(cat "$(fleet_host_dir "$x")/scheduler")" = $want ] || fail "h$x scheduler is not $want"
done
# two holders: drover asks before any change and refuses the deploy
engine_reset
for x in 1 3; do echo false >"$(fleet_host_dir "$x")/scheduler"; done
for x in 2 4; do echo true >"$(fleet_host_dir "$x")/scheduler"; done
deploy_expect 7 "$WORK/logs/single2" "$WORK/single.yml" -e version=2 -- \
    "refused: singleton 'scheduler' is active on 2 hosts \(h2, h4\) before any change"
grep -q ' 2$' "$WORK/logs/deploy.log" && fail "wave 2 ran with two schedulers"

# 7. --json: every line of stdout is one JSON event; a deploy that rolls
# back has deploy, wave, host, decision and rollback events.
engine_reset
behave 2 2 ready=503
cat >"$WORK/json.yml" <<EOF
name: engine-flow
hosts: fleet
strategy: { waves: [1, 1, 2] }
steps:
$SWITCH
$HEALTH
rollback:
  steps:
    - run: "ln -sfn {{ app_dir }}/releases/1 {{ app_dir }}/current"
EOF
rc=0
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=2 --json -v \
    "$WORK/json.yml" >"$WORK/logs/json" 2>"$WORK/logs/json.err" || rc=$?
[ "$rc" = 1 ] || { cat "$WORK/logs/json" "$WORK/logs/json.err"; fail "--json deploy exited $rc, want 1"; }
python3 - "$WORK/logs/json" <<'PY' || fail "--json output is not one JSON event per line"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no output"
ev = [json.loads(l) for l in lines]
kinds = {e["event"] for e in ev}
for k in ("wave", "host", "decision", "rollback", "deploy", "check", "summary"):
    assert k in kinds, (k, kinds)
assert all("message" in e and "time_ms" in e for e in ev)
d = [e for e in ev if e["event"] == "deploy"][-1]
assert d["verdict"] == "rolled back" and d["rolled_back"] == 2, d
assert any(e["event"] == "decision" and "wave 2/3 stopped" in e["message"] for e in ev)
assert any(e["event"] == "host" and e.get("host") == "h2" and e.get("state") == "failed" for e in ev)
PY
versions_are 1 1 1 1
echo "ok"
