# shellcheck shell=bash
# tests/integration/lib/runbook.sh: helpers for the runbook tests
# (tests/integration/test_runbook_*.sh), which deploy examples/runbooks/
# plans on a fleet of lib/fleet.sh with the stand-in commands on every
# host's PATH (FLEET_STANDINS=1) and the demo-app. Ground truth is what the
# hosts record: the version each demo-app serves and each stand-in call in
# the host's calls.log. Source it after lib/engine.sh, then:
#
#   rb_mark                        # remember each host's calls.log length
#   deploy_expect 0 out plan.yml -e version=2
#   rb_calls_are h1 "systemctl restart app" ...   # what ran there since
#   rb_serve h1 h2 -- 2            # what those hosts serve

. "$TOP/tests/integration/lib/engine.sh"
. "$TOP/tests/integration/lib/agents.sh"

RB_HOSTS=()

# rb_start N M: N sshd hosts h1..hN and M drover-agents a1..aM, each with
# the stand-ins (FLEET_STANDINS=1) and a demo-app; DFLAGS gets the agents'
# keys; everything stops when the test exits.
rb_start() {
    FLEET_STANDINS=1
    engine_start "$1"
    agents_start "$2"
    # agents.sh took the EXIT trap: the fleet's stops everything
    fleet_atexit agents_stop
    trap fleet_on_exit EXIT
    DFLAGS+=(--coordinator-key "$AGENTS_KEY" --known-agents "$AGENTS_DIR/known_agents")
    mkdir -p "$WORK/logs"
}

# rb_releases N [SUBDIR]: on every host of RB_HOSTS, releases 1..N, each
# with its VERSION and MIGRATION (its number), no BEHAVIOR, and SUBDIR
# made in it; one database for all hosts (db -> $WORK/db, at migration 1).
rb_releases() {
    local h d r
    mkdir -p "$WORK/db"
    echo 1 >"$WORK/db/alembic_version"
    for h in "${RB_HOSTS[@]}"; do
        d=$(rb_dir "$h")
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

# rb_record ID CHECKS [SECRET...]: `drover show ID --format json` holds no
# SECRET and passes CHECKS (python, the record in r; json_check).
rb_record() {
    local id=$1 checks=$2
    shift 2
    show_json "$id" >"$WORK/logs/$id.json" || fail "drover show $id"
    [ $# -eq 0 ] || expect_not_in "$WORK/logs/$id.json" "$@"
    json_check "$WORK/logs/$id.json" "$checks"
}

# rb_dir HOST: the directory (app_dir, $STANDIN_HOME) of host hX or aX.
rb_dir() {
    case $1 in
    h*) fleet_host_dir "${1#h}" ;;
    a*) agents_host_dir "${1#a}" ;;
    *) fail "rb_dir: no host $1" ;;
    esac
}

# rb_url HOST PATH: the URL of PATH on host HOST's demo-app.
rb_url() {
    local addr
    case $1 in
    h*) addr=$(fleet_addr "${1#h}") ;;
    a*) addr=$(agents_addr "${1#a}") ;;
    esac
    echo "http://$addr:$FLEET_APP_PORT$2"
}

# rb_serve HOST... -- V: every HOST's demo-app serves version V.
rb_serve() {
    local hosts=() h v
    while [ "$1" != -- ]; do
        hosts+=("$1")
        shift
    done
    for h in "${hosts[@]}"; do
        v=$(curl -s --max-time 2 "$(rb_url "$h" /version)" || true)
        [ "$v" = "$2" ] || fail "$h serves '$v', want $2"
    done
}

declare -A RB_MARK=()

# rb_mark: remember the length of every host's calls.log ($RB_HOSTS).
rb_mark() {
    local h f
    for h in "${RB_HOSTS[@]}"; do
        f=$(rb_dir "$h")/calls.log
        RB_MARK[$h]=$( [ -f "$f" ] && wc -l <"$f" || echo 0)
    done
}

# rb_calls HOST: the stand-in calls HOST made since rb_mark, one a line,
# without their cwd.
rb_calls() {
    local f
    f=$(rb_dir "$1")/calls.log
    [ -f "$f" ] || return 0
    tail -n +$((${RB_MARK[$1]:-0} + 1)) "$f" | cut -f1
}

# rb_calls_are HOST CALL...: HOST made exactly these calls, in this order,
# since rb_mark.
rb_calls_are() {
    local h=$1 want got
    shift
    want=$(printf '%s\n' "$@")
    got=$(rb_calls "$h")
    [ "$got" = "$want" ] ||
        fail "$h's calls since the mark:
$got
want:
$want"
}

# rb_told HOST LINE: the next matching stand-in call on HOST fails
# (standin-fail, `REGEX [EXIT] [once]`).
rb_told() { echo "$2" >>"$(rb_dir "$1")/standin-fail"; }

# rb_untold: no stand-in is told to fail any more.
rb_untold() {
    local h
    for h in "${RB_HOSTS[@]}"; do rm -f "$(rb_dir "$h")/standin-fail"; done
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
