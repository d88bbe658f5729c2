#!/usr/bin/env bash
# bench/agent.sh: drover's agent transport at scale, on this machine.
#   1. a round of `true` across 1,000 and 10,000 simulated agents
#      (drover-agent --simulate, --simulate-exec=none: the agent answers at
#      once, so the figures are the coordinator's and the protocol's cost);
#      the hard fd limit (20,000 per process) means 10,000 agents are split
#      over 4 simulator processes of 2,500;
#   2. a round of `true` across 100 real drover-agent processes (each runs
#      /bin/sh -c true for real), on 127.0.5.1..100 (tests/integration/lib).
# CURVE is on everywhere. For each: time to connect and authenticate every
# agent, round time from the first dispatch to the last result (min/median/
# max of ROUNDS rounds), coordinator CPU per host per round, and coordinator
# resident memory per host. Results go to stdout and bench/results/agent.txt.
# Usage: BUILD=build bench/agent.sh [ROUNDS]
#   AGENT_BENCH_SIM="1000x1 10000x4" (N x processes; "" for none)
#   AGENT_BENCH_REAL=100 (real agent processes; "" for none)
#   AGENT_BENCH_CONCURRENCY=N (handshakes at once; default drover's)
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${1:-20}
export DROVER=$PWD/$BUILD/drover DROVER_AGENT=$PWD/$BUILD/drover-agent TOP=$PWD
BIN=$BUILD/bench/agent_round
mkdir -p "$BUILD/bench" bench/results
make -s BUILD="$BUILD" "$BUILD/drover-agent" "$BUILD/libcoordinator.a" \
    "$BUILD/libinventory.a" "$BUILD/libproto.a" "$BUILD/libcommon.a"
# shellcheck disable=SC2046
cc -O2 -g -std=c11 -D_GNU_SOURCE -Icoordinator -Iinventory -Iproto -Icommon \
    $(pkg-config --cflags jansson) -o "$BIN" bench/agent_round.c \
    "$BUILD/libcoordinator.a" "$BUILD/libinventory.a" "$BUILD/libproto.a" \
    "$BUILD/libcommon.a" $(pkg-config --libs libssh2 libzmq libsodium msgpack libcurl \
    yaml-0.1 jansson sqlite3) -lm

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [ "$(type -t agents_stop)" = function ] && agents_stop
    rm -rf "$WORK"
}
trap cleanup EXIT

"$DROVER_AGENT" keygen -f "$WORK/coordinator.key" >/dev/null 2>&1
cp "$WORK/coordinator.key.pub" "$WORK/authorized_keys"

# simulate N P: N simulated agents in P processes, on 127.0.3.X ports 20000+.
simulate() {
    local n=$1 p=$2 per=$(($1 / $2)) i
    : >"$WORK/known_agents"
    PIDS=()
    for i in $(seq "$p"); do
        "$DROVER_AGENT" --foreground --simulate "$per" --simulate-exec=none \
            --listen "tcp://127.0.3.$i:20000" --simulate-known "$WORK/known.$i" \
            --authorized-keys "$WORK/authorized_keys" --state-dir "$WORK/state" \
            2>"$WORK/sim.$i.log" &
        PIDS+=($!)
    done
    for i in $(seq "$p"); do
        for _ in $(seq 600); do
            grep -q "simulated agents on" "$WORK/sim.$i.log" && break
            sleep 0.05
        done
        grep -q "simulated agents on" "$WORK/sim.$i.log" || {
            cat "$WORK/sim.$i.log" >&2
            exit 1
        }
        cat "$WORK/known.$i" >>"$WORK/known_agents"
    done
}

stop_sim() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}

{
    echo "# drover agent transport benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, CURVE on"
    for spec in $(echo "${AGENT_BENCH_SIM-1000x1 10000x4}"); do
        n=${spec%x*} procs=${spec#*x}
        simulate "$n" "$procs"
        printf 'simulated-%s (%s processes, exec none): ' "$n" "$procs"
        "$BIN" "$WORK/known_agents" "$WORK/coordinator.key" "$ROUNDS" true
        stop_sim
    done
    real=${AGENT_BENCH_REAL-100}
    if [ -n "$real" ]; then
        AGENTS_NET=${AGENTS_NET:-127.0.5}
        . tests/integration/lib/agents.sh
        trap cleanup EXIT
        agents_start "$real"
        printf 'real-%s (%s drover-agent processes, sh -c true): ' "$real" "$real"
        "$BIN" "$AGENTS_DIR/known_agents" "$AGENTS_KEY" "$ROUNDS" true
    fi
} | tee bench/results/agent.txt
