#!/usr/bin/env bash
# tests/integration/test_standins.sh: the stand-in commands of
# tests/integration/lib/standins that the runbook tests put on their hosts.
# 1. Called directly with a throwaway STANDIN_HOME: calls.log lines, fail
#    control (exit status, `once`), release switching by docker compose,
#    docker-compose, git and systemctl, alembic and the migration table,
#    pg_dump (empty when told to fail), kubectl set image / rollout undo,
#    sudo and `compose run` going through the stand-ins.
# 2. FLEET_STANDINS=1 for real: one sshd host and one drover-agent, a
#    `drover deploy` whose step runs `docker compose up -d app` with
#    SMS_VERSION=2 on both; each host's demo-app then serves 2 and each
#    host's calls.log has the call (ground truth from the hosts). A second
#    deploy, told to fail once on the agent, stops there.
set -euo pipefail
FLEET_STANDINS=1
. "$TOP/tests/integration/lib/engine.sh"
. "$TOP/tests/integration/lib/agents.sh"

# --- 1. direct calls -------------------------------------------------------
H=$(mktemp -d)
fleet_atexit "rm -rf '$H'"
mkdir -p "$H/releases/1" "$H/releases/2" "$H/releases/3"
hostdir_layout "$H"
echo 0002 >"$H/releases/2/MIGRATION"
S=$STANDINS_DIR
# sc NAME ARGS...: call stand-in NAME in $H with STANDIN_HOME=$H
sc() (
    cd "$H"
    name=$1
    shift
    STANDIN_HOME=$H PATH=$S:$PATH "$S/$name" "$@"
)
# expect_rc STATUS CMD...: CMD exits STATUS
expect_rc() {
    local want=$1 rc=0
    shift
    "$@" >"$H/out" 2>"$H/err" || rc=$?
    [ "$rc" = "$want" ] || {
        cat "$H/out" "$H/err" >&2
        fail "$*: exit $rc, want $want"
    }
}
serves() { # V: current points at releases/V
    [ "$(readlink "$H/current")" = "$H/releases/$1" ] ||
        fail "current -> $(readlink "$H/current"), want releases/$1"
}
last_call() { tail -n 1 "$H/calls.log"; }

sc git commit -m 'a b' "it's"
[ "$(last_call)" = "git commit -m 'a b' 'it'\"'\"'s'"$'\t'"cwd=$H" ] ||
    fail "calls.log line: $(last_call)"

