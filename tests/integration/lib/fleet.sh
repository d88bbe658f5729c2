# tests/integration/lib/fleet.sh: a loopback fleet of real OpenSSH sshd
# daemons, one per address 127.0.1.X port 2222 (X = 1..N, N <= 200), each
# with its own throwaway ed25519 host key and one demo-app on 127.0.1.X:8080
# ($DEMO_APP; leave it empty for a fleet without HTTP).
# Source it from a test (bash), then:
#
#   fleet_start 10          # hosts h1..h10; writes the files below
#   "$DROVER" run -i "$FLEET_DIR/inventory.ini" fleet --key "$FLEET_KEY" \
#       --known-hosts "$FLEET_KNOWN_HOSTS" -- true
#   fleet_stop              # also runs on exit, failure and Ctrl-C
#
# Files under $FLEET_DIR: inventory.ini (group `fleet`, hosts hX with
# ansible_host/port/user and app_dir), known_hosts, id_ed25519(.pub),
# hosts/hX/{sshd_config,ssh_host_ed25519_key,releases/{1,2,3},current}.
# Release 3 is the broken one (releases/3/BEHAVIOR: ready=503).
#
# FLEET_STANDINS=1 before fleet_start: every remote command and step on a
# host finds the stand-in commands of lib/standins (docker, systemctl, git,
# alembic, ...) first on PATH, with STANDIN_HOME set to the host's directory
# (sshd SetEnv); they record their calls in hosts/hX/calls.log
# (lib/standins/README.md).
#
# Root's ~/.bashrc on these machines runs `pyenv init` (~120 ms per command,
# docs/dependencies.md), so the daemons run in a private mount namespace where Debian's
# stock dot.bashrc is bound over /root/.bashrc: every remote command gets a
# clean shell. Only processes this file started are stopped (pid files, and
# their descendants by parent pid). Fleets on one machine take turns through
# a lock on the port, so tests of several engineers never collide.

FLEET_PORT=${FLEET_PORT:-2222}
FLEET_NET=${FLEET_NET:-127.0.1}
FLEET_APP_PORT=${FLEET_APP_PORT:-8080}
FLEET_N=0
FLEET_DIR=${FLEET_DIR:-}
FLEET_KEY=
FLEET_KNOWN_HOSTS=
FLEET_INVENTORY=
FLEET_OWN_DIR=0
FLEET_ATEXIT=()
FLEET_STOPPED=()
FLEET_STANDINS=${FLEET_STANDINS:-}
. "$(dirname "${BASH_SOURCE[0]}")/hostdir.sh"

fleet_log() { echo "fleet: $*" >&2; }
fleet_die() {
    echo "fleet: error: $*" >&2
    exit 1
}

# fleet_addr X: the address of host X.
fleet_addr() { echo "$FLEET_NET.$1"; }

# fleet_host_dir X: the directory of host X (app_dir).
fleet_host_dir() { echo "$FLEET_DIR/hosts/h$1"; }

# fleet_atexit CMD...: run CMD when the test exits (before the fleet stops).
fleet_atexit() { FLEET_ATEXIT+=("$*"); }

# fleet_descendants PID...: the pids and all their descendants, from one
# snapshot of the process table.
fleet_descendants() {
    ps -eo pid=,ppid= | awk -v roots="$*" '
        { kids[$2] = kids[$2] " " $1 }
        END {
            n = split(roots, q, " ")
            for (i = 1; i <= n; i++) {
                p = q[i]; print p
                m = split(kids[p], k, " ")
                for (j = 1; j <= m; j++) q[++n] = k[j]
            }
        }'
}

# fleet_kill_tree SIG PID...: signal the pids and all their descendants.
fleet_kill_tree() {
    local sig=$1
    shift
    [ $# -gt 0 ] || return 0
    # shellcheck disable=SC2046
    kill "-$sig" $(fleet_descendants "$@") 2>/dev/null || true
}

fleet_stop_pidfile() {
    local f=$1 pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null)
    rm -f "$f"
    case $pid in '' | *[!0-9]*) return 0 ;; esac
    FLEET_STOPPED+=("$pid")
}

# fleet_alive PID: the process exists and is not a zombie.
fleet_alive() {
    local st
    st=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "${st:1:1}" != Z ]
}

