#!/usr/bin/env bash
# tests/integration/test_record_truth.sh: the record (`drover show`) tells
# the truth, checked against the hosts (what each demo-app serves, the
# lines each step appends to a log on its host) by lib/record_check.py,
# and the webhooks get every event (a real HTTP receiver that keeps what
# it got, lib/receiver.py). Over a real sshd fleet of 3 hosts, waves [1, 2]:
#  1. --canary pauses (a "pause" notification), promote finishes it
#     ("success"): hosts of wave 2 start with wave 2, not at the first
#     singleton question; a precheck failure ignore_errors went past is
#     recorded as failed; a step that failed once then passed is an issue
#     that says it was retried;
#  2. only the smoke tests fail: Health PASS, Smoke FAIL, rolled back,
#     issues listed, "rollback" and "failure" sent;
#  3. one host of wave 2 fails within max_fail: a decision, an issue;
#  4. `drover rollback` of a good deploy: "rollback" sent, not "failure";
#  5. kill -9 mid-step, the host's record of it lost: resume pauses
#     ("pause" sent), --skip-step is a decision and the step's row says
#     so; a resumed step that the host kept gets its outcome.
# Plans run with short timings (interval 100ms, healthy_deadline 1s).
set -euo pipefail
FLEET_NET=${FLEET_NET:-127.0.52}
FLEET_PORT=${FLEET_PORT:-24501}
FLEET_APP_PORT=${FLEET_APP_PORT:-24502}
HOOK_ADDR=${AGENTS_NET:-127.0.53}.1
HOOK_PORT=${AGENTS_PORT:-24503}
. "$TOP/tests/integration/lib/engine.sh"

engine_start 3
STATE=$FLEET_DIR/state
CHECK=$TOP/tests/integration/lib/record_check.py
RAN=$WORK/ran.log # every step appends "host phase step" here, as it runs

# the webhook receiver: one JSON line per POST in $WORK/hooks
receiver_start "$HOOK_ADDR:$HOOK_PORT" "$WORK/hooks"

# hooks_are EVENT...: the events the receiver got since the last call
hooks_are() {
    local got
    got=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["event"] for l in open(sys.argv[1]) if l.strip()))' "$WORK/hooks")
    [ "$got" = "$*" ] || { cat "$WORK/hooks" >&2; fail "notifications: got '$got', want '$*'"; }
    : >"$WORK/hooks"
}

cat >"$WORK/rec.yml" <<EOF
name: record-truth
hosts: fleet
strategy: { waves: [1, 2], max_fail: 0 }
prechecks:
  - name: disk
    on: each
    run: "echo '{{ inventory_hostname }} precheck disk' >> $RAN; exit {{ precheck_exit | default(0) }}"
    ignore_errors: true
steps:
  - name: fetch
    run: "echo '{{ inventory_hostname }} deploy fetch' >> $RAN; test -e {{ app_dir }}/fetch-ok || { touch {{ app_dir }}/fetch-ok; exit 1; }"
    retries: 1
    delay: 100ms
  - name: switch
    run: "echo '{{ inventory_hostname }} deploy switch' >> $RAN; case {{ inventory_hostname }} in h1) ;; *) sleep {{ nap | default(0) }} ;; esac; ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current; echo \"\$ENABLE_SCHEDULER\" > {{ app_dir }}/scheduler"
health:
  checks:
    - name: ready
      http: "http://{{ address }}:$FLEET_APP_PORT/health/ready"
  interval: 100ms
  healthy_deadline: 1s
singleton:
  role: scheduler
  hosts: h3
  env: ENABLE_SCHEDULER
  check:
    name: scheduler
    http: "http://{{ address }}:$FLEET_APP_PORT/health"
    expect: { json: { scheduler: active } }
smoke:
  - name: business
    command: "test ! -e {{ app_dir }}/current/SMOKE_FAIL"
rollback:
  steps:
    - name: previous release
      run: "echo '{{ inventory_hostname }} rollback previous release' >> $RAN; ln -sfn {{ app_dir }}/releases/{{ previous_version }} {{ app_dir }}/current; echo \"\$ENABLE_SCHEDULER\" > {{ app_dir }}/scheduler"
