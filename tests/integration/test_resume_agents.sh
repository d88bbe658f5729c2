#!/usr/bin/env bash
# tests/integration/test_resume_agents.sh: kill -9 the coordinator in the
# middle of a 5-wave deploy over real drover-agents, then `drover resume`:
# the deploy completes and no step runs twice on any host, because a step
# the journal shows in flight is asked for again by its job id and the
# agent answers with the stored result instead of running it again.
set -euo pipefail
. "$TOP/tests/integration/lib/agents.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

agents_start 5
work=$AGENTS_DIR/work
mkdir -p "$work"
flags=(--coordinator-key "$AGENTS_KEY" --known-agents "$AGENTS_DIR/known_agents"
    --state-dir "$work/state")
awk -v dir="$AGENTS_DIR" '/^a[0-9]+ / { split($1, h, "a"); $0 = $0 " dir=" dir "/a" h[2] } { print }' \
    "$AGENTS_DIR/inventory.ini" >"$work/inv.ini"

cat >"$work/plan.yml" <<EOF
name: resume-agents
hosts: agents
strategy:
  waves: [1]
steps:
  - name: count
    run: "sleep 0.5; echo {{ inventory_hostname }} >> $work/ran"
  - name: mark
    run: "echo 2 > {{ dir }}/version"
EOF

for delay in 0.4 1.3 2.2; do
    rm -f "$work/ran"
    "$DROVER" deploy -i "$work/inv.ini" "${flags[@]}" -e version=2 "$work/plan.yml" \
        >"$work/deploy.out" 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sleep 1 # a step the agent was running finishes and is stored
    set +e
    "$DROVER" resume "${flags[@]}" >"$work/resume.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 0 ] || { cat "$work/deploy.out" "$work/resume.out"; fail "resume after kill at ${delay}s exited $rc"; }
    dups=$(sort "$work/ran" | uniq -d)
    [ -z "$dups" ] || fail "a step ran twice on: $dups (kill at ${delay}s)"
    [ "$(sort -u "$work/ran" | wc -l)" = 5 ] || fail "not every agent ran: $(tr '\n' ' ' <"$work/ran")"
    for x in 1 2 3 4 5; do
        [ "$(cat "$AGENTS_DIR/a$x/version" 2>/dev/null)" = 2 ] || fail "a$x not marked"
        rm -f "$AGENTS_DIR/a$x/version"
    done
    echo "ok: kill -9 at ${delay}s: resumed, every step ran once"
done
set +e # the agents lib stops its daemons on exit
echo ok