# fleet_stop: stop every sshd and demo-app of the fleet (and the sessions
# and commands under them) and remove the fleet directory if we made it.
fleet_stop() {
    local x f pid i
    FLEET_STOPPED=()
    for ((i = 0; i < ${#FLEET_ATEXIT[@]}; i++)); do
        eval "${FLEET_ATEXIT[$i]}" || true
    done
    FLEET_ATEXIT=()
    [ -n "$FLEET_DIR" ] && [ -d "$FLEET_DIR/hosts" ] || return 0
    for f in "$FLEET_DIR"/hosts/h*/sshd.pid "$FLEET_DIR"/hosts/h*/app.pid; do
        fleet_stop_pidfile "$f"
    done
    fleet_kill_tree TERM "${FLEET_STOPPED[@]}"
    # Give them a moment, then make sure.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for pid in "${FLEET_STOPPED[@]}"; do
            fleet_alive "$pid" && alive=1
        done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    local left=()
    for pid in "${FLEET_STOPPED[@]}"; do
        if fleet_alive "$pid"; then left+=("$pid"); fi
    done
    fleet_kill_tree KILL "${left[@]}"
    # Reap the demo-apps (children of this shell) so no zombie remains.
    for pid in "${FLEET_STOPPED[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$FLEET_OWN_DIR" = 1 ] && [ -z "${FLEET_KEEP:-}" ]; then
        rm -rf "$FLEET_DIR"
    fi
    FLEET_N=0
}

fleet_on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    fleet_stop
    exit $rc
}
trap fleet_on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fleet_start N: start N hosts h1..hN and wait until every sshd (and
# demo-app) accepts connections.
fleet_start() {
    local n=${1:?usage: fleet_start N} x
    [ "$n" -ge 1 ] && [ "$n" -le 200 ] || fleet_die "N must be 1..200, not $n"
    [ "$(id -u)" -eq 0 ] || fleet_die "the fleet needs root (sshd, root login)"
    [ -x /usr/sbin/sshd ] || fleet_die "/usr/sbin/sshd missing: run make deps"
    command -v ssh-keygen >/dev/null || fleet_die "ssh-keygen missing: run make deps"
    command -v unshare >/dev/null || fleet_die "unshare missing: run make deps"

    # One fleet per port on this machine at a time (held until exit).
    exec {FLEET_LOCK_FD}>"/tmp/drover-fleet-$FLEET_PORT.lock"
    if ! flock -n "$FLEET_LOCK_FD"; then
        fleet_log "waiting for another fleet on port $FLEET_PORT to stop"
        flock -w 600 "$FLEET_LOCK_FD" || fleet_die "port $FLEET_PORT stayed busy"
    fi

    if [ -z "$FLEET_DIR" ]; then
        FLEET_DIR=$(mktemp -d -t drover-fleet.$(printf "%06d" 0 | tr 0 X))
        FLEET_OWN_DIR=1
    fi
    mkdir -p "$FLEET_DIR/hosts"
    FLEET_DIR=$(cd "$FLEET_DIR" && pwd)
    chmod 700 "$FLEET_DIR"
    FLEET_N=$n
    FLEET_KEY=$FLEET_DIR/id_ed25519
    FLEET_KNOWN_HOSTS=$FLEET_DIR/known_hosts
    FLEET_INVENTORY=$FLEET_DIR/inventory.ini
    mkdir -p /run/sshd && chmod 755 /run/sshd

    [ -f "$FLEET_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C drover-fleet \
        -f "$FLEET_KEY" || fleet_die "ssh-keygen failed"
    cp "$FLEET_KEY.pub" "$FLEET_DIR/authorized_keys"
    : >"$FLEET_KNOWN_HOSTS"
    chmod 600 "$FLEET_KNOWN_HOSTS"
    {
        echo "# drover test fleet: $n hosts"
        echo "[fleet]"
    } >"$FLEET_INVENTORY"

    # Few processes per host: this runs for up to 200 hosts per test.
    local keys=() dirs=() d addr
    local starts="mount --bind /usr/share/base-files/dot.bashrc /root/.bashrc || exit 1"
    for ((x = 1; x <= n; x++)); do
        d=$FLEET_DIR/hosts/h$x
        dirs+=("$d/releases/1" "$d/releases/2" "$d/releases/3")
    done
    mkdir -p "${dirs[@]}"
    for ((x = 1; x <= n; x++)); do
        d=$FLEET_DIR/hosts/h$x
        addr=$FLEET_NET.$x
        hostdir_layout "$d"
        # Host keys are made in parallel below.
        [ -f "$d/ssh_host_ed25519_key" ] || keys+=("$d/ssh_host_ed25519_key")
        printf '%s\n' "ListenAddress $addr:$FLEET_PORT" \
            "HostKey $d/ssh_host_ed25519_key" \
            "PidFile $d/sshd.pid" \
            "AuthorizedKeysFile $FLEET_DIR/authorized_keys" \
            "PubkeyAuthentication yes" \
            "PasswordAuthentication no" \
            "KbdInteractiveAuthentication no" \
            "PermitRootLogin prohibit-password" \
            "StrictModes no" \
            "UsePAM no" \
            "UseDNS no" \
            "PrintMotd no" \
            "PrintLastLog no" \
            "LogLevel INFO" >"$d/sshd_config"
        [ "$FLEET_STANDINS" != 1 ] ||
            echo "SetEnv PATH=$STANDINS_PATH STANDIN_HOME=$d" >>"$d/sshd_config"
        echo "h$x ansible_host=$addr ansible_port=$FLEET_PORT ansible_user=root app_dir=$d drover_fence_dir=$d/fence" \
            >>"$FLEET_INVENTORY"
        starts+=$'\n'"/usr/sbin/sshd -f $d/sshd_config -E $d/sshd.log &"
    done
    local k
    for k in "${keys[@]}"; do
        ssh-keygen -q -t ed25519 -N '' -C fleet-host -f "$k" &
    done
    wait || fleet_die "ssh-keygen failed"
    local kt kb
    for ((x = 1; x <= n; x++)); do
        read -r kt kb _ <"$FLEET_DIR/hosts/h$x/ssh_host_ed25519_key.pub"
        echo "[$FLEET_NET.$x]:$FLEET_PORT $kt $kb"
    done >>"$FLEET_KNOWN_HOSTS"
    # sshd daemonizes and writes its pid file; the namespace lives on with it.
    # In parallel: each sshd takes ~40 ms to load and daemonize.
    unshare -m --propagation private sh -c "$starts"$'\nwait' ||
        fleet_die "could not start sshd (see $FLEET_DIR/hosts/h*/sshd.log)"

    # DEMO_APP set: it must be there (a missing peer is a failure); empty
    # or unset: a fleet without HTTP (bench/fanout).
    if [ -n "${DEMO_APP:-}" ] && [ ! -x "$DEMO_APP" ]; then
        fleet_die "no demo-app at $DEMO_APP: build it first (make)"
    fi
    if [ -n "${DEMO_APP:-}" ]; then
        for ((x = 1; x <= n; x++)); do
            d=$FLEET_DIR/hosts/h$x
            "$DEMO_APP" --listen "$FLEET_NET.$x:$FLEET_APP_PORT" --dir "$d" \
                >"$d/app.log" 2>&1 &
            echo $! >"$d/app.pid"
        done
    else
        fleet_log "DEMO_APP is not set: hosts serve no HTTP"
    fi
    fleet_wait_listening || fleet_die "the fleet did not come up"
    fleet_log "$n hosts up in $FLEET_DIR"
}

# fleet_wait_listening: wait (at most 10 s) until every address listens.
fleet_wait_listening() {
    local want x i missing
    for ((i = 0; i < 100; i++)); do
        local listening
        listening=$(ss -Hltn 2>/dev/null | awk '{print $4}')
        missing=0
        listening=" $(echo $listening) "
        for ((x = 1; x <= FLEET_N; x++)); do
            [[ $listening == *" $FLEET_NET.$x:$FLEET_PORT "* ]] || {
                missing=1
                break
            }
            if [ -f "$FLEET_DIR/hosts/h$x/app.pid" ]; then
                [[ $listening == *" $FLEET_NET.$x:$FLEET_APP_PORT "* ]] || {
                    missing=1
                    break
                }
            fi
        done
        [ $missing -eq 0 ] && return 0
        sleep 0.1
    done
    want=$(fleet_addr "$x")
    fleet_log "host h$x ($want) is not listening; logs in $(fleet_host_dir "$x")"
    return 1
}

# fleet_sshd_pid X: the pid of host X's listening sshd.
fleet_sshd_pid() { cat "$(fleet_host_dir "$1")/sshd.pid"; }

# fleet_restart X: restart host X's sshd (after a change to its config).
fleet_restart() {
    local x=$1 d
    d=$(fleet_host_dir "$x")
    FLEET_STOPPED=()
    fleet_stop_pidfile "$d/sshd.pid"
    fleet_kill_tree TERM "${FLEET_STOPPED[@]}"
    local i
    for ((i = 0; i < 50; i++)); do
        ss -Hltn 2>/dev/null | awk '{print $4}' |
            grep -qxF "$(fleet_addr "$x"):$FLEET_PORT" || break
        sleep 0.1
    done
    unshare -m --propagation private sh -c \
        "mount --bind /usr/share/base-files/dot.bashrc /root/.bashrc && /usr/sbin/sshd -f $d/sshd_config -E $d/sshd.log" ||
        fleet_die "could not restart sshd of h$x"
    fleet_wait_listening
}

# fleet_rekey X: give host X a new host key (the known_hosts entry is now
# wrong) and restart its sshd.
fleet_rekey() {
    local x=$1 d
    d=$(fleet_host_dir "$x")
    rm -f "$d/ssh_host_ed25519_key" "$d/ssh_host_ed25519_key.pub"
    ssh-keygen -q -t ed25519 -N '' -C "h$x-new" -f "$d/ssh_host_ed25519_key" ||
        fleet_die "ssh-keygen failed"
    fleet_restart "$x"
}

# fleet_fingerprint X: the SHA256 fingerprint of host X's current key.
fleet_fingerprint() {
    ssh-keygen -l -E sha256 -f "$(fleet_host_dir "$1")/ssh_host_ed25519_key.pub" |
        awk '{print $2}'
}

# fleet_ssh X CMD: run CMD on host X with OpenSSH (for checks in tests).
fleet_ssh() {
    local x=$1
    shift
    ssh -q -i "$FLEET_KEY" -o UserKnownHostsFile="$FLEET_KNOWN_HOSTS" \
        -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=5 \
        -p "$FLEET_PORT" "root@$(fleet_addr "$x")" "$@"
}
