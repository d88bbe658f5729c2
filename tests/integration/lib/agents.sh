# tests/integration/lib/agents.sh: a loopback fleet of real drover-agent
# daemons, one per address 127.0.2.X port 7447 (X = 1..N), each with its own
# CURVE key pair, state directory and config file, all trusting one
# throwaway coordinator key. Source it from a test (bash), then:
#
#   agents_start 3              # agents a1..a3; writes the files below
#   agents_exec 1 --job j1 -- echo hi     # drover-agent exec against a1
#   agents_stop                 # also runs on exit, failure and Ctrl-C
#
# Files under $AGENTS_DIR: coordinator.key(.pub) (the coordinator's pair),
# known_agents (every agent pinned), inventory.ini (group `agents`, hosts
# aX with ansible_host, drover_transport=agent, drover_agent_port,
# drover_agent_key), and aX/{agent.conf,agent.key(.pub),authorized_keys,
# state/,agent.log,pid}. Only processes this file started are stopped.
# Fleets on one machine take turns through a lock on AGENTS_NET:AGENTS_PORT.
#
# AGENTS_HOSTS=1 (or FLEET_STANDINS=1) before agents_start: each agent aX
# also gets a host directory aX/host laid out like a fleet host's
# (lib/hostdir.sh: releases/{1,2,3}, current), given as app_dir in the
# inventory, and, when DEMO_APP is set, a demo-app serving it on
# $AGENTS_NET.X:$AGENTS_APP_PORT (default FLEET_APP_PORT, else 8080).
# FLEET_STANDINS=1 also puts the stand-in commands of lib/standins first on
# the PATH of every job, with aX/host as their STANDIN_HOME: drover-agent
# gives a job only the environment the coordinator sends (PATH defaults to
# /usr/local/sbin:...), so the agent runs in a private mount namespace where
# aX/standin-bin (links to the stand-ins and a `standin-home` file naming
# aX/host) is bound over /usr/local/sbin (needs root).

AGENTS_NET=${AGENTS_NET:-127.0.2}
AGENTS_PORT=${AGENTS_PORT:-7447}
AGENTS_APP_PORT=${AGENTS_APP_PORT:-${FLEET_APP_PORT:-8080}}
AGENTS_N=0
AGENTS_DIR=
AGENTS_KEY=
AGENTS_PIDS=()
AGENTS_APP_PIDS=()
. "$(dirname "${BASH_SOURCE[0]}")/hostdir.sh"

# agents_hosts: 1 when agents get host directories (AGENTS_HOSTS or
# FLEET_STANDINS is 1).
agents_hosts() { [ "${AGENTS_HOSTS:-}" = 1 ] || [ "${FLEET_STANDINS:-}" = 1 ]; }

# agents_host_dir X: the host directory of agent X (app_dir).
agents_host_dir() { echo "$AGENTS_DIR/a$1/host"; }

agents_die() {
    echo "agents: error: $*" >&2
    exit 1
}

# agents_addr X: the address of agent X.
agents_addr() { echo "$AGENTS_NET.$1"; }

# agents_endpoint X: its ZeroMQ endpoint.
agents_endpoint() { echo "tcp://$(agents_addr "$1"):$AGENTS_PORT"; }

# agents_pid X: the pid of agent X.
agents_pid() { cat "$AGENTS_DIR/a$1/pid"; }

