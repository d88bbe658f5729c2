# shellcheck shell=bash
# tests/integration/lib/engine.sh: helpers for the rolling-engine tests
# (tests/integration/test_engine_*.sh) on the loopback sshd fleet of
# lib/fleet.sh. Source it from a test (bash, set -euo pipefail), then:
#
#   engine_start 6                    # fleet_start 6; $WORK, $DFLAGS
#   engine_reset                      # every host back on release 1
#   deploy_expect 1 out plan.yml -e version=2 -- 'wave 3/3 stopped'
#   versions_are 1 1 2 2 2 2          # what /version answers, h1..hN
#
# One fleet per test file: cases reset the hosts between them instead of
# starting a new fleet (fleets on one machine take turns on a lock).

. "$TOP/tests/integration/lib/fleet.sh"

WORK=
DFLAGS=()

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# engine_start N: a fleet of N hosts, $WORK for plans and logs, $DFLAGS
# with the fleet's key, known_hosts and its own state directory.
engine_start() {
    fleet_start "$1"
    WORK=$FLEET_DIR/work
    mkdir -p "$WORK"
    DFLAGS=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS"
        --state-dir "$FLEET_DIR/state")
}

# receiver_start ADDR:PORT LOG [OPTION...]: lib/receiver.py on ADDR:PORT
# (a webhook, a status page: each POST one line of LOG; OPTIONs say what
# it answers), its output in LOG.out, stopped when the test exits; returns
# once it listens.
receiver_start() {
    local log=$2 pid
    rm -f "$log"
    python3 "$TOP/tests/integration/lib/receiver.py" "$@" >"$log.out" 2>&1 &
    pid=$!
    fleet_atexit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
    for _ in $(seq 100); do
        [ -e "$log" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    cat "$log.out" >&2
    fail "no receiver on $1"
}

# engine_reset: every host on release 1, releases as fleet_start made them
# (only release 3 misbehaves), no files left by earlier cases in host dirs,
# and an empty $WORK/logs.
engine_reset() {
    local x d
    for ((x = 1; x <= FLEET_N; x++)); do
        d=$(fleet_host_dir "$x")
        rm -f "$d/releases/1/BEHAVIOR" "$d/releases/2/BEHAVIOR" "$d/scheduler"
        echo "ready=503" >"$d/releases/3/BEHAVIOR"
        ln -sfn "$d/releases/1" "$d/current"
    done
    rm -rf "$WORK/logs"
    mkdir -p "$WORK/logs"
}

# behave X RELEASE LINE...: release RELEASE of host X misbehaves (BEHAVIOR).
behave() {
    local x=$1 r=$2
    shift 2
    printf '%s\n' "$@" >"$(fleet_host_dir "$x")/releases/$r/BEHAVIOR"
}

# deploy_expect STATUS OUT PLAN [DEPLOY ARGS...] [-- GREP...]: run
# `drover deploy` on the fleet with PLAN, its output (stdout and stderr) in
# OUT; fail unless it exits STATUS and OUT matches every GREP (grep -E).
deploy_expect() {
    local want=$1 out=$2 plan=$3 rc=0 pat
    shift 3
    local args=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        args+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    "$DROVER" deploy -i "$FLEET_INVENTORY" "${DFLAGS[@]}" "${args[@]}" \
        "$plan" >"$out" 2>&1 || rc=$?
    if [ "$rc" != "$want" ]; then
        cat "$out" >&2
        fail "$(basename "$plan"): drover deploy exited $rc, want $want"
    fi
    for pat in "$@"; do
        grep -Eq -- "$pat" "$out" || {
            cat "$out" >&2
            fail "$(basename "$plan"): output lacks /$pat/"
        }
    done
}

# expect_in FILE GREP...: every GREP (grep -E) matches FILE.
expect_in() {
    local f=$1 pat
    shift
    for pat in "$@"; do
        grep -Eq -- "$pat" "$f" || {
            cat "$f" >&2
            fail "$f lacks /$pat/"
        }
    done
}

# expect_not_in FILE GREP...: no GREP (grep -E) matches FILE.
expect_not_in() {
    local f=$1 pat
    shift
    for pat in "$@"; do
        if grep -Eq -- "$pat" "$f"; then
            grep -En -- "$pat" "$f" >&2
            fail "$f matches /$pat/"
        fi
    done
}

# host_version X: what host X's demo-app says it serves.
host_version() {
    curl -s --max-time 2 "http://$(fleet_addr "$1"):$FLEET_APP_PORT/version" || true
}

# versions_are V1 V2 ...: host hX serves version VX.
versions_are() {
    local x v got=() have=""
    for ((x = 1; x <= $#; x++)); do
        v=$(host_version "$x")
        got+=("$v")
        have+=" h$x=$v"
    done
    x=0
    for v in "$@"; do
        [ "${got[$x]}" = "$v" ] ||
            fail "h$((x + 1)) serves version '${got[$x]}', want $v (fleet:$have)"
        x=$((x + 1))
    done
}

# show_json ID: `drover show ID --format json` of the fleet's state dir.
show_json() {
    "$DROVER" show --state-dir "$FLEET_DIR/state" --format json "$1"
}

# deploy_id OUT: the deploy id a text deploy output announced.
deploy_id() {
    grep -Eo 'DEP-[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{3}' "$1" | head -n 1
}

# json_check FILE PYTHON: run the python expression-statements in PYTHON
# with `r` bound to the JSON document in FILE; an AssertionError fails.
json_check() {
    python3 - "$1" "$2" <<'PY' || fail "json check failed on $1"
import json, sys
r = json.load(open(sys.argv[1]))
try:
    exec(sys.argv[2])
except AssertionError as e:
    print("assertion failed:", e, file=sys.stderr)
    print(json.dumps(r, indent=1)[:6000], file=sys.stderr)
    sys.exit(1)
PY
}
