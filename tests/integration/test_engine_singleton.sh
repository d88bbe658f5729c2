#!/usr/bin/env bash
# tests/integration/test_engine_singleton.sh: one singleton holder, deploy
# after deploy, on a real sshd fleet of 3 hosts in runbook 001's shape
# (order sorted, one host per wave: h1, h2, then the worker h3, the only
# host singleton.hosts allows). Ground truth: each host's demo-app says
# in /health whether it runs the scheduler (DIR/scheduler, written by the
# "restart" step from ENABLE_SCHEDULER). Checked after every command:
# - the same good release deployed twice: the role stays on h3;
# - a deploy that fails on h3 is rolled back: the role is back on h3;
# - `drover deploy --canary` then `drover abort`, and then `drover
#   promote`: the role stays on h3;
# - a deploy killed in its `before` step and resumed: the role stays;
# - an ineligible holder (h2, left by an older drover) hands the role to
#   h3, stop before start; two holders before a deploy refuse it; with
#   no holder at all, h3 starts it;
# - singleton.hosts that matches no host is refused with file:line:col.
set -euo pipefail
FLEET_NET=${FLEET_NET:-127.0.22}
FLEET_PORT=${FLEET_PORT:-22200}
. "$TOP/tests/integration/lib/engine.sh"

engine_start 3

cat >"$WORK/svm.yml" <<EOF
name: superviseme
hosts: fleet
strategy:
  order: sorted
  waves: [1]
  max_fail: 0
steps:
  - name: checkout release
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
  - name: restart
    run: 'echo "\$ENABLE_SCHEDULER" > {{ app_dir }}/scheduler; echo "{{ inventory_hostname }} \$ENABLE_SCHEDULER" >> $WORK/logs/sched.log'
health:
  checks:
    - name: health
      http: "http://{{ address }}:8080/health/ready"
  interval: 100ms
  healthy_deadline: 600ms
singleton:
  role: scheduler
  hosts: "h3"
  env: ENABLE_SCHEDULER
  check:
    name: scheduler active
    http: "http://{{ address }}:8080/health"
    expect: { json: { scheduler: active } }
rollback:
  steps:
    - name: previous tag
      run: >-
        ln -sfn {{ app_dir }}/releases/{{ previous_version }} {{ app_dir }}/current &&
        echo "\$ENABLE_SCHEDULER" > {{ app_dir }}/scheduler
EOF

# holders_are H...: exactly these hosts' demo-apps report the scheduler.
holders_are() {
    local x have=""
    for ((x = 1; x <= FLEET_N; x++)); do
        if curl -s --max-time 2 "http://$(fleet_addr "$x"):8080/health" |
            grep -q '"scheduler":"active"'; then
            have+=" h$x"
        fi
    done
    [ "$have" = " $*" ] || fail "scheduler runs on:${have:- no host}; want $*"
}

# roles X...: host X holds the role now (true), the others not.
roles() {
    local x
    for ((x = 1; x <= FLEET_N; x++)); do
        echo false >"$(fleet_host_dir "$x")/scheduler"
    done
    for x in "$@"; do
        echo true >"$(fleet_host_dir "$x")/scheduler"
    done
}

engine_reset
roles 3
holders_are h3

# 1. the same good release, twice: the role stays on the worker.
deploy_expect 0 "$WORK/d1.out" "$WORK/svm.yml" -e version=2 \
    -e previous_version=1 -- "singleton 'scheduler': held by h3; it stays there"
holders_are h3
versions_are 2 2 2
deploy_expect 0 "$WORK/d2.out" "$WORK/svm.yml" -e version=2 -- \
    "singleton 'scheduler': active on exactly one host \(h3\)"
holders_are h3
expect_not_in "$WORK/logs/sched.log" '^h[12] true$'

# 2. a release that fails on the worker: rolled back, the role back on it.
rm -f "$(fleet_host_dir 1)/releases/3/BEHAVIOR" "$(fleet_host_dir 2)/releases/3/BEHAVIOR"
deploy_expect 1 "$WORK/d3.out" "$WORK/svm.yml" -e version=3 -- \
    'wave 3/3 stopped' "singleton 'scheduler' goes back to h3"
