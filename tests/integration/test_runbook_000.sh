#!/usr/bin/env bash
# tests/integration/test_runbook_000.sh: runbook 000's plan
# (examples/runbooks/000_sms.yml) deployed end to end on a mixed fleet:
# sms1 (the canary) and sms2 are sshd hosts, sms3 a drover-agent, each with
# its demo-app and the stand-in commands (docker, docker compose,
# alembic). The plan runs as written but for its timings (rb_plan: 100ms
# probes, 300ms soak, 2s deadlines, 100ms retry delay). A good release of
# the stand-in SMS rate-limits its API (rate_limit=60), serves its SPA
# (static/index.html and its bundle) and the grades and courses APIs.
# Ground truth: what each demo-app serves, the stand-ins' calls.log (every
# command of the runbook ran, in order, once per host), the database's
# migration (db/alembic_version).
# - three good deploys (2, 4, then 5): each goes through;
# - bad releases stopped and put back on 4: not ready, unhealthy, a failed
#   migration (the canary), a failed smoke test (all hosts deployed, then
#   all put back): the students API fails, the SPA bundle is missing, the
#   API is not rate-limited;
# - refused before any change: a weak SECRET_KEY in one host's .env, a
#   VERSION file that names another release, a CHANGELOG entry that says
#   BREAKING (until -e changelog_reviewed=5).
set -euo pipefail
FLEET_NET=127.0.44 FLEET_PORT=24201 FLEET_APP_PORT=24202
AGENTS_NET=127.0.45 AGENTS_PORT=24203
. "$TOP/tests/integration/lib/runbook.sh"

rb_group sms sms1=ssh sms2=ssh sms3=agent
rb_coordinator
rb_version_var SMS_VERSION
PLAN=$WORK/000.yml
rb_plan "$TOP/examples/runbooks/000_sms.yml" "$PLAN"

# the release's checkout on the coordinator: VERSION and CHANGELOG.md
SRC=$WORK/src
mkdir -p "$SRC"
{
    echo "# Changelog"
    for v in 9 8 7 6 5 4 3 2; do
        echo "## [$v] - 2026-12-0$v"
        if [ "$v" = 5 ]; then echo "- BREAKING: grades are out of 20"; else echo "- fixes"; fi
    done
} >"$SRC/CHANGELOG.md"

for name in "${RB_HOSTS[@]}"; do
    d=${RB_DIR[$name]}
    printf '%s\n' "SECRET_KEY=$(head -c 48 /dev/urandom | base64 | tr '+/' 'xy')" \
        "DATABASE_URL=sqlite:////data/sms.db" >"$d/.env"
    mkdir -p "$d/backups" "$d/volumes/sms_data"
    echo "dump" >"$d/backups/sms-nightly.db"
done
# good V [BEHAVIOR...]: release V of the stand-in SMS, with its SPA
good() {
    local v=$1 name d
    shift
    rb_release "$v" rate_limit=60 status:/api/v1/grades=200 status:/api/v1/courses=200 "$@"
    for name in "${RB_HOSTS[@]}"; do
        d=${RB_DIR[$name]}/releases/$v/static
        mkdir -p "$d/assets"
        echo "<script type=\"module\" src=\"/assets/index-$v.js\"></script>" >"$d/index.html"
        echo "console.log($v)" >"$d/assets/index-$v.js"
    done
}
for v in 2 4 5; do good "$v"; done
good 3 ready=503
good 6 health=500
good 7 status:/api/v1/students=500
good 8
for name in "${RB_HOSTS[@]}"; do rm "${RB_DIR[$name]}/releases/8/static/assets/index-8.js"; done
rb_release 9 status:/api/v1/grades=200 status:/api/v1/courses=200 # no rate limit
for name in "${RB_HOSTS[@]}"; do
    cp -r "${RB_DIR[$name]}/releases/2/static" "${RB_DIR[$name]}/releases/9/"
done

ARGS=(-e src_dir="$SRC")
OUT=$WORK/out

# sms V OUT-STATUS [ARGS... --] [GREP...]: deploy release V (VERSION says
# it) from a clean calls.log, expecting OUT-STATUS and the GREPs.
sms() {
    local v=$1 st=$2
    shift 2
    echo "$v" >"$SRC/VERSION"
    rb_calls_reset
    deploy_expect "$st" "$OUT" "$PLAN" "${ARGS[@]}" -e version="$v" "$@"
}

