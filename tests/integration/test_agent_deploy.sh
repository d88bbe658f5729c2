#!/usr/bin/env bash
# tests/integration/test_agent_deploy.sh: `drover deploy` over 10 real
# drover-agents (drover_transport=agent), each host with a demo-app:
# waves in order, every host on the new version, health-gated; a second
# deploy's steps run again (new job ids) while the agents refuse nothing.
set -u
. "$TOP/tests/integration/lib/agents.sh"

# a host directory per agent (lib/hostdir.sh: releases 1 to 3, current ->
# 1) given as its app_dir, and a demo-app serving it on :8080
AGENTS_HOSTS=1 AGENTS_APP_PORT=8080
agents_start 10
work=$AGENTS_DIR/work
mkdir -p "$work"
cp "$AGENTS_DIR/inventory.ini" "$work/inventory.ini"

cat >"$work/plan.yml" <<EOF2
name: agent-deploy
hosts: agents
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
    - http: "http://{{ address }}:8080/health/ready"
      expect: { status: 200 }
  interval: 100ms
  healthy_deadline: 3s
EOF2

"$DROVER" deploy -i "$work/inventory.ini" --coordinator-key "$AGENTS_KEY" \
    --known-agents "$AGENTS_DIR/known_agents" --state-dir "$work/state" \
    -e version=2 "$work/plan.yml" >"$work/out1" 2>&1 ||
    { cat "$work/out1"; agents_fail "deploy over agents failed"; }
cat "$work/out1"
for x in $(seq 10); do
    v=$(curl -sf "http://$(agents_addr "$x"):8080/version")
    [ "$v" = 2 ] || agents_fail "a$x serves version '$v', want 2"
done
awk '{ if ($2 < last) exit 1; last = $2 }' "$work/order.log" ||
    agents_fail "steps ran out of wave order: $(cat "$work/order.log")"
[ "$(wc -l <"$work/order.log")" -eq 10 ] || agents_fail "record ran $(wc -l <"$work/order.log") times"
[ "$(awk '$2 == 3' "$work/order.log" | wc -l)" = 6 ] || agents_fail "wave 3 is not 6 hosts"
# each agent ran the two steps, recorded by job id
for x in $(seq 10); do
    n=$(find "$AGENTS_DIR/a$x/state/jobs" -type f ! -name '*.running' | wc -l)
    [ "$n" -eq 2 ] || agents_fail "a$x stored $n job results, want 2"
done
# the agents saw the deploy's fencing epoch
e=$(head -n 1 "$AGENTS_DIR/a1/state/epoch" 2>/dev/null || echo 0)
echo "epoch on a1: $e"

# a second deploy (back to 1) runs its steps again: new job ids
"$DROVER" deploy -i "$work/inventory.ini" --coordinator-key "$AGENTS_KEY" \
    --known-agents "$AGENTS_DIR/known_agents" --state-dir "$work/state" \
    -e version=1 "$work/plan.yml" >"$work/out2" 2>&1 ||
    { cat "$work/out2"; agents_fail "second deploy failed"; }
for x in $(seq 10); do
    v=$(curl -sf "http://$(agents_addr "$x"):8080/version")
    [ "$v" = 1 ] || agents_fail "a$x serves version '$v' after the second deploy"
done
[ "$(wc -l <"$work/order.log")" -eq 20 ] || agents_fail "second deploy: record ran $(($(wc -l <"$work/order.log") - 10)) times"
e2=$(head -n 1 "$AGENTS_DIR/a1/state/epoch" 2>/dev/null || echo 0)
[ "$e2" -ge "$e" ] || agents_fail "epoch went down: $e -> $e2"

# an agent whose key is not pinned is refused before anything runs
sed -i '/^a1 /s/ drover_agent_key=[^ ]*//' "$work/inventory.ini"
grep -v "^$(agents_addr 1):" "$AGENTS_DIR/known_agents" >"$work/known_partial"
"$DROVER" deploy -i "$work/inventory.ini" --coordinator-key "$AGENTS_KEY" \
    --known-agents "$work/known_partial" --state-dir "$work/state" \
    -e version=2 "$work/plan.yml" >"$work/out3" 2>&1
rc=$?
[ $rc -ne 0 ] || agents_fail "deploy with an unpinned agent succeeded"
grep -q "accept-new" "$work/out3" || { cat "$work/out3"; agents_fail "no advice for the unpinned agent"; }
echo "ok"
