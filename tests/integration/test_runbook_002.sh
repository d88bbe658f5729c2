#!/usr/bin/env bash
# tests/integration/test_runbook_002.sh: runbook 002 (SME ERP) deployed end
# to end: examples/runbooks/002_sme_erp.yml on three sshd hosts (h1 is
# erp_primary) and one drover-agent (a1), waves a1 | h1 h2 | h3 (order:
# sorted, canary 1, 50%), with the stand-in commands (git, pip, sudo,
# docker-compose, pg_dump, alembic on the hosts; gh on the coordinator:
# lib/standins), the demo-app (/health, and /health/database and the two
# smoke endpoints through BEHAVIOR status: lines), the application's
# health_check() as a small python module in each app_dir that asks the
# demo-app, and one loopback HTTP receiver (lib/receiver.py) standing for
# the status page and the webhook. Ground truth: what each host serves, each host's calls.log,
# the backup files, the webhook's deliveries.
#
# The plan runs from a copy with shorter timings (sed: min_healthy_time
# 10s -> 500ms, interval 2s -> 100ms, healthy_deadline 3m -> 3s, no pause
# between waves) and without its app_dir, which the fleet's inventory gives
# per host; -e gives backup_dir, port, min_free_mb and loopback status_url
# and notify_url, as an operator passes them.
#
# Cases: a good release goes through; every precheck refuses the deploy
# when its condition does not hold; a failed or empty backup point and a
# failed migration stop the deploy with no host changed; an unhealthy
# release, one whose database check fails and one whose smoke test fails
# stop for a human (the migration is irreversible), and `drover rollback
# --confirm-irreversible` puts every changed host back; a second and a
# third good deploy work (previous_version from the journal); the records
# say what happened and hold no secret.
set -euo pipefail
export FLEET_NET=127.0.50 FLEET_PORT=24401 FLEET_APP_PORT=24402
export AGENTS_NET=127.0.51 AGENTS_PORT=24403
. "$TOP/tests/integration/lib/runbook.sh"

rb_start 3 1
RB_HOSTS=(a1 h1 h2 h3)
mkdir -p "$WORK/backups"

# Each host: releases 1-7 (3 unhealthy, 4 database down, 5 auth refused),
# each serving the runbook's endpoints; one database for all; the
# application's health_check() (app/api/health.py) asking its demo-app.
ok_paths='status:/health/database=200
status:/api/v1/auth/verify=200
status:/api/v1/inventory/items=200'
rb_releases 7
for h in "${RB_HOSTS[@]}"; do
    d=$(rb_dir "$h")
    for r in 1 2 3 4 5 6 7; do echo "$ok_paths" >"$d/releases/$r/BEHAVIOR"; done
    echo "health=500" >>"$d/releases/3/BEHAVIOR"
    sed -i 's|^status:/health/database=200$|status:/health/database=500|' "$d/releases/4/BEHAVIOR"
    sed -i 's|^status:/api/v1/auth/verify=200$|status:/api/v1/auth/verify=401|' "$d/releases/5/BEHAVIOR"
    mkdir -p "$d/app/api"
    : >"$d/app/__init__.py"
    : >"$d/app/api/__init__.py"
    cat >"$d/app/api/health.py" <<PY
"""SME ERP's health_check() for the test: what the running app says."""
import json
import urllib.request


def health_check():
    try:
        with urllib.request.urlopen("$(rb_url "$h" /health)", timeout=2) as r:
            return json.load(r)
    except Exception as e:  # an unhealthy app answers 500
        return {"status": "unhealthy", "error": str(e)}
PY
done
# the last backup, complete, as pg_dump writes it
printf -- '--\n-- PostgreSQL database dump\n--\nSELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n\n' \
    >"$WORK/backups/backup_previous.sql"

# The coordinator's gh (only it: drover runs git itself for the record).
rb_coordinator gh

# The status page and the webhook: GET /status is 200 unless the file
# status-down exists; each POST /hook body is one line of notify.log.
HOOK=$FLEET_NET.250
receiver_start "$HOOK:$FLEET_APP_PORT" "$WORK/notify.log" \
    --get /status 200 "" --else 503 "" --down "$WORK/status-down"

