#!/usr/bin/env bash
# tests/integration/test_engine_status.sh: `expect.status` as a list, and
# `when:` filters, in `drover deploy` over a real sshd fleet with real
# demo-apps: /health/ready answers 503 for a while, then 200; a check that
# takes [200, 204] waits through the 503s and passes, one that takes
# [201, 204] fails the gate, and the journal (`drover show --format json`)
# keeps the evidence in the plan's words: "expected 201 or 204, got 200".
# Steps with `when: "version | int >= 2"` run, `version | int >= 3` skip.
set -euo pipefail
. "$TOP/tests/integration/lib/engine.sh"

engine_start 1

status_plan() { # status_plan FILE STATUS_LIST
    cat >"$1" <<EOF2
name: engine-status
hosts: h1
steps:
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
  - name: marker
    run: "touch {{ app_dir }}/when-ran"
    when: "version | int >= 2 and group_names | default([]) | length >= 0"
  - name: skipped
    run: "touch {{ app_dir }}/when-skipped"
    when: "version | int >= 3"
health:
  checks:
    - name: ready
      http: "http://{{ address }}:8080/health/ready"
      expect: { status: $2 }
  interval: 100ms
  min_healthy_time: 0
  healthy_deadline: 3s
EOF2
}
d1=$(fleet_host_dir 1)

# 1. [200, 204]: 503 (not yet) for 800ms, then 200 passes.
engine_reset
rm -f "$d1/when-ran" "$d1/when-skipped"
behave 1 2 ready_after_ms=800
status_plan "$WORK/ok.yml" "[200, 204]"
deploy_expect 0 "$WORK/logs/ok" "$WORK/ok.yml" -e version=2 --json -- \
    '"event":"check".*"verdict":"not yet".*"status":503' \
    '"event":"host","host":"h1","state":"healthy"'
versions_are 2
[ -e "$d1/when-ran" ] || fail "the step with when: version | int >= 2 did not run"
[ ! -e "$d1/when-skipped" ] || fail "the step with when: version | int >= 3 ran"

# 2. [201, 204]: the app answers 200, which the list does not take: the
# gate fails at its deadline, with the expectation in the evidence.
engine_reset
status_plan "$WORK/bad.yml" "[201, 204]"
deploy_expect 1 "$WORK/logs/bad" "$WORK/bad.yml" -e version=2 -- \
    'h1: FAILED: health gate: ready: expected 201 or 204, got 200 for [0-9.]+s \(healthy_deadline 3.00s\)'
id=$(deploy_id "$WORK/logs/bad")
show_json "$id" >"$WORK/logs/bad.json"
json_check "$WORK/logs/bad.json" '
ev = [e for e in r["health_evidence"] if e["host"] == "h1" and e["check"] == "ready"]
assert ev, r["health_evidence"]
assert all(e["verdict"] == "fail" and e["status"] == 200 for e in ev), ev
assert ev[-1]["reason"] == "expected 201 or 204, got 200", ev[-1]
gate = [e for e in r["health_evidence"] if e["check"] == "gate"]
assert gate and gate[-1]["verdict"] == "failed", gate
assert "expected 201 or 204, got 200" in gate[-1]["reason"], gate[-1]
assert r["hosts"][0]["state"] == "failed", r["hosts"]
'

# 3. a bad when: filter is refused before any host is touched.
engine_reset
sed 's/version | int >= 3/version | itn >= 3/' "$WORK/ok.yml" >"$WORK/typo.yml"
deploy_expect 3 "$WORK/logs/typo" "$WORK/typo.yml" -e version=2 -- \
    "typo.yml:11:11: step 'when': column 11: unknown filter 'itn' in 'version \| itn >= 3'; did you mean 'int'\?"
versions_are 1
echo "ok"
