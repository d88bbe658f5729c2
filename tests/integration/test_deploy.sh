#!/usr/bin/env bash
# tests/integration/test_deploy.sh: `drover deploy` over a real sshd fleet:
# waves in order, every host on the new version, a failing health gate
# stops the deploy before the next wave.
set -euo pipefail
. "$TOP/tests/integration/lib/fleet.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

fleet_start 10
work=$FLEET_DIR/work
mkdir -p "$work"
ssh_flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" --state-dir "$FLEET_DIR/state")

cat >"$work/plan.yml" <<EOF2
name: test-deploy
hosts: fleet
strategy:
  waves: [1, 3, 6]
steps:
  - name: record
    run: "echo {{ inventory_hostname }} {{ wave }} >> $work/order.log"
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
    timeout: 10s
health:
  checks:
    - http: "http://{{ address }}:8080/health"
    - http: "http://{{ address }}:8080/health/ready"
      expect: { status: 200 }
  interval: 100ms
  healthy_deadline: 3s
EOF2

# 1. 10 hosts in waves [1, 3, 6]: all on version 2, in wave order.
"$DROVER" deploy -i "$FLEET_INVENTORY" "${ssh_flags[@]}" -e version=2 \
    "$work/plan.yml" >"$work/out1" 2>&1 || { cat "$work/out1"; fail "deploy exited $?"; }
cat "$work/out1"
for x in $(seq 1 10); do
    v=$(curl -sf "http://$(fleet_addr "$x"):8080/version")
    [ "$v" = 2 ] || fail "h$x serves version '$v', want 2"
done
# waves in order: every line's wave number is >= the one before
awk '{ if ($2 < last) exit 1; last = $2 }' "$work/order.log" ||
    fail "steps ran out of wave order: $(cat "$work/order.log")"
[ "$(awk '$2 == 1' "$work/order.log" | wc -l)" = 1 ] || fail "wave 1 is not 1 host"
[ "$(awk '$2 == 2' "$work/order.log" | wc -l)" = 3 ] || fail "wave 2 is not 3 hosts"
[ "$(awk '$2 == 3' "$work/order.log" | wc -l)" = 6 ] || fail "wave 3 is not 6 hosts"
grep -q '^h1 1$' "$work/order.log" || fail "h1 was not the first wave"
grep -q 'deploy succeeded: 10 hosts: 10 healthy' "$work/out1" || fail "summary missing"

# 2. A host failing its health gate: its wave fails, no later wave starts.
for x in $(seq 1 10); do ln -sfn "$(fleet_host_dir "$x")/releases/1" "$(fleet_host_dir "$x")/current"; done
rm -f "$work/order.log"
echo "ready=503" >"$(fleet_host_dir 3)/releases/2/BEHAVIOR"
set +e
"$DROVER" deploy -i "$FLEET_INVENTORY" "${ssh_flags[@]}" -e version=2 \
    "$work/plan.yml" >"$work/out2" 2>&1
rc=$?
set -e
cat "$work/out2"
[ "$rc" = 1 ] || fail "a failed gate should exit 1, got $rc"
grep -q 'wave 2/3 stopped: 1 of 3 hosts failed' "$work/out2" || fail "no wave-stop message"
grep -q 'h3: FAILED: health gate' "$work/out2" || fail "h3's failure not reported"
[ "$(awk '$2 == 3' "$work/order.log" | wc -l)" = 0 ] || fail "wave 3 started after a failed wave"
for x in 5 6 7 8 9 10; do
    v=$(curl -sf "http://$(fleet_addr "$x"):8080/version")
    [ "$v" = 1 ] || fail "h$x (wave 3) changed to version '$v'"
done
grep -Eq 'h5 +wave 3 +skipped' "$work/out2" || fail "h5 not reported as not started"

# 3. A failing step fails its host; its output is shown.
rm -f "$(fleet_host_dir 3)/releases/2/BEHAVIOR"
cat >"$work/plan-step.yml" <<EOF2
name: failing-step
hosts: fleet
strategy: { waves: [2] }
steps:
  - name: boom
    run: "echo about to fail; echo on stderr >&2; exit 7"
EOF2
set +e
"$DROVER" deploy -i "$FLEET_INVENTORY" "${ssh_flags[@]}" "$work/plan-step.yml" >"$work/out3" 2>&1
rc=$?
set -e
cat "$work/out3"
[ "$rc" = 1 ] || fail "a failed step should exit 1, got $rc"
grep -q "step 'boom' exit 7" "$work/out3" || fail "step failure not described"
grep -q 'h1| about to fail' "$work/out3" || fail "captured output not shown"
grep -q 'wave 1/5 stopped' "$work/out3" || fail "deploy did not stop at wave 1"
echo "ok"