{
    echo "[erp_primary]"
    rb_group_lines "" <"$FLEET_INVENTORY" | grep '^h1 '
    echo "[erp]"
    rb_group_lines "" <"$AGENTS_DIR/inventory.ini"
    rb_group_lines "" <"$FLEET_INVENTORY" | grep -v '^h1 '
    echo "[erp:children]"
    echo "erp_primary"
    echo "[erp:vars]"
    echo "erp_api_token=erp-token-canary-$$"
} >"$WORK/erp.ini"
FLEET_INVENTORY=$WORK/erp.ini

PLAN=$WORK/002.yml
sed -e '/^  app_dir: /d' -e '/^  pause: 30s$/d' \
    -e 's/^  min_healthy_time: 10s$/  min_healthy_time: 500ms/' \
    -e 's/^  interval: 2s$/  interval: 100ms/' \
    -e 's/^  healthy_deadline: 3m$/  healthy_deadline: 3s/' \
    "$TOP/examples/runbooks/002_sme_erp.yml" >"$PLAN"
grep -q 'min_healthy_time: 500ms' "$PLAN" && grep -q 'healthy_deadline: 3s' "$PLAN" &&
    grep -q 'interval: 100ms' "$PLAN" && ! grep -q 'pause: 30s' "$PLAN" &&
    ! grep -q '/workspaces/' "$PLAN" || fail "the sed of the plan no longer applies"
export DATABASE_URL="postgresql://erp:db-canary-$$@db/sme_erp"
E=(-e "port=$FLEET_APP_PORT" -e "backup_dir=$WORK/backups" -e min_free_mb=1
    -e "status_url=http://$HOOK:$FLEET_APP_PORT/status"
    -e "notify_url=http://$HOOK:$FLEET_APP_PORT/hook"
    --ticket CHG-2026-42 --approver "Technical Lead"
    --outside-window --reason "runbook test")

# rec ID CHECKS: the record of deploy ID, without the token or password.
rec() { rb_check "$1" "$2" erp-token-canary db-canary; }

# The calls of a good deploy of V on an app host, and on the primary before.
deploy_calls() {
    printf '%s\n' "git fetch origin" "git checkout $1" \
        "pip install -r requirements.txt" "sudo docker-compose restart app" \
        "docker-compose restart app"
}
before_calls() { # V PREVIOUS
    printf '%s\n' "sudo docker-compose exec -T postgres pg_dump sme_erp" \
        "docker-compose exec -T postgres pg_dump sme_erp" "pg_dump sme_erp" \
        "git fetch origin" "git checkout $1" "alembic upgrade head" \
        "git checkout $2"
}
calls_of_good() { # V PREVIOUS
    local h
    mapfile -t want <<<"$(before_calls "$1" "$2"; deploy_calls "$1")"
    rb_calls_are h1 "${want[@]}"
    mapfile -t want <<<"$(deploy_calls "$1")"
    for h in a1 h2 h3; do rb_calls_are "$h" "${want[@]}"; done
}

# 1. A good release: 1 -> 2 everywhere. The backup point and the migration
# run once, on the primary, before any restart; every host checks out 2,
# installs and restarts once; the webhook hears start and success.
rb_mark
deploy_expect 0 "$WORK/logs/d1" "$PLAN" "${E[@]}" -e version=2 -e previous_version=1 -- \
    'wave 1/3.*a1' 'deploy succeeded'
D1=$(deploy_id "$WORK/logs/d1")
rb_serve a1 h1 h2 h3 -- 2
calls_of_good 2 1
[ "$(cat "$WORK/db/alembic_version")" = 2 ] || fail "db not at 2"
[ -s "$WORK/backups/backup_$D1.sql" ] || fail "no backup point backup_$D1.sql"
! compgen -G "$WORK/backups/*.part" >/dev/null || fail "a .part file was left"
expect_in "$WORK/notify.log" "\"event\":\"start\".*\"deploy\":\"$D1\"" \
    "\"event\":\"success\".*\"deploy\":\"$D1\""
