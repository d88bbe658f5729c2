#!/usr/bin/env bash
# tests/integration/test_resume_secrets.sh: a secret -e variable is compared
# on `drover promote` / `drover resume` by a keyed hash, never journaled
# as itself. A canary deploy with -e db_password=A pauses; promote with
# db_password=B is refused (exit 2) naming the variable, not either value,
# before any host runs; with A the rest of the fleet gets the same secret
# as the canary (each host records a hash of what it got). The journal's
# bytes hold neither value nor its base64; the key is 0600.
set -euo pipefail
export FLEET_NET=127.0.27 FLEET_PORT=22702
. "$TOP/tests/integration/lib/engine.sh"

engine_start 3
engine_reset
A=canaryPwAlpha8842
B=canaryPwBravo1177
cat >"$WORK/plan.yml" <<'EOF'
name: resume-secrets
hosts: fleet
strategy: { canary: 1, pause_after_canary: true }
steps:
  - name: configure
    run: "printf %s {{ db_password | quote }} | sha256sum > {{ app_dir }}/pw"
EOF
pw_of() { cat "$(fleet_host_dir "$1")/pw" 2>/dev/null || echo none; }
rm -f "$(fleet_host_dir 1)/pw" "$(fleet_host_dir 2)/pw" "$(fleet_host_dir 3)/pw"

deploy_expect 6 "$WORK/logs/deploy" "$WORK/plan.yml" -e version=2 -e db_password=$A
id=$(deploy_id "$WORK/logs/deploy")
[ "$(pw_of 1)" = "$(printf %s $A | sha256sum)" ] || fail "the canary did not get A"
[ "$(pw_of 2)" = none ] || fail "h2 ran before promote"

# another secret: refused, naming the variable and never a value
rc=0
"$DROVER" promote "${DFLAGS[@]}" -e db_password=$B "$id" >"$WORK/logs/p1" 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat "$WORK/logs/p1" >&2; fail "promote with another secret exited $rc, want 2"; }
expect_in "$WORK/logs/p1" "-e db_password is not the secret value journaled for $id" \
    "--override-var db_password"
expect_not_in "$WORK/logs/p1" $A $B
[ "$(pw_of 2)" = none ] || fail "h2 ran after the refusal"

# ground truth of the journal: neither value, nor its base64, anywhere in
# the state directory's bytes; the hash key is the owner's alone
for v in $A $B "$(printf %s $A | base64)" "$(printf %s $B | base64)"; do
    if grep -raqF -- "$v" "$FLEET_DIR/state"; then
        fail "the state directory holds '$v'"
    fi
done
[ "$(stat -c %a "$FLEET_DIR/state/vars.key")" = 600 ] || fail "vars.key is not 0600"

# the same secret: promoted, every host got what the canary got
deploy_expect_cmd() { "$DROVER" promote "${DFLAGS[@]}" "$@"; }
rc=0
deploy_expect_cmd -e db_password=$A "$id" >"$WORK/logs/p2" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$WORK/logs/p2" >&2; fail "promote with the same secret exited $rc"; }
for x in 2 3; do
    [ "$(pw_of $x)" = "$(pw_of 1)" ] || fail "h$x got another secret than the canary"
done
expect_not_in "$WORK/logs/p2" $A
echo "PASS test_resume_secrets"
