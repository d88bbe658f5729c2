#!/usr/bin/env bash
# tests/integration/test_step_ids.sh: every step of every phase has its
# own id. Over real drover-agents (which answer an id they have run with
# its stored result), a plan with two `on: once` prechecks, two `before`
# steps and two steps per host runs each of them exactly once: the steps
# themselves append a line to a file, which is the ground truth. Once
# steps used to share the id DEP/host/before/0/0, so the second of each
# pair was answered with the first's result and never ran.
set -euo pipefail
AGENTS_NET=127.0.21 AGENTS_PORT=22110
. "$TOP/tests/integration/lib/agents.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

agents_start 2
work=$AGENTS_DIR/work
mkdir -p "$work"
flags=(--coordinator-key "$AGENTS_KEY" --known-agents "$AGENTS_DIR/known_agents"
    --state-dir "$work/state")

cat >"$work/plan.yml" <<EOF
name: step-ids
hosts: agents
strategy:
  waves: [1]
prechecks:
  - { name: pre1, run: "echo pre1 >> $work/ran", on: once }
  - { name: pre2, run: "echo pre2 >> $work/ran", on: once }
before:
  - { name: backup, run: "echo before1 >> $work/ran", on: once }
  - { name: migrate, run: "echo before2 >> $work/ran", on: once }
steps:
  - { name: s1, run: "echo s1-{{ inventory_hostname }} >> $work/ran" }
  - { name: s2, run: "echo s2-{{ inventory_hostname }} >> $work/ran" }
EOF

for round in 1 2; do
    rm -f "$work/ran"
    "$DROVER" deploy -i "$AGENTS_DIR/inventory.ini" "${flags[@]}" -e version=$round \
        "$work/plan.yml" >"$work/deploy.out" 2>&1 || { cat "$work/deploy.out"; fail "deploy $round failed"; }
    for want in pre1 pre2 before1 before2 s1-a1 s2-a1 s1-a2 s2-a2; do
        n=$(grep -cx "$want" "$work/ran" || true)
        [ "$n" = 1 ] || fail "deploy $round: '$want' ran $n times: $(tr '\n' ' ' <"$work/ran")"
    done
    echo "ok: deploy $round: every precheck, before step and step ran once"
done

# the journal keeps the id's fields: distinct ids, one row per step
"$DROVER" show --state-dir "$work/state" --format json last >"$work/show.json"
python3 - "$work/show.json" <<'PY' || fail "journal ids: $(cat "$work/show.json")"
import json, sys
r = json.load(open(sys.argv[1]))
ids = [s["job_id"] for s in r["steps"]]
assert len(ids) == 8, ids
assert len(set(ids)) == len(ids), ids
assert any(":before:1:0:" in i for i in ids), ids
assert any(":precheck:1:0:" in i for i in ids), ids
PY
set +e # the agents lib stops its daemons on exit
echo ok
