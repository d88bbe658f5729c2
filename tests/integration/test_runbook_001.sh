#!/usr/bin/env bash
# tests/integration/test_runbook_001.sh: runbook 001's plan
# (examples/runbooks/001_superviseme.yml) deployed end to end on a mixed
# fleet: svm-web1 and svm-worker are sshd hosts, svm-web2 a drover-agent,
# each with its demo-app and the stand-in commands (git, pip, systemctl,
# gh on the coordinator). The plan runs as written but for its timings
# (rb_plan: 100ms probes, 300ms soak, 2s deadlines, 100ms retry delay).
# Ground truth: what each demo-app serves and whether it runs the
# scheduler (the stand-in systemctl starts the service with the .env the
# plan wrote), each host's .env, the stand-ins' calls.log (every command of
# the runbook ran, in order, once per host; `once` prechecks on one host).
# - three good deploys (2, 4, then 5): each goes through, the scheduler
#   stays on the worker alone, the record says so;
# - bad releases stopped and put back on 4: unhealthy on the worker (wave
#   3: every host rolled back, last wave first), a failed `pip install`
#   step, a login that refuses the CSRF token (smoke);
# - refused before any change: a stale backup, a failed CI run, a default
#   SECRET_KEY in one host's .env.
set -euo pipefail
FLEET_NET=127.0.44 FLEET_PORT=24201 FLEET_APP_PORT=24202
AGENTS_NET=127.0.45 AGENTS_PORT=24203
. "$TOP/tests/integration/lib/runbook.sh"

rb_group superviseme svm-web1=ssh svm-web2=agent svm-worker=ssh
rb_coordinator gh
PLAN=$WORK/001.yml
rb_plan "$TOP/examples/runbooks/001_superviseme.yml" "$PLAN"

# the release's checkout on the coordinator: a real git repository
SRC=$WORK/src
git init -q "$SRC"
for v in 2 4 5 6 7; do
    git -C "$SRC" -c user.name=t -c user.email=t@t commit -q --allow-empty -m "release $v"
    git -C "$SRC" tag "$v"
done

for name in "${RB_HOSTS[@]}"; do
    d=${RB_DIR[$name]}
    on=false
    [ "$name" = svm-worker ] && on=true
    printf '%s\n' "SECRET_KEY=$(head -c 36 /dev/urandom | base64 | tr '+/' 'xy')" \
        "ADMIN_BOOTSTRAP_PASSWORD=bootstrap-$$" "DATABASE_URL=postgresql://svm@db/svm" \
        "ENABLE_SCHEDULER=$on" >"$d/.env"
    echo "$on" >"$d/scheduler"
    mkdir -p "$d/backups" "$d/.venv/bin" "$d/scripts"
    echo "dump" >"$d/backups/superviseme.db"
    echo flask >"$d/requirements.txt"
    ln -sfn "$STANDINS_DIR/standin" "$d/.venv/bin/pip"
    echo "$d" >"$d/.venv/bin/standin-home" # an agent's job has no STANDIN_HOME
    ln -sfn /usr/bin/python3 "$d/.venv/bin/python"
    # the schema check records its call like a stand-in; fails on request
    cat >"$d/scripts/check_schema_alignment.py" <<'PY'
import os, shlex, sys
home = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(home, "calls.log"), "a") as f:
    f.write(shlex.join(["check_schema_alignment.py"] + sys.argv[1:]) + "\tcwd=" + os.getcwd() + "\n")
sys.exit(1 if os.path.exists(os.path.join(home, "schema-misaligned")) else 0)
PY
done
for v in 2 4 5 6 7; do rb_release "$v"; done
behave_on() { # NAME V LINE: release V of host NAME misbehaves
    echo "$3" >"${RB_DIR[$1]}/releases/$2/BEHAVIOR"
}
behave_on svm-worker 6 health=500
rb_release 7 login=broken

ARGS=(-e src_dir="$SRC")
OUT=$WORK/out

# scheduler_on NAME: the demo-apps and the .env files put the scheduler on
# NAME alone.
scheduler_on() {
    local name state on
    for name in "${RB_HOSTS[@]}"; do
        state=$(curl -s --max-time 2 "${RB_URL[$name]}/health" |
            python3 -c 'import json,sys; print(json.load(sys.stdin).get("scheduler"))')
        on=false
        [ "$name" = "$1" ] && on=true
        [ "$state" = "$([ $on = true ] && echo active || echo inactive)" ] ||
            fail "$name reports scheduler '$state' (want it on $1 alone)"
        [ "$(grep -c '^ENABLE_SCHEDULER=' "${RB_DIR[$name]}/.env")" = 1 ] &&
            grep -qx "ENABLE_SCHEDULER=$on" "${RB_DIR[$name]}/.env" ||
            fail "$name's .env: $(grep ENABLE_SCHEDULER "${RB_DIR[$name]}/.env")"
    done
}

