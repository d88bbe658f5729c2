# shellcheck shell=bash
# tests/integration/lib/runbook_fleet.sh: a fleet in the shape of a runbook
# plan (examples/runbooks/00N_*.yml) for the tests that deploy the plans end
# to end: real sshd hosts (lib/fleet.sh) and real drover-agents
# (lib/agents.sh), each with its demo-app and the stand-in commands
# (lib/standins, FLEET_STANDINS=1), named as the plan's group wants them.
# Source it from a test (bash, set -euo pipefail), then:
#
#   rb_start sms sms1=ssh sms2=ssh sms3=agent   # inventory $FLEET_INVENTORY
#   rb_plan examples/runbooks/000_sms.yml "$WORK/sms.yml"  # short timings
#   rb_calls_reset
#   deploy_expect 0 out "$WORK/sms.yml" -e version=2
#   rb_serves sms1=2 sms2=2 sms3=2            # what each demo-app serves
#   rb_calls sms1 >got                        # its stand-in calls, in order
#
# Host NAME's directory (app_dir, STANDIN_HOME) is ${RB_DIR[NAME]}, its
# demo-app ${RB_URL[NAME]}. The stand-ins rb_coordinator names run for the
# coordinator's `on: local` steps, with $RB_COORD as their STANDIN_HOME.

. "$TOP/tests/integration/lib/engine.sh"
. "$TOP/tests/integration/lib/agents.sh"
FLEET_STANDINS=1

declare -A RB_DIR=() RB_URL=()
RB_HOSTS=()
RB_COORD=

# rb_start GROUP NAME=ssh|agent...: start the fleet, hosts in this order in
# group GROUP of the inventory ($FLEET_INVENTORY, with `port` the demo-app's
# port).
rb_start() {
    local group=$1 spec name kind nssh=0 nagent=0 line
    shift
    for spec in "$@"; do
        case ${spec#*=} in
        ssh) nssh=$((nssh + 1)) ;;
        agent) nagent=$((nagent + 1)) ;;
        *) fail "rb_start: $spec: want NAME=ssh or NAME=agent" ;;
        esac
    done
    engine_start "$nssh"
    if [ "$nagent" -gt 0 ]; then
        agents_start "$nagent"
        # agents.sh took the EXIT trap: the fleet's stops both
        fleet_atexit agents_stop
        trap fleet_on_exit EXIT
        DFLAGS+=(--coordinator-key "$AGENTS_KEY"
            --known-agents "$AGENTS_DIR/known_agents")
    fi
    local inv=$WORK/runbook.ini s=0 a=0
    echo "[$group]" >"$inv"
    for spec in "$@"; do
        name=${spec%%=*} kind=${spec#*=}
        if [ "$kind" = ssh ]; then
            s=$((s + 1))
            line=$(grep "^h$s " "$FLEET_DIR/inventory.ini")
            RB_DIR[$name]=$(fleet_host_dir "$s")
            RB_URL[$name]=http://$(fleet_addr "$s"):$FLEET_APP_PORT
            echo "$name ${line#* } port=$FLEET_APP_PORT" >>"$inv"
        else
            a=$((a + 1))
            line=$(grep "^a$a " "$AGENTS_DIR/inventory.ini")
            RB_DIR[$name]=$(agents_host_dir "$a")
            RB_URL[$name]=http://$(agents_addr "$a"):$AGENTS_APP_PORT
            echo "$name ${line#* } port=$AGENTS_APP_PORT" >>"$inv"
        fi
        RB_HOSTS+=("$name")
    done
    FLEET_INVENTORY=$inv
    RB_COORD=$WORK/coordinator
    mkdir -p "$RB_COORD/bin"
    : >"$RB_COORD/calls.log"
    export STANDIN_HOME=$RB_COORD PATH=$RB_COORD/bin:$PATH
}

# rb_coordinator CMD...: the coordinator's `on: local` steps find these
# stand-ins first on PATH (only these: drover runs the real git itself).
rb_coordinator() {
    local c
    for c in "$@"; do ln -sfn "$STANDINS_DIR/standin" "$RB_COORD/bin/$c"; done
}

