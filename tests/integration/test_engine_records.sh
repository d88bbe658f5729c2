#!/usr/bin/env bash
# tests/integration/test_engine_records.sh: what a deploy over a real sshd
# fleet leaves behind: `drover history`, the deployment record of a deploy
# that rolled back (`drover show` as JSON, Markdown and text), the lock
# (two deploys started together: exactly one runs, ten times; free again
# after kill -9 of its holder), and secrets that appear nowhere: not in
# drover's output (plain, -v, --json), not in any record, not in the bytes
# of the journal, not on any command line on the hosts.
set -euo pipefail
. "$TOP/tests/integration/lib/engine.sh"

engine_start 3
STATE=$FLEET_DIR/state

cat >"$WORK/rec.yml" <<EOF
name: engine-records
hosts: fleet
strategy: { waves: [1, 2] }
prechecks:
  - { name: disk space, on: each, run: "df -P / >/dev/null" }
  - { name: coordinator ready, on: local, run: "true" }
steps:
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks:
    - name: ready
      http: "http://{{ address }}:8080/health/ready"
  interval: 100ms
  healthy_deadline: 1s
rollback:
  steps:
    - name: previous release
      run: "ln -sfn {{ app_dir }}/releases/{{ previous_version }} {{ app_dir }}/current"
EOF

# 1. version 2 succeeds (the first deploy of the plan: previous_version is
# given); version 3 (h2 and h3 never ready) rolls back to
# the previous version the journal knows (2), last wave first.
engine_reset
deploy_expect 0 "$WORK/logs/v2" "$WORK/rec.yml" -e version=2 -e previous_version=1 \
    --ticket CHG-1234 --approver alice --changes "feature A" -- 'deploy succeeded'
ok_id=$(deploy_id "$WORK/logs/v2")
rm -f "$(fleet_host_dir 1)/releases/3/BEHAVIOR"
deploy_expect 1 "$WORK/logs/v3" "$WORK/rec.yml" -e version=3 \
    --ticket CHG-1235 --approver bob --changes "feature B" -- \
    'wave 2/2 stopped: 2 of 2 hosts failed, max_fail is 0' \
    'rolling back 3 changed hosts, last wave first' 'deploy rolled back'
rb_id=$(deploy_id "$WORK/logs/v3")
versions_are 2 2 2

# 2. history lists both, newest first, with their results.
"$DROVER" history --state-dir "$STATE" >"$WORK/logs/history"
expect_in "$WORK/logs/history" "^$rb_id +engine-records +3 .*rolled back" \
    "^$ok_id +engine-records +2 .*success"
[ "$(grep -n "$rb_id" "$WORK/logs/history" | cut -d: -f1)" -lt \
    "$(grep -n "$ok_id" "$WORK/logs/history" | cut -d: -f1)" ] || fail "history is not newest first"
"$DROVER" history --state-dir "$STATE" --json >"$WORK/logs/history.json"
json_check "$WORK/logs/history.json" "
ids = [d['id'] for d in r]
assert ids[:2] == ['$rb_id', '$ok_id'], ids
assert r[0]['rolled_back'] is True and r[0]['result'] == 'rolled back', r[0]
assert r[1]['rolled_back'] is False and r[1]['result'] == 'success', r[1]
"

