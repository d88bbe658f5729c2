#!/usr/bin/env bash
# tests/integration/test_engine_budgets.sh: failure budgets and rollback of
# `drover deploy` over a real sshd fleet (6 hosts, waves h1 | h2 h3 |
# h4 h5 h6): max_fail stops a wave and rolls waves 1..k back in reverse
# order to the old version; "100%" goes on past a whole failed wave;
# unreachable hosts count; a failed last wave fails the deploy;
# max_fail_total; progress_deadline; failed smoke checks roll the release
# back; rollback.auto: false and irreversible steps pause instead of
# rolling back; a rollback failing on a host exits 5 naming it.
set -euo pipefail
. "$TOP/tests/integration/lib/engine.sh"

engine_start 6

# plan FILE STRATEGY_EXTRA ROLLBACK_BLOCK [STEP_EXTRA]: waves [1, 2, 3],
# a deploy step that logs "host wave" to deploy.log, a ready check.
plan() {
    cat >"$1" <<EOF
name: engine-budgets
hosts: fleet
strategy:
  waves: [1, 2, 3]
$2
steps:
  - name: switch
    run: "echo {{ inventory_hostname }} {{ wave }} >> $WORK/logs/deploy.log && ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
${4:-}
health:
  checks:
    - name: ready
      http: "http://{{ address }}:8080/health/ready"
  interval: 100ms
  healthy_deadline: 1s
$3
EOF
}
ROLLBACK='rollback:
  steps:
    - name: back
      run: "echo {{ inventory_hostname }} {{ wave }} >> '"$WORK"'/logs/rb.log && ln -sfn {{ app_dir }}/releases/{{ previous_version }} {{ app_dir }}/current"'

# 1. max_fail 1, two failures in wave 3: it stops, every changed host is
# rolled back, last wave first, and every host serves version 1 again.
engine_reset
behave 4 2 ready=503
behave 6 2 ready=503
plan "$WORK/mf1.yml" '  max_fail: 1' "$ROLLBACK"
deploy_expect 1 "$WORK/logs/mf1" "$WORK/mf1.yml" -e version=2 -e previous_version=1 -- \
    'wave 2/3 done: 2 hosts healthy' \
    'wave 3/3 stopped: 2 of 3 hosts failed, max_fail is 1' \
    'rolling back 6 changed hosts, last wave first' \
    'rollback of wave 3: 3 hosts' 'rollback of wave 2: 2 hosts' \
    'rollback of wave 1: 1 host' \
    'deploy rolled back: 6 hosts: .*, rolled back'
versions_are 1 1 1 1 1 1
[ "$(wc -l <"$WORK/logs/rb.log")" = 6 ] || fail "rollback ran $(wc -l <"$WORK/logs/rb.log") times, want 6: $(cat "$WORK/logs/rb.log")"
awk 'NR > 1 && $2 > last { exit 1 } { last = $2 }' "$WORK/logs/rb.log" ||
    fail "rollback not in reverse wave order: $(tr '\n' ' ' <"$WORK/logs/rb.log")"
[ "$(head -n 3 "$WORK/logs/rb.log" | awk '{print $2}' | sort -u)" = 3 ] ||
    fail "wave 3 was not rolled back first: $(tr '\n' ' ' <"$WORK/logs/rb.log")"
[ "$(tail -n 1 "$WORK/logs/rb.log")" = "h1 1" ] || fail "h1 (wave 1) was not rolled back last"
for x in 1 2 3 4 5 6; do
    expect_in "$WORK/logs/mf1" "^  h$x +wave [123] +rolled-back"
done

# 2. max_fail "100%": a whole failed wave 2 does not stop the deploy; wave 3
# is deployed; the deploy still fails (exit 1) and nothing is rolled back.
engine_reset
behave 2 2 ready=503
behave 3 2 ready=503
plan "$WORK/all.yml" '  max_fail: "100%"' "$ROLLBACK"
deploy_expect 1 "$WORK/logs/all" "$WORK/all.yml" -e version=2 -e previous_version=1 -- \
    'wave 2/3 done: 2 of 2 hosts failed, within max_fail 100%: going on' \
    'wave 3/3: 3 hosts: h4 h5 h6' 'wave 3/3 done: 3 hosts healthy' \
    'deploy failed: 6 hosts: 4 healthy, 2 failed'
versions_are 2 2 2 2 2 2
[ ! -e "$WORK/logs/rb.log" ] || fail "max_fail 100% rolled back: $(cat "$WORK/logs/rb.log")"

# 3. unreachable hosts count: h5 points at an address where no sshd runs;
# with h6 failing too, wave 3 has 2 failures > max_fail 1.
engine_reset
sed 's/^h5 ansible_host=[^ ]*/h5 ansible_host=127.0.1.250/' "$FLEET_INVENTORY" >"$WORK/inv-unreach.ini"
behave 6 2 ready=503
plan "$WORK/unr.yml" '  max_fail: 1' "$ROLLBACK"
saved=$FLEET_INVENTORY
FLEET_INVENTORY=$WORK/inv-unreach.ini
deploy_expect 1 "$WORK/logs/unr" "$WORK/unr.yml" -e version=2 -e previous_version=1 -- \
    'h5: UNREACHABLE: ' \
    'wave 3/3 stopped: 2 of 3 hosts failed \(unreachable hosts count\), max_fail is 1' \
    'rolling back 5 changed hosts'
FLEET_INVENTORY=$saved
expect_in "$WORK/logs/unr" '^  h5 +wave 3 +unreachable'
grep -q '^h5 ' "$WORK/logs/rb.log" && fail "the unreachable h5 was rolled back"
versions_are 1 1 1 1 1 1

