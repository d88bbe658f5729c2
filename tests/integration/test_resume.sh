#!/usr/bin/env bash
# tests/integration/test_resume.sh: kill -9 the coordinator at several
# points of a 5-wave deploy over the real sshd fleet, then `drover resume`:
# the deploy completes, every host ends on the new version, and no step
# runs twice on a host: a non-idempotent step that was in flight is asked
# for on its host (fence.h's record), never re-run blind, and no human is
# asked when the host can tell.
set -euo pipefail
. "$TOP/tests/integration/lib/fleet.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

fleet_start 5
work=$FLEET_DIR/work
mkdir -p "$work"
flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" --state-dir "$FLEET_DIR/state")

write_plan() { # idempotent: true|false
    cat >"$work/plan.yml" <<EOF2
name: resume-test
hosts: fleet
strategy:
  waves: [1]
steps:
  - name: switch
    run: "sleep 0.4; ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current; echo {{ inventory_hostname }} >> $work/ran"
    idempotent: $1
health:
  checks:
    - http: "http://{{ address }}:8080/health/ready"
  interval: 100ms
  healthy_deadline: 3s
EOF2
}

reset_fleet() {
    for x in 1 2 3 4 5; do ln -sfn "$(fleet_host_dir $x)/releases/1" "$(fleet_host_dir $x)/current"; done
    rm -f "$work/ran"
}

check_done() {
    for x in 1 2 3 4 5; do
        v=$(curl -sf "http://$(fleet_addr $x):8080/version")
        [ "$v" = 2 ] || fail "h$x serves '$v' after resume, want 2"
    done
    dups=$(sort "$work/ran" | uniq -d)
    [ -z "$dups" ] || fail "steps ran twice on: $dups ($(tr '\n' ' ' <"$work/ran"))"
    [ "$(sort -u "$work/ran" | wc -l)" = 5 ] || fail "not every host ran its step: $(cat "$work/ran")"
}

run_killed() { # delay: start a deploy, kill -9 it after delay seconds
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" -e version=2 "$work/plan.yml" \
        >"$work/deploy.out" 2>&1 &
    local pid=$!
    sleep "$1"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# 1. Idempotent step: resume re-runs what was in flight and completes.
for delay in 0.3 1.1 2.0; do
    reset_fleet
    write_plan true
    run_killed "$delay"
    "$DROVER" status --state-dir "$FLEET_DIR/state" >"$work/status.out" 2>&1 || true
    grep -q "resume-test" "$work/status.out" || fail "status does not show the unfinished deploy: $(cat "$work/status.out")"
    set +e
    "$DROVER" resume "${flags[@]}" >"$work/resume.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 0 ] || { cat "$work/resume.out"; fail "resume after kill at ${delay}s exited $rc"; }
    # an idempotent step may legitimately run twice; only versions matter
    for x in 1 2 3 4 5; do
        v=$(curl -sf "http://$(fleet_addr $x):8080/version")
        [ "$v" = 2 ] || fail "h$x serves '$v' after resume at ${delay}s"
    done
    echo "ok: kill -9 at ${delay}s, resume completed"
done

# 2. Not idempotent: a step in flight is asked for on its host (it ran on
# there to its end, detached), collected, never run twice, no question.
for delay in 0.25 1.25; do
    reset_fleet
    write_plan false
    run_killed "$delay"
    set +e
    "$DROVER" resume "${flags[@]}" >"$work/resume.out" 2>&1
    rc=$?
    set -e
    [ "$rc" = 0 ] || { cat "$work/resume.out"; fail "resume after kill at ${delay}s exited $rc"; }
    check_done
    echo "ok: kill -9 at ${delay}s (not idempotent), resumed without a question"
done

# 3. A crashed rollback resumes as a rollback: h3 fails its gate, the
# slow rollback is killed half-way, resume finishes putting version 1 back.
reset_fleet
echo "ready=503" >"$(fleet_host_dir 3)/releases/2/BEHAVIOR"
cat >"$work/rb.yml" <<EOF2
name: resume-rollback
hosts: fleet
strategy:
  waves: [1]
steps:
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks:
    - http: "http://{{ address }}:8080/health/ready"
  interval: 100ms
  healthy_deadline: 1s
rollback:
  steps:
    - name: back
      run: "sleep 0.6; ln -sfn {{ app_dir }}/releases/1 {{ app_dir }}/current"
      idempotent: true
EOF2
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" -e version=2 "$work/rb.yml" \
    >"$work/rb.out" 2>&1 &
pid=$!
for _ in $(seq 100); do
    grep -q "rollback of wave" "$work/rb.out" 2>/dev/null && break
    sleep 0.1
done
grep -q "rollback of wave" "$work/rb.out" || fail "no rollback started: $(cat "$work/rb.out")"
sleep 0.3
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
set +e
"$DROVER" resume "${flags[@]}" >"$work/rb-resume.out" 2>&1
rc=$?
set -e
cat "$work/rb-resume.out"
grep -q "rolling back the changed hosts" "$work/rb-resume.out" || fail "resume did not continue the rollback"
for x in 1 2 3 4 5; do
    v=$(curl -sf "http://$(fleet_addr $x):8080/version")
    [ "$v" = 1 ] || fail "h$x serves '$v' after the resumed rollback, want 1"
done
rm -f "$(fleet_host_dir 3)/releases/2/BEHAVIOR"
echo "ok: a rollback killed half-way resumed as a rollback (exit $rc)"

# 4. Nothing to resume: a clear message.
set +e
"$DROVER" resume "${flags[@]}" >"$work/none.out" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || fail "resume with nothing unfinished succeeded"
grep -q "no unfinished deploy" "$work/none.out" || fail "$(cat "$work/none.out")"
echo ok