# 3. the record of the rolled-back deploy, as JSON: who, when, what, waves,
# per-host results, health and precheck evidence, rollback, decisions.
show_json "$rb_id" >"$WORK/logs/rb.json"
json_check "$WORK/logs/rb.json" "
import re
iso = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$')
assert r['id'] == '$rb_id'
assert r['deployed_by'] == '$(id -un)' and r['coordinator_host'], r['deployed_by']
assert iso.match(r['started']) and iso.match(r['ended']) and r['duration_ms'] > 0
assert r['version'] == '3' and r['previous_version'] == '2', (r['version'], r['previous_version'])
assert r['ticket'] == 'CHG-1235' and r['approver'] == 'bob'
assert r['changes'] == ['feature B'], r['changes']
assert r['result'] == 'rolled back' and r['rolled_back'] is True and r['state'] == 'done'
assert r['validation']['health'] == 'FAIL' and r['validation']['prechecks'] == 'PASS', r['validation']
assert [w['hosts'] for w in r['waves']] == [['h1'], ['h2', 'h3']], r['waves']
assert [w['wave'] for w in r['waves']] == [1, 2]
hosts = {h['host']: h for h in r['hosts']}
assert set(hosts) == {'h1', 'h2', 'h3'}
assert all(h['state'] == 'rolled back' for h in hosts.values()), hosts
assert 'health gate' in hosts['h2']['reason'] and '503' in hosts['h2']['reason'], hosts['h2']
ev = r['health_evidence']
assert any(e['host'] == 'h2' and e['status'] == 503 for e in ev), ev
assert any(e['host'] == 'h1' and e['verdict'] == 'pass' and e['status'] == 200 for e in ev), ev
assert all(iso.match(e['at']) for e in ev)
pe = r['precheck_evidence']
assert {(p['name'], p['host']) for p in pe} >= {('coordinator ready', None), ('prechecks (each)', 'h1'), ('prechecks (each)', 'h3')}, pe
assert all(p['ok'] for p in pe), pe
rb = [s for s in r['steps'] if s['phase'] == 'rollback']
assert sorted(s['host'] for s in rb) == ['h1', 'h2', 'h3'], rb
assert all(s['outcome'] == 'ok' and s['exit_code'] == 0 for s in rb), rb
assert rb[-1]['host'] == 'h1', 'wave 1 was not rolled back last'
assert 'releases/2' in rb[0]['command'], rb[0]['command']
dep = [s for s in r['steps'] if s['phase'] == 'deploy']
assert len(dep) == 3 and all(s['job_id'] for s in dep), dep
assert any('wave 2/2 stopped: 2 of 2 hosts failed' in d['text'] for d in r['decisions']), r['decisions']
"

# 4. the same record in Markdown (runbook 002's template) and text.
"$DROVER" show --state-dir "$STATE" --format markdown "$rb_id" >"$WORK/logs/rb.md"
expect_in "$WORK/logs/rb.md" "^# Deployment record $rb_id" \
    "^\*\*Deployment ID:\*\* $rb_id" '^\*\*Deployed By:\*\* ' \
    '^\*\*Deployment Date/Time:\*\* [0-9]{4}-' '^\*\*Git Commit/Tag:\*\*' \
    'Changes Deployed' '^- feature B' 'Validation Results' \
    '\[ \] Health checks: FAIL' '\[x\] Prechecks: PASS' \
    'Precheck Evidence' 'Wave Plan' 'Per-Host Results' 'Health Evidence' \
    'Issues Encountered' 'Rollback Executed' 'YES, completed' 'Sign-off' \
    '\| *h2 *\|'
"$DROVER" show --state-dir "$STATE" --format text "$rb_id" >"$WORK/logs/rb.txt"
expect_in "$WORK/logs/rb.txt" "Deployment record $rb_id" 'Rollback Executed' \
    'YES, completed' 'wave 2/2 stopped'
"$DROVER" show --state-dir "$STATE" last >"$WORK/logs/last.txt"
expect_in "$WORK/logs/last.txt" "Deployment record $rb_id"

# 5. the lock: two deploys of one plan started together, 10 times: one
# runs, the other exits 8 at once naming the holder's pid.
cat >"$WORK/lock.yml" <<EOF
name: engine-lock
hosts: h1
steps:
  - { name: hold, run: "sleep 0.2" }
EOF
for round in $(seq 10); do
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" "$WORK/lock.yml" \
        >"$WORK/logs/lock-a" 2>&1 &
    a=$!
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" "$WORK/lock.yml" \
        >"$WORK/logs/lock-b" 2>&1 &
    b=$!
    ra=0 rb=0
    wait $a || ra=$?
    wait $b || rb=$?
    case "$ra $rb" in
    "0 8") loser=b winner=$a ;;
    "8 0") loser=a winner=$b ;;
    *)
        cat "$WORK/logs/lock-a" "$WORK/logs/lock-b" >&2
        fail "round $round: exits $ra and $rb, want one 0 and one 8"
        ;;
    esac
    expect_in "$WORK/logs/lock-$loser" \
        "lock engine-lock is held by [^ ]+@[^ ]+ pid $winner, deploy (DEP-[0-9-]+|\(starting\)), since " \
        'wait for it to finish, or pass --lock-wait'
done
# kill -9 of the holder frees the lock at once
sed 's/sleep 0.2/sleep 3.07/' "$WORK/lock.yml" >"$WORK/lock-long.yml"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" "$WORK/lock-long.yml" \
    >"$WORK/logs/lock-k" 2>&1 &
k=$!
fleet_atexit "kill -KILL $k 2>/dev/null"
for _ in $(seq 100); do
    pgrep -f 'sleep 3.07' >/dev/null && break
    sleep 0.05