expect_not_in "$WORK/logs/d1" "erp-token-canary" "db-canary"
rec "$D1" '
assert r["result"] == "success" and not r["rolled_back"], r["result"]
assert (r["ticket"], r["approver"]) == ("CHG-2026-42", "Technical Lead"), r["ticket"]
assert r["reason"] == "runbook test", r["reason"]
assert any("--outside-window" in d["text"] for d in r["decisions"]), r["decisions"]
v = r["validation"]
assert (v["health"], v["prechecks"], v["smoke"]) == ("PASS", "PASS", "PASS"), v
assert [w["hosts"] for w in r["waves"]] == [["a1"], ["h1", "h2"], ["h3"]], r["waves"]
assert all(h["state"] == "healthy" for h in r["hosts"]), r["hosts"]
steps = [(s["host"], s["phase"], s["name"], s["outcome"]) for s in r["steps"]]
for h in ("a1", "h1", "h2", "h3"):
    assert [(n, o) for (x, p, n, o) in steps if x == h and p == "deploy"] == \
        [("approved tag", "ok"), ("dependencies", "ok"), ("restart", "ok")], steps
assert [(x, n, o) for (x, p, n, o) in steps if p == "before"] == \
    [("h1", "backup point", "ok"), ("h1", "migrate", "ok")], steps
pre = {(n, x) for (x, p, n, o) in steps if p == "precheck" and o == "ok"}
for n in ("CI green", "external services"):
    assert (n, None) in pre, (n, pre)  # on: local: no host
for n in ("recent backup", "room for the backup point"):
    assert (n, "h1") in pre, (n, pre)
for h in ("a1", "h1", "h2", "h3"):
    for n in ("system status", "disk space"):
        assert (n, h) in pre, (n, h, pre)
'
echo "ok: a good release goes through"

# 2. Each precheck refuses the deploy (exit 7) when its condition fails:
# nothing ran on any host. A backup that is empty, cut short or older than
# 24 h is no recent backup.
refused() { # WHY: the deploy of 6 is refused, naming WHY
    rb_mark
    deploy_expect 7 "$WORK/logs/refused" "$PLAN" "${E[@]}" -e version=6 "${@:2}" -- "$1"
    for h in "${RB_HOSTS[@]}"; do rb_calls_are "$h"; done
    rb_serve a1 h1 h2 h3 -- 2
}
echo '^gh run list once' >"$RB_COORD/standin-fail"
refused "CI green"
rec "$(deploy_id "$WORK/logs/refused")" '
assert r["result"] == "refused" and r["validation"]["prechecks"] == "FAIL", r["result"]
assert [s["outcome"] for s in r["steps"] if s["name"] == "CI green"] == ["failed"], r["steps"]
'
touch "$WORK/status-down"
refused "external services"
rm "$WORK/status-down"
echo "health=500" >>"$(rb_dir h3)/releases/2/BEHAVIOR"
refused "h3: .*system status"
sed -i '/^health=500$/d' "$(rb_dir h3)/releases/2/BEHAVIOR"
refused "MB free, want 999999999" -e min_free_mb=999999999
mv "$WORK/backups" "$WORK/backups.keep"
mkdir "$WORK/backups"
: >"$WORK/backups/backup_empty.sql"
head -n 3 "$WORK/backups.keep/backup_$D1.sql" >"$WORK/backups/backup_cut.sql"
cp "$WORK/backups.keep/backup_$D1.sql" "$WORK/backups/backup_old.sql"
touch -d '25 hours ago' "$WORK/backups/backup_old.sql"
refused "no complete backup younger than 24h"
rm -rf "$WORK/backups"
mv "$WORK/backups.keep" "$WORK/backups"
echo "ok: every precheck can refuse the deploy"

# 3. The backup point or the migration fails: the deploy stops before any
# host restarts, and no unfinished dump passes for a backup.
rb_told h1 '^pg_dump once'
nb=$(find "$WORK/backups" -type f | wc -l)
rb_mark
deploy_expect 1 "$WORK/logs/bk" "$PLAN" "${E[@]}" -e version=6 -- "backup point failed"
rb_serve a1 h1 h2 h3 -- 2
rb_calls_are h1 "sudo docker-compose exec -T postgres pg_dump sme_erp" \
    "docker-compose exec -T postgres pg_dump sme_erp" "pg_dump sme_erp"
for h in a1 h2 h3; do rb_calls_are "$h"; done
[ "$(find "$WORK/backups" -type f | wc -l)" = "$nb" ] ||
    fail "a failed dump left a file: $(ls "$WORK/backups")"
