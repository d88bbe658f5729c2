#!/usr/bin/env bash
# tests/integration/test_engine_regressions.sh: cases the engine tests
# found failing, kept as regressions: a flapping gate names the soak,
# `unreachable: pause` pauses, -e previous_version is recorded for
# rollback, secret-looking env values are redacted, options may follow
# DEPLOY, a singleton check slower than the interval still answers.
set -uo pipefail
. "$TOP/tests/integration/lib/engine.sh"
engine_start 3
bad=0
check() { if "$@"; then echo "PASS: $CASE"; else echo "FAIL: $CASE"; bad=1; fi; }

# 1. a flapping check fails at the deadline; the reason must name the soak
CASE="flap reason names the soak"
engine_reset
behave 1 2 flap_ms=300
cat >"$WORK/flap.yml" <<P
name: bug-flap
hosts: h1
steps:
  - run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks: [ { name: ready, http: "http://{{ address }}:8080/health/ready" } ]
  interval: 100ms
  min_healthy_time: 1s
  healthy_deadline: 3s
P
for i in 1 2 3; do
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=2 "$WORK/flap.yml" >"$WORK/flap$i" 2>&1
    grep 'h1: FAILED' "$WORK/flap$i"
    check grep -q 'soak' "$WORK/flap$i"
    engine_reset; behave 1 2 flap_ms=300
done

# 2. strategy.unreachable: pause pauses (exit 6), it does not roll back
CASE="unreachable: pause pauses"
engine_reset
sed 's/^h2 ansible_host=[^ ]*/h2 ansible_host=127.0.1.250/' "$FLEET_INVENTORY" >"$WORK/inv-u.ini"
cat >"$WORK/u.yml" <<P
name: bug-unreach
hosts: fleet
strategy: { waves: [1, 2], unreachable: pause }
steps:
  - run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
rollback:
  steps:
    - run: "ln -sfn {{ app_dir }}/releases/1 {{ app_dir }}/current"
P
"$DROVER" deploy -i "$WORK/inv-u.ini" "${DFLAGS[@]}" -e version=2 "$WORK/u.yml" >"$WORK/u.out" 2>&1
rc=$?
echo "exit $rc"; grep -E 'stopped|paused|rolling back|deploy ' "$WORK/u.out"
check [ $rc = 6 ]

# 3. -e previous_version is recorded, so rollback/abort need no -e again
CASE="-e previous_version recorded for drover rollback"
engine_reset
cat >"$WORK/p.yml" <<P
name: bug-prev
hosts: fleet
steps:
  - run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
rollback:
  steps:
    - run: "ln -sfn {{ app_dir }}/releases/{{ previous_version }} {{ app_dir }}/current"
P
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=2 -e previous_version=1 "$WORK/p.yml" >"$WORK/p.out" 2>&1
id=$(deploy_id "$WORK/p.out")
show_json "$id" | python3 -c 'import json,sys; print("recorded previous_version:", json.load(sys.stdin)["previous_version"])'
"$DROVER" rollback "${DFLAGS[@]}" "$id" >"$WORK/rb.out" 2>&1
rc=$?
echo "drover rollback exit $rc"; head -n 2 "$WORK/rb.out"
check [ $rc = 0 ]

# 4. a plan env value under a secret-looking name (API_TOKEN) is redacted
CASE="env API_TOKEN value redacted in output and journal"
engine_reset
cat >"$WORK/t.yml" <<'P'
name: bug-token
hosts: h1
steps:
  - run: 'echo "tok=$API_TOKEN"; exit 1'
    env: { API_TOKEN: "tok-canary-77abc" }
P
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -v "$WORK/t.yml" >"$WORK/t.out" 2>&1
grep -n 'tok-canary' "$WORK/t.out"
grep -rlaF tok-canary-77abc "$FLEET_DIR/state"
check test -z "$( (grep -F tok-canary-77abc "$WORK/t.out"; grep -rlaF tok-canary-77abc "$FLEET_DIR/state") )"

# 5. options after DEPLOY, as `drover help promote` shows them
CASE="drover promote DEPLOY [options]"
"$DROVER" promote DEP-2026-01-01-001 --state-dir "$FLEET_DIR/state" >"$WORK/pr.out" 2>&1
rc=$?
echo "exit $rc: $(head -n 1 "$WORK/pr.out")"
# parsed as an option (not a usage error about it): the deploy id is
# looked up, and an unknown one is a bad argument (exit 2, docs/cli.md)
check grep -q "no deploy DEP-2026-01-01-001 in the journal" "$WORK/pr.out"
# 6. a singleton check command that takes 150ms (interval 100ms) is judged
# "not active" everywhere: its answer time is min(interval, healthy_deadline)
CASE="singleton check slower than interval"
engine_reset
for x in 1 2; do echo false >"$(fleet_host_dir "$x")/scheduler"; done
echo true >"$(fleet_host_dir 3)/scheduler"
cat >"$WORK/s.yml" <<P
name: bug-single
hosts: fleet
strategy: { waves: [1, 2] }
steps:
  - run: 'echo "\$ENABLE_SCHEDULER" > {{ app_dir }}/scheduler'
health:
  checks: [ { http: "http://{{ address }}:8080/health/ready" } ]
  interval: 100ms
  healthy_deadline: 5s
singleton:
  role: scheduler
  env: ENABLE_SCHEDULER
  check: { command: "sleep 0.15; grep -qx true {{ app_dir }}/scheduler", timeout: 5s }
P
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" "$WORK/s.yml" >"$WORK/s.out" 2>&1
rc=$?
echo "exit $rc"; grep -E "singleton|stopped" "$WORK/s.out"
check [ $rc = 0 ]
exit $bad
