# shellcheck shell=bash
# tests/integration/lib/runbook.sh: the fleet of the runbook tests
# (tests/integration/test_runbook_*.sh), which deploy examples/runbooks/
# plans end to end: real sshd hosts (lib/fleet.sh) and real drover-agents
# (lib/agents.sh), each with its demo-app and the stand-in commands on its
# PATH (lib/standins, FLEET_STANDINS=1), and a coordinator directory for
# the stand-ins of `on: local` steps. Ground truth is what the hosts
# record: the version each demo-app serves and each stand-in call in the
# host's calls.log. Source it from a test (bash, set -euo pipefail), then
# either (hosts named h1..hN, a1..aM; inventories $FLEET_INVENTORY and
# $AGENTS_DIR/inventory.ini, for rb_group_lines):
#
#   rb_start 3 1                   # RB_HOSTS=(h1 h2 h3 a1)
#
# or (hosts named as a plan's group wants them; inventory $FLEET_INVENTORY,
# with `port` the demo-app's port):
#
#   rb_group sms sms1=ssh sms2=ssh sms3=agent
#
# and:
#   rb_coordinator gh              # the coordinator's stand-ins
#   rb_version_var SMS_VERSION     # the plan's release variable
#   rb_plan examples/runbooks/000_sms.yml "$WORK/sms.yml"  # short timings
#   rb_calls_reset                 # or rb_mark: calls from here on
#   deploy_expect 0 out plan.yml -e version=2
#   rb_calls_are h1 "systemctl restart app" ...   # what ran there since
#   rb_serve h1 h2 -- 2            # what those hosts serve
#   rb_check ID PY [SECRET...]     # the record (json_check), no SECRET
#   rb_true ID RESULT yes|no [PY]  # the record is true (record_check.py)
#
# Host NAME's directory (app_dir, STANDIN_HOME) is ${RB_DIR[NAME]} (rb_dir
# NAME), its demo-app ${RB_URL[NAME]} (rb_url NAME PATH). The name
# "coordinator" stands for $RB_COORD, the coordinator's STANDIN_HOME.

. "$TOP/tests/integration/lib/engine.sh"
. "$TOP/tests/integration/lib/agents.sh"

declare -A RB_DIR=() RB_URL=() RB_MARK=()
RB_HOSTS=()
RB_COORD=

# rb_start N M: N sshd hosts h1..hN and M drover-agents a1..aM, each with
# the stand-ins and a demo-app, in this order in RB_HOSTS; DFLAGS gets the
# agents' keys; $RB_COORD/bin first on PATH; everything stops when the
# test exits.
rb_start() {
    local x
    FLEET_STANDINS=1
    engine_start "$1"
    if [ "$2" -gt 0 ]; then
        agents_start "$2"
        # agents.sh took the EXIT trap: the fleet's stops both
        fleet_atexit agents_stop
        trap fleet_on_exit EXIT
        DFLAGS+=(--coordinator-key "$AGENTS_KEY"
            --known-agents "$AGENTS_DIR/known_agents")
    fi
    for ((x = 1; x <= $1; x++)); do
        RB_DIR[h$x]=$(fleet_host_dir "$x")
        RB_URL[h$x]=http://$(fleet_addr "$x"):$FLEET_APP_PORT
        RB_HOSTS+=("h$x")
    done
    for ((x = 1; x <= $2; x++)); do
        RB_DIR[a$x]=$(agents_host_dir "$x")
        RB_URL[a$x]=http://$(agents_addr "$x"):$AGENTS_APP_PORT
        RB_HOSTS+=("a$x")
    done
    mkdir -p "$WORK/logs"
    RB_COORD=$WORK/coordinator
    mkdir -p "$RB_COORD/bin"
    : >"$RB_COORD/calls.log"
    export PATH=$RB_COORD/bin:$PATH
}

