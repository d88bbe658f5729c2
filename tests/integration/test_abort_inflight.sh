#!/usr/bin/env bash
# tests/integration/test_abort_inflight.sh: a human's abort right after the
# coordinator died (kill -9), and a resume after it died in its prechecks,
# on a real sshd fleet:
#  1. `drover abort` while a non-idempotent deploy step still runs on the
#     hosts (detached by the SSH wrapper, rollback.auto false): each host
#     is asked for the step first, the step ends, and only then does its
#     rollback run: the hosts end on the old release;
#  2. `drover abort` of a deploy that died during its `each` prechecks:
#     nothing was changed, so no rollback step runs anywhere, it exits 0
#     and the journal says `aborted`;
#  3. `drover resume` of a deploy that died during its prechecks asks the
#     prechecks again: one that now fails refuses the deploy (exit 7) and
#     no host changes;
#  4. `drover abort` of a paused deploy that changed nothing exits 0;
#  5. a new deploy that supersedes one killed mid-step waits on each host
#     for the old step still running there before its own steps: the
#     hosts end on the new release, not on the old step's;
#  6. the connection to a host is lost mid-step (its sshd session killed,
#     the host up): the step has not failed, drover reconnects and follows
#     it to its end under the same id, once, instead of rolling the host
#     back while the step still runs.
# Ground truth: the lines the steps append on the hosts, and the version
# each host's demo-app serves.
set -euo pipefail
FLEET_NET=127.0.31 FLEET_PORT=23101 FLEET_APP_PORT=23102
. "$TOP/tests/integration/lib/fleet.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

fleet_start 2
work=$FLEET_DIR/work
mkdir -p "$work"
flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" --state-dir "$work/state")

cat >"$work/plan.yml" <<EOF
name: abortinflight
hosts: fleet
strategy:
  waves: ["100%"]
prechecks:
  - name: free
    run: "echo pc-{{ inventory_hostname }} >> $work/started; sleep 2; test ! -e $work/block && echo pc-{{ inventory_hostname }} >> $work/ran"
    on: each
steps:
  - name: s1
    run: "echo s1-{{ inventory_hostname }} >> $work/started; sleep {{ nap | default(2) }}; ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current; echo s1-{{ inventory_hostname }} >> $work/ran"
health:
  checks:
    - http: "http://{{ address }}:$FLEET_APP_PORT/health/ready"
  interval: 100ms
  healthy_deadline: 3s
rollback:
  auto: false
  steps:
    - name: back
      run: "ln -sfn {{ app_dir }}/releases/1 {{ app_dir }}/current; echo rb-{{ inventory_hostname }} >> $work/ran"
EOF