# release switching: the variable version-var names (others passed
# over), git-head, systemctl
echo SMS_VERSION >"$H/version-var"
CLOUD_SDK_VERSION=528.0.0 expect_rc 0 sc docker compose up -d app
serves 1
IPA_TAG=3 expect_rc 0 sc docker compose up -d app
serves 1
SMS_VERSION=2 expect_rc 0 sc docker compose -f compose.yml up -d app
serves 2
expect_rc 1 sc git -C "$H" checkout 9
expect_in "$H/err" "pathspec '9' did not match"
[ ! -e "$H/git-head" ] || fail "a failed checkout wrote git-head"
expect_rc 0 sc git -C "$H" fetch --tags
expect_rc 0 sc git -C "$H" checkout 3
expect_rc 0 sc git rev-parse HEAD
[ "$(cat "$H/out")" = 3 ] || fail "rev-parse HEAD: $(cat "$H/out")"
expect_rc 0 sc git rev-parse -q --verify 2
expect_rc 1 sc git rev-parse -q --verify 7
serves 2
expect_rc 0 sc sudo -n docker-compose restart app
serves 3
[ "$(tail -n 2 "$H/calls.log" | cut -f1)" = "sudo -n docker-compose restart app
docker-compose restart app" ] || fail "sudo: $(tail -n 2 "$H/calls.log")"
expect_rc 0 sc git checkout 1
expect_rc 0 sc systemctl restart app
serves 1
[ ! -e "$H/scheduler" ] || fail "a restart without .env wrote the role file"
printf 'A=1\nENABLE_SCHEDULER=false\nENABLE_SCHEDULER=true\n' >"$H/.env"
expect_rc 0 sc systemctl start app
[ "$(cat "$H/scheduler")" = true ] || fail "systemctl start: role $(cat "$H/scheduler")"
rm "$H/.env" "$H/scheduler"
expect_rc 0 sc systemctl is-active app
[ "$(cat "$H/out")" = active ] || fail "systemctl is-active"

# registry: pull, image inspect, volume inspect
expect_rc 0 sc docker pull sms-fullstack:2
expect_rc 1 sc docker pull registry.example:5000/sms-fullstack:7
expect_rc 0 sc docker image inspect sms-fullstack:3
expect_rc 1 sc docker image inspect sms-fullstack:8
expect_rc 1 sc docker volume inspect sms_data
mkdir -p "$H/volumes/sms_data"
expect_rc 0 sc docker volume inspect sms_data

# fail control: exit status, `once`, several rules
printf '%s\n' '# a comment' '^docker pull .*:2$ 3 once' '^redis-cli .* ping' >"$H/standin-fail"
expect_rc 3 sc docker pull sms-fullstack:2
expect_in "$H/err" '^standin: docker: told to fail$'
[ "$(last_call | cut -f1)" = "docker pull sms-fullstack:2" ] || fail "a failed call is not logged"
expect_rc 0 sc docker pull sms-fullstack:2
expect_not_in "$H/standin-fail" 'docker pull'
expect_in "$H/standin-fail" '^# a comment$' '^\^redis-cli'
expect_rc 1 sc redis-cli -h r ping
expect_rc 1 sc redis-cli -h r ping
expect_rc 0 sc redis-cli -h r BGSAVE
expect_in "$H/out" '^Background saving started$'
rm "$H/standin-fail"
expect_rc 0 sc redis-cli -h r ping
expect_in "$H/out" '^PONG$'

# alembic: the target release's head, through `compose run` too
expect_rc 0 sc git checkout 2
expect_rc 0 sc docker compose run --rm app alembic upgrade head
[ "$(cat "$H/db/alembic_version")" = 0002 ] || fail "alembic: $(cat "$H/db/alembic_version")"
[ "$(last_call | cut -f1)" = "alembic upgrade head" ] || fail "compose run: $(last_call)"
expect_rc 0 sc docker logs sms-fullstack
expect_in "$H/out" 'Alembic upgrade complete'
echo '^alembic upgrade' >"$H/standin-fail"
expect_rc 0 sc alembic downgrade 0001
expect_rc 1 sc alembic upgrade head
[ "$(cat "$H/db/alembic_version")" = 0001 ] || fail "a failed upgrade migrated"
rm "$H/standin-fail"

# pg_dump: a dump, or nothing at all when told to fail
expect_rc 0 sc pg_dump -h db ipa
[ "$(wc -l <"$H/out")" -ge 3 ] || fail "pg_dump printed $(wc -l <"$H/out") lines"
echo '^pg_dump' >"$H/standin-fail"
expect_rc 1 sc pg_dump -h db ipa
[ ! -s "$H/out" ] || fail "pg_dump told to fail printed a dump"
(cd "$H" && STANDIN_HOME=$H PATH=$S:$PATH sh -c 'pg_dump -h db ipa | gzip >dump.gz') 2>/dev/null ||
    fail "pipeline without pipefail failed"
[ -z "$(zcat "$H/dump.gz")" ] || fail "the failed dump is not empty"
rm "$H/standin-fail"

# kubectl: set image, rollout status, undo, get, exec
expect_rc 0 sc kubectl -n prod set image deployment/web app=ipa/platform:2
serves 2
expect_rc 0 sc kubectl set image deployment/web app=ipa/platform:3
serves 3
expect_rc 0 sc kubectl rollout status deployment/web --timeout=60s
expect_rc 0 sc kubectl get deployment web -o 'jsonpath={..image}'
[ "$(cat "$H/out")" = ipa/platform:3 ] || fail "kubectl get: $(cat "$H/out")"
expect_rc 0 sc kubectl rollout undo deployment/web
serves 2
[ "$(cat "$H/kube/web.image")" = ipa/platform:2 ] || fail "undo: $(cat "$H/kube/web.image")"
expect_rc 1 sc kubectl rollout undo deployment/web
echo '^kubectl rollout status' >"$H/standin-fail"
expect_rc 1 sc kubectl rollout status deployment/web
rm "$H/standin-fail"
expect_rc 0 sc kubectl exec deploy/web -- alembic current
[ "$(cat "$H/out")" = 0001 ] || fail "kubectl exec alembic current: $(cat "$H/out")"

# the rest, and a call without a home
expect_rc 0 sc pg_isready -h db -t 5
expect_in "$H/out" 'accepting connections'
expect_rc 0 sc gh run list --commit 2 --status success --limit 1
expect_in "$H/out" '^completed success'
expect_rc 0 sc pip install -r requirements.txt
expect_rc 2 env -u STANDIN_HOME "$S/docker" ps
n=$(wc -l <"$H/calls.log")
[ "$n" -ge 45 ] || fail "calls.log has $n lines"
echo "ok: direct calls ($n logged)"

# --- 2. on a real host and a real agent, through drover ------------------
engine_start 1
agents_start 1
# agents.sh took the EXIT trap: the fleet's stops everything, agents too
fleet_atexit agents_stop
trap fleet_on_exit EXIT
DFLAGS+=(-i "$AGENTS_DIR/inventory.ini" --coordinator-key "$AGENTS_KEY"
    --known-agents "$AGENTS_DIR/known_agents")
engine_reset
hd=$(fleet_host_dir 1)
ad=$(agents_host_dir 1)
echo SMS_VERSION | tee "$hd/version-var" >"$ad/version-var"

cat >"$WORK/up.yml" <<EOF
name: standins
hosts: "fleet:agents"
steps:
  - name: up
    run: >-
      cd {{ app_dir }} && SMS_VERSION={{ version }} docker compose up -d app &&
      command -v docker >{{ app_dir }}/which
health:
  checks:
    - name: ready
      http: "http://{{ address }}:$FLEET_APP_PORT/health/ready"
  interval: 100ms
  healthy_deadline: 2s
EOF
deploy_expect 0 "$WORK/logs/up2" "$WORK/up.yml" -e version=2 -- \
    'deploy succeeded: 2 hosts: 2 healthy'
app_version() { curl -s --max-time 2 "http://$1:$FLEET_APP_PORT/version" || true; }
[ "$(app_version "$(fleet_addr 1)")" = 2 ] || fail "h1 serves $(app_version "$(fleet_addr 1)")"
[ "$(app_version "$(agents_addr 1)")" = 2 ] || fail "a1 serves $(app_version "$(agents_addr 1)")"
expect_in "$hd/calls.log" "^docker compose up -d app"$'\t'"cwd=$hd\$"
expect_in "$ad/calls.log" "^docker compose up -d app"$'\t'"cwd=$ad\$"
[ "$(cat "$hd/which")" = "$STANDINS_DIR/docker" ] || fail "h1 step ran $(cat "$hd/which")"
[ "$(cat "$ad/which")" = /usr/local/sbin/docker ] || fail "a1 step ran $(cat "$ad/which")"
echo "ok: deploy over sshd and agent: both serve 2, both calls logged"

# told to fail once on the agent: the deploy stops there
echo '^docker compose up 1 once' >"$ad/standin-fail"
deploy_expect 1 "$WORK/logs/up1" "$WORK/up.yml" -e version=1 -- \
    'a1: FAILED'
expect_in "$WORK/logs/up1" 'told to fail'
[ "$(app_version "$(agents_addr 1)")" = 2 ] || fail "a1 moved although told to fail"
[ ! -s "$ad/standin-fail" ] || fail "the once rule stayed: $(cat "$ad/standin-fail")"
echo "ok: a stand-in told to fail fails the drover step"
echo "standins: all checks passed"