# deployed NAME V: the calls of a host that deployed V (after the `each`
# prechecks) and nothing else.
deployed() {
    local d=${RB_DIR[$1]}
    printf '%s\n' "git -C $d fetch --tags" "git -C $d checkout $2" \
        "pip install -r $d/requirements.txt" "systemctl restart superviseme"
}
rolled_back() { # NAME V: ... and put back to V
    printf '%s\n' "git -C ${RB_DIR[$1]} checkout $2" "systemctl restart superviseme"
}
# prechecked NAME PREV: the calls of the prechecks on NAME (the `once`
# schema check runs on the first host of the first wave alone)
prechecked() {
    [ "$1" != svm-web1 ] ||
        echo "check_schema_alignment.py --db data_schema/database_dashboard.db --strict"
    echo "git -C ${RB_DIR[$1]} rev-parse -q --verify $2"
}

# good_deploy V PREV [ARGS...]: release V replaces PREV on every host, the
# scheduler stays on the worker alone, each runbook command ran once per
# host, in order (the `once` schema check on svm-web1 alone).
good_deploy() {
    local v=$1 prev=$2 name
    shift 2
    rb_calls_reset
    deploy_expect 0 "$OUT" "$PLAN" "${ARGS[@]}" -e version="$v" "$@" \
        -- "singleton 'scheduler': active on exactly one host \(svm-worker\)"
    rb_serve svm-web1 svm-web2 svm-worker -- "$v"
    scheduler_on svm-worker
    for name in "${RB_HOSTS[@]}"; do
        rb_calls_are "$name" "$(prechecked "$name" "$prev")" "$(deployed "$name" "$v")"
    done
    rb_calls_are coordinator \
        "gh run list --commit $(git -C "$SRC" rev-parse "$v^{}") --status success --limit 1"
    rb_succeeded "$(deploy_id "$OUT")" "$v" "$prev" '
assert [(w["hosts"], w["state"]) for w in r["waves"]] == [(["svm-web1"], "done"), (["svm-web2"], "done"), (["svm-worker"], "done")], r["waves"]
want = [(h, n, "ok") for h in ("svm-web1", "svm-web2", "svm-worker")
        for n in ("checkout release", "dependencies", "scheduler setting in .env", "restart")]
assert steps("deploy") == want, steps("deploy")
assert steps("rollback") == []
assert all(o == "ok" for _, _, o in steps("precheck")), steps("precheck")
'
}

# --- 1. the first good deploy: 1 -> 2 -------------------------------------
good_deploy 2 1 -e previous_version=1
echo "ok: release 2 deployed on every host, scheduler on the worker alone"

# --- 2. the second good deploy: 2 -> 4, previous_version from the journal -
good_deploy 4 2
echo "ok: a second deploy (4) goes through"

# bad_deploy V OUTCOME_GREP: deploy release V of 4; it must be stopped and
# every changed host put back on 4, the scheduler on the worker alone.
bad_deploy() {
    rb_calls_reset
    deploy_expect 1 "$OUT" "$PLAN" "${ARGS[@]}" -e version="$1" -- "$2"
    rb_serve svm-web1 svm-web2 svm-worker -- 4
    scheduler_on svm-worker
}

# --- 3. unhealthy on the worker (wave 3): all three rolled back ----------
bad_deploy 6 "svm-worker: .*health gate: .*status 500"
rb_calls_are svm-web1 "$(prechecked svm-web1 4)" "$(deployed svm-web1 6)" "$(rolled_back svm-web1 4)"
rb_calls_are svm-web2 "$(prechecked svm-web2 4)" "$(deployed svm-web2 6)" "$(rolled_back svm-web2 4)"
rb_calls_are svm-worker "$(prechecked svm-worker 4)" "$(deployed svm-worker 6)" "$(rolled_back svm-worker 4)"
rb_true "$(deploy_id "$OUT")" "rolled back" yes '
assert (r["version"], r["previous_version"]) == ("6", "4")
assert valid() == {"health": "FAIL", "prechecks": "PASS", "smoke": "NOT RUN"}, valid()
assert "status 500" in [h for h in r["hosts"] if h["host"] == "svm-worker"][0]["reason"]
rb = [(h, n) for h, n, o in steps("rollback") if o == "ok"]
want = [(h, n) for h in ("svm-worker", "svm-web2", "svm-web1")
        for n in ("previous tag", "scheduler setting in .env", "restart", "health and login again")]
