#!/usr/bin/env bash
# tests/integration/test_resume_vars.sh: a deploy's -e variables come back
# from the journal on `drover resume`. A deploy with -e color=blue and a
# secret -e api_token over the real sshd fleet is killed -9 mid-rollout;
# resume without the secret is refused before anything runs, naming it; a
# resume changing color is refused; with the secret given again the
# remaining hosts run with color=blue. The secret's value is never in the
# journal's bytes, in `drover show` (text, Markdown, JSON) or the record.
set -euo pipefail
. "$TOP/tests/integration/lib/fleet.sh"
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

canary=s3cr3t-canary
fleet_start 4
work=$FLEET_DIR/work
state=$FLEET_DIR/state
mkdir -p "$work"
flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS" --state-dir "$state")

# each host appends what its step saw to $work/ran (on this machine: the
# fleet's hosts share its file system) and prints it
cat >"$work/plan.yml" <<EOF
name: resume-vars
hosts: fleet
strategy:
  waves: [1]
steps:
  - name: show
    run: "echo {{ inventory_hostname }} color={{ color }} token={{ api_token }} >> $work/ran; echo saw color={{ color }} token={{ api_token }}; sleep 0.6"
    idempotent: true
EOF

lines() { if [ -f "$work/ran" ]; then wc -l <"$work/ran"; else echo 0; fi; }

"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" -e version=2 \
    -e color=blue -e api_token=$canary "$work/plan.yml" >"$work/deploy.out" 2>&1 &
pid=$!
for _ in $(seq 200); do
    [ "$(lines)" -ge 1 ] && break
    sleep 0.05
done
[ "$(lines)" -ge 1 ] || fail "no host ran its step: $(cat "$work/deploy.out")"
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
id=$(sed -n 's/^deploy \(DEP-[0-9-]*\) (epoch.*/\1/p' "$work/deploy.out")
[ -n "$id" ] || fail "no deploy id in: $(cat "$work/deploy.out")"
before=$(lines)
[ "$before" -lt 4 ] || fail "the deploy finished before it was killed"
echo "ok: $id killed -9 after $before step(s)"

# 1. No -e: refused before the lock and any host, naming the secret.
set +e
"$DROVER" resume "${flags[@]}" >"$work/r1.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "resume without the secret exited $rc, want 2: $(cat "$work/r1.out")"
grep -qF "drover resume: $id needs -e api_token=... again: secret variables are not journaled" \
    "$work/r1.out" || fail "refusal does not name the variable: $(cat "$work/r1.out")"
grep -q "color" "$work/r1.out" && fail "color is not secret, yet named: $(cat "$work/r1.out")"
sleep 1 # a step started anyway would have written by now
[ "$(lines)" = "$before" ] || fail "something ran after the refusal: $(cat "$work/ran")"
"$DROVER" history "${flags[@]:4}" >"$work/h1.out"
grep -q "$id.*running" "$work/h1.out" || fail "deploy no longer unfinished: $(cat "$work/h1.out")"
echo "ok: resume without -e api_token refused (exit 2), nothing ran"

# 2. Changing a journaled variable mid-deploy is refused.
set +e
"$DROVER" resume "${flags[@]}" -e api_token=$canary -e color=red "$id" >"$work/r2.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] || fail "resume -e color=red exited $rc, want 2: $(cat "$work/r2.out")"
grep -qF -- "-e color=red differs from color=blue journaled for $id" "$work/r2.out" ||
    fail "refusal does not name both values: $(cat "$work/r2.out")"
grep -qF -- "--override-var color" "$work/r2.out" || fail "no way out named: $(cat "$work/r2.out")"
[ "$(lines)" = "$before" ] || fail "something ran after the refusal: $(cat "$work/ran")"
echo "ok: resume -e color=red refused (exit 2)"

# 3. The secret given again: the remaining hosts see color=blue.
set +e
"$DROVER" resume -v "${flags[@]}" -e api_token=$canary >"$work/r3.out" 2>&1
rc=$?
set -e
[ "$rc" = 0 ] || fail "resume exited $rc: $(cat "$work/r3.out")"
after=$(tail -n +"$((before + 1))" "$work/ran")
[ -n "$after" ] || fail "resume ran nothing"
while read -r host rest; do
    [ "$rest" = "color=blue token=$canary" ] ||
        fail "$host ran with '$rest' on resume, want color=blue and the token"
done <<<"$after"
for x in 1 2 3 4; do
    grep -q "^h$x " "$work/ran" || fail "h$x never ran its step: $(cat "$work/ran")"
done
# the steps' own output, streamed by -v
n=$(grep -c "saw color=blue token=" "$work/r3.out" || true)
[ "$n" -ge "$(echo "$after" | wc -l)" ] || fail "step output lacks color=blue: $(cat "$work/r3.out")"
echo "ok: resume with -e api_token ran $(echo "$after" | wc -l) step(s) with color=blue"

# 4. The secret never reached the journal, show, or the record.
for f in "$state"/journal.db*; do
    ! grep -qaF "$canary" "$f" || fail "the secret is in $f"
    ! grep -qaF "$(printf %s "$canary" | base64)" "$f" || fail "the secret's base64 is in $f"
done
for fmt in text markdown json; do
    "$DROVER" show --state-dir "$state" --format "$fmt" "$id" >"$work/show.$fmt"
    ! grep -qF "$canary" "$work/show.$fmt" || fail "show --format $fmt prints the secret"
done
grep -qF "api_token=[redacted], color=blue" "$work/show.text" ||
    fail "show does not list the variables: $(grep -i variables "$work/show.text")"
grep -qF "**Variables:** api_token=[redacted], color=blue" "$work/show.markdown" ||
    fail "the record does not list the variables"
python3 - "$work/show.json" <<'EOF' || fail "show --json variables: $(cat "$work/show.json")"
import json, sys
v = json.load(open(sys.argv[1]))["variables"]
assert v == [{"name": "api_token", "value": "[redacted]", "secret": True},
             {"name": "color", "value": "blue", "secret": False}], v
EOF
echo "ok: the secret is in neither the journal's bytes nor show (text, markdown, json)"