rec "$(deploy_id "$WORK/logs/bk")" '
assert r["result"] == "failed" and not r["rolled_back"], r["result"]
st = [(s["host"], s["phase"], s["name"], s["outcome"]) for s in r["steps"] if s["phase"] != "precheck"]
assert st == [("h1", "before", "backup point", "failed")], st
'

rb_told h1 '^alembic upgrade once'
rb_mark
deploy_expect 1 "$WORK/logs/mig" "$PLAN" "${E[@]}" -e version=6 -- "migrate"
rb_serve a1 h1 h2 h3 -- 2
mapfile -t want <<<"$(before_calls 6 2)"
rb_calls_are h1 "${want[@]}"
for h in a1 h2 h3; do rb_calls_are "$h"; done
[ "$(cat "$WORK/db/alembic_version")" = 2 ] || fail "a failed migration moved the db"
[ "$(cat "$(rb_dir h1)/git-head")" = 2 ] || fail "the primary's checkout is not back on 2"
echo "ok: a failed backup point or migration changes no host"

# 4. Bad releases: the canary's gate or the smoke test fails; the migration
# ran (irreversible), so drover stops for a human (exit 6) and `drover
# rollback --confirm-irreversible` puts each changed host back on 2.
bad() { # VERSION WHY CHANGED-HOSTS...
    local v=$1 why=$2 id h
    shift 2
    rb_mark
    deploy_expect 6 "$WORK/logs/bad$v" "$PLAN" "${E[@]}" -e "version=$v" -- \
        "$why" "automatic rollback blocked: the irreversible step 'migrate' ran on h1"
    id=$(deploy_id "$WORK/logs/bad$v")
    rb_serve "$@" -- "$v"
    "$DROVER" rollback "$id" "${DFLAGS[@]}" >"$WORK/logs/rb$v" 2>&1 &&
        fail "a rollback past the migration needs --confirm-irreversible"
    "$DROVER" rollback "$id" "${DFLAGS[@]}" --confirm-irreversible \
        >"$WORK/logs/rb$v" 2>&1 || { cat "$WORK/logs/rb$v" >&2; fail "drover rollback $id"; }
    rb_serve a1 h1 h2 h3 -- 2
    for h in a1 h1 h2 h3; do
        mapfile -t want <<<"$(deploy_calls "$v")"
        [ "$h" = h1 ] && mapfile -t want <<<"$(before_calls "$v" 2; deploy_calls "$v")"
        case " $* " in
        *" $h "*) rb_calls_are "$h" "${want[@]}" "git checkout 2" \
            "sudo docker-compose restart app" "docker-compose restart app" ;;
        *)
            if [ "$h" = h1 ]; then
                rb_calls_are h1 "$(before_calls "$v" 2)"
            else
                rb_calls_are "$h"
            fi
            ;;
        esac
    done
    expect_in "$WORK/notify.log" "\"event\":\"start\".*\"deploy\":\"$id\""
    rec "$id" "
assert r['rolled_back'] and r['result'] == 'rolled back', (r['result'], r['rolled_back'])
assert any('confirm-irreversible' in d['text'] for d in r['decisions']), r['decisions']
rb = sorted({s['host'] for s in r['steps'] if s['phase'] == 'rollback' and s['outcome'] == 'ok'})
assert rb == sorted('$*'.split()), rb
"
}
bad 3 'a1: FAILED: health gate: health: status 500' a1
bad 4 'a1: FAILED: health gate: database: status 500' a1
bad 5 'smoke checks failed' a1 h1 h2 h3
echo "ok: unhealthy, database down, failed smoke test: stopped, rolled back"

# 5. A second and a third good deploy: previous_version from the journal.
prev=2
for v in 6 7; do
    rb_mark
    deploy_expect 0 "$WORK/logs/d$v" "$PLAN" "${E[@]}" -e "version=$v" -- 'deploy succeeded'
    rb_serve a1 h1 h2 h3 -- "$v"
    calls_of_good "$v" "$prev"
    prev=$v
done
rec "$(deploy_id "$WORK/logs/d7")" '
assert r["result"] == "success" and r["previous_version"] == "6", r["previous_version"]
'
echo "ok: a second and a third deploy"
