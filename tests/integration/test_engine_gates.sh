#!/usr/bin/env bash
# tests/integration/test_engine_gates.sh: health gates of `drover deploy`
# over a real sshd fleet with real demo-apps: a flapping release never
# completes its soak (min_healthy_time resets on every regression, the
# journal keeps each one) and fails at healthy_deadline; a slow start (503,
# then 200 within the deadline) passes; a host still serving the old build
# fails a version check; a hanging app (probe timeouts), a redirect (never
# followed) and a refused connection fail at the deadline with their
# reasons, and an app that comes up before the deadline passes.
set -euo pipefail
. "$TOP/tests/integration/lib/engine.sh"

engine_start 2

gate_plan() { # gate_plan FILE MIN_HEALTHY DEADLINE [CHECK YAML]
    cat >"$1" <<EOF
name: engine-gates
hosts: h1
steps:
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks:
    - name: ready
      http: "http://{{ address }}:8080/health/ready"
${4:-}
  interval: 100ms
  min_healthy_time: $2
  healthy_deadline: $3
EOF
}

# 1. flap_ms: /health/ready alternates 200/503 every 300ms; a soak of 1s
# never completes, the host fails at the deadline with the soak named.
engine_reset
behave 1 2 flap_ms=300
gate_plan "$WORK/flap.yml" 1s 3s
start=$(date +%s%N)
deploy_expect 1 "$WORK/logs/flap" "$WORK/flap.yml" -e version=2 -- \
    'h1: FAILED: health gate: ' \
    'healthy_deadline 3(\.00)?s' \
    'wave 1/1 stopped: 1 of 1 host failed, max_fail is 0'
elapsed=$((($(date +%s%N) - start) / 1000000))
[ "$elapsed" -ge 3000 ] || fail "the flapping host failed after ${elapsed}ms, before its 3s deadline"
id=$(deploy_id "$WORK/logs/flap")
show_json "$id" >"$WORK/logs/flap.json"
# the journal kept every verdict change: passes, each followed by a
# regression that reset the soak (a 300ms flap in 3s: several)
json_check "$WORK/logs/flap.json" '
ev = [e for e in r["health_evidence"] if e["host"] == "h1" and e["check"] != "gate"]
seq = [e["verdict"] for e in ev]
regressions = sum(1 for a, b in zip(seq, seq[1:]) if a == "pass" and b != "pass")
assert regressions >= 3, seq
gate = [e for e in r["health_evidence"] if e["check"] == "gate"]
assert gate and gate[-1]["verdict"] == "failed", gate
assert r["hosts"][0]["state"] == "failed", r["hosts"]
'

# 2. ready_after_ms: 503 for 1.2s after the switch, then 200: not yet, not
# failed; healthy within the 4s deadline after a 500ms soak.
engine_reset
behave 1 2 ready_after_ms=1200
gate_plan "$WORK/slow.yml" 500ms 4s
deploy_expect 0 "$WORK/logs/slow" "$WORK/slow.yml" -e version=2 --json -- \
    '"event":"check".*"verdict":"not yet".*"status":503' \
    '"event":"host","host":"h1","state":"healthy"'
versions_are 2 1
python3 - "$WORK/logs/slow" <<'PY' || fail "the slow start was not 503 first, then 200 for 500ms"
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
checks = [e for e in ev if e.get("event") == "check"]
assert checks[0]["status"] == 503, checks[0]
ok = [e for e in checks if e["verdict"] == "pass"]
assert ok and all(e["status"] == 503 for e in checks[:checks.index(ok[0])])
healthy = [e for e in ev if e.get("event") == "host" and e.get("state") == "healthy"][0]
assert healthy["gate_ms"] >= 1200 + 500, healthy
PY

# 3. version check: release 2 still serves version 1 (the old build).
engine_reset
behave 1 2 version=1
gate_plan "$WORK/version.yml" 0 1500ms '    - name: health
      http: "http://{{ address }}:8080/health"
      expect: { json: { status: healthy }, version: "{{ version }}" }'
deploy_expect 1 "$WORK/logs/version" "$WORK/version.yml" -e version=2 -- \
    'h1: FAILED: health gate: .*version "1" \(want "2"\)'
# the same plan passes once release 2 serves 2
engine_reset
deploy_expect 0 "$WORK/logs/version-ok" "$WORK/version.yml" -e version=2 -- \
    'deploy succeeded: 1 host: 1 healthy'
versions_are 2 1

# 4. hang=1: the app accepts and never answers; each probe times out (not
# yet) until the deadline fails the host.
engine_reset
behave 1 2 hang=1
gate_plan "$WORK/hang.yml" 0 1500ms
sed -i 's|^      http: "http://{{ address }}:8080/health/ready"$|&\n      timeout: 300ms|' "$WORK/hang.yml"
deploy_expect 1 "$WORK/logs/hang" "$WORK/hang.yml" -e version=2 -- \
    'h1: FAILED: health gate: ready: no answer within 300ms for 1.[0-9]+s \(healthy_deadline 1.50s\)'

# 5. redirect=1: a 302 to /login is not followed and is not healthy.
engine_reset
behave 1 2 redirect=1
gate_plan "$WORK/redirect.yml" 0 1s
deploy_expect 1 "$WORK/logs/redirect" "$WORK/redirect.yml" -e version=2 -- \
    'h1: FAILED: health gate: ready: redirect 302 to /login \(not followed\)'

# 6. a refused connection is "not yet": the app of h2 is down; it fails at
# the deadline, and passes when the app comes up before it.
engine_reset
d2=$(fleet_host_dir 2)
kill "$(cat "$d2/app.pid")"
for _ in $(seq 50); do
    curl -s --max-time 1 "http://$(fleet_addr 2):8080/version" >/dev/null || break
    sleep 0.05
done
sed 's/^hosts: h1$/hosts: h2/' "$WORK/slow.yml" >"$WORK/down.yml"
sed -i 's/healthy_deadline: 4s/healthy_deadline: 1500ms/; s/min_healthy_time: 500ms/min_healthy_time: 0/' "$WORK/down.yml"
deploy_expect 1 "$WORK/logs/down" "$WORK/down.yml" -e version=2 -- \
    'h2: FAILED: health gate: ready: connection refused for 1.[0-9]+s \(healthy_deadline 1.50s\)'
engine_reset
sed 's/healthy_deadline: 1500ms/healthy_deadline: 5s/' "$WORK/down.yml" >"$WORK/up.yml"
(
    sleep 2
    exec "$DEMO_APP" --listen "$(fleet_addr 2):8080" --dir "$d2" >>"$d2/app.log" 2>&1
) &
echo $! >"$d2/app.pid"
deploy_expect 0 "$WORK/logs/up" "$WORK/up.yml" -e version=2 --json -- \
    '"event":"check".*"verdict":"not yet".*"reason":"connection refused"' \
    '"event":"host","host":"h2","state":"healthy"'
versions_are 1 2
echo "ok"
