#!/usr/bin/env bash
# tests/integration/test_redact_all.sh: every subcommand that can print
# host output, a record or a journal entry passes one redaction (common/
# log.c), on a real sshd fleet. Canary secrets come from everywhere a
# secret can: a secret-looking inventory variable, -e, a step's env and
# secret_env, URL credentials and bearer tokens (printed by the hosts and
# in a health check's URL and headers). Then run (text, --json), deploy
# (text, -v, --json, a failing one), a kill -9 and resume, show (text,
# markdown, json), history, status and plan (text, --json) each run, and
# no canary, nor its base64, URL-encoded or JSON-escaped form, is in any
# byte of their stdout or stderr, nor in the state directory (the journal).
set -euo pipefail
export FLEET_NET=127.0.33 FLEET_PORT=23300 FLEET_APP_PORT=23302
. "$TOP/tests/integration/lib/engine.sh"

engine_start 2
engine_reset
STATE=$FLEET_DIR/state
OUT=$WORK/out
mkdir -p "$OUT"
# inventory: a secret-looking variable on each host
sed -i 's/^h1 .*/& db_password=canaryInvPwOne1/; s/^h2 .*/& db_password=canaryInvPwTwo2/' "$FLEET_INVENTORY"
# secret_env: a value with bytes that escape differently in JSON and URLs
export RUN_SECRET='canarySecEnv+/"0815 x'
EXTRA=canaryExtraTok31   # -e api_token=
HPW=canaryHealthPw5      # a health check URL's password
HBEARER=canaryHdrBearer6 # a health check's Authorization header
CANARIES=(canaryInvPwOne1 canaryInvPwTwo2 "$RUN_SECRET" "$EXTRA" canaryUrlPw42
    canaryBearer99 canaryPasswordEq7 "$HPW" "$HBEARER")

# what every host prints: each canary it can see, plainly and encoded
cat >"$WORK/leak.sh" <<'LEAK'
echo "url=https://deploy:canaryUrlPw42@repo.example/x"
echo "Authorization: Bearer canaryBearer99"
echo "password=canaryPasswordEq7" >&2
echo "db: $DB_PASSWORD"
echo "tok: $API_TOKEN"
echo "env: $RUN_SECRET"
printf %s "$RUN_SECRET" | base64
printf %s "$DB_PASSWORD" | base64
python3 -c 'import json, os, urllib.parse as u; s = os.environ["RUN_SECRET"]; print(json.dumps(s)); print(u.quote(s, safe=""))'
LEAK
cat >"$WORK/plan.yml" <<PLAN
name: redact-all
hosts: fleet
strategy: { waves: [2] }
steps:
  - name: leak
    run: "sh $WORK/leak.sh; [ {{ inventory_hostname }} != {{ fail_on }} ] || { echo 'failing: password=canaryPasswordEq7' >&2; exit 3; }"
    env: { DB_PASSWORD: "{{ db_password }}", API_TOKEN: "{{ api_token }}" }
    secret_env: [RUN_SECRET]
  - name: nap
    run: "sleep {{ nap }}"
health:
  checks:
    - name: ready
      http: "http://monitor:$HPW@{{ address }}:$FLEET_APP_PORT/health/ready"
      headers: { Authorization: "Bearer $HBEARER" }
  interval: 100ms
  healthy_deadline: 3s
PLAN
EV=(-e api_token="$EXTRA" -e nap=0 -e fail_on=none)
SSHF=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS")

n=0
# drv NAME WANT ARGS...: drover ARGS, stdout and stderr in $OUT/NAME.{out,err}
drv() {
    local name=$1 want=$2 rc=0
    shift 2
    "$DROVER" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
    if [ "$want" != any ] && [ "$rc" != "$want" ]; then
        cat "$OUT/$name.out" "$OUT/$name.err" >&2
        fail "$name: drover $1 exited $rc, want $want"
    fi
    n=$((n + 1))
}

# run: text and --json
drv run 0 run -i "$FLEET_INVENTORY" "${SSHF[@]}" --secret-env RUN_SECRET \
    fleet -- "DB_PASSWORD=canaryInvPwOne1 API_TOKEN=none sh $WORK/leak.sh"
