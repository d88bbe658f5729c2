#!/usr/bin/env bash
# tests/integration/test_fencing.sh: a stale coordinator (an older fencing
# epoch) is refused by the SSH epoch check on the hosts and by the
# drover-agents, so it cannot act after a newer one has. Two state
# directories stand for two coordinators whose epochs differ.
set -euo pipefail
. "$TOP/tests/integration/lib/fleet.sh"
. "$TOP/tests/integration/lib/agents.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

fleet_start 2
agents_start 2
fleet_atexit agents_stop
trap fleet_on_exit EXIT
work=$FLEET_DIR/work
mkdir -p "$work"
cat "$FLEET_INVENTORY" "$AGENTS_DIR/inventory.ini" >"$work/inv.ini"
flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS"
    --coordinator-key "$AGENTS_KEY" --known-agents "$AGENTS_DIR/known_agents")

cat >"$work/plan.yml" <<EOF
name: fenced
hosts: "fleet:agents"
steps:
  - name: touch
    run: "echo {{ inventory_hostname }} >> $work/ran"
EOF

# the newer coordinator: three deploys take epochs 1, 2, 3
for i in 1 2 3; do
    "$DROVER" deploy -i "$work/inv.ini" "${flags[@]}" --state-dir "$work/new" \
        "$work/plan.yml" >"$work/new.out" 2>&1 || { cat "$work/new.out"; fail "deploy $i failed"; }
done
grep -q "epoch 3" "$work/new.out" || fail "the third deploy did not take epoch 3"

# the stale one: its state directory's first epoch is 1
rm -f "$work/ran"
set +e
"$DROVER" deploy -i "$work/inv.ini" "${flags[@]}" --state-dir "$work/old" \
    "$work/plan.yml" >"$work/old.out" 2>&1
rc=$?
set -e
cat "$work/old.out"
[ "$rc" != 0 ] || fail "a stale coordinator succeeded"
# the first refusal, SSH host's or agent's, stops it at once
grep -Eq "^stopped: host (h|a)[12]: fenced .*newer coordinator" "$work/old.out" ||
    fail "the stale coordinator was not stopped by a refusal"
[ ! -s "$work/ran" ] || fail "a stale coordinator ran steps on: $(tr '\n' ' ' <"$work/ran")"

# the SSH hosts refuse it by themselves: SSH hosts only
sed 's/^hosts: .*/hosts: fleet/' "$work/plan.yml" >"$work/plan-ssh.yml"
set +e
"$DROVER" deploy -i "$work/inv.ini" "${flags[@]}" --state-dir "$work/old1" \
    "$work/plan-ssh.yml" >"$work/old1.out" 2>&1
rc=$?
set -e
cat "$work/old1.out"
[ "$rc" != 0 ] || fail "SSH hosts accepted a stale coordinator"
grep -Eq "h[12]: FAILED: .*newer coordinator" "$work/old1.out" || fail "the SSH epoch check refused no host"
[ ! -s "$work/ran" ] || fail "an SSH host ran a step for a stale coordinator"

# the agents refuse a stale epoch too: agents only, so no SSH check first
cat >"$work/plan-agents.yml" <<EOF
name: fenced
hosts: agents
steps:
  - name: touch
    run: "echo {{ inventory_hostname }} >> $work/ran"
EOF
set +e
"$DROVER" deploy -i "$work/inv.ini" "${flags[@]}" --state-dir "$work/old2" \
    "$work/plan-agents.yml" >"$work/old2.out" 2>&1
rc=$?
set -e
cat "$work/old2.out"
[ "$rc" != 0 ] || fail "agents accepted a stale coordinator"
grep -qi "epoch" "$work/old2.out" || fail "the refusal does not say why"
[ ! -s "$work/ran" ] || fail "an agent ran a step for a stale coordinator"
echo ok