# rb_group GROUP NAME=ssh|agent...: rb_start, the hosts renamed NAME, in
# this order, in RB_HOSTS and in group GROUP of a new inventory
# ($FLEET_INVENTORY, with `port` the demo-app's port).
rb_group() {
    local group=$1 spec name kind nssh=0 nagent=0 line h port
    shift
    for spec in "$@"; do
        case ${spec#*=} in
        ssh) nssh=$((nssh + 1)) ;;
        agent) nagent=$((nagent + 1)) ;;
        *) fail "rb_group: $spec: want NAME=ssh or NAME=agent" ;;
        esac
    done
    rb_start "$nssh" "$nagent"
    RB_HOSTS=()
    local inv=$WORK/runbook.ini s=0 a=0
    echo "[$group]" >"$inv"
    for spec in "$@"; do
        name=${spec%%=*} kind=${spec#*=}
        if [ "$kind" = ssh ]; then
            s=$((s + 1)) h=h$s port=$FLEET_APP_PORT
            line=$(grep "^$h " "$FLEET_DIR/inventory.ini")
        else
            a=$((a + 1)) h=a$a port=$AGENTS_APP_PORT
            line=$(grep "^$h " "$AGENTS_DIR/inventory.ini")
        fi
        RB_DIR[$name]=${RB_DIR[$h]} RB_URL[$name]=${RB_URL[$h]}
        echo "$name ${line#* } port=$port" >>"$inv"
        RB_HOSTS+=("$name")
    done
    FLEET_INVENTORY=$inv
}

# rb_coordinator [CMD...]: the coordinator's `on: local` steps find these
# stand-ins first on PATH (only these: drover runs the real git itself),
# with $RB_COORD as their STANDIN_HOME.
rb_coordinator() {
    local c
    for c in "$@"; do ln -sfn "$STANDINS_DIR/standin" "$RB_COORD/bin/$c"; done
    export STANDIN_HOME=$RB_COORD
}

# rb_version_var NAME: the stand-ins of every host and of the coordinator
# take the release `compose up` starts from environment variable NAME, the
# one the plan sets (SMS_VERSION, IPA_TAG: version-var in
# lib/standins/README.md).
rb_version_var() {
    local name
    for name in "${RB_HOSTS[@]}"; do echo "$1" >"${RB_DIR[$name]}/version-var"; done
    echo "$1" >"$RB_COORD/version-var"
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

# rb_dir NAME: the directory (app_dir, $STANDIN_HOME) of host NAME.
rb_dir() {
    [ -n "${RB_DIR[$1]:-}" ] || fail "rb_dir: no host $1"
    echo "${RB_DIR[$1]}"
}

# rb_url NAME PATH: the URL of PATH on host NAME's demo-app.
rb_url() { echo "${RB_URL[$1]}$2"; }

# rb_version NAME: the version host NAME's demo-app serves ("" if none).
rb_version() { curl -s --max-time 2 "${RB_URL[$1]}/version" || true; }

# rb_serve NAME... -- V: every host NAME's demo-app serves version V.
rb_serve() {
    local names=() name got
    while [ "$1" != -- ]; do
        names+=("$1")
        shift
    done
    for name in "${names[@]}"; do
        got=$(rb_version "$name")
        [ "$got" = "$2" ] || fail "$name serves '$got', want $2"
    done
}

# rb_served NAME...: NAME=VERSION for each host, as record_check.py's
# --served wants them.
rb_served() {
    local name
    for name in "$@"; do echo "$name=$(rb_version "$name")"; done
}

# rb_release V [BEHAVIOR LINE...]: release V on every host of RB_HOSTS,
# with these BEHAVIOR lines (replacing any).
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

# rb_releases N [SUBDIR]: on every host of RB_HOSTS, releases 1..N, each
# with its VERSION and MIGRATION (its number), no BEHAVIOR, and SUBDIR
# made in it; one database for all hosts (db -> $WORK/db, at migration 1).
rb_releases() {
    local name d r
    mkdir -p "$WORK/db"
    echo 1 >"$WORK/db/alembic_version"
    for name in "${RB_HOSTS[@]}"; do
        d=${RB_DIR[$name]}
        for ((r = 1; r <= $1; r++)); do
            mkdir -p "$d/releases/$r/${2:-}"
            echo "$r" >"$d/releases/$r/VERSION"
            echo "$r" >"$d/releases/$r/MIGRATION"
            rm -f "$d/releases/$r/BEHAVIOR"
        done
        rm -rf "$d/db"
        ln -sfn "$WORK/db" "$d/db"
    done
}

# rb_calls_log NAME: host NAME's calls.log (NAME "coordinator": $RB_COORD's).
rb_calls_log() {
    if [ "$1" = coordinator ]; then echo "$RB_COORD/calls.log"; else echo "${RB_DIR[$1]}/calls.log"; fi
}

# rb_calls_reset: empty every host's and the coordinator's calls.log.
rb_calls_reset() {
    local name
    for name in "${RB_HOSTS[@]}" coordinator; do : >"$(rb_calls_log "$name")"; done
    RB_MARK=()
}

# rb_mark: remember the length of every host's calls.log ($RB_HOSTS).
rb_mark() {
    local name f
    for name in "${RB_HOSTS[@]}"; do
        f=$(rb_calls_log "$name")
        RB_MARK[$name]=$( [ -f "$f" ] && wc -l <"$f" || echo 0)
    done
}

# rb_calls NAME: the stand-in calls host NAME made since rb_mark or
# rb_calls_reset, one a line, without their cwd.
rb_calls() {
    local f
    f=$(rb_calls_log "$1")
    [ -f "$f" ] || return 0
    tail -n +$((${RB_MARK[$1]:-0} + 1)) "$f" | cut -f1
}

# rb_calls_are NAME CALL...: host NAME made exactly these calls, in this
# order, since rb_mark or rb_calls_reset.
rb_calls_are() {
    local name=$1 want got
    shift
    want=$(printf '%s\n' "$@")
    got=$(rb_calls "$name")
    [ "$got" = "$want" ] ||
        fail "$name's stand-in calls:"$'\n'"$got"$'\n'"want:"$'\n'"$want"
}

# rb_told NAME LINE: the next matching stand-in call on host NAME fails
# (standin-fail, `REGEX [EXIT] [once]`).
rb_told() { echo "$2" >>"$(rb_dir "$1")/standin-fail"; }

# rb_untold: no stand-in of RB_HOSTS is told to fail any more.
rb_untold() {
    local name
    for name in "${RB_HOSTS[@]}"; do rm -f "${RB_DIR[$name]}/standin-fail"; done
}

# rb_group_lines VARS < INVENTORY: the host lines of INVENTORY (a group's
# header and comments left out), each followed by VARS, where {dir} stands
# for the host's directory.
rb_group_lines() {
    local vars=$1 line h
    while read -r line; do
        case $line in '' | '#'* | '['*) continue ;; esac
        h=${line%% *}
        echo "$line ${vars//\{dir\}/$(rb_dir "$h")}"
    done
}

