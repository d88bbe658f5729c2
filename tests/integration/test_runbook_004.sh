#!/usr/bin/env bash
# tests/integration/test_runbook_004.sh: runbook 004 (BudgetBuddy) deployed
# end to end: examples/runbooks/004_budgetbuddy.yml on two sshd hosts and
# one drover-agent (waves h1 | h2 a1), with the stand-in commands
# (systemctl, alembic: lib/standins) and the demo-app serving /api/healthz,
# /api/readyz (503 while the shared database's migration is older than the
# release's) and the JSON login + /api/me. Ground truth: what each host
# serves, each host's calls.log, the shared database's alembic_version.
#
# The plan runs from a copy with shorter timings (sed: min_healthy_time 30s
# -> 500ms, interval 100ms, healthy_deadline 3m -> 3s) and without its
# app_dir, env_file and smoke_login, which the test inventory gives per host;
# -e port and -e alembic=alembic (the stand-in) as an operator passes them.
#
# Cases: a good release goes through; every fail-fast configuration rule
# refuses the deploy before any change; a release that is never ready, one
# that is unhealthy and one whose login smoke test fails are stopped and
# rolled back; a failed migration stops the deploy with no host changed; a
# second and a third good deploy work (previous_version from the journal);
# the records say what happened.
set -euo pipefail
export FLEET_NET=127.0.50 FLEET_PORT=24401 FLEET_APP_PORT=24402
export AGENTS_NET=127.0.51 AGENTS_PORT=24403
. "$TOP/tests/integration/lib/runbook.sh"

rb_start 2 1
RB_HOSTS=(h1 h2 a1)

# Each host: releases 1-7 (3 never ready, 4 unhealthy, 5 login broken),
# each with its migration head and backend directory, the env file, the
# smoke user's login body; one database for all (db -> $WORK/db).
rb_releases 7 backend
for h in "${RB_HOSTS[@]}"; do
    d=$(rb_dir "$h")
    echo "ready=503" >"$d/releases/3/BEHAVIOR"
    echo "status:/api/healthz=500" >"$d/releases/4/BEHAVIOR"
    echo "login=broken" >"$d/releases/5/BEHAVIOR"
    cat >"$d/env" <<'ENV'
DATABASE_URL=postgresql://bb:pw@db/bb
JWT_SECRET="s3cret-for-the-test-only"
APP_ENV=production
BUDGETBUDDY_CORS_ORIGINS=https://budgetbuddy.example.com
REFRESH_COOKIE_NAME=bb_refresh
REFRESH_COOKIE_PATH=/api/auth
REFRESH_COOKIE_SAMESITE=lax
REFRESH_COOKIE_SECURE=true
MIGRATIONS_STRICT=true
DEBUG=false
ENV
    cp "$d/env" "$d/env.good"
    printf '{"username": "smoke", "password": "pw-%s"}\n' "$h" >"$d/smoke-login.json"
done
vars='env_file={dir}/env smoke_login={dir}/smoke-login.json'
{
    echo "[budgetbuddy]"
    rb_group_lines "$vars" <"$FLEET_INVENTORY"
    rb_group_lines "$vars" <"$AGENTS_DIR/inventory.ini"
} >"$WORK/bb.ini"
FLEET_INVENTORY=$WORK/bb.ini

PLAN=$WORK/004.yml
sed -e '/^  app_dir: /d' -e '/^  env_file: /d' -e '/^  smoke_login: /d' \
    -e 's/^  min_healthy_time: 30s$/  min_healthy_time: 500ms\n  interval: 100ms/' \
    -e 's/^  healthy_deadline: 3m$/  healthy_deadline: 3s/' \
    "$TOP/examples/runbooks/004_budgetbuddy.yml" >"$PLAN"
grep -q 'min_healthy_time: 500ms' "$PLAN" && grep -q 'healthy_deadline: 3s' "$PLAN" &&
    ! grep -q '/srv/budgetbuddy' "$PLAN" || fail "the sed of the plan no longer applies"
E=(-e "port=$FLEET_APP_PORT" -e alembic=alembic)

# rec ID CHECKS: the record of deploy ID, without the env file's secret or
# the smoke user's password.
rec() { rb_check "$1" "$2" s3cret pw-h; }

# 1. A good release: 1 -> 2 everywhere. The migration runs once, on h1, from
# release 2's directory; each host restarts once, after it.
rb_mark
deploy_expect 0 "$WORK/logs/d1" "$PLAN" "${E[@]}" -e version=2 -e previous_version=1 -- \
    'deploy succeeded'
D1=$(deploy_id "$WORK/logs/d1")
rb_serve h1 h2 a1 -- 2
[ "$(cat "$WORK/db/alembic_version")" = 2 ] || fail "db at $(cat "$WORK/db/alembic_version"), want 2"
rb_calls_are h1 "alembic upgrade head" "alembic current" "alembic heads" \
    "systemctl restart budgetbuddy"
