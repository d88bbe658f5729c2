#!/usr/bin/env bash
# tests/integration/test_resume_inflight.sh: exactly once over SSH across
# a kill -9 of the coordinator, on a real sshd fleet, with several steps
# in flight at once. The host-side wrapper (coordinator/fence.h) records
# each step and runs it detached, so:
#  1. a step in flight on h1, h2 and h3 runs to its end there, and
#     `drover resume` collects each outcome without asking anyone;
#  2. when one host cannot tell (its record lost), only that host's step
#     needs a decision, named per host and step (--skip-step h2:s2), and
#     the others are collected;
#  3. a non-idempotent rollback step in flight on every host is not run
#     again, and the record lists it once per host;
#  4. a `before` step (a migration) in flight runs once, and the before
#     steps after it still run before the first wave.
# Ground truth: lines the steps append to a file, as the hosts ran them.
set -euo pipefail
FLEET_NET=127.0.21 FLEET_PORT=22101 FLEET_APP_PORT=22102
. "$TOP/tests/integration/lib/fleet.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

fleet_start 3
work=$FLEET_DIR/work
mkdir -p "$work"
flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" --state-dir "$work/state")
hosts="h1 h2 h3"

cat >"$work/plan.yml" <<EOF
name: inflight
hosts: fleet
strategy:
  waves: ["100%"]
steps:
  - name: s1
    run: "echo s1-{{ inventory_hostname }} >> $work/ran"
  - name: s2
    run: "echo start-{{ inventory_hostname }} >> $work/started; sleep 2; ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current; echo s2-{{ inventory_hostname }} >> $work/ran"
health:
  checks:
    - http: "http://{{ address }}:$FLEET_APP_PORT/health/ready"
  interval: 100ms
  healthy_deadline: 3s
rollback:
  steps:
    - name: back
      run: "echo rbstart-{{ inventory_hostname }} >> $work/started; sleep 2; ln -sfn {{ app_dir }}/releases/1 {{ app_dir }}/current; echo rb-{{ inventory_hostname }} >> $work/ran"
EOF

count() { grep -cx "$1" "$work/ran" 2>/dev/null || true; }

# deploy version $1 and kill -9 the coordinator once ${4:-3} lines
# starting with $2 are in $work/started (every host is in the middle of
# the slow step); plan $3 (default plan.yml)
deploy_killed() {
    local want=${4:-3}
    rm -f "$work/ran" "$work/started"
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" -e version="$1" "$work/${3:-plan.yml}" \
        >"$work/deploy.out" 2>&1 &
    local pid=$! i
    for i in $(seq 100); do
        [ "$(grep -c "^$2" "$work/started" 2>/dev/null || true)" = "$want" ] && break
        sleep 0.1
    done
    [ "$(grep -c "^$2" "$work/started" 2>/dev/null || true)" = "$want" ] ||
        { cat "$work/deploy.out"; fail "the slow step did not start on every host"; }
    sleep 0.3
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
}

# 1. s2 in flight on three hosts: resume collects all three
deploy_killed 2 start-
set +e
"$DROVER" resume "${flags[@]}" >"$work/resume.out" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$work/resume.out"; fail "resume exited $rc"; }
for h in $hosts; do
    [ "$(count "s1-$h")" = 1 ] || fail "s1 ran $(count "s1-$h") times on $h"
    [ "$(count "s2-$h")" = 1 ] || fail "s2 ran $(count "s2-$h") times on $h: $(tr '\n' ' ' <"$work/ran")"
done
for x in 1 2 3; do
    v=$(curl -sf "http://$(fleet_addr $x):$FLEET_APP_PORT/version")
    [ "$v" = 2 ] || fail "h$x serves '$v', want 2"
done
echo "ok: s2 in flight on 3 hosts, resume collected every outcome without a question"