notify:
  - webhook: "http://$HOOK_ADDR:$HOOK_PORT/hook"
EOF

reset_all() {
    engine_reset
    local x
    for x in 1 2 3; do
        rm -f "$(fleet_host_dir $x)/fetch-ok"
        echo false >"$(fleet_host_dir $x)/scheduler"
    done
    echo true >"$(fleet_host_dir 3)/scheduler"
    : >"$RAN"
}

# record_is ID ARGS...: lib/record_check.py on the record of ID
record_is() {
    local id=$1
    shift
    show_json "$id" >"$WORK/logs/$id.json"
    python3 "$CHECK" "$WORK/logs/$id.json" --ran "$RAN" "$@" ||
        fail "the record of $id is not true (see above)"
}

served() { echo "h1=$(host_version 1) h2=$(host_version 2) h3=$(host_version 3)"; }

# 1. --canary pauses, promote finishes; a failing precheck with
# ignore_errors and a step that fails once then passes
reset_all
deploy_expect 6 "$WORK/logs/c1" "$WORK/rec.yml" -e version=2 -e previous_version=1 \
    -e precheck_exit=3 --canary -- 'canary verified'
id1=$(deploy_id "$WORK/logs/c1")
hooks_are start pause
record_is "$id1" --served $(served)
json_check "$WORK/logs/$id1.json" "
st = {h['host']: h['state'] for h in r['hosts']}
assert st == {'h1': 'healthy', 'h2': 'pending', 'h3': 'pending'}, st
assert r['result'] is None and r['validation']['health'] == 'INCOMPLETE', r['validation']
assert not [i for i in r['issues'] if i['text'].startswith(('host h2', 'host h3'))], r['issues']
"
sleep 0.3 # wave 2 starts measurably later than the canary's end
"$DROVER" promote "${DFLAGS[@]}" "$id1" >"$WORK/logs/p1" 2>&1 || { cat "$WORK/logs/p1"; fail "promote failed"; }
hooks_are success
versions_are 2 2 2
record_is "$id1" --served $(served) --result success --rolled-back no
json_check "$WORK/logs/$id1.json" "
assert r['validation']['prechecks'] == 'FAIL', r['validation']
pe = r['precheck_evidence']
assert len(pe) == 3 and not any(p['ok'] for p in pe), pe
assert all('exit 3' in p['evidence'] and 'ignore_errors' in p['evidence'] for p in pe), pe
iss = [i['text'] for i in r['issues']]
for h in ('h1', 'h2', 'h3'):
    assert any(t.startswith(h + \": deploy step 'fetch' failed (exit 1); retried: attempt 2 succeeded\") for t in iss), iss
    assert any(t.startswith(\"precheck 'prechecks (each)' (%s) FAILED\" % h) for t in iss), iss
assert all(c['phase'] != 'deploy' or c['check'] != 'scheduler' for c in r['health_evidence']), 'singleton probes filed as deploy health'
"

# 2. only the smoke tests fail (release 3 is ready, its business check
# fails): Health PASS, Smoke FAIL, rolled back to 2
for x in 1 2 3; do
    rm -f "$(fleet_host_dir $x)/releases/3/BEHAVIOR"
    touch "$(fleet_host_dir $x)/releases/3/SMOKE_FAIL"
done
: >"$RAN"
deploy_expect 1 "$WORK/logs/c2" "$WORK/rec.yml" -e version=3 -- \
    'smoke checks failed on 3 hosts' 'deploy rolled back'
id2=$(deploy_id "$WORK/logs/c2")
hooks_are start rollback failure
versions_are 2 2 2
record_is "$id2" --served $(served) --result 'rolled back' --rolled-back yes
json_check "$WORK/logs/$id2.json" "
v = r['validation']
assert (v['health'], v['smoke'], v['healthy_hosts']) == ('PASS', 'FAIL', 3), v
assert r['rollback_executed'] == 'YES, completed', r['rollback_executed']
assert sum('smoke check' in i['text'] for i in r['issues']) == 3, r['issues']
"
"$DROVER" show --state-dir "$STATE" --format markdown "$id2" >"$WORK/logs/$id2.md"
expect_in "$WORK/logs/$id2.md" '\[x\] Health checks: PASS \(3 of 3 hosts passed their gate\)' \
    '\[ \] Smoke tests \(business functions\): FAIL' 'host h2 failed: smoke check'
expect_not_in "$WORK/logs/$id2.md" '^\(none\)$' '^- \(none\)$'

# 3. h3 never ready: one of two hosts of wave 2 fails within max_fail 1
for x in 1 2 3; do rm -f "$(fleet_host_dir $x)/releases/3/SMOKE_FAIL"; done
behave 3 3 ready=503
sed 's/max_fail: 0/max_fail: 1/' "$WORK/rec.yml" >"$WORK/rec-mf.yml"
: >"$RAN"
deploy_expect 1 "$WORK/logs/c3" "$WORK/rec-mf.yml" -e version=3 -- 'within max_fail 1: going on'
id3=$(deploy_id "$WORK/logs/c3")
hooks_are start failure
versions_are 3 3 3
record_is "$id3" --served $(served) --result failed --rolled-back no
json_check "$WORK/logs/$id3.json" "
assert any(d['text'] == 'wave 2/2 done: 1 of 2 hosts failed, within max_fail 1: going on' for d in r['decisions']), r['decisions']
assert any(i['text'].startswith('host h3 failed: health gate') for i in r['issues']), r['issues']
assert r['validation']['health'] == 'FAIL', r['validation']
"

# 4. a human's rollback of that deploy: "rollback" sent, not "failure"
"$DROVER" rollback "${DFLAGS[@]}" "$id3" >"$WORK/logs/r4" 2>&1 || { cat "$WORK/logs/r4"; fail "drover rollback failed"; }
hooks_are rollback
versions_are 2 2 2
record_is "$id3" --served $(served) --rolled-back yes
json_check "$WORK/logs/$id3.json" "
assert r['rollback_executed'] == 'YES, completed', r['rollback_executed']
assert all(h['state'] == 'rolled back' for h in r['hosts']), r['hosts']
"

# 5. kill -9 while switch runs on h2 and h3; h3's record of it is lost:
# resume collects h2's outcome and pauses for h3 ("pause" sent); with
# --skip-step h3:switch it goes on, and the record says who decided what.
reset_all
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=2 -e previous_version=1 \
    -e nap=1.5 "$WORK/rec.yml" >"$WORK/logs/c5" 2>&1 &
pid=$!
fleet_atexit "kill -KILL $pid 2>/dev/null"
for _ in $(seq 100); do
    [ "$(grep -c 'deploy switch' "$RAN" || true)" = 3 ] && break
    sleep 0.05
done
[ "$(grep -c 'deploy switch' "$RAN" || true)" = 3 ] || { cat "$WORK/logs/c5"; fail "switch did not start on wave 2"; }
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
id5=$(deploy_id "$WORK/logs/c5")
sleep 1.8 # the steps end on the hosts; then h3 loses its end record
rm -f "$(fleet_host_dir 3)"/fence/steps/*:h3:deploy:1:*/end
hooks_are start
rc=0
"$DROVER" resume "${DFLAGS[@]}" >"$WORK/logs/r5" 2>&1 || rc=$?
[ "$rc" = 6 ] || { cat "$WORK/logs/r5"; fail "resume exited $rc, want 6 (paused for h3:switch)"; }
hooks_are pause
"$DROVER" resume --skip-step h3:switch "${DFLAGS[@]}" >"$WORK/logs/r5b" 2>&1 ||
    { cat "$WORK/logs/r5b"; fail "resume --skip-step failed"; }
hooks_are success
versions_are 2 2 2
record_is "$id5" --served $(served) --result success --rolled-back no
json_check "$WORK/logs/$id5.json" "
sw = {s['host']: s for s in r['steps'] if s['name'] == 'switch'}
assert sw['h2']['outcome'] == 'ok' and sw['h2']['exit_code'] == 0, sw['h2']
assert sw['h3']['outcome'] == 'skipped', sw['h3']
assert any(d['text'].startswith('--skip-step h3:switch: h3 could not tell') for d in r['decisions']), r['decisions']
assert any(\"h3: deploy step 'switch' skipped\" in i['text'] for i in r['issues']), r['issues']
"
echo ok
