#!/usr/bin/env bash
# tests/integration/test_engine_reach.sh: a rollback always within reach,
# and the deploy says what it does, on a real sshd fleet (3 hosts: h1,
# then h2 h3), judged by the version each host's demo-app serves:
# - rollback.auto: false (runbook 004's plan): the failed deploy pauses,
#   and then `drover rollback` and `drover abort` run (abort ends
#   "aborted");
# - an irreversible step: the rollback names it and runs only with
#   --confirm-irreversible, journaled;
# - a wave's progress_deadline does not fire while the wave rolls back;
# - a failed host keeps its reason when its rollback fails too; a host
#   that failed its gate is not shown healthy when no rollback can run;
# - the header states the plan's thresholds (max_fail 1); -q prints only
#   decisions, failures and the summary; --json has step events without -v.
set -euo pipefail
FLEET_NET=${FLEET_NET:-127.0.22}
FLEET_PORT=${FLEET_PORT:-22200}
. "$TOP/tests/integration/lib/engine.sh"

engine_start 3

# plan NAME ROLLBACK_AUTO [EXTRA YAML]: runbook 004's shape on the fleet:
# a canary, then the rest; release 3 never becomes ready.
plan() {
    cat >"$WORK/$1.yml" <<EOF
name: $1
hosts: fleet
strategy: { waves: [1, "100%"], max_fail: 0 }
steps:
  - name: release
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks:
    - name: readyz
      http: "http://{{ address }}:8080/health/ready"
      expect: { json: { status: ready } }
  interval: 100ms
  healthy_deadline: 600ms
rollback:
  auto: $2
  steps:
    - name: previous release
      run: "ln -sfn {{ app_dir }}/releases/{{ previous_version }} {{ app_dir }}/current"
${3:-}
EOF
}

# again STATUS OUT CMD ID [ARGS...]: drover CMD ID with the fleet's flags.
again() {
    local want=$1 out=$2 cmd=$3 id=$4 rc=0
    shift 4
    "$DROVER" "$cmd" "${DFLAGS[@]}" "$@" "$id" >"$out" 2>&1 || rc=$?
    [ "$rc" = "$want" ] || {
        cat "$out" >&2
        fail "drover $cmd $id exited $rc, want $want"
    }
}

engine_reset

# 1. rollback.auto: false: paused for a human, whose rollback runs.
plan bb false
deploy_expect 0 "$WORK/ok.out" "$WORK/bb.yml" -e version=2 -e previous_version=1
versions_are 2 2 2
deploy_expect 6 "$WORK/bad.out" "$WORK/bb.yml" -e version=3 -- \
    'rollback.auto is false: stopped for a decision'
versions_are 3 2 2
id=$(deploy_id "$WORK/bad.out")
again 0 "$WORK/rb.out" rollback "$id"
versions_are 2 2 2
show_json "$id" >"$WORK/rb.json"
json_check "$WORK/rb.json" "assert r['result'] == 'rolled back', r['result']"

# ... and so does `drover abort`, which the journal calls "aborted".
deploy_expect 6 "$WORK/bad2.out" "$WORK/bb.yml" -e version=3
versions_are 3 2 2
id=$(deploy_id "$WORK/bad2.out")
again 0 "$WORK/abort.out" abort "$id"
versions_are 2 2 2
show_json "$id" >"$WORK/abort.json"
json_check "$WORK/abort.json" "assert r['result'] == 'aborted', r['result']"

# 2. an irreversible step ran: the rollback says so and waits for
# --confirm-irreversible; nothing changes until then.
plan irrev true "before:
  - name: migrate
    run: 'true'
    irreversible: true"
deploy_expect 0 "$WORK/i0.out" "$WORK/irrev.yml" -e version=2 -e previous_version=1
deploy_expect 6 "$WORK/i1.out" "$WORK/irrev.yml" -e version=3 -- \
    "automatic rollback blocked: the irreversible step 'migrate'"
id=$(deploy_id "$WORK/i1.out")
again 7 "$WORK/i2.out" rollback "$id"
expect_in "$WORK/i2.out" "ran irreversible steps: 'migrate' on h1" \
    'the rollback steps do not undo them' '--confirm-irreversible'