# 2. h2's record of s2 is lost: only h2:s2 needs a decision
deploy_killed 1 start-
sleep 2.5 # the steps end on the hosts; then h2 loses its end record
rm -f "$(fleet_host_dir 2)"/fence/steps/*:h2:deploy:1:*/end
set +e
"$DROVER" resume "${flags[@]}" >"$work/resume.out" 2>&1
rc=$?
set -e
cat "$work/resume.out"
[ "$rc" = 6 ] || fail "resume with h2's record lost exited $rc, want 6 (paused)"
grep -q -- "--skip-step h2:s2" "$work/resume.out" || fail "the decision is not asked for h2:s2"
grep -q -- "h[13]:s2" "$work/resume.out" && fail "a host that could tell was asked about"
set +e
"$DROVER" resume --skip-step h2:s2 "${flags[@]}" >"$work/resume2.out" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$work/resume2.out"; fail "resume --skip-step h2:s2 exited $rc"; }
for h in $hosts; do
    [ "$(count "s2-$h")" = 1 ] || fail "s2 ran $(count "s2-$h") times on $h (record lost case)"
done
for x in 1 2 3; do
    v=$(curl -sf "http://$(fleet_addr $x):$FLEET_APP_PORT/version")
    [ "$v" = 1 ] || fail "h$x serves '$v', want 1"
done
echo "ok: a host that cannot tell is asked about per host and step; the others were collected"

# 3. a rollback step in flight on every host is not run again
for x in 1 2 3; do # release 4: h3 never becomes ready
    mkdir -p "$(fleet_host_dir $x)/releases/4"
    echo 4 >"$(fleet_host_dir $x)/releases/4/VERSION"
done
echo "ready=503" >"$(fleet_host_dir 3)/releases/4/BEHAVIOR"
deploy_killed 4 rbstart-
set +e
"$DROVER" resume "${flags[@]}" >"$work/resume.out" 2>&1
rc=$?
set -e
cat "$work/resume.out"
grep -q "rolling back the changed hosts" "$work/resume.out" || fail "resume did not continue the rollback"
for h in $hosts; do
    [ "$(count "rb-$h")" = 1 ] || fail "the rollback step ran $(count "rb-$h") times on $h: $(tr '\n' ' ' <"$work/ran")"
done
for x in 1 2 3; do
    v=$(curl -sf "http://$(fleet_addr $x):$FLEET_APP_PORT/version")
    [ "$v" = 1 ] || fail "h$x serves '$v' after the resumed rollback, want 1"
done
"$DROVER" show --state-dir "$work/state" --format json last >"$work/show.json"
python3 - "$work/show.json" <<'PY' || fail "the record lists a rollback step twice"
import json, sys
r = json.load(open(sys.argv[1]))
rows = [s for s in r["steps"] if s["phase"] == "rollback"]
hosts = sorted(s["host"] for s in rows)
assert hosts == ["h1", "h2", "h3"], hosts
assert all(s["outcome"] == "ok" for s in rows), rows
PY
echo "ok: a rollback killed mid-step resumed without running a step twice"

# 4. a migration in flight: it runs once; the before step after it runs
cat >"$work/before.yml" <<EOF
name: inflight
hosts: fleet
strategy:
  waves: ["100%"]
before:
  - name: migrate
    run: "echo mstart >> $work/started; sleep 2; echo migrate >> $work/ran"
    on: once
  - name: warm
    run: "echo warm >> $work/ran"
    on: once
steps:
  - name: s1
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current; echo s1-{{ inventory_hostname }} >> $work/ran"
EOF
deploy_killed 2 mstart before.yml 1
set +e
"$DROVER" resume "${flags[@]}" >"$work/resume.out" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$work/resume.out"; fail "resume after a migration in flight exited $rc"; }
for want in migrate warm s1-h1 s1-h2 s1-h3; do
    [ "$(count "$want")" = 1 ] || fail "'$want' ran $(count "$want") times: $(tr '\n' ' ' <"$work/ran")"
done
[ "$(grep -n . "$work/ran" | grep -E ':(migrate|warm)$' | cut -d: -f1 | tr '\n' ' ')" = "1 2 " ] ||
    fail "the before steps did not run first: $(tr '\n' ' ' <"$work/ran")"
echo "ok: a migration in flight ran once and the rest of 'before' ran before the wave"
echo ok