done
kill -KILL $k
wait $k 2>/dev/null || true
# the killed deploy is left unfinished, its lock free: status says so
"$DROVER" status --state-dir "$STATE" --json >"$WORK/logs/status.json"
json_check "$WORK/logs/status.json" "
l = [l for l in r['locks'] if l['name'] == 'engine-lock'][0]
assert l['held'] is False, l
gone = [d for d in r['deploys'] if d['plan'] == 'engine-lock']
assert len(gone) == 1 and gone[0]['state'] == 'running' and gone[0]['live'] is False, r['deploys']
"
deploy_expect 0 "$WORK/logs/lock-after" "$WORK/lock.yml" -- 'deploy succeeded'

# 6. secrets: a step's secret_env values (single- and multi-line) are
# echoed, base64-encoded and put in a URL by the step; they appear nowhere.
SECRET=canary-s3cr3t-xyz
MULTI=$'-----BEGIN TEST KEY-----\nmultiline-canary-q7w\nsecond-line-canary-k2p\n-----END TEST KEY-----'
b64=$(printf %s "$SECRET" | base64)
cat >"$WORK/secret.yml" <<'EOF'
name: engine-secret
hosts: fleet
steps:
  - name: use the password
    run: 'echo "pw=$DB_PASSWORD"; printf %s "$DB_PASSWORD" | base64; echo "postgres://u:$DB_PASSWORD@db/x"; echo "$TLS_KEY"; echo "done" >&2; sleep {{ nap | default(0) }}; exit 3'
    secret_env: [DB_PASSWORD, TLS_KEY]
EOF
export DB_PASSWORD=$SECRET TLS_KEY=$MULTI
ids=()
for mode in plain verbose json; do
    case $mode in
    plain) flags=() ;;
    verbose) flags=(-v -e nap=1.53) ;;
    json) flags=(--json -v) ;;
    esac
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" "${flags[@]}" \
        "$WORK/secret.yml" >"$WORK/logs/secret-$mode" 2>&1 &
    pid=$!
    fleet_atexit "kill -KILL $pid 2>/dev/null"
    if [ $mode = verbose ]; then
        # while the step sleeps on the hosts: every command line there
        for _ in $(seq 100); do
            [ "$(pgrep -fc 'sleep 1.53' || true)" -ge 3 ] && break
            sleep 0.05
        done
        [ "$(pgrep -fc 'sleep 1.53' || true)" -ge 3 ] || fail "the secret step did not start on 3 hosts"
        ps -eo pid,args >"$WORK/logs/ps"
        for f in /proc/[0-9]*/cmdline; do
            { tr '\0' ' ' <"$f" && echo; } 2>/dev/null || true
        done >"$WORK/logs/cmdlines"
        grep -q 'DB_PASSWORD' "$WORK/logs/cmdlines" ||
            fail "the step's command line was not captured"
    fi
    rc=0
    wait $pid || rc=$?
    [ "$rc" = 1 ] || { cat "$WORK/logs/secret-$mode"; fail "secret deploy ($mode) exited $rc, want 1"; }
    # (the --json events do not carry the deploy id: take the newest)
    ids+=("$("$DROVER" history --state-dir "$STATE" --json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')")
done
expect_in "$WORK/logs/secret-plain" "step 'use the password' exit 3" \
    'h1\| pw=\[redacted\]' 'h1\| postgres://u:\[redacted\]@db/x'
expect_in "$WORK/logs/secret-verbose" 'h2: pw=\[redacted\]'
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' \
    "$WORK/logs/secret-json" || fail "--json -v output is not JSON lines"
[ "$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)" = 3 ] || fail "secret deploys: ids ${ids[*]}"
for id in "${ids[@]}"; do
    [ -n "$id" ] || fail "a secret deploy has no id"
    for fmt in text markdown json; do
        "$DROVER" show --state-dir "$STATE" --format "$fmt" "$id" \
            >"$WORK/logs/secret-show-$id.$fmt"
    done
done
grep -q 'pw=\[redacted\]' "$WORK/logs/secret-show-${ids[0]}.json" ||
    fail "the record lacks the step's (redacted) output"
for pat in "$SECRET" "$b64" "${b64%=}" multiline-canary-q7w second-line-canary-k2p; do
    hits=$(grep -rlaF -- "$pat" "$WORK/logs" "$STATE" || true)
    [ -z "$hits" ] || fail "secret '$pat' found in: $hits"
done
echo "ok"