# rb_plan PLAN OUT: PLAN with test timings in OUT: probes every 100ms, a
# 300ms soak, a 2s deadline (health and smoke), 100ms between retries.
rb_plan() {
    sed -e '/^  interval:/d' -e '/^  min_healthy_time:/d' \
        -e '/^  healthy_deadline:/d' \
        -e 's/^health:$/health:\n  interval: 100ms\n  min_healthy_time: 300ms\n  healthy_deadline: 2s/' \
        -e 's/^\( *delay:\) .*/\1 100ms/' "$1" >"$2"
    grep -q '^  healthy_deadline: 2s$' "$2" || fail "rb_plan: no health block in $1"
}

# rb_release V [BEHAVIOR LINE...]: release V on every host, with these
# BEHAVIOR lines (replacing any).
rb_release() {
    local v=$1 name d
    shift
    for name in "${RB_HOSTS[@]}"; do
        d=${RB_DIR[$name]}/releases/$v
        mkdir -p "$d"
        echo "$v" >"$d/VERSION"
        printf '%s\n' "$@" >"$d/BEHAVIOR"
    done
}

# rb_calls_reset: empty every host's and the coordinator's calls.log.
rb_calls_reset() {
    local name
    for name in "${RB_HOSTS[@]}"; do : >"${RB_DIR[$name]}/calls.log"; done
    : >"$RB_COORD/calls.log"
}

# rb_calls NAME: host NAME's stand-in calls since rb_calls_reset, one a
# line, without the cwd (NAME "coordinator": those of rb_coordinator).
rb_calls() {
    local f=${RB_DIR[$1]:-}/calls.log
    [ "$1" = coordinator ] && f=$RB_COORD/calls.log
    cut -f1 "$f"
}

# rb_calls_are NAME CALL...: host NAME's calls are exactly CALL..., in order.
rb_calls_are() {
    local name=$1
    shift
    local want got
    want=$(printf '%s\n' "$@")
    got=$(rb_calls "$name")
    [ "$got" = "$want" ] ||
        fail "$name's stand-in calls:"$'\n'"$got"$'\n'"want:"$'\n'"$want"
}

# rb_serves NAME=V...: host NAME's demo-app serves release V.
rb_serves() {
    local spec name v got
    for spec in "$@"; do
        name=${spec%%=*} v=${spec#*=}
        got=$(curl -s --max-time 2 "${RB_URL[$name]}/version" || true)
        [ "$got" = "$v" ] || fail "$name serves '$got', want $v"
    done
}

# rb_record ID RESULT yes|no PY: deploy ID's record (`drover show --format
# json`) is true (lib/record_check.py: against what each host serves now,
# RESULT, rolled back or not), and the python statements PY hold
# (json_check: `r` is the record; steps(PHASE) -> [(host, step name,
# outcome)] in record order, states() -> {host: state}, valid() -> the
# validation's health, prechecks and smoke).
rb_record() {
    local name served=()
    show_json "$1" >"$WORK/record.json"
    for name in "${RB_HOSTS[@]}"; do
        served+=("$name=$(curl -s --max-time 2 "${RB_URL[$name]}/version" || true)")
    done
    python3 "$TOP/tests/integration/lib/record_check.py" "$WORK/record.json" \
        --served "${served[@]}" --result "$2" --rolled-back "$3" ||
        fail "the record of $1 is not true"
    json_check "$WORK/record.json" "
def steps(phase):
    return [(s['host'], s['name'], s['outcome']) for s in r['steps'] if s['phase'] == phase]
def states():
    return {h['host']: h['state'] for h in r['hosts']}
def valid():
    return {k: r['validation'][k] for k in ('health', 'prechecks', 'smoke')}
$4"
}

# rb_succeeded ID V PREV [PY]: deploy ID put V in place of PREV: its
# record is true, says success with every check PASS, and PY holds.
rb_succeeded() {
    rb_record "$1" success no "
assert (r['version'], r['previous_version']) == ('$2', '$3'), r['version']
assert valid() == {'health': 'PASS', 'prechecks': 'PASS', 'smoke': 'PASS'}, valid()
${4:-}"
}
