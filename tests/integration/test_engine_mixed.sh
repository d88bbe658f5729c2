#!/usr/bin/env bash
# tests/integration/test_engine_mixed.sh: one deploy over a mixed fleet:
# two real sshd hosts (h1, h2) and two real drover-agents (a1, a2,
# drover_transport=agent), each with its demo-app, in waves h1 | h2 a1 a2.
# A deploy succeeds on all four; a second one, where a2 never becomes
# ready, stops the wave and rolls back every changed host, over SSH and
# over the agents alike, to the old version.
set -euo pipefail
. "$TOP/tests/integration/lib/engine.sh"
. "$TOP/tests/integration/lib/agents.sh"

# each agent with a host directory and a demo-app (lib/hostdir.sh), on
# the fleet's app port (8080)
AGENTS_HOSTS=1
engine_start 2
agents_start 2
# agents.sh took the EXIT trap: the fleet's stops everything, agents too
fleet_atexit agents_stop
trap fleet_on_exit EXIT
DFLAGS+=(-i "$AGENTS_DIR/inventory.ini" --coordinator-key "$AGENTS_KEY"
    --known-agents "$AGENTS_DIR/known_agents")

agent_version() { curl -s --max-time 2 "http://$(agents_addr "$1"):8080/version" || true; }
mixed_versions_are() { # H1 H2 A1 A2
    versions_are "$1" "$2"
    [ "$(agent_version 1)" = "$3" ] || fail "a1 serves '$(agent_version 1)', want $3"
    [ "$(agent_version 2)" = "$4" ] || fail "a2 serves '$(agent_version 2)', want $4"
}

cat >"$WORK/mixed.yml" <<EOF
name: engine-mixed
hosts: "fleet:agents"
strategy: { waves: [1, 3] }
steps:
  - name: switch
    run: "echo {{ inventory_hostname }} {{ wave }} >> $WORK/logs/deploy.log && ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks:
    - name: ready
      http: "http://{{ address }}:8080/health/ready"
    - name: app dir
      command: "test -L {{ app_dir }}/current"
  interval: 100ms
  healthy_deadline: 1500ms
rollback:
  steps:
    - name: back
      run: "echo {{ inventory_hostname }} {{ wave }} >> $WORK/logs/rb.log && ln -sfn {{ app_dir }}/releases/1 {{ app_dir }}/current"
EOF

# 1. all four hosts, both transports: version 2 everywhere.
engine_reset
deploy_expect 0 "$WORK/logs/ok" "$WORK/mixed.yml" -e version=2 -- \
    'wave 1/2: 1 host: h1' 'wave 2/2: 3 hosts: h2 a1 a2' \
    'deploy succeeded: 4 hosts: 4 healthy'
mixed_versions_are 2 2 2 2

# 2. back to 1, then 2 again with a2 never ready: wave 2 stops, all four
# changed hosts are rolled back (wave 2 first), every host serves 1.
ln -sfn "$(agents_host_dir 1)/releases/1" "$(agents_host_dir 1)/current"
ln -sfn "$(agents_host_dir 2)/releases/1" "$(agents_host_dir 2)/current"
engine_reset
echo ready=503 >"$(agents_host_dir 2)/releases/2/BEHAVIOR"
deploy_expect 1 "$WORK/logs/rb" "$WORK/mixed.yml" -e version=2 -- \
    'a2: FAILED: health gate: ready: status 503' \
    'wave 2/2 stopped: 1 of 3 hosts failed, max_fail is 0' \
    'rolling back 4 changed hosts, last wave first' \
    'deploy rolled back'
mixed_versions_are 1 1 1 1
[ "$(tail -n 1 "$WORK/logs/rb.log")" = "h1 1" ] || fail "h1 (wave 1) was not rolled back last: $(tr '\n' ' ' <"$WORK/logs/rb.log")"
[ "$(sort "$WORK/logs/rb.log" | tr '\n' ' ')" = "a1 2 a2 2 h1 1 h2 2 " ] ||
    fail "rollback ran on: $(tr '\n' ' ' <"$WORK/logs/rb.log")"
echo "ok"