# 4. a failed last wave fails the deploy, like any other wave (no rollback
# steps: the failed host stays as it is, and the deploy says so).
engine_reset
behave 6 2 ready=503
plan "$WORK/last.yml" '' ''
deploy_expect 1 "$WORK/logs/last" "$WORK/last.yml" -e version=2 -- \
    'wave 3/3 stopped: 1 of 3 hosts failed, max_fail is 0' \
    'no rollback: the plan has no rollback steps' \
    'deploy failed: 6 hosts: 5 healthy, 1 failed'
expect_not_in "$WORK/logs/last" 'deploy succeeded'

# 5. max_fail_total 1 with max_fail 1: one failure in wave 2 is within both,
# a second in wave 3 exceeds the total.
engine_reset
behave 3 2 ready=503
behave 5 2 ready=503
plan "$WORK/total.yml" '  max_fail: 1
  max_fail_total: 1' "$ROLLBACK"
deploy_expect 1 "$WORK/logs/total" "$WORK/total.yml" -e version=2 -e previous_version=1 -- \
    'wave 2/3 done: 1 of 2 hosts failed, within max_fail 1: going on' \
    'deploy stopped after wave 3/3: 2 hosts failed in all, max_fail_total is 1' \
    'rolling back'
versions_are 1 1 1 1 1 1

# 6. rollback.auto: false: stop for a decision (paused, exit 6), roll
# nothing back.
engine_reset
behave 3 2 ready=503
plan "$WORK/noauto.yml" '' "${ROLLBACK/rollback:/rollback:$'\n'  auto: false}"
deploy_expect 6 "$WORK/logs/noauto" "$WORK/noauto.yml" -e version=2 -e previous_version=1 -- \
    'wave 2/3 stopped: 1 of 2 hosts failed, max_fail is 0' \
    'rollback.auto is false: stopped for a decision' 'deploy paused'
[ ! -e "$WORK/logs/rb.log" ] || fail "rollback.auto false rolled back: $(cat "$WORK/logs/rb.log")"
versions_are 2 2 2 1 1 1

# 7. an irreversible step blocks the automatic rollback and says so.
engine_reset
behave 3 2 ready=503
plan "$WORK/irrev.yml" '' "$ROLLBACK" '  - name: migrate schema
    run: "true"
    irreversible: true'
deploy_expect 6 "$WORK/logs/irrev" "$WORK/irrev.yml" -e version=2 -e previous_version=1 -- \
    'wave 2/3 stopped: 1 of 2 hosts failed' \
    "automatic rollback blocked: the irreversible step 'migrate schema' ran on h1"
[ ! -e "$WORK/logs/rb.log" ] || fail "rolled back past an irreversible step: $(cat "$WORK/logs/rb.log")"
versions_are 2 2 2 1 1 1

# 8. progress_deadline (from the start of the wave, so it passes before
# the hosts' own healthy_deadline): no host of wave 2 turns healthy, the
# hosts still open fail with it, the wave stops.
engine_reset
behave 2 2 ready=503
behave 3 2 ready=503
plan "$WORK/progress.yml" '' ''
sed -i 's/^  healthy_deadline: 1s$/&\n  progress_deadline: 1s/' "$WORK/progress.yml"
deploy_expect 1 "$WORK/logs/progress" "$WORK/progress.yml" -e version=2 -- \
    'wave 2: no host became healthy for 1.00s \(progress_deadline\): failing the hosts still open' \
    '^  h2 +wave 2 +failed .*progress_deadline 1.00s passed' \
    'wave 2/3 stopped: 2 of 2 hosts failed'

# 9. smoke checks fail after the last wave: the whole release is rolled
# back, last wave first.
engine_reset
plan "$WORK/smoke.yml" '' "$ROLLBACK
smoke:
  - { name: login form, http: \"http://{{ address }}:8080/login\", expect: { body: no-such-marker } }"
deploy_expect 1 "$WORK/logs/smoke" "$WORK/smoke.yml" -e version=2 -e previous_version=1 -- \
    'smoke checks on 6 hosts' 'smoke checks failed on 6 hosts: rolling the release back' \
    'rollback of wave 3: 3 hosts' 'deploy rolled back'
versions_are 1 1 1 1 1 1

# 10. a rollback that fails on one host: exit 5, the host named loudly, the
# others rolled back; the record says the rollback failed.
engine_reset
behave 3 2 ready=503
plan "$WORK/rbfail.yml" '' 'rollback:
  steps:
    - name: back
      run: "test {{ inventory_hostname }} != h2 && ln -sfn {{ app_dir }}/releases/1 {{ app_dir }}/current"'
deploy_expect 5 "$WORK/logs/rbfail" "$WORK/rbfail.yml" -e version=2 -e previous_version=1 -- \
    'wave 2/3 stopped: 1 of 2 hosts failed' \
    "h2: ROLLBACK FAILED: step 'back' exit 1 .*: this host needs a human" \
    'ROLLBACK FAILED on 1 host: they need a human' \
    '^  h2 +wave 2 +rollback-failed' '^  h3 +wave 2 +rolled-back' \
    'deploy rollback failed: .*ROLLBACK FAILED on some'
versions_are 1 2 1 1 1 1
"$DROVER" show --state-dir "$FLEET_DIR/state" --format markdown \
    "$(deploy_id "$WORK/logs/rbfail")" >"$WORK/logs/rbfail.md"
expect_in "$WORK/logs/rbfail.md" 'YES, and it FAILED'
echo "ok"
