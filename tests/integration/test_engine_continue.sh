#!/usr/bin/env bash
# tests/integration/test_engine_continue.sh: continuing a paused deploy
# over a real sshd fleet (4 hosts: canary h1, then h2 h3, then h4): a
# verified canary (paused, lock free, as drover status shows) is promoted
# (the rest is deployed, the canary is not run again) or aborted (the
# canary is rolled back to the old version); a running deploy is seen by
# drover status (lock holder, live deploy), paused by Ctrl-C, resumed, and
# completes without re-running the steps that were done.
set -euo pipefail
. "$TOP/tests/integration/lib/engine.sh"

engine_start 4

cat >"$WORK/cont.yml" <<EOF
name: engine-continue
hosts: fleet
strategy: { canary: 1, waves: ["50%"] }
steps:
  - name: slow
    run: "sleep {{ nap | default(0) }}"
  - name: switch
    run: "echo {{ inventory_hostname }} {{ wave }} >> $WORK/logs/deploy.log && ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks:
    - name: ready
      http: "http://{{ address }}:8080/health/ready"
  interval: 100ms
  healthy_deadline: 1s
rollback:
  steps:
    - name: previous release
      run: "echo {{ inventory_hostname }} >> $WORK/logs/rb.log && ln -sfn {{ app_dir }}/releases/{{ previous_version }} {{ app_dir }}/current"
EOF

# continue_expect STATUS OUT CMD ID [ARGS...] [-- GREP...]: drover CMD ID
# with the fleet's flags; exit STATUS and every GREP in OUT.
continue_expect() {
    local want=$1 out=$2 cmd=$3 id=$4 rc=0 pat
    shift 4
    local args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        args+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    "$DROVER" "$cmd" "${DFLAGS[@]}" "${args[@]}" "$id" >"$out" 2>&1 || rc=$?
    if [ "$rc" != "$want" ]; then
        cat "$out" >&2
        fail "drover $cmd $id exited $rc, want $want"
    fi
    for pat in "$@"; do
        grep -Eq -- "$pat" "$out" || {
            cat "$out" >&2
            fail "drover $cmd: output lacks /$pat/"
        }
    done
}

# baseline: version 1 everywhere, journaled as the last success: the next
# deploy's previous_version is 1 (from the journal), and so it is for
# promote, abort and resume.
baseline() {
    engine_reset
    deploy_expect 0 "$WORK/logs/v1" "$WORK/cont.yml" -e version=1 \
        -e previous_version=1 -- 'deploy succeeded'
    rm -f "$WORK/logs/deploy.log"
}

# 1. canary, then promote: every host on version 2, h1 deployed once.
baseline
deploy_expect 6 "$WORK/logs/canary1" "$WORK/cont.yml" -e version=2 --canary -- 'canary verified'
id=$(deploy_id "$WORK/logs/canary1")
versions_are 2 1 1 1
# paused: the lock is free, drover status lists the deploy as paused
"$DROVER" status --state-dir "$FLEET_DIR/state" --json >"$WORK/logs/status1.json"
json_check "$WORK/logs/status1.json" "
locks = {l['name']: l for l in r['locks']}
assert locks['engine-continue']['held'] is False, locks
d = {x['id']: x for x in r['deploys']}
assert d['$id']['state'] == 'paused' and d['$id']['live'] is False, r['deploys']
"
continue_expect 0 "$WORK/logs/promote" promote "$id"
versions_are 2 2 2 2
[ "$(grep -c '^h1 ' "$WORK/logs/deploy.log")" = 1 ] || fail "promote re-ran the canary: $(tr '\n' ' ' <"$WORK/logs/deploy.log")"
[ "$(wc -l <"$WORK/logs/deploy.log")" = 4 ] || fail "not 4 host deploys: $(tr '\n' ' ' <"$WORK/logs/deploy.log")"
show_json "$id" >"$WORK/logs/promote.json"
json_check "$WORK/logs/promote.json" '
assert r["result"] == "success" and r["state"] == "done", (r["state"], r["result"])
assert all(h["state"] == "healthy" for h in r["hosts"]), r["hosts"]
'

# 2. canary, then abort: the canary goes back to version 1, nothing else
# is touched.
baseline
deploy_expect 6 "$WORK/logs/canary2" "$WORK/cont.yml" -e version=2 --canary -- 'canary verified'
id=$(deploy_id "$WORK/logs/canary2")
continue_expect 0 "$WORK/logs/abort" abort "$id"
versions_are 1 1 1 1
[ "$(cat "$WORK/logs/rb.log")" = h1 ] || fail "abort rolled back: $(tr '\n' ' ' <"$WORK/logs/rb.log")"
[ "$(wc -l <"$WORK/logs/deploy.log")" = 1 ] || fail "abort deployed more hosts: $(cat "$WORK/logs/deploy.log")"
show_json "$id" >"$WORK/logs/abort.json"
json_check "$WORK/logs/abort.json" '
assert r["rolled_back"] is True and r["result"] in ("aborted", "rolled back"), r["result"]
'

# 3. Ctrl-C in wave 2, then resume: the deploy completes, and no host's
# deploy steps ran twice.
baseline
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=2 \
    -e nap=1 "$WORK/cont.yml" >"$WORK/logs/int" 2>&1 &
pid=$!
fleet_atexit "kill -KILL $pid 2>/dev/null"
for _ in $(seq 200); do
    grep -q 'wave 2/3' "$WORK/logs/int" && break
    sleep 0.05
done
# running: drover status names the holder of the lock and the live deploy
"$DROVER" status --state-dir "$FLEET_DIR/state" --json >"$WORK/logs/status2.json"
json_check "$WORK/logs/status2.json" "
l = [l for l in r['locks'] if l['name'] == 'engine-continue'][0]
assert l['held'] is True and l['holder']['pid'] == $pid, l
live = [d for d in r['deploys'] if d['live']]
assert len(live) == 1 and live[0]['state'] == 'running' and live[0]['id'] == l['holder']['deploy'], r['deploys']
"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 6 ] || { cat "$WORK/logs/int"; fail "Ctrl-C: exit $rc, want 6"; }
expect_in "$WORK/logs/int" 'deploy paused: interrupted \(Ctrl-C\) in wave 2'
versions_are 2 2 2 1
id=$(deploy_id "$WORK/logs/int")
# -e values other than version and previous_version are not journaled:
# given again
continue_expect 0 "$WORK/logs/resume" resume "$id" -e nap=1
versions_are 2 2 2 2
for x in 1 2 3 4; do
    [ "$(grep -c "^h$x " "$WORK/logs/deploy.log")" = 1 ] ||
        fail "h$x deployed $(grep -c "^h$x " "$WORK/logs/deploy.log") times: $(tr '\n' ' ' <"$WORK/logs/deploy.log")"
done
show_json "$id" >"$WORK/logs/resume.json"
json_check "$WORK/logs/resume.json" '
assert r["result"] == "success", r["result"]
'
echo "ok"
