#!/usr/bin/env bash
# tests/integration/test_plan_render.sh: what the plan says is what the gate
# and the steps do, on a real sshd fleet with real demo-apps. expect.json
# values and expect.body are templates rendered per host: a gate on
# `json: { version: "{{ version }}" }` passes when the host serves that
# release and fails (naming the rendered value) when it serves another.
# A `{{` where a string is not a template is refused by `drover validate`
# with file:line:col. Ansible's magic variables: docs/plan.md's
# `when: group_names ...` example runs the step, and groups /
# inventory_hostname_short / play_hosts reach the host as rendered. A
# notify webhook is rendered once per deploy (its secret path from -e).
set -euo pipefail
export FLEET_NET=127.0.27 FLEET_PORT=22700
. "$TOP/tests/integration/lib/engine.sh"

engine_start 2

cat >"$WORK/gate.yml" <<'EOF'
name: plan-render
hosts: fleet
strategy: { waves: [1] }
steps:
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
health:
  checks:
    - name: health
      http: "http://{{ address }}:8080/health"
      expect:
        json: { status: healthy, version: "{{ version }}" }
        body: '"version":"{{ version }}"'
  interval: 100ms
  healthy_deadline: 3s
EOF

# 1. The host serves the release the plan names: the gate passes (before,
# the literal text "{{ version }}" was compared and never matched).
engine_reset
deploy_expect 0 "$WORK/logs/pass" "$WORK/gate.yml" -e version=2
versions_are 2 2

# 2. h1 keeps serving version 1 after its switch: the rendered value is
# named in the reason, and the deploy stops at the first wave.
engine_reset
behave 1 2 version=1
deploy_expect 1 "$WORK/logs/stale" "$WORK/gate.yml" -e version=2 -- \
    'json version: "1" \(want "2"\)' 'wave 1/2 stopped'
versions_are 1 1

# 3. `{{` in a string that is not a template: refused by validate, with
# file:line:col, exit 3.
cat >"$WORK/braces.yml" <<'EOF'
name: "shop-{{ env }}"
steps:
  - name: "pull {{ version }}"
    run: "docker pull app:{{ version }}"
health:
  checks:
    - http: "http://{{ address }}:8080/health"
      expect: { body_regex: "v{{ version }}" }
EOF
rc=0
"$DROVER" validate "$WORK/braces.yml" >"$WORK/logs/braces" 2>&1 || rc=$?
[ "$rc" = 3 ] || { cat "$WORK/logs/braces" >&2; fail "validate exited $rc, want 3"; }
expect_in "$WORK/logs/braces" \
    'braces.yml:1:7: name is not a template' \
    "braces.yml:3:11: step 'name' is not a template" \
    'braces.yml:8:29: expect.body_regex is not a template'

# 4. Magic variables on real hosts: docs/plan.md's when: example runs its
# step; what the host wrote is what Ansible would have rendered.
cat >"$WORK/magic.yml" <<'EOF'
name: plan-magic
hosts: fleet
strategy: { waves: [1] }
steps:
  - name: groups
    run: >-
      echo {{ group_names | string | quote }} {{ inventory_hostname_short }}
      {{ play_hosts | string | quote }} {{ groups['fleet'] | length }}
      {{ ansible_play_hosts[-1] }} > {{ app_dir }}/magic
    when: "group_names | default([]) | length > 0"
  - name: not in db
    run: "touch {{ app_dir }}/db"
    when: "'db' in group_names"
EOF
engine_reset
rm -f "$(fleet_host_dir 1)/magic" "$(fleet_host_dir 2)/magic"
deploy_expect 0 "$WORK/logs/magic" "$WORK/magic.yml"
[ "$(cat "$(fleet_host_dir 1)/magic")" = '["fleet"] h1 ["h1"] 2 h2' ] ||
    fail "h1 wrote '$(cat "$(fleet_host_dir 1)/magic")'"
[ "$(cat "$(fleet_host_dir 2)/magic")" = '["fleet"] h2 ["h2"] 2 h2' ] ||
    fail "h2 wrote '$(cat "$(fleet_host_dir 2)/magic")'"
[ ! -e "$(fleet_host_dir 1)/db" ] || fail "a step for db hosts ran on h1"
# 5. notify.webhook is a template too, rendered once per deploy: a hook
# server on loopback records the paths it is posted to.
hooks=$WORK/hooks
receiver_start 127.0.27.99:22710 "$hooks" --record path
cat >"$WORK/notify.yml" <<'EOF'
name: plan-notify
hosts: fleet
steps:
  - run: "true"
notify:
  - webhook: "http://127.0.27.99:22710/hook/{{ hook_path }}/{{ version }}"
    on: [success]
EOF
deploy_expect 0 "$WORK/logs/notify" "$WORK/notify.yml" -e version=2 -e hook_path=T0K
grep -qx "/hook/T0K/2" "$hooks" || fail "the webhook got $(cat "$hooks")"
echo "PASS test_plan_render"
