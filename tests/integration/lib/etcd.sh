# tests/integration/lib/etcd.sh: a real etcd (Debian's etcd-server, 3.4)
# on loopback for the tests of coordinator/etcd.c: one member, or three for
# the failover tests. Member X listens on $ETCD_NET.X, clients on
# $ETCD_PORT and peers on $ETCD_PORT+1, with its own data directory under
# a mktemp directory. Source it from a test (bash), then:
#
#   etcd_start 3                # members m1..m3, waits until all are healthy
#   etcd_endpoints              # 127.0.80.1:24881,127.0.80.2:24881,...
#   etcd_kill 1 / etcd_resume 1 # stop member 1 (SIGKILL) / start it again
#   etcd_stop                   # also runs on exit, failure and Ctrl-C
#
# A missing etcd binary is a failure, not a skip (`make deps` installs it).
# Only processes this file started are stopped. Runs on one machine take
# turns through a lock on ETCD_NET:ETCD_PORT.

ETCD_NET=${ETCD_NET:-127.0.80}
ETCD_PORT=${ETCD_PORT:-24881}
ETCD_BIN=${ETCD_BIN:-etcd}
ETCD_N=0
ETCD_DIR=
ETCD_PIDS=()

etcd_die() {
    echo "etcd: error: $*" >&2
    exit 1
}

# etcd_addr X: member X's address; etcd_url X: its client URL.
etcd_addr() { echo "$ETCD_NET.$1"; }
etcd_url() { echo "http://$(etcd_addr "$1"):$ETCD_PORT"; }

# etcd_endpoints: HOST:PORT of every member, comma-separated.
etcd_endpoints() {
    local x out=
    for x in $(seq "$ETCD_N"); do
        out+="${out:+,}$(etcd_addr "$x"):$ETCD_PORT"
    done
    echo "$out"
}

# etcd_healthy X: member X answers /health with "true".
etcd_healthy() {
    curl -s -m 2 "$(etcd_url "$1")/health" 2>/dev/null |
        grep -q '"health":"true"'
}

# etcd_launch X: start member X (its data directory may already exist).
etcd_launch() {
    local x=$1 d=$ETCD_DIR/m$1 cluster= y
    for y in $(seq "$ETCD_N"); do
        cluster+="${cluster:+,}m$y=http://$(etcd_addr "$y"):$((ETCD_PORT + 1))"
    done
    mkdir -p "$d"
    "$ETCD_BIN" --name "m$x" --data-dir "$d/data" \
        --listen-client-urls "$(etcd_url "$x")" \
        --advertise-client-urls "$(etcd_url "$x")" \
        --listen-peer-urls "http://$(etcd_addr "$x"):$((ETCD_PORT + 1))" \
        --initial-advertise-peer-urls "http://$(etcd_addr "$x"):$((ETCD_PORT + 1))" \
        --initial-cluster "$cluster" --initial-cluster-state new \
        --initial-cluster-token "drover-test-$$" \
        --logger zap --log-outputs stderr {ETCD_LOCK_FD}>&- >"$d/etcd.log" 2>&1 &
    local pid=$!
    echo "$pid" >"$d/pid"
    ETCD_PIDS[$x]=$pid
}

# etcd_wait X: until member X is healthy (a cluster is healthy once it has
# a leader, so start every member before waiting on any).
etcd_wait() {
    local x=$1 pid=${ETCD_PIDS[$1]}
    for _ in $(seq 200); do
        etcd_healthy "$x" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    tail -n 30 "$ETCD_DIR/m$x/etcd.log" >&2
    etcd_die "member m$x did not become healthy"
}

etcd_stop() {
    # from the EXIT trap of a `set -e` test: a member already gone must
    # not end the clean-up early
    set +e
    local p
    for p in "${ETCD_PIDS[@]}"; do
        kill -CONT "$p" 2>/dev/null
        kill -TERM "$p" 2>/dev/null
    done
    for p in "${ETCD_PIDS[@]}"; do
        for _ in $(seq 50); do
            # our own child: a zombie once it has exited
            case $(ps -o stat= -p "$p" 2>/dev/null) in "" | Z*) break ;; esac
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null || true
    done
    ETCD_PIDS=()
    [ -n "$ETCD_DIR" ] && [ -z "${ETCD_KEEP:-}" ] && rm -rf "$ETCD_DIR"
    ETCD_DIR=
    return 0
}

# etcd_kill X: kill member X (SIGKILL) and wait for it to be gone.
etcd_kill() {
    local pid=${ETCD_PIDS[$1]}
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
    return 0
}

# etcd_resume X: start member X again on its data directory, wait for it.
etcd_resume() {
    etcd_launch "$1"
    etcd_wait "$1"
}

# etcd_start N: N members on $ETCD_NET.1..N, all healthy on return.
etcd_start() {
    local n=$1 x
    command -v "$ETCD_BIN" >/dev/null ||
        etcd_die "$ETCD_BIN not found: run 'make deps' (Debian's etcd-server)"
    command -v curl >/dev/null || etcd_die "curl not found: run 'make deps'"
    ETCD_N=$n
    exec {ETCD_LOCK_FD}>"/tmp/drover-etcd-$ETCD_NET-$ETCD_PORT.lock"
    if ! flock -n "$ETCD_LOCK_FD"; then
        echo "etcd: waiting for another etcd on $ETCD_NET.X:$ETCD_PORT" >&2
        flock -w 600 "$ETCD_LOCK_FD" || etcd_die "$ETCD_NET.X:$ETCD_PORT stayed busy"
    fi
    ETCD_DIR=$(mktemp -d)
    trap etcd_stop EXIT
    trap 'exit 130' INT TERM
    for x in $(seq "$n"); do
        etcd_launch "$x"
    done
    for x in $(seq "$n"); do
        etcd_wait "$x"
    done
}
