#!/usr/bin/env bash
# tests/integration/test_plan_cmd.sh: `drover validate` and `drover plan`
# on the five runbook plans and on broken ones: exit statuses, waves,
# --json, thresholds in words, secrets never printed, -e @file, every
# problem at file:line:col, and proof that `drover plan` touches no host
# (a real TCP listener stands where the hosts are and must see nothing).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
PY=/usr/bin/python3
[ -x "$PY" ] || fail "python3 is needed to read JSON and to listen"
EX="$TOP/examples/runbooks"
work=$(mktemp -d)
listener=""
cleanup() {
    if [ -n "$listener" ]; then
        kill "$listener" 2>/dev/null || true
        wait "$listener" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

run() { # expected-exit command... ; output in $out
    local want=$1; shift
    set +e
    out=$("$@" 2>&1)
    local rc=$?
    set -e
    [ "$rc" = "$want" ] || fail "exit $rc, want $want: $*: $out"
}
has() { grep -qF -- "$1" <<<"$out" || fail "want '$1' in: $out"; }
hasnt() { ! grep -qF -- "$1" <<<"$out" || fail "'$1' must not appear in: $out"; }

# 1. every runbook plan validates and resolves
nplans=$(find "$EX" -maxdepth 1 -name '00*.yml' | wc -l)
[ "$nplans" -ge 6 ] || fail "want the runbook plans in $EX, found $nplans"
run 0 "$DROVER" validate "$EX"/00*.yml
[ "$(grep -c ': ok (plan' <<<"$out")" = "$nplans" ] || fail "$nplans ok lines: $out"
for f in "$EX"/00*.yml; do
    run 0 "$DROVER" plan -i "$EX/inventory.ini" "$f" -e version=1.2.3
    has "waves:"
    has "thresholds: the deploy"
    # the JSON stays JSON after redaction (headers, URLs, env)
    "$DROVER" plan -i "$EX/inventory.ini" "$f" -e version=1.2.3 --json |
        "$PY" -c 'import json, sys; json.load(sys.stdin)' || fail "json of $f"
done
run 0 "$DROVER" validate -i "$EX/inventory.ini" -e version=1 "$EX"/00*.yml
[ "$(grep -Ec 'hosts? in .* waves?\)' <<<"$out")" = "$nplans" ] || fail "validate -i: $out"
echo "ok: $nplans runbook plans validate and resolve"

# 2. text output: canary wave, commands as they run, words, singleton
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$EX/000_sms.yml" -e version=1.4.0
has "wave 1, canary (1 host): sms1"
has "wave 3 (2 hosts): sms3 sms4"
has "step pull image: docker pull sms-fullstack:1.4.0"
has "stops if any host of a wave fails (max_fail 0)"
has "stops if more than 1 host fails across the deploy (max_fail_total 1 of 4)"
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$EX/001_superviseme.yml" -e version=2
has "svm-worker (wave 3, deploy@127.0.2.3) may hold the singleton role 'scheduler'"
has "ENABLE_SCHEDULER=true"
has "ENABLE_SCHEDULER=false"
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$EX/004_budgetbuddy.yml" -e version=2
has "precheck strict migrations in production: val() { sed -n"
has "run migrate: cd /srv/budgetbuddy/releases/2/backend && "
hasnt "bb-staging"
echo "ok: text output"

# 3. --json: waves as lists of names, steps/health per host, the seed
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$EX/003_ipa_platform.yml" -e version=3 --json
"$PY" - "$out" <<'PY' || fail "json: $out"
import json, sys
j = json.loads(sys.argv[1])
assert j["waves"][0] == ["ipa-a1"], j["waves"]
assert sum(len(w) for w in j["waves"]) == 6
assert j["seed"] == 20251127 and j["order"] == "shuffle"
assert j["canary"] is True
assert j["steps"]["ipa-a1"][0]["command"] == "docker pull ipa/platform:3"
assert j["health"]["ipa-b1"][0]["http"] == "http://127.0.4.3:8000/health"
assert j["health"]["ipa-b1"][2]["command"].startswith("curl -fsS")
assert j["thresholds"]["max_fail"] == "20%"
assert any("20%" in w for w in j["thresholds"]["words"])
assert j["before"][0]["host"] == "ipa-a1"
PY
first=$("$DROVER" plan -i "$EX/inventory.ini" "$EX/003_ipa_platform.yml" -e version=3 --json)
[ "$first" = "$out" ] || fail "the same seed must give the same waves"
echo "ok: --json"

# 4. secrets: values never printed, names shown as [redacted]
export SECRET_KEY="canary-SECRET-$$-value-that-is-long-enough-to-pass-48ch"
printf 'hosts: sms\nsteps:\n  - {run: "systemctl restart sms", secret_env: [SECRET_KEY]}\n' \
    >"$work/secret.yml"
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$work/secret.yml" -e version=1
hasnt "$SECRET_KEY"
has "SECRET_KEY=[redacted]"
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$EX/002_sme_erp.yml" -e version=1 \
    -e db_password=hunter2-$$
hasnt "example-not-a-real-token"
hasnt "secretpath"
has "header Authorization: [redacted]"
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$EX/002_sme_erp.yml" -e version=1 --json
hasnt "example-not-a-real-token"
unset SECRET_KEY
echo "ok: secrets redacted"

# 5. -e @file (YAML and JSON); a broken one is named at file:line:col
printf 'version: 7.7.7\n' >"$work/v.yml"
printf '{"version": "8.8.8"}' >"$work/v.json"
printf 'version: [\n' >"$work/bad.yml"
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$EX/000_sms.yml" -e @"$work/v.yml"
has "docker pull sms-fullstack:7.7.7"
run 0 "$DROVER" plan -i "$EX/inventory.ini" "$EX/000_sms.yml" -e @"$work/v.yml" -e @"$work/v.json"
has "docker pull sms-fullstack:8.8.8"
run 3 "$DROVER" plan -i "$EX/inventory.ini" "$EX/000_sms.yml" -e @"$work/bad.yml"
has "bad.yml:2:1:"
run 3 "$DROVER" plan -i "$EX/inventory.ini" "$EX/000_sms.yml"
has "000_sms.yml:98:5: step 'pull image', host sms1: undefined variable 'version'"
run 2 "$DROVER" plan -i "$EX/inventory.ini" "$EX/000_sms.yml" -e 1x=2
has "'1x' is not a variable name"
echo "ok: -e @file"

# 6. validation: every problem in one pass, exit 3
cat >"$work/bad_plan.yml" <<'YML'
name: broken
strategy:
  canary: 2
  wave: [1]
  max_fail: "150%"
steps:
  - run: echo {{ version }}
    on: somewhere
  - name: no command
health:
  checks:
    - { url: "http://x/" }
  min_healthy_time: 5m
  healthy_deadline: 1m
YML
run 3 "$DROVER" validate "$work/bad_plan.yml"
has "bad_plan.yml:4:3: unknown key 'wave' in strategy; did you mean 'waves'?"
has "bad_plan.yml:5:13: strategy.max_fail '150%' must be a whole percentage from 0% to 100%"
has "bad_plan.yml:8:9: step 'on' must be each, once or local, not 'somewhere'"
has "bad_plan.yml:9:5: step 2 has no 'run' command"
has "bad_plan.yml:12:7: a health check has no target (add 'http: URL' or 'command: CMD')"
has "bad_plan.yml:12:9: unknown key 'url' in a health check"
has "bad_plan.yml:13:21: health.min_healthy_time is longer than health.healthy_deadline"
[ "$(wc -l <<<"$out")" -ge 7 ] || fail "all problems: $out"
run 3 "$DROVER" validate "$work/nope.yml"
has "cannot open plan"
run 2 "$DROVER" validate
run 2 "$DROVER" plan "$EX/000_sms.yml"
has "no inventory (-i)"
echo "ok: validation"

# 7. contradictions that need the inventory, at file:line:col
printf 'hosts: sms\nstrategy:\n  canary: 9\nsteps: [{run: "true"}]\n' >"$work/big.yml"
run 3 "$DROVER" plan -i "$EX/inventory.ini" "$work/big.yml"
has "big.yml:3:11: strategy.canary is 9 hosts but hosts 'sms' selects only 4"
printf 'hosts: sms\nsteps: [{run: "echo {{ nope }}"}]\n' >"$work/undef.yml"
run 3 "$DROVER" plan -i "$EX/inventory.ini" "$work/undef.yml"
has "undef.yml:2:9: step 'echo {{ nope }}', host sms1: undefined variable 'nope'"
has "and 1 more host (sms4): undefined variable 'nope'"
echo "ok: contradictions"

# 8. drover plan touches no host: a real listener where the hosts are
"$PY" - "$work/port" "$work/conns" <<'PY' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
n = 0
while True:
    c, _ = s.accept()
    n += 1
    open(sys.argv[2], "w").write(str(n))
    c.close()
PY
listener=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
port=$(cat "$work/port")
printf '[app]\nh1 ansible_host=127.0.0.1 ansible_port=%s\nh2 ansible_host=127.0.0.1 ansible_port=%s\n' \
    "$port" "$port" >"$work/inv.ini"
cat >"$work/touch.yml" <<YML
hosts: app
prechecks: [{run: "true", on: once}]
steps: [{run: "true"}]
health: {checks: [{http: "http://{{ address }}:$port/health"}]}
smoke: [{http: "http://{{ address }}:$port/"}]
YML
# the listener answers: a connection would be counted
exec 3<>"/dev/tcp/127.0.0.1/$port" && exec 3>&-
for _ in $(seq 100); do [ -s "$work/conns" ] && break; sleep 0.05; done
[ "$(cat "$work/conns")" = 1 ] || fail "the listener does not count"
run 0 "$DROVER" plan -i "$work/inv.ini" "$work/touch.yml"
has "http://127.0.0.1:$port/health"
run 0 "$DROVER" plan -i "$work/inv.ini" "$work/touch.yml" --json
sleep 0.3
[ "$(cat "$work/conns")" = 1 ] || fail "drover plan connected to a host"
echo "ok: no host touched"
echo "PASS"
