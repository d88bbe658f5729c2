#!/usr/bin/env bash
# tests/integration/test_fleet.sh: the test fleet keeps its contract:
# inventory, known_hosts and key files, per-host releases with current ->
# releases/1, a demo-app per host serving the current version, a clean
# login shell (no pyenv), and fleet_stop leaving no process behind.
set -euo pipefail
. "$(dirname "$0")/lib/fleet.sh"
: "${DEMO_APP:?DEMO_APP must point at the demo-app binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

fleet_start 5
inv=$FLEET_INVENTORY
grep -q '^\[fleet\]$' "$inv" || fail "no [fleet] group"
for x in 1 2 3 4 5; do
    d=$(fleet_host_dir "$x")
    grep -qE "^h$x ansible_host=127.0.1.$x ansible_port=2222 ansible_user=root app_dir=$d( |$)" "$inv" ||
        fail "inventory line of h$x"
    grep -q "^\[127.0.1.$x\]:2222 ssh-ed25519 " "$FLEET_KNOWN_HOSTS" || fail "known_hosts h$x"
    [ "$(readlink "$d/current")" = "$d/releases/1" ] || fail "h$x current"
    [ "$(cat "$d/releases/2/VERSION")" = 2 ] || fail "h$x release 2"
    grep -qx 'ready=503' "$d/releases/3/BEHAVIOR" || fail "h$x release 3 BEHAVIOR"
    v=$(curl -fsS --max-time 5 "http://127.0.1.$x:8080/version") || fail "h$x /version"
    [[ $v == *1* ]] || fail "h$x /version says '$v'"
done
[ -f "$FLEET_KEY" ] && [ -f "$FLEET_KEY.pub" ] || fail "client key"
ok "inventory, known_hosts, releases and demo-apps"

# A deploy step switches a host's release; demo-app follows at once.
d=$(fleet_host_dir 2)
fleet_ssh 2 "ln -sfn $d/releases/2 $d/current"
v=$(curl -fsS --max-time 5 "http://127.0.1.2:8080/version")
[[ $v == *2* ]] || fail "h2 /version after the switch says '$v'"
ok "release switch over ssh is served"

# The login shell is clean: root's pyenv-running ~/.bashrc is not read.
[ "$(fleet_ssh 1 'echo ${PYENV_ROOT:-clean}')" = clean ] || fail "remote shell read root's .bashrc"
ok "clean remote shell"

pids=$(cat "$FLEET_DIR"/hosts/h*/sshd.pid "$FLEET_DIR"/hosts/h*/app.pid)
dir=$FLEET_DIR
fleet_stop
for p in $pids; do
    if fleet_alive "$p"; then # zombies wait for init to reap them
        ps -o pid,ppid,stat,cmd -p "$p" >&2 || true
        fail "process $p survived fleet_stop"
    fi
done
[ ! -e "$dir" ] || fail "fleet directory left behind"
ok "fleet_stop stops everything it started"
