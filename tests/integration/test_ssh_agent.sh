#!/usr/bin/env bash
# tests/integration/test_ssh_agent.sh: with no key file, drover signs with
# the keys of a real ssh-agent ($SSH_AUTH_SOCK), skipping ones that are
# refused; an agent without a usable key fails with a clear message.
set -euo pipefail
. "$(dirname "$0")/lib/fleet.sh"
: "${DROVER:?DROVER must point at the drover binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

fleet_start 3
out=$FLEET_DIR/out
home=$FLEET_DIR/home # no ~/.ssh/id_ed25519: the agent is used
mkdir -p "$home"
eval "$(ssh-agent -s -a "$FLEET_DIR/agent.sock")" >/dev/null
fleet_atexit "kill $SSH_AGENT_PID 2>/dev/null"

run() {
    HOME=$home "$DROVER" run -i "$FLEET_INVENTORY" \
        --known-hosts "$FLEET_KNOWN_HOSTS" fleet -- 'echo via-agent' >"$out" 2>&1
}

# An agent holding no key the hosts accept.
ssh-keygen -q -t ed25519 -N '' -f "$FLEET_DIR/other" >/dev/null
ssh-add -q "$FLEET_DIR/other" 2>/dev/null
rc=0
run || rc=$?
[ $rc -eq 1 ] || { cat "$out"; fail "unaccepted agent key: exit $rc"; }
grep -q 'no ssh-agent key was accepted' "$out" || fail "message: $(cat "$out")"
ok "agent without an accepted key: clear failure"

# Add the fleet key: the first identity is refused, the second works.
ssh-add -q "$FLEET_KEY" 2>/dev/null
run || { cat "$out"; fail "agent auth"; }
[ "$(grep -c ': via-agent$' "$out")" -eq 3 ] || fail "output: $(cat "$out")"
grep -q '^3 hosts: 3 ok' "$out" || fail "summary: $(cat "$out")"
ok "authenticated through ssh-agent"