drv run-json 0 run -i "$FLEET_INVENTORY" "${SSHF[@]}" --secret-env RUN_SECRET \
    --json fleet -- "DB_PASSWORD=canaryInvPwOne1 API_TOKEN=none sh $WORK/leak.sh"
# plan: text and --json
drv plan 0 plan -i "$FLEET_INVENTORY" "${EV[@]}" -e version=2 "$WORK/plan.yml"
drv plan-json 0 plan -i "$FLEET_INVENTORY" "${EV[@]}" -e version=2 --json "$WORK/plan.yml"
# deploy: text, -v, --json -v, and one that fails on h2
D=(deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" "${EV[@]}")
drv deploy 0 "${D[@]}" -e version=2 "$WORK/plan.yml"
drv deploy-v 0 "${D[@]}" -e version=1 -v "$WORK/plan.yml"
drv deploy-json 0 "${D[@]}" -e version=2 --json -v "$WORK/plan.yml"
drv deploy-fail 1 "${D[@]}" -e version=1 -e fail_on=h2 -v "$WORK/plan.yml"
# kill -9 in the middle of a step, then status and resume
"$DROVER" "${D[@]}" -e version=2 -e nap=2 -v "$WORK/plan.yml" \
    >"$OUT/killed.out" 2>"$OUT/killed.err" &
pid=$!
for _ in $(seq 100); do
    grep -q "nap" "$OUT/killed.out" 2>/dev/null && break
    sleep 0.05
done
sleep 0.3
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
id=$(deploy_id "$OUT/killed.out")
[ -n "$id" ] || { cat "$OUT/killed.out" "$OUT/killed.err" >&2; fail "no deploy id before the kill"; }
drv status any status --state-dir "$STATE"
drv status-json any status --state-dir "$STATE" --json
drv resume 0 resume -i "$FLEET_INVENTORY" "${DFLAGS[@]}" -e api_token="$EXTRA" -v "$id"
# the records, every format, of the resumed and the failed deploy
fid=$(deploy_id "$OUT/deploy-fail.out")
for fmt in text markdown json; do
    drv "show-$fmt" 0 show --state-dir "$STATE" --format "$fmt" "$id"
    drv "show-fail-$fmt" 0 show --state-dir "$STATE" --format "$fmt" "$fid"
done
drv history 0 history --state-dir "$STATE"
drv history-json 0 history --state-dir "$STATE" --json

# the forms of every canary that must appear nowhere
python3 - "$WORK/forms" "${CANARIES[@]}" <<'PY'
import base64, json, sys, urllib.parse as u
with open(sys.argv[1], "w") as f:
    for s in sys.argv[2:]:
        forms = {s, base64.b64encode(s.encode()).decode(), u.quote(s, safe=""),
                 u.quote_plus(s), json.dumps(s)[1:-1]}
        for v in sorted(forms):
            f.write(v + "\n")
PY
leaks=0
while IFS= read -r form; do
    while IFS= read -r -d '' f; do
        if grep -aqF -- "$form" "$f"; then
            echo "LEAK: '$form' in $f:" >&2
            grep -aF -- "$form" "$f" | head -n 3 | cut -c1-300 >&2
            leaks=$((leaks + 1))
        fi
    done < <(find "$OUT" "$STATE" -type f -print0)
done <"$WORK/forms"
[ "$leaks" = 0 ] || fail "$leaks canary forms leaked"
# the lines are there, redacted (the checks above are not vacuous)
expect_in "$OUT/run.out" '^h1: db: \[redacted\]' '^h1: env: \[redacted\]'
expect_in "$OUT/deploy-v.out" 'Authorization: \[redacted\]' 'https://deploy:\[redacted\]@'
grep -q 'tok: \[redacted\]' "$OUT/deploy-json.out" || fail "deploy --json lacks the step's output"
grep -q 'failing: password=\[redacted\]' "$OUT/deploy-fail.out" || fail "the failed host's output is not shown"
echo "$n commands, no canary in any output or journal byte"
echo "PASS test_redact_all"