# the calls of a host: its prechecks, its steps for V, its smoke checks, a
# rollback
prechecked() { printf '%s\n' "docker image inspect sms-fullstack:$1" "docker volume inspect sms_data"; }
deployed() {
    printf '%s\n' "docker pull sms-fullstack:$1" \
        "docker compose run --rm app alembic upgrade head" "alembic upgrade head" \
        "docker compose up -d --no-deps app"
}
smoked() {
    printf '%s\n' "docker compose run --rm app alembic current" "alembic current" \
        "docker compose run --rm app alembic heads" "alembic heads"
}
rolled_back() { echo "docker compose up -d --no-deps app"; }

# migrated_to REV...: each host's database is at REV (in RB_HOSTS order)
migrated_to() {
    local name i=0 revs=("$@") got
    for name in "${RB_HOSTS[@]}"; do
        got=$(cat "${RB_DIR[$name]}/db/alembic_version")
        [ "$got" = "${revs[$i]}" ] || fail "$name's database is at '$got', want ${revs[$i]}"
        i=$((i + 1))
    done
}

# good_deploy V PREV [ARGS...]: release V replaces PREV on every host, its
# database migrated, each runbook command run once per host, in order.
good_deploy() {
    local v=$1 prev=$2 name
    shift 2
    sms "$v" 0 "$@"
    rb_serve sms1 sms2 sms3 -- "$v"
    migrated_to "$v" "$v" "$v"
    for name in "${RB_HOSTS[@]}"; do
        rb_calls_are "$name" "$(prechecked "$v")" "$(deployed "$v")" "$(smoked)"
    done
    rb_succeeded "$(deploy_id "$OUT")" "$v" "$prev"
}

# --- 1. the first good deploy: 1 -> 2 -------------------------------------
good_deploy 2 1 -e previous_version=1
rb_calls_are coordinator "" # VERSION and CHANGELOG are read, nothing run
rb_true "$(deploy_id "$OUT")" success no '
assert [w["hosts"] for w in r["waves"]] == [["sms1"], ["sms2"], ["sms3"]], r["waves"]
want = [(h, n, "ok") for h in ("sms1", "sms2", "sms3")
        for n in ("pull image", "migrate", "restart stack")]
assert steps("deploy") == want, steps("deploy")
assert steps("rollback") == []
pre = steps("precheck")
assert all(o == "ok" for _, _, o in pre), pre
assert [(h, n) for h, n, _ in pre if h is None] == [(None, "VERSION names the release"), (None, "CHANGELOG entry reviewed")], pre
assert sorted(h for h, n, _ in pre if n == "backup younger than 24h") == ["sms1", "sms2", "sms3"], pre
'
echo "ok: release 2 deployed on every host, migrated, smoke tests passed"

# --- 2. the second good deploy: 2 -> 4 ------------------------------------
good_deploy 4 2
echo "ok: a second deploy (4) goes through"

# canary_stopped V GREP [ARGS...]: release V is stopped on the canary and
# put back there; the other hosts were only asked (prechecks).
canary_stopped() {
    sms "$1" 1 "${@:3}" -- "$2"
    rb_serve sms1 sms2 sms3 -- 4
    rb_calls_are sms2 "$(prechecked "$1")"
    rb_calls_are sms3 "$(prechecked "$1")"
    rb_true "$(deploy_id "$OUT")" "rolled back" yes '
assert valid()["smoke"] == "NOT RUN", valid()
assert [h for h, _, _ in steps("rollback")] == ["sms1", "sms1"], steps("rollback")
assert all(o == "ok" for _, _, o in steps("rollback")), steps("rollback")
assert states()["sms2"] != "healthy" and states()["sms3"] != "healthy", states()
'
}

# --- 3. bad releases stopped on the canary --------------------------------
canary_stopped 3 "sms1: FAILED: health gate: ready: status 503"
rb_calls_are sms1 "$(prechecked 3)" "$(deployed 3)" "$(rolled_back)"
migrated_to 3 4 4 # the rollback leaves the database (README.md: 4.4)
echo "ok: not ready (3): stopped on the canary, back on 4"