# rb_check ID PY [SECRET...]: `drover show ID --format json`
# ($WORK/logs/ID.json) holds no SECRET and the python statements PY hold
# (json_check: `r` is the record; steps(PHASE) -> [(host, step name,
# outcome)] in record order, states() -> {host: state}, valid() -> the
# validation's health, prechecks and smoke).
rb_check() {
    local id=$1 py=$2
    shift 2
    show_json "$id" >"$WORK/logs/$id.json" || fail "drover show $id"
    [ $# -eq 0 ] || expect_not_in "$WORK/logs/$id.json" "$@"
    json_check "$WORK/logs/$id.json" "
def steps(phase):
    return [(s['host'], s['name'], s['outcome']) for s in r['steps'] if s['phase'] == phase]
def states():
    return {h['host']: h['state'] for h in r['hosts']}
def valid():
    return {k: r['validation'][k] for k in ('health', 'prechecks', 'smoke')}
$py"
}

# rb_true ID RESULT yes|no [PY]: deploy ID's record is true
# (lib/record_check.py: against what each host of RB_HOSTS serves now,
# RESULT, rolled back or not), and PY holds (rb_check).
rb_true() {
    show_json "$1" >"$WORK/logs/$1.json" || fail "drover show $1"
    # shellcheck disable=SC2046 # one NAME=VERSION a word
    python3 "$TOP/tests/integration/lib/record_check.py" "$WORK/logs/$1.json" \
        --served $(rb_served "${RB_HOSTS[@]}") --result "$2" --rolled-back "$3" ||
        fail "the record of $1 is not true"
    rb_check "$1" "${4:-}"
}

# rb_succeeded ID V PREV [PY]: deploy ID put V in place of PREV: its
# record is true, says success with every check PASS, and PY holds.
rb_succeeded() {
    rb_true "$1" success no "
assert (r['version'], r['previous_version']) == ('$2', '$3'), r['version']
assert valid() == {'health': 'PASS', 'prechecks': 'PASS', 'smoke': 'PASS'}, valid()
${4:-}"
}