count() { if [ -f "$work/ran" ]; then grep -cx "$1" "$work/ran" || true; else echo 0; fi; }
served() { curl -sf "http://$(fleet_addr "$1"):$FLEET_APP_PORT/version"; }
last_id() {
    "$DROVER" show --state-dir "$work/state" --format json last |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

# abort_rc ID: `drover abort ID`, its output shown, its status in $rc
abort_rc() {
    rc=0
    "$DROVER" abort "$1" "${flags[@]}" >"$work/abort.out" 2>&1 || rc=$?
    cat "$work/abort.out"
}

# deploy version $1 and kill -9 the coordinator once both hosts have
# started the slow command whose line starts with $2; plan $3 (default
# plan.yml)
deploy_killed() {
    rm -f "$work/ran" "$work/started" "$work/block"
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" -e version="$1" "$work/${3:-plan.yml}" \
        >"$work/deploy.out" 2>&1 &
    local pid=$! i
    for i in $(seq 100); do
        [ "$(grep -c "^$2" "$work/started" 2>/dev/null || true)" = 2 ] && break
        sleep 0.1
    done
    [ "$(grep -c "^$2" "$work/started" 2>/dev/null || true)" = 2 ] ||
        { cat "$work/deploy.out"; fail "the slow command did not start on both hosts"; }
    sleep 0.3
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
}

# 1. abort while s1 still runs on both hosts: s1 ends, then the rollback
deploy_killed 2 s1-
id=$(last_id)
abort_rc "$id"
[ "$rc" = 0 ] || fail "abort exited $rc"
sleep 2 # a step the abort did not wait for would end now
for x in 1 2; do
    [ "$(count "s1-h$x")" = 1 ] || fail "s1 ran $(count "s1-h$x") times on h$x"
    [ "$(count "rb-h$x")" = 1 ] || fail "the rollback ran $(count "rb-h$x") times on h$x"
    order=$(grep -nx -e "s1-h$x" -e "rb-h$x" "$work/ran" | cut -d: -f2 | tr '\n' ' ')
    [ "$order" = "s1-h$x rb-h$x " ] ||
        fail "h$x: the rollback did not wait for the step in flight: $order"
    v=$(served $x)
    [ "$v" = 1 ] || fail "h$x serves '$v' after the abort, want 1"
done
echo "ok: abort after a kill -9 waited for the steps in flight, then rolled back"

# 2. abort of a deploy that died in its prechecks: nothing to roll back
deploy_killed 2 pc-
id=$(last_id)
abort_rc "$id"
[ "$rc" = 0 ] || fail "abort of a deploy that changed nothing exited $rc, want 0"
sleep 2 # the prechecks in flight end on the hosts
for x in 1 2; do
    [ "$(count "rb-h$x")" = 0 ] || fail "a rollback step ran on h$x, which nothing changed"
    [ "$(count "s1-h$x")" = 0 ] || fail "s1 ran on h$x"
    v=$(served $x)
    [ "$v" = 1 ] || fail "h$x serves '$v', want 1"
done
"$DROVER" show --state-dir "$work/state" --format json "$id" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["result"] == "aborted", r["result"]' ||
    fail "the journal does not say aborted"
echo "ok: abort after a kill -9 in the prechecks rolled nothing back and exited 0"

# 3. resume after a kill -9 in the prechecks asks them again
deploy_killed 2 pc-
touch "$work/block" # the hosts are no longer fit: the prechecks now fail
set +e
"$DROVER" resume "${flags[@]}" >"$work/resume.out" 2>&1
rc=$?
set -e
cat "$work/resume.out"
[ "$rc" = 7 ] || fail "resume after a kill -9 in the prechecks exited $rc, want 7 (refused)"
grep -q "starting over from its prechecks" "$work/resume.out" || fail "resume does not say it asks the prechecks again"
for x in 1 2; do
    [ "$(count "s1-h$x")" = 0 ] || fail "s1 ran on h$x although its precheck now fails"
    v=$(served $x)
    [ "$v" = 1 ] || fail "h$x serves '$v', want 1"
done
"$DROVER" show --state-dir "$work/state" --format json last >"$work/show.json"
python3 - "$work/show.json" <<'PY' || fail "the prechecks in flight are not closed in the record"
import json, sys
r = json.load(open(sys.argv[1]))
rows = [s for s in r["steps"] if s["phase"] == "precheck"]
assert rows and all(s["outcome"] is not None for s in rows), rows
assert sum(s["outcome"] == "lost" for s in rows) == 2, rows
PY
echo "ok: resume after a kill -9 in the prechecks asked them again"

# 4. Ctrl-C during a local precheck pauses a deploy that changed nothing;
# its abort has nothing to roll back: exit 0 (docs/cli.md), `aborted`
sed -e 's/on: each/on: local/' -e '/pc-/s/{{ inventory_hostname }}/local/g' "$work/plan.yml" >"$work/local.yml"
rm -f "$work/ran" "$work/started" "$work/block"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" -e version=2 "$work/local.yml" \
    >"$work/deploy.out" 2>&1 &
pid=$!
for i in $(seq 100); do [ -s "$work/started" ] && break; sleep 0.1; done
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
[ "$rc" = 6 ] || { cat "$work/deploy.out"; fail "Ctrl-C in a precheck exited $rc, want 6 (paused)"; }
id=$(last_id)
abort_rc "$id"
[ "$rc" = 0 ] || fail "abort of a paused deploy that changed nothing exited $rc, want 0"
for x in 1 2; do
    [ "$(count "rb-h$x")" = 0 ] || fail "a rollback step ran on h$x"
done
"$DROVER" show --state-dir "$work/state" --format json "$id" |
    python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["result"] == "aborted", r["result"]' ||
    fail "the journal does not say aborted"
echo "ok: abort of a paused deploy that changed nothing exited 0"
# 5. a deploy killed mid-step is superseded at once: the new deploy waits
# for the old step on each host (plan without the slow precheck)
sed '/^prechecks:/,/^steps:/{/^steps:/!d}' "$work/plan.yml" >"$work/fast.yml"
for x in 1 2; do
    mkdir -p "$(fleet_host_dir $x)/releases/4"
    echo 4 >"$(fleet_host_dir $x)/releases/4/VERSION"
done
deploy_killed 2 s1- fast.yml
rc=0
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" -e version=4 -e nap=0 "$work/fast.yml" \
    >"$work/deploy2.out" 2>&1 || rc=$?
cat "$work/deploy2.out"
[ "$rc" = 0 ] || fail "the superseding deploy exited $rc"
grep -q "supersedes" "$work/deploy2.out" || fail "the new deploy does not say it supersedes"
sleep 2 # a step it did not wait for would end now
for x in 1 2; do
    order=$(grep -x "s1-h$x" "$work/ran" | wc -l)
    [ "$order" = 2 ] || fail "s1 ended $order times on h$x, want 2 (old, then new)"
    v=$(served $x)
    [ "$v" = 4 ] || fail "h$x serves '$v' after the superseding deploy of 4 succeeded"
done
echo "ok: a superseding deploy waited for the old deploy's steps in flight"
# 6. h1's sshd session killed mid-step (automatic rollback on)
sed 's/auto: false/auto: true/' "$work/fast.yml" >"$work/auto.yml"
rm -f "$work/ran" "$work/started"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" -e version=2 "$work/auto.yml" \
    >"$work/deploy.out" 2>&1 &
pid=$!
for i in $(seq 100); do [ "$(grep -c ^s1- "$work/started" 2>/dev/null)" = 2 ] && break; sleep 0.1; done
sleep 0.3
# the session processes of h1's sshd (children of its listener): the
# connection drops, the listener and the host stay
pkill -KILL -P "$(fleet_sshd_pid 1)"
rc=0
wait "$pid" || rc=$?
cat "$work/deploy.out"
sleep 2 # a step left running would end now
for x in 1 2; do
    [ "$(count "s1-h$x")" = 1 ] || fail "s1 ended $(count "s1-h$x") times on h$x"
    [ "$(count "rb-h$x")" = 0 ] || fail "h$x was rolled back while its step still ran"
    v=$(served $x)
    [ "$rc" = 0 ] || fail "the deploy exited $rc (h$x serves $v)"
    [ "$v" = 2 ] || fail "h$x serves '$v' after a successful deploy of 2"
done
grep -q "h1: step 's1': .*reconnecting to follow it" "$work/deploy.out" || fail "no word of the reconnection"
"$DROVER" show --state-dir "$work/state" --format json last >"$work/show.json"
python3 - "$work/show.json" <<'PY' || fail "the record does not list s1 once per host, ok"
import json, sys
r = json.load(open(sys.argv[1]))
rows = [s for s in r["steps"] if s["phase"] == "deploy"]
assert sorted(s["host"] for s in rows) == ["h1", "h2"], rows
assert all(s["outcome"] == "ok" for s in rows), rows
PY
echo "ok: a step whose connection was lost was followed to its end, once"
echo ok