rb_calls_are h2 "systemctl restart budgetbuddy"
rb_calls_are a1 "systemctl restart budgetbuddy"
grep -q "^alembic upgrade head	cwd=$(rb_dir h1)/releases/2/backend$" "$(rb_dir h1)/calls.log" ||
    fail "the migration did not run from release 2's directory"
rec "$D1" '
assert r["result"] == "success" and not r["rolled_back"], r["result"]
assert r["version"] == "2" and r["previous_version"] == "1"
v = r["validation"]
assert (v["health"], v["prechecks"], v["smoke"]) == ("PASS", "PASS", "PASS"), v
assert [w["hosts"] for w in r["waves"]] == [["h1"], ["h2", "a1"]], r["waves"]
assert all(w["state"] == "done" for w in r["waves"]), r["waves"]
assert sorted(h["host"] for h in r["hosts"]) == ["a1", "h1", "h2"]
assert all(h["state"] == "healthy" for h in r["hosts"]), r["hosts"]
steps = [(s["host"], s["phase"], s["name"], s["outcome"]) for s in r["steps"]]
for h in ("h1", "h2", "a1"):
    assert [(n, o) for (x, p, n, o) in steps if x == h and p == "deploy"] == \
        [("release", "ok"), ("restart", "ok")], steps
before = [(x, n, o) for (x, p, n, o) in steps if p == "before"]
assert before == [("h1", "migrate", "ok"), ("h1", "migration at head", "ok")], before
pre = {(n, x) for (x, p, n, o) in steps if p == "precheck" and o == "ok"}
for h in ("h1", "h2", "a1"):
    for n in ("required settings", "strict migrations in production",
              "no DEBUG in production", "no wildcard CORS in production",
              "SameSite=none needs Secure", "healthz", "readyz", "release on disk"):
        assert (n, h) in pre, (n, h, pre)
'
echo "ok: a good release goes through"

# 2. The fail-fast rules: each refuses the deploy (exit 7) before any change.
refused() { # WHY HOST ENV-EDIT...: the deploy of 4 is refused, naming WHY
    local why=$1 h=$2 f
    shift 2
    f=$(rb_dir "$h")/env
    cp "$(rb_dir "$h")/env.good" "$f"
    printf '%s\n' "$@" >>"$f"
    rb_mark
    deploy_expect 7 "$WORK/logs/refused" "$PLAN" "${E[@]}" -e version=4 -- "$why"
    for x in "${RB_HOSTS[@]}"; do rb_calls_are "$x"; done
    cp "$(rb_dir "$h")/env.good" "$f"
}
refused 'missing or empty in .*env: JWT_SECRET REFRESH_COOKIE_PATH' h2 'JWT_SECRET=""' 'REFRESH_COOKIE_PATH= '
refused 'missing or empty in .*env: ENV/APP_ENV' a1 'APP_ENV='
refused 'MIGRATIONS_STRICT must be true in production' h1 'MIGRATIONS_STRICT=false'
refused 'DEBUG is true with ENV=production' a1 'DEBUG=True'
refused 'BUDGETBUDDY_CORS_ORIGINS holds \* in production' h2 'BUDGETBUDDY_CORS_ORIGINS="https://a.example, *"'
refused 'REFRESH_COOKIE_SAMESITE=none needs REFRESH_COOKIE_SECURE=true' h1 \
    'REFRESH_COOKIE_SAMESITE=None' 'REFRESH_COOKIE_SECURE=false'
# the production rules hold only in production: staging may debug (h2's
# prechecks pass while a1 lacks the release)
cp "$(rb_dir h2)/env.good" "$(rb_dir h2)/env"
printf 'APP_ENV=staging\nDEBUG=true\nMIGRATIONS_STRICT=false\n' >>"$(rb_dir h2)/env"
rm -rf "$(rb_dir a1)/releases/4/backend"
rb_mark
deploy_expect 7 "$WORK/logs/refused" "$PLAN" "${E[@]}" -e version=4 -- \
    "a1: .*release on disk"
for x in "${RB_HOSTS[@]}"; do rb_calls_are "$x"; done
rec "$(deploy_id "$WORK/logs/refused")" '
ok = {(s["name"], s["host"]): s["outcome"] == "ok" for s in r["steps"] if s["phase"] == "precheck"}
assert ok[("no DEBUG in production", "h2")] and ok[("strict migrations in production", "h2")], ok
assert not ok[("release on disk", "a1")], ok
assert r["result"] == "refused" and r["validation"]["prechecks"] == "FAIL", r["result"]
'
mkdir -p "$(rb_dir a1)/releases/4/backend"
cp "$(rb_dir h2)/env.good" "$(rb_dir h2)/env"
rb_serve h1 h2 a1 -- 2
echo "ok: the fail-fast rules refuse the deploy"

