#!/usr/bin/env bash
# tests/integration/test_engine_supersede.sh: a deploy whose coordinator
# was killed (kill -9) is overtaken by a new deploy of the same plan on a
# real sshd fleet (3 hosts): the new deploy says it supersedes the old
# one, which ends "abandoned" in the journal (history, show, status) and
# can no longer be resumed; the hosts serve the new release. A deploy of
# another plan is left alone.
set -euo pipefail
FLEET_NET=${FLEET_NET:-127.0.22}
FLEET_PORT=${FLEET_PORT:-22200}
. "$TOP/tests/integration/lib/engine.sh"

engine_start 3

cat >"$WORK/sup.yml" <<EOF
name: sup
hosts: fleet
strategy: { waves: [1, 2] }
steps:
  - name: slow
    run: "sleep {{ nap | default(0) }}"
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks: [ { http: "http://{{ address }}:8080/health/ready" } ]
  interval: 100ms
  healthy_deadline: 2s
EOF
sed 's/^name: sup$/name: other/' "$WORK/sup.yml" >"$WORK/other.yml"

# hist ID: ID's line of `drover history --json`, as "state result".
hist() {
    "$DROVER" history --state-dir "$FLEET_DIR/state" --all --json |
        python3 -c "import json,sys
for r in json.load(sys.stdin):
    if r['id'] == sys.argv[1]: print(r['state'], r['result'])" "$1"
}

# killed PLAN OUT: start a deploy of release 2 whose slow step takes 2s,
# kill -9 its coordinator during the step; the deploy id.
killed() {
    local pid id=""
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e version=2 \
        -e nap=2 "$1" >"$2" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        id=$(deploy_id "$2")
        [ -n "$id" ] && pgrep -f 'sleep 2' >/dev/null && break
        sleep 0.05
    done
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    [ -n "$id" ] || fail "no deploy id in $2"
    sleep 2.2 # the step the coordinator left behind ends on its host
    echo "$id"
}

engine_reset
for x in 1 2 3; do rm -f "$(fleet_host_dir "$x")/releases/3/BEHAVIOR"; done
old=$(killed "$WORK/sup.yml" "$WORK/old.out")
other=$(killed "$WORK/other.yml" "$WORK/other.out")
[ "$(hist "$old")" = "running None" ] || fail "$old: $(hist "$old")"

# the new deploy of the same plan overtakes it, and says so
deploy_expect 0 "$WORK/new.out" "$WORK/sup.yml" -e version=3 -e nap=0 \
    -- "supersedes $old \(running since [0-9-]+ [0-9:]+Z\): its coordinator is gone; it ends as abandoned"
versions_are 3 3 3
new=$(deploy_id "$WORK/new.out")
[ "$(hist "$old")" = "done abandoned" ] || fail "$old: $(hist "$old")"
[ "$(hist "$new")" = "done success" ] || fail "$new: $(hist "$new")"
[ "$(hist "$other")" = "running None" ] || fail "$other: $(hist "$other")"
show_json "$old" >"$WORK/old.json"
json_check "$WORK/old.json" "
assert r['result'] == 'abandoned', r['result']
assert any('superseded by $new' in x['text'] for x in r['decisions']), r['decisions']"
show_json "$new" >"$WORK/new.json"
json_check "$WORK/new.json" "
assert any('supersedes $old' in x['text'] for x in r['decisions']), r['decisions']"
rc=0
"$DROVER" resume "${DFLAGS[@]}" "$old" >"$WORK/resume.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat "$WORK/resume.out"; fail "resume $old exited $rc"; }
expect_in "$WORK/resume.out" "already ended \(abandoned\)"
"$DROVER" status --state-dir "$FLEET_DIR/state" >"$WORK/status.out"
expect_not_in "$WORK/status.out" "$old"
echo "PASS"