holders_are h3
versions_are 2 2 2

# 3. a canary, aborted; a canary, promoted: the role stays on h3.
# canary_then CMD: a canary of release 1, paused, then `drover CMD` it.
canary_then() {
    local id
    deploy_expect 6 "$WORK/c-$1.out" "$WORK/svm.yml" --canary -e version=1
    id=$(deploy_id "$WORK/c-$1.out")
    "$DROVER" "$1" "${DFLAGS[@]}" "$id" >"$WORK/$1.out" 2>&1 ||
        { cat "$WORK/$1.out"; fail "$1 $id failed"; }
}
canary_then abort
holders_are h3
versions_are 2 2 2
canary_then promote
holders_are h3
versions_are 1 1 1

# 4. an older drover left the role on h2, which may not hold it: it moves
# to h3, h2 stopping it first (vacant in between, never two).
roles 2
rm -f "$WORK/logs/sched.log"
deploy_expect 0 "$WORK/m.out" "$WORK/svm.yml" -e version=2 -- \
    "singleton 'scheduler': held by h2; it is not one of singleton.hosts: it goes to h3" \
    "singleton 'scheduler' leaves h2"
holders_are h3
h2=$(grep -n '^h2 false$' "$WORK/logs/sched.log" | cut -d: -f1)
h3=$(grep -n '^h3 true$' "$WORK/logs/sched.log" | cut -d: -f1)
[ -n "$h2" ] && [ -n "$h3" ] && [ "$h2" -lt "$h3" ] ||
    fail "not stop before start: $(tr '\n' ' ' <"$WORK/logs/sched.log")"

# 5. two holders before any change: refused, nothing touched.
roles 1 3
deploy_expect 7 "$WORK/two.out" "$WORK/svm.yml" -e version=1 -- \
    "refused: singleton 'scheduler' is active on 2 hosts \(h1, h3\) before any change"
versions_are 2 2 2
roles 3

# 6. nobody holds it (a fresh fleet): h3 starts it at its turn.
roles
deploy_expect 0 "$WORK/none.out" "$WORK/svm.yml" -e version=1 -- \
    "singleton 'scheduler': held by no host; nobody holds it: it goes to h3"
holders_are h3

# 7. singleton.hosts must match a host of the plan.
sed 's/hosts: "h3"/hosts: "worker"/' "$WORK/svm.yml" >"$WORK/bad.yml"
rc=0
"$DROVER" validate -i "$FLEET_INVENTORY" -e version=2 -e previous_version=1 \
    "$WORK/bad.yml" >"$WORK/bad.out" 2>&1 || rc=$?
[ "$rc" = 3 ] || { cat "$WORK/bad.out"; fail "validate exited $rc, want 3"; }
expect_in "$WORK/bad.out" \
    "bad.yml:[0-9]+:[0-9]+: singleton.hosts 'worker' matches none of the hosts"
# 8. a deploy killed in its `before` step is resumed: the resume asks who
# holds the role before it goes on (it used to give the role to the last
# eligible host, h3, while h2 kept it: two holders).
roles 2
{
    sed -n '/^steps:/q;p' "$WORK/svm.yml"
    cat <<EOF
before:
  - name: migrate
    run: "echo migrating >> $WORK/logs/before.log; sleep 2"
EOF
    sed -n '/^steps:/,$p' "$WORK/svm.yml"
} | sed 's/hosts: "h3"/hosts: "h2:h3"/' >"$WORK/before.yml"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=1 \
    "$WORK/before.yml" >"$WORK/k.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
    [ -s "$WORK/logs/before.log" ] && break
    sleep 0.05
done
kill -9 "$pid" || { cat "$WORK/k.out"; fail "the deploy ended before its before step"; }
wait "$pid" 2>/dev/null || true
id=$(deploy_id "$WORK/k.out")
"$DROVER" resume "${DFLAGS[@]}" "$id" >"$WORK/r.out" 2>&1 ||
    { cat "$WORK/k.out" "$WORK/r.out"; fail "resume $id failed"; }
expect_in "$WORK/r.out" "singleton 'scheduler': held by h2; it stays there"
holders_are h2
versions_are 1 1 1
echo "PASS"