versions_are 3 2 2
again 0 "$WORK/i3.out" rollback "$id" --confirm-irreversible
versions_are 2 2 2
show_json "$id" >"$WORK/i3.json"
json_check "$WORK/i3.json" "assert any('--confirm-irreversible' in x['text'] and 'migrate' in x['text'] for x in r['decisions']), r['decisions']"

# 3. progress_deadline belongs to its wave: it does not fire during the
# rollback that follows (the rollback takes longer than the deadline).
cat >"$WORK/pd.yml" <<EOF
name: pd
hosts: fleet
strategy: { waves: [1, "100%"] }
steps:
  - run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks: [ { http: "http://{{ address }}:8080/health/ready" } ]
  interval: 100ms
  healthy_deadline: 300ms
  progress_deadline: 1s
rollback:
  steps:
    - run: "sleep 2; ln -sfn {{ app_dir }}/releases/{{ previous_version }} {{ app_dir }}/current"
EOF
deploy_expect 0 "$WORK/pd0.out" "$WORK/pd.yml" -e version=2 -e previous_version=1
deploy_expect 1 "$WORK/pd1.out" "$WORK/pd.yml" -e version=3 -- \
    'rolling back 1 changed host' 'h1: rolled back'
expect_not_in "$WORK/pd1.out" 'progress_deadline'
versions_are 2 2 2

# 4. a host whose rollback fails too keeps the reason it failed.
plan rbfail true
sed -i 's|run: "ln -sfn {{ app_dir }}/releases/{{ previous_version }}.*|run: "echo cannot; exit 4"|' \
    "$WORK/rbfail.yml"
deploy_expect 0 "$WORK/f0.out" "$WORK/rbfail.yml" -e version=2 -e previous_version=1
deploy_expect 5 "$WORK/f1.out" "$WORK/rbfail.yml" -e version=3 -- \
    'h1: ROLLBACK FAILED'
id=$(deploy_id "$WORK/f1.out")
show_json "$id" >"$WORK/f1.json"
json_check "$WORK/f1.json" "
h = [x for x in r['hosts'] if x['host'] == 'h1'][0]
assert h['state'] == 'rollback failed', h
assert h['reason'].startswith('health gate:'), h['reason']
assert 'rollback failed: ' in h['reason'], h['reason']"
ln -sfn "$(fleet_host_dir 1)/releases/2" "$(fleet_host_dir 1)/current"

# 5. no rollback can run (the plan has no rollback steps): the host that
# failed its gate is listed as failed, not healthy.
sed -e 's/^name: pd/name: norb/' -e '/progress_deadline/d' -e '/^rollback:/,$d' \
    "$WORK/pd.yml" >"$WORK/norb.yml"
deploy_expect 1 "$WORK/n1.out" "$WORK/norb.yml" -e version=3
id=$(deploy_id "$WORK/n1.out")
again 1 "$WORK/n2.out" rollback "$id"
expect_in "$WORK/n2.out" 'no rollback: the plan has no rollback steps' \
    '^  h1 +wave 1 +failed'
expect_not_in "$WORK/n2.out" '^  h1 +wave 1 +healthy'
ln -sfn "$(fleet_host_dir 1)/releases/2" "$(fleet_host_dir 1)/current"

# 6. the header states the thresholds; -q; --json step events.
plan words true
sed -i 's/max_fail: 0/max_fail: 1/' "$WORK/words.yml"
deploy_expect 0 "$WORK/w.out" "$WORK/words.yml" -e version=2 -e previous_version=1 -- \
    'stops if more than 1 host of a wave fails \(max_fail 1\)' \
    'on a stop, rolls back every changed host'
expect_not_in "$WORK/w.out" 'a failed host stops the deploy'
deploy_expect 0 "$WORK/q.out" "$WORK/words.yml" -q -e version=2 -- \
    '^deploy succeeded: 3 hosts'
expect_not_in "$WORK/q.out" '^wave ' 'healthy after' 'thresholds'
deploy_expect 0 "$WORK/j.out" "$WORK/words.yml" --json -e version=2 -- \
    '"event":"step".*"state":"ok"'
echo "PASS"