assert rb == want, steps("rollback")
'
echo "ok: unhealthy on the worker: stopped, every host back on 4, last wave first"

# --- 4. a failed step: pip install fails on the first host ----------------
echo "pip install" >"${RB_DIR[svm-web1]}/standin-fail"
bad_deploy 5 "svm-web1: FAILED: step 'dependencies'"
rm -f "${RB_DIR[svm-web1]}/standin-fail"
d1=${RB_DIR[svm-web1]}
# the step ran twice (retries: 1), nothing after it; then put back
rb_calls_are svm-web1 "$(prechecked svm-web1 4)" "git -C $d1 fetch --tags" \
    "git -C $d1 checkout 5" "pip install -r $d1/requirements.txt" \
    "pip install -r $d1/requirements.txt" "$(rolled_back svm-web1 4)"
rb_calls_are svm-web2 "$(prechecked svm-web2 4)"
rb_calls_are svm-worker "$(prechecked svm-worker 4)"
rb_true "$(deploy_id "$OUT")" "rolled back" yes '
assert [(h, n, o) for h, n, o in steps("deploy")] == [
    ("svm-web1", "checkout release", "ok"), ("svm-web1", "dependencies", "failed"),
    ("svm-web1", "dependencies", "failed")], steps("deploy")
assert [h for h, _, _ in steps("rollback")] == ["svm-web1"] * 4
assert states()["svm-web2"] != "healthy" and states()["svm-worker"] != "healthy", states()
'
echo "ok: a failed pip install: stopped on the first host, put back on 4"

# --- 5. smoke: the login refuses even a POST with the CSRF token ---------
bad_deploy 7 "smoke check.*login POST with the CSRF token is accepted"
for name in "${RB_HOSTS[@]}"; do
    rb_calls_are "$name" "$(prechecked "$name" 4)" \
        "$(deployed "$name" 7)" "$(rolled_back "$name" 4)"
done
rb_true "$(deploy_id "$OUT")" "rolled back" yes '
assert valid() == {"health": "PASS", "prechecks": "PASS", "smoke": "FAIL"}, valid()
assert len(steps("rollback")) == 12 and all(o == "ok" for _, _, o in steps("rollback"))
'
echo "ok: a login that refuses the CSRF token fails the smoke test: all put back on 4"

# --- 6. refused before any change -----------------------------------------
refused() { # GREP: the deploy of 5 is refused, no host touched but asked
    rb_calls_reset
    deploy_expect 7 "$OUT" "$PLAN" "${ARGS[@]}" -e version=5 -- "$1"
    rb_serve svm-web1 svm-web2 svm-worker -- 4
    local name
    for name in "${RB_HOSTS[@]}"; do
        ! rb_calls "$name" | grep -Eq "checkout|pip|systemctl" ||
            fail "$name was changed by a refused deploy: $(rb_calls "$name")"
    done
}
touch -d '2 days ago' "${RB_DIR[svm-web1]}/backups/superviseme.db"
refused "no non-empty backup younger than 24h"
touch "${RB_DIR[svm-web1]}/backups/superviseme.db"
echo "gh run list" >"$RB_COORD/standin-fail"
refused "local: FAILED: step 'CI passed on the release commit' exit 1"
rb_true "$(deploy_id "$OUT")" refused no '
ci = [s for s in r["steps"] if s["name"] == "CI passed on the release commit"]
assert len(ci) == 1 and ci[0]["outcome"] == "failed" and ci[0]["host"] is None, ci
assert "no successful CI run for 5" in ci[0]["output"], ci
'
rm -f "$RB_COORD/standin-fail"
cp "${RB_DIR[svm-worker]}/.env" "$WORK/env"
sed -i 's/^SECRET_KEY=.*/SECRET_KEY=change-me-in-production-please-0123456789/' "${RB_DIR[svm-worker]}/.env"
refused "SECRET_KEY in .env is short or a default"
expect_not_in "$OUT" "change-me-in-production"
cp "$WORK/env" "${RB_DIR[svm-worker]}/.env"
echo "ok: refused before any change: a stale backup, no CI run, a default SECRET_KEY"

# --- 7. the third good deploy: 4 -> 5 -------------------------------------
good_deploy 5 4
echo "ok: a third deploy (5) goes through"
echo PASS
