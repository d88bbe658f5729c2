#!/usr/bin/env bash
# tests/integration/test_run_redact.sh: `drover run` output passes the same
# redaction as every other line drover writes (common/log.c log_out), on a
# real sshd fleet. Hosts print URL credentials, a bearer token, password=
# values, a secret-looking inventory variable and a --secret-env value (in
# plain, base64 and on several lines); none of the canaries reaches run's
# stdout, stderr or --json events, and the --secret-env value is in the
# remote command's environment but never on its command line. The same
# holds for deploy --json, whose events stay valid JSON.
set -euo pipefail
export FLEET_NET=127.0.27 FLEET_PORT=22701
. "$TOP/tests/integration/lib/engine.sh"

engine_start 2
engine_reset
RFLAGS=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS")
# a secret-looking inventory variable of h1
sed -i 's/^h1 .*/& db_password=canaryInvPw4711/' "$FLEET_INVENTORY"

export RUN_SECRET=canarySecretEnv0815
b64=$(printf %s "$RUN_SECRET" | base64)
sum=$(printf %s "$RUN_SECRET" | sha256sum)
# every remote command line, as the host's /proc shows it
CMDLINES=$WORK/cmdlines
mkdir -p "$CMDLINES"
cmd='CMDLINES='"$CMDLINES"'
echo url=https://deploy:canaryUrlPw42@repo.example/x
echo "Authorization: Bearer canaryBearer99"
echo password=canaryPasswordEq7 >&2
echo "inv: canaryInvPw4711"
echo "env: $RUN_SECRET"
printf %s "$RUN_SECRET" | base64
[ "$(printf %s "$RUN_SECRET" | sha256sum)" = "'"$sum"'" ] && echo secret reached the command
tr "\0" " " </proc/$$/cmdline >"$CMDLINES/$$"
echo done'

for mode in text json; do
    extra=()
    [ "$mode" = json ] && extra=(--json)
    rc=0
    "$DROVER" run -i "$FLEET_INVENTORY" "${RFLAGS[@]}" --secret-env RUN_SECRET \
        "${extra[@]}" fleet -- "$cmd" >"$WORK/logs/$mode.out" \
        2>"$WORK/logs/$mode.err" || rc=$?
    [ "$rc" = 0 ] || { cat "$WORK/logs/$mode.out" "$WORK/logs/$mode.err" >&2; fail "$mode: run exited $rc"; }
    for f in "$WORK/logs/$mode.out" "$WORK/logs/$mode.err"; do
        expect_not_in "$f" canaryUrlPw42 canaryBearer99 canaryPasswordEq7 \
            canaryInvPw4711 canarySecretEnv0815 "$b64"
    done
done
# ground truth on the hosts: the secret was in no command line
[ "$(ls "$CMDLINES" | wc -l)" = 4 ] || fail "expected 4 command lines"
expect_not_in "$(cat "$CMDLINES"/* >"$WORK/cmdlines.txt"; echo "$WORK/cmdlines.txt")" \
    canarySecretEnv0815 "$b64"
# the lines are there, redacted; the secret reached the command's
# environment (its value printed, then redacted)
expect_in "$WORK/logs/text.out" '^h1: url=https://deploy:\[redacted\]@repo' \
    '^h1: Authorization: \[redacted\]' '^h1: inv: \[redacted\]' \
    '^h2: env: \[redacted\]' '^h1: done' '^h1: secret reached the command' '2 hosts: 2 ok, 0 failed'
expect_in "$WORK/logs/text.err" '^h2: password=\[redacted\]'
python3 - "$WORK/logs/json.out" <<'PY' || fail "bad --json events"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
out = [e for e in ev if e["event"] == "output"]
assert any(e["host"] == "h1" and e["line"] == "env: [redacted]" for e in out), out
assert any(e["stream"] == "stderr" and e["line"] == "password=[redacted]" for e in out), out
res = [e for e in ev if e["event"] == "result"]
assert sorted(e["host"] for e in res) == ["h1", "h2"] and all(e["result"] == "ok" for e in res), res
assert ev[-1]["event"] == "summary" and ev[-1]["ok"] == 2, ev[-1]
PY
# an unset --secret-env is a usage error, before any host is touched
rc=0
env -u RUN_SECRET "$DROVER" run -i "$FLEET_INVENTORY" "${RFLAGS[@]}" \
    --secret-env RUN_SECRET fleet -- true >"$WORK/logs/unset" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "unset --secret-env exited $rc, want 2"
expect_in "$WORK/logs/unset" 'RUN_SECRET is not set'
# deploy --json: a step's output goes out as JSON events, redacted field by
# field; every line still parses (a whole-line pass would let the
# Authorization rule eat the closing quotes)
cat >"$WORK/auth.yml" <<'EOF'
name: run-redact-deploy
hosts: fleet
steps:
  - name: leak
    run: 'echo "Authorization: Bearer canaryDeployBearer5"; echo "pw: $RUN_SECRET"'
    secret_env: [RUN_SECRET]
EOF
rc=0
"$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" --json -v "$WORK/auth.yml" \
    >"$WORK/logs/deploy.json" 2>"$WORK/logs/deploy.err" || rc=$?
[ "$rc" = 0 ] || { cat "$WORK/logs/deploy.json" "$WORK/logs/deploy.err" >&2; fail "deploy --json exited $rc"; }
expect_not_in "$WORK/logs/deploy.json" canaryDeployBearer5 canarySecretEnv0815
expect_not_in "$WORK/logs/deploy.err" canaryDeployBearer5 canarySecretEnv0815
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' \
    "$WORK/logs/deploy.json" || fail "deploy --json printed a line that is not JSON"
grep -q 'Authorization: \[redacted\]' "$WORK/logs/deploy.json" ||
    fail "the step's output is not in the events: $(cat "$WORK/logs/deploy.json")"
echo "PASS test_run_redact"