agents_stop() {
    local p
    for p in "${AGENTS_APP_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    AGENTS_APP_PIDS=()
    for p in "${AGENTS_PIDS[@]}"; do
        kill -CONT "$p" 2>/dev/null
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${AGENTS_PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
    done
    AGENTS_PIDS=()
    # under `make check` a sanitizer report in any agent fails the test
    local bad=0 log
    for log in "$AGENTS_DIR"/*/agent.log; do
        [ -e "$log" ] || continue
        if grep -qE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$log"; then
            echo "agents: sanitizer report in $log:" >&2
            cat "$log" >&2
            bad=1
        fi
    done
    [ -n "$AGENTS_DIR" ] && [ -z "${AGENTS_KEEP:-}" ] && rm -rf "$AGENTS_DIR"
    AGENTS_DIR=
    [ $bad -eq 0 ] || exit 1
}

# agents_write_conf X: agent X's config file.
agents_write_conf() {
    local d=$AGENTS_DIR/a$1
    cat >"$d/agent.conf" <<CONF
# agent a$1 of the test fleet
listen = $(agents_endpoint "$1")
key = $d/agent.key
authorized_keys = $d/authorized_keys
state_dir = $d/state
kill_grace = 500ms
output_max = ${AGENTS_OUTPUT_MAX:-65536}
heartbeat = 500ms
CONF
}

# agents_launch X: start agent X (config already written) and wait for it.
agents_launch() {
    local d=$AGENTS_DIR/a$1
    if [ "${FLEET_STANDINS:-}" = 1 ]; then
        # unshare execs sh, sh execs the agent: $! is the agent's pid
        STANDIN_HOME=$(agents_host_dir "$1") PATH=$STANDINS_PATH \
            unshare -m --propagation private sh -c \
            'mount --bind "$1" /usr/local/sbin && shift && exec "$@"' sh \
            "$d/standin-bin" "$DROVER_AGENT" --foreground \
            --config "$d/agent.conf" >"$d/agent.log" 2>&1 &
    else
        "$DROVER_AGENT" --foreground --config "$d/agent.conf" \
            >"$d/agent.log" 2>&1 &
    fi
    local pid=$!
    echo "$pid" >"$d/pid"
    AGENTS_PIDS+=("$pid")
    for _ in $(seq 100); do
        grep -qs "listening on" "$d/agent.log" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$d/agent.log" >&2
    agents_die "agent a$1 did not start"
}

# agents_start N: N agents on 127.0.2.1..N.
agents_start() {
    local n=$1 x
    AGENTS_N=$n
    # fleets on one machine take turns on the addresses (other engineers'
    # runs, CI): the lock is released when the test's shell exits
    exec {AGENTS_LOCK_FD}>"/tmp/drover-agents-$AGENTS_NET-$AGENTS_PORT.lock"
    if ! flock -n "$AGENTS_LOCK_FD"; then
        echo "agents: waiting for another fleet on $AGENTS_NET.X:$AGENTS_PORT" >&2
        flock -w 600 "$AGENTS_LOCK_FD" || agents_die "$AGENTS_NET.X:$AGENTS_PORT stayed busy"
    fi
    AGENTS_DIR=$(mktemp -d)
    trap agents_stop EXIT
    trap 'exit 130' INT TERM
    AGENTS_KEY=$AGENTS_DIR/coordinator.key
    "$DROVER_AGENT" keygen -f "$AGENTS_KEY" >/dev/null 2>&1 ||
        agents_die "keygen failed"
    : >"$AGENTS_DIR/known_agents"
    {
        echo "[agents]"
        for x in $(seq "$n"); do
            local d=$AGENTS_DIR/a$x
            mkdir -p "$d"
            "$DROVER_AGENT" keygen -f "$d/agent.key" >/dev/null 2>&1 ||
                agents_die "keygen a$x"
            cp "$AGENTS_KEY.pub" "$d/authorized_keys"
            local pub
            pub=$(cat "$d/agent.key.pub")
            echo "$(agents_addr "$x"):$AGENTS_PORT $pub" \
                >>"$AGENTS_DIR/known_agents"
            echo "a$x ansible_host=$(agents_addr "$x") drover_transport=agent drover_agent_port=$AGENTS_PORT drover_agent_key=\"'$pub'\"$(
                agents_hosts && echo " app_dir=$(agents_host_dir "$x")")"
        done
    } >"$AGENTS_DIR/inventory.ini"
    for x in $(seq "$n"); do
        agents_hosts && agents_make_host "$x"
        agents_write_conf "$x"
        agents_launch "$x"
    done
    agents_hosts && [ -n "${DEMO_APP:-}" ] && agents_wait_apps
    return 0
}

# agents_make_host X: agent X's host directory, its stand-in links
# (FLEET_STANDINS=1) and its demo-app (DEMO_APP set).
agents_make_host() {
    local d h n
    d=$AGENTS_DIR/a$1
    h=$(agents_host_dir "$1")
    mkdir -p "$h/releases/1" "$h/releases/2" "$h/releases/3"
    hostdir_layout "$h"
    if [ "${FLEET_STANDINS:-}" = 1 ]; then
        mkdir -p "$d/standin-bin"
        for n in "$STANDINS_DIR"/*; do # the links are the stand-ins' names
            [ -L "$n" ] && ln -sfn "$STANDINS_DIR/standin" "$d/standin-bin/${n##*/}"
        done
        echo "$h" >"$d/standin-bin/standin-home"
    fi
    [ -z "${DEMO_APP:-}" ] || agents_app_start "$1" "$h" "$AGENTS_APP_PORT"
}

# agents_app_start X DIR PORT: a demo-app ($DEMO_APP) for agent X serving
# DIR on its address:PORT (log aX/app.log), stopped by agents_stop.
agents_app_start() {
    [ -x "$DEMO_APP" ] || agents_die "no demo-app at $DEMO_APP: build it first (make)"
    "$DEMO_APP" --listen "$(agents_addr "$1"):$3" --dir "$2" \
        >"$AGENTS_DIR/a$1/app.log" 2>&1 &
    AGENTS_APP_PIDS+=($!)
}

# agents_wait_apps: wait (at most 5 s) until every agent's demo-app
# answers on AGENTS_APP_PORT.
agents_wait_apps() {
    local x port=$AGENTS_APP_PORT
    for x in $(seq "$AGENTS_N"); do
        for _ in $(seq 100); do
            curl -sf "http://$(agents_addr "$x"):$port/version" \
                >/dev/null && continue 2
            sleep 0.05
        done
        agents_die "the demo-app of a$x did not come up (see $AGENTS_DIR/a$x/app.log)"
    done
}

# agents_exec X ARGS...: drover-agent exec against agent X with the
# coordinator key; extra ARGS as for `drover-agent exec`.
agents_exec() {
    local x=$1
    shift
    "$DROVER_AGENT" exec --connect "$(agents_endpoint "$x")" \
        --server-key "$AGENTS_DIR/a$x/agent.key.pub" --key "$AGENTS_KEY" \
        --connect-timeout 3000 "$@"
}

# agents_fail MSG: print the agents' logs and fail.
agents_fail() {
    local x
    echo "FAIL: $*" >&2
    for x in $(seq "$AGENTS_N"); do
        echo "--- a$x/agent.log" >&2
        tail -n 20 "$AGENTS_DIR/a$x/agent.log" >&2
    done
    exit 1
}
