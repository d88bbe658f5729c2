#!/usr/bin/env bash
# tests/integration/test_ssh_config_address.sh: `{{ address }}` is where
# drover connects, also when ~/.ssh/config's HostName maps an alias. An
# inventory names hosts only by aliases that do not resolve (one through
# ansible_host); the config maps them to the fleet's addresses. `drover
# plan --json` shows the mapped addresses (the aliases with --ssh-config
# none); `drover deploy --canary` passes its health gates on
# http://{{ address }}:8080/health/ready and `drover promote` renders the
# same addresses; a bad config stops plan and validate with file:line:col.
set -euo pipefail
. "$(dirname "$0")/lib/fleet.sh"
: "${DROVER:?DROVER must point at the drover binary}"
: "${DEMO_APP:?DEMO_APP must point at the demo-app binary (tests/run.sh sets it)}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

fleet_start 3
home=$FLEET_DIR/home
work=$FLEET_DIR/work
mkdir -p "$home/.ssh" "$work"
chmod 700 "$home/.ssh"
cp "$FLEET_KEY" "$home/.ssh/fleet_key"
unset SSH_AUTH_SOCK
for a in app1 app2 app3; do
    ! getent hosts "$a" >/dev/null || fail "$a resolves here: the test needs names that do not"
done

cat >"$home/.ssh/config" <<CFG
Host app1
    HostName 127.0.1.1
Host app2
    HostName 127.0.1.2
Host app3
    HostName 127.0.1.3
Host app*
    Port 2222
    User root
    IdentityFile ~/.ssh/fleet_key
    UserKnownHostsFile $FLEET_KNOWN_HOSTS
CFG
cat >"$work/alias.ini" <<INV
[fleet]
app1 app_dir=$(fleet_host_dir 1) drover_fence_dir=$(fleet_host_dir 1)/fence
app2 app_dir=$(fleet_host_dir 2) drover_fence_dir=$(fleet_host_dir 2)/fence
web3 ansible_host=app3 app_dir=$(fleet_host_dir 3) drover_fence_dir=$(fleet_host_dir 3)/fence
INV
cat >"$work/plan.yml" <<'PLAN'
name: ssh-config-address
hosts: fleet
strategy:
  waves: [1, 2]
steps:
  - name: switch
    run: "echo {{ address }} >> {{ app_dir }}/address.log; ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
    timeout: 10s
health:
  checks:
    - http: "http://{{ address }}:8080/health/ready"
  interval: 100ms
  healthy_deadline: 3s
PLAN

# 1. drover plan --json: the mapped addresses, from the default config.
HOME=$home "$DROVER" plan --json -i "$work/alias.ini" -e version=2 "$work/plan.yml" \
    >"$work/plan.json" || fail "plan: $(cat "$work/plan.json")"
python3 - "$work/plan.json" <<'PY' || fail "plan --json: $(cat "$work/plan.json")"
import json, sys
r = json.load(open(sys.argv[1]))
want = {"app1": ("127.0.1.1", "app1"), "app2": ("127.0.1.2", "app2"),
        "web3": ("127.0.1.3", "app3")}
for name, (addr, alias) in want.items():
    h = r["hosts"][name]
    assert h["address"] == addr and h["ssh_alias"] == alias, (name, h)
    assert "http://%s:8080/health/ready" % addr in json.dumps(r["health"][name]), r["health"][name]
PY
HOME=$home "$DROVER" plan -i "$work/alias.ini" -e version=2 "$work/plan.yml" >"$work/plan.txt"
grep -q 'web3 (wave 2, 127.0.1.3)' "$work/plan.txt" || fail "plan text: $(cat "$work/plan.txt")"
# --ssh-config none: the inventory's aliases, as before
HOME=$home "$DROVER" plan --json --ssh-config none -i "$work/alias.ini" -e version=2 \
    "$work/plan.yml" >"$work/none.json"
python3 - "$work/none.json" <<'PY' || fail "--ssh-config none: $(cat "$work/none.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["hosts"]["app1"]["address"] == "app1", r["hosts"]
assert "ssh_alias" not in r["hosts"]["app1"], r["hosts"]
assert r["hosts"]["web3"]["address"] == "app3", r["hosts"]
PY
ok "drover plan shows the config's HostName as address (the alias with --ssh-config none)"

# 2. A bad config stops plan and validate with file:line:col.
printf 'Host app1\n    Port http\n' >"$work/bad.conf"
for cmd in plan validate; do
    rc=0
    HOME=$home "$DROVER" "$cmd" --ssh-config "$work/bad.conf" -i "$work/alias.ini" \
        -e version=2 "$work/plan.yml" >"$work/out" 2>"$work/err" || rc=$?
    [ $rc -eq 3 ] || fail "$cmd with a bad config: exit $rc, want 3: $(cat "$work/err")"
    grep -qF "$work/bad.conf:2:10: Port 'http' is not a port number (1-65535)" "$work/err" ||
        fail "$cmd: bad config message: $(cat "$work/err")"
done
HOME=$home "$DROVER" validate -i "$work/alias.ini" -e version=2 "$work/plan.yml" >"$work/out" ||
    fail "validate: $(cat "$work/out")"
ok "a bad config stops plan and validate -i with file:line:col"

# 3. deploy --canary: the canary's gate probes 127.0.1.1; promote goes on
# with the same addresses for the others.
state=(--state-dir "$FLEET_DIR/state")
rc=0
HOME=$home "$DROVER" deploy -i "$work/alias.ini" "${state[@]}" -e version=2 --canary \
    "$work/plan.yml" >"$work/deploy" 2>&1 || rc=$?
[ $rc -eq 6 ] || { cat "$work/deploy"; fail "deploy --canary: exit $rc, want 6 (paused)"; }
grep -q 'canary verified' "$work/deploy" || fail "canary not verified: $(cat "$work/deploy")"
id=$(grep -o 'DEP-[0-9]*-[0-9]*-[0-9]*-[0-9]*' "$work/deploy" | head -1)
[ -n "$id" ] || fail "no deploy id: $(cat "$work/deploy")"
rc=0
HOME=$home "$DROVER" promote "${state[@]}" "$id" >"$work/promote" 2>&1 || rc=$?
[ $rc -eq 0 ] || { cat "$work/promote"; fail "promote: exit $rc"; }
for x in 1 2 3; do
    v=$(curl -sf "http://$(fleet_addr "$x"):8080/version")
    [ "$v" = 2 ] || fail "host $x serves version '$v', want 2"
    seen=$(cat "$(fleet_host_dir "$x")/address.log")
    [ "$seen" = "$(fleet_addr "$x")" ] || fail "host $x's step saw address '$seen'"
done
ok "deploy --canary and promote pass their gates on the config's HostName"