canary_stopped 6 "sms1: FAILED: health gate: health: status 500"
rb_calls_are sms1 "$(prechecked 6)" "$(deployed 6)" "$(rolled_back)"
migrated_to 6 4 4
echo "ok: unhealthy (6): stopped on the canary, back on 4"

echo "^alembic upgrade" >"${RB_DIR[sms1]}/standin-fail"
canary_stopped 5 "sms1: FAILED: step 'migrate'" -e changelog_reviewed=5
rm "${RB_DIR[sms1]}/standin-fail"
rb_calls_are sms1 "$(prechecked 5)" "docker pull sms-fullstack:5" \
    "docker compose run --rm app alembic upgrade head" "alembic upgrade head" "$(rolled_back)"
migrated_to 6 4 4
echo "ok: a failed migration (5): stopped on the canary before the restart, back on 4"

# --- 4. bad releases stopped by the smoke tests: every host put back ------
smoke_failed() { # V GREP
    sms "$1" 1 -- "$2"
    rb_serve sms1 sms2 sms3 -- 4
    local name
    for name in "${RB_HOSTS[@]}"; do
        # smoke rounds repeat until the deadline: their calls, then the rollback
        rb_calls "$name" | grep -vE 'alembic (current|heads)$' >"$WORK/calls"
        [ "$(cat "$WORK/calls")" = "$(prechecked "$1")"$'\n'"$(deployed "$1")"$'\n'"$(rolled_back)" ] ||
            fail "$name's calls: $(rb_calls "$name")"
        rb_calls "$name" | grep -qx "alembic heads" || fail "$name: no smoke test ran"
    done
    rb_true "$(deploy_id "$OUT")" "rolled back" yes '
assert valid() == {"health": "PASS", "prechecks": "PASS", "smoke": "FAIL"}, valid()
assert [h for h, _, _ in steps("rollback")] == ["sms3", "sms3", "sms2", "sms2", "sms1", "sms1"], steps("rollback")
'
}
smoke_failed 7 "smoke check: students list: status 500"
echo "ok: the students API fails (7): every host put back on 4"
smoke_failed 8 "smoke check: static assets: "
echo "ok: the SPA bundle is missing (8): every host put back on 4"
smoke_failed 9 "smoke check: rate limit answers 429: "
echo "ok: no rate limit (9): every host put back on 4"

# --- 5. refused before any change -----------------------------------------
refused() { # V GREP [ARGS...]
    local v=$1 pat=$2 name
    shift 2
    sms "$v" 7 "$@" -- "$pat"
    rb_serve sms1 sms2 sms3 -- 4
    for name in "${RB_HOSTS[@]}"; do
        ! rb_calls "$name" | grep -Eq "pull|compose" ||
            fail "$name was changed by a refused deploy: $(rb_calls "$name")"
    done
}
cp "${RB_DIR[sms2]}/.env" "$WORK/env"
sed -i 's/^SECRET_KEY=.*/SECRET_KEY=short-key-1234/' "${RB_DIR[sms2]}/.env"
refused 4 "SECRET_KEY in .env is missing or shorter than 48 characters"
expect_not_in "$OUT" "short-key-1234"
cp "$WORK/env" "${RB_DIR[sms2]}/.env"
echo 4 >"$SRC/VERSION"
rb_calls_reset
deploy_expect 7 "$OUT" "$PLAN" "${ARGS[@]}" -e version=5 -- \
    "local: FAILED: step 'VERSION names the release'"
refused 5 "local: FAILED: step 'CHANGELOG entry reviewed'"
rb_true "$(deploy_id "$OUT")" refused no '
c = [s for s in r["steps"] if s["name"] == "CHANGELOG entry reviewed"]
assert len(c) == 1 and "lists breaking changes" in c[0]["output"], c
'
echo "ok: refused before any change: a weak SECRET_KEY, VERSION of another release, an unreviewed BREAKING entry"

# --- 6. the third good deploy: 4 -> 5, its breaking change reviewed -------
good_deploy 5 4 -e changelog_reviewed=5
echo "ok: a third deploy (5) goes through once its CHANGELOG is reviewed"
echo PASS