# 3. Bad releases, each stopped in the canary or by the smoke test and put
# back on 2 by the plan's rollback (ln + restart) where it was changed.
bad() { # VERSION WHY ROLLED-BACK-HOSTS...
    local v=$1 why=$2 h
    shift 2
    rb_mark
    deploy_expect 1 "$WORK/logs/bad$v" "$PLAN" "${E[@]}" -e "version=$v" -- \
        "$why" 'deploy rolled back'
    rb_serve h1 h2 a1 -- 2
    for h in "${RB_HOSTS[@]}"; do
        case " $* " in
        *" $h "*)
            if [ "$h" = h1 ]; then
                rb_calls_are h1 "alembic upgrade head" "alembic current" \
                    "alembic heads" "systemctl restart budgetbuddy" \
                    "systemctl restart budgetbuddy"
            else
                rb_calls_are "$h" "systemctl restart budgetbuddy" \
                    "systemctl restart budgetbuddy"
            fi
            ;;
        *) rb_calls_are "$h" ;;
        esac
    done
    [ "$(cat "$WORK/db/alembic_version")" = "$v" ] ||
        fail "the database stays migrated (the human decides), want $v"
    rec "$(deploy_id "$WORK/logs/bad$v")" "
assert r['rolled_back'] and r['result'] == 'rolled back', (r['result'], r['rolled_back'])
rb = sorted({s['host'] for s in r['steps'] if s['phase'] == 'rollback' and s['outcome'] == 'ok'})
assert rb == sorted('$*'.split()), rb
"
}
bad 3 'h1: FAILED: health gate: readyz: status 503' h1
rec "$(deploy_id "$WORK/logs/bad3")" '
h = {x["host"]: x for x in r["hosts"]}
assert "readyz" in h["h1"]["reason"] and "503" in h["h1"]["reason"], h["h1"]
assert (h["h1"]["state"], h["h2"]["state"], h["a1"]["state"]) == \
    ("rolled back", "skipped", "skipped"), h
assert r["validation"]["health"] == "FAIL" and r["validation"]["smoke"] == "NOT RUN", r["validation"]
assert [w["state"] for w in r["waves"]][1:] != ["done"], r["waves"]
'
bad 4 'h1: FAILED: health gate: healthz: status 500' h1
bad 5 'smoke checks failed' h1 h2 a1
rec "$(deploy_id "$WORK/logs/bad5")" '
assert r["validation"]["smoke"] == "FAIL", r["validation"]
ev = [e for e in r["health_evidence"] if e["phase"] == "smoke" and e["verdict"] == "fail"]
assert {e["host"] for e in ev} == {"h1", "h2", "a1"}, ev
assert all("login" in e["check"] or "command" in e["check"] for e in ev), ev
'
echo "ok: not ready, unhealthy, failed smoke test: stopped and rolled back"

# 4. A failed migration: the deploy stops before any host changes.
rb_told h1 '^alembic upgrade once'
rb_mark
deploy_expect 1 "$WORK/logs/mig" "$PLAN" "${E[@]}" -e version=6 -- \
    "migrate"
rb_serve h1 h2 a1 -- 2
rb_calls_are h1 "alembic upgrade head"
rb_calls_are h2
rb_calls_are a1
[ "$(cat "$WORK/db/alembic_version")" = 5 ] || fail "a failed migration moved the db"
rec "$(deploy_id "$WORK/logs/mig")" '
assert r["result"] == "failed" and not r["rolled_back"], r["result"]
st = [(s["host"], s["phase"], s["name"], s["outcome"]) for s in r["steps"] if s["phase"] != "precheck"]
assert st == [("h1", "before", "migrate", "failed")], st
'
echo "ok: a failed migration changes no host"

# 5. A second and a third good deploy: previous_version from the journal.
for v in 6 7; do
    rb_mark
    deploy_expect 0 "$WORK/logs/d$v" "$PLAN" "${E[@]}" -e "version=$v" -- 'deploy succeeded'
    rb_serve h1 h2 a1 -- "$v"
    rb_calls_are h1 "alembic upgrade head" "alembic current" "alembic heads" \
        "systemctl restart budgetbuddy"
    rb_calls_are h2 "systemctl restart budgetbuddy"
    rb_calls_are a1 "systemctl restart budgetbuddy"
    [ "$(cat "$WORK/db/alembic_version")" = "$v" ] || fail "db not at $v"
done
rec "$(deploy_id "$WORK/logs/d7")" '
assert r["result"] == "success" and r["previous_version"] == "6", r["previous_version"]
'
echo "ok: a second and a third deploy"
