#!/usr/bin/env bash
# tests/reliability/fleet.sh: the mixed fleet of the random-operations
# driver (driver.py), started with the integration tests' own libraries
# (tests/integration/lib/fleet.sh and agents.sh), not a copy of them:
#
#   fleet.sh NSSH NAGENTS DIR
#
# starts NSSH sshd hosts h1..hN (FLEET_NET, FLEET_PORT, each with its
# demo-app on FLEET_APP_PORT) and NAGENTS drover-agents a1..aM (AGENTS_NET,
# AGENTS_PORT, each with its demo-app on FLEET_APP_PORT of its address and
# its app_dir under the agent's directory), writes DIR/inventory.ini (groups
# `fleet` and `agents`) and DIR/fleet.env (NAME=VALUE lines the driver
# reads), prints "ready", then obeys one command per line on stdin,
# answering "ok" or "error: ..." on stdout:
#
#   down HOST   stop the host's sshd (listener only: sessions in flight go
#               on) or its drover-agent (SIGTERM)
#   up HOST     start it again and wait until it listens
#   keep        keep the fleet's directories at exit (a failure to inspect)
#   stop        stop everything and exit (also on EOF)
set -uo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
DEMO_APP=${DEMO_APP:-$TOP/$BUILD/demo-app}
DROVER_AGENT=${DROVER_AGENT:-$TOP/$BUILD/drover-agent}
export DEMO_APP DROVER_AGENT
nssh=${1:?usage: fleet.sh NSSH NAGENTS DIR}
nagents=${2:?usage: fleet.sh NSSH NAGENTS DIR}
out=${3:?usage: fleet.sh NSSH NAGENTS DIR}
mkdir -p "$out"
FLEET_DIR=$out/fleet
. "$TOP/tests/integration/lib/fleet.sh"
. "$TOP/tests/integration/lib/agents.sh"

AGENTS_HOSTS=1 # each agent's app_dir and demo-app: lib/hostdir.sh
fleet_start "$nssh" >&2
agents_start "$nagents" >&2
# agents.sh took the EXIT trap: the fleet's stops everything, agents too
fleet_atexit agents_stop
trap fleet_on_exit EXIT
{
    cat "$FLEET_INVENTORY"
    cat "$AGENTS_DIR/inventory.ini"
} >"$out/inventory.ini"
{
    echo "FLEET_DIR=$FLEET_DIR"
    echo "FLEET_KEY=$FLEET_KEY"
    echo "FLEET_KNOWN_HOSTS=$FLEET_KNOWN_HOSTS"
    echo "FLEET_NET=$FLEET_NET"
    echo "FLEET_APP_PORT=$FLEET_APP_PORT"
    echo "AGENTS_DIR=$AGENTS_DIR"
    echo "AGENTS_NET=$AGENTS_NET"
    echo "AGENTS_KEY=$AGENTS_KEY"
    echo "KNOWN_AGENTS=$AGENTS_DIR/known_agents"
    echo "INVENTORY=$out/inventory.ini"
} >"$out/fleet.env"
echo ready

# host_down NAME / host_up NAME
host_down() {
    local x=${1:1} f pid
    case $1 in
    h*)
        f=$(fleet_host_dir "$x")/sshd.pid
        pid=$(cat "$f" 2>/dev/null) || return 1
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do
            ss -Hltn 2>/dev/null | awk '{print $4}' |
                grep -qxF "$(fleet_addr "$x"):$FLEET_PORT" || return 0
            sleep 0.1
        done
        return 1
        ;;
    a*)
        pid=$(agents_pid "$x") || return 1
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || return 0
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        ;;
    *) return 1 ;;
    esac
}
host_up() {
    local x=${1:1}
    case $1 in
    h*) (fleet_restart "$x") >&2 ;;
    a*)
        # in a subshell: agents_die must not end the fleet; the agent's
        # own error (it exited) is the answer
        if (agents_launch "$x") >&2; then
            AGENTS_PIDS+=("$(agents_pid "$x")")
        else
            UP_WHY="exited: $(tail -n 1 "$AGENTS_DIR/a$x/agent.log" | tr -d '\n')"
            return 1
        fi
        ;;
    *) return 1 ;;
    esac
}

while read -r cmd arg; do
    case $cmd in
    down) if host_down "$arg"; then echo ok; else echo "error: $arg did not go down"; fi ;;
    up)
        UP_WHY=
        if host_up "$arg"; then echo ok; else echo "error: $arg did not come up${UP_WHY:+: $UP_WHY}"; fi
        ;;
    keep)
        FLEET_KEEP=1 AGENTS_KEEP=1
        echo ok
        ;;
    stop) break ;;
    *) echo "error: unknown command $cmd" ;;
    esac
done
exit 0
