#!/usr/bin/env bash
# tests/integration/test_store_select.sh: which store a command uses
# (docs/config.md). Ground truth is the journal itself: the deploys table
# of each state directory's journal.db says where a deploy was journaled.
# --store, $DROVER_STORE and the config file's store: each select the
# store; flag > environment > user file > system file; `sqlite:DIR` is
# `--state-dir DIR` (history, show, status read the same); two spellings
# that disagree, an etcd:// URL (no such backend in this build) and a bad
# config file are refused with exit 2, naming what to fix. Hosts are
# local (drover_transport=local): no sshd, no network.
set -euo pipefail
: "${DROVER:?DROVER must point at the drover binary}"
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset DROVER_STATE_DIR DROVER_STORE DROVER_CONFIG XDG_CONFIG_HOME
export HOME=$work/home
mkdir -p "$HOME/.config/drover"
user_cfg=$HOME/.config/drover/drover.yml
printf '[web]\nh1 drover_transport=local\n' >"$work/inv.ini"
printf 'name: sel\nsteps: [{run: "true"}]\n' >"$work/plan.yml"

# versions DIR: the versions journaled in DIR/journal.db, in deploy order
# (nothing when there is no journal).
versions() {
    [ -e "$1/journal.db" ] || return 0
    sqlite3 "$1/journal.db" 'SELECT version FROM deploys ORDER BY id' |
        tr '\n' ' ' | sed 's/ $//'
}

# deploy VERSION [FLAG...]: a deploy of version VERSION that must succeed.
deploy() {
    local v=$1
    shift
    "$DROVER" deploy -i "$work/inv.ini" -e "version=$v" "$@" "$work/plan.yml" \
        >"$work/out" 2>&1 || { cat "$work/out"; fail "deploy $v $*"; }
}

# journaled DIR WANT: DIR's journal holds exactly the versions WANT.
journaled() {
    local got
    got=$(versions "$1")
    [ "$got" = "$2" ] || fail "journal of $1 holds '$got', want '$2'"
}

# refused TEXT COMMAND...: drover COMMAND exits 2 and says TEXT.
refused() {
    local text=$1 rc=0
    shift
    "$DROVER" "$@" >"$work/out" 2>"$work/err" </dev/null || rc=$?
    [ $rc -eq 2 ] || { cat "$work/out" "$work/err"; fail "drover $*: exit $rc, want 2"; }
    grep -qF -- "$text" "$work/err" ||
        { cat "$work/err"; fail "drover $*: no '$text'"; }
}

# Each source alone selects the store.
deploy flag --store "sqlite:$work/flag"
journaled "$work/flag" flag
DROVER_STORE="sqlite:$work/env" deploy env
journaled "$work/env" env
DROVER_STATE_DIR="$work/envdir" deploy envdir
journaled "$work/envdir" envdir
printf '# this machine'"'"'s store\nstore: sqlite:%s\n' "$work/user" >"$user_cfg"
deploy user
journaled "$work/user" user
printf 'store: sqlite:%s\n' "$work/other" >"$work/other.yml"
DROVER_CONFIG=$work/other.yml deploy other # instead of the user's file
journaled "$work/other" other
journaled "$work/user" user
journaled "$work/flag" flag
journaled "$work/env" env
echo "ok: --store, \$DROVER_STORE, \$DROVER_STATE_DIR, the user's file and \$DROVER_CONFIG each select the store"

# Precedence: flag > environment > config file.
DROVER_STORE="sqlite:$work/env" deploy p1 --store "sqlite:$work/flag"
DROVER_STORE="sqlite:$work/env" deploy p2 --state-dir "$work/flag"
DROVER_STORE="sqlite:$work/env" deploy p3
DROVER_STATE_DIR="$work/envdir" deploy p4
journaled "$work/flag" "flag p1 p2"
journaled "$work/env" "env p3"
journaled "$work/envdir" "envdir p4"
journaled "$work/user" user
echo "ok: a flag beats the environment, the environment beats the config file"

# History from each source reads the store that source selects.
hist() { "$DROVER" history --json "$@" | python3 -c \
    'import json,sys; print(" ".join(d["version"] for d in reversed(json.load(sys.stdin))))'; }
[ "$(hist --store "sqlite:$work/flag")" = "flag p1 p2" ] || fail "history --store"
[ "$(DROVER_STORE="sqlite:$work/env" hist)" = "env p3" ] || fail "history \$DROVER_STORE"
[ "$(hist)" = user ] || fail "history with the user's file"
[ "$(DROVER_CONFIG=$work/other.yml hist)" = other ] || fail "history \$DROVER_CONFIG"
[ "$(DROVER_STORE="sqlite:$work/env" hist --state-dir "$work/envdir")" = "envdir p4" ] ||
    fail "history --state-dir over \$DROVER_STORE"
echo "ok: drover history from each source lists that store's deploys"

# sqlite:DIR is --state-dir DIR: the same deploys, record and status.
for cmd in "history --json" "show last --format json" "status --json"; do
    # shellcheck disable=SC2086
    a=$("$DROVER" $cmd --store "sqlite:$work/flag")
    # shellcheck disable=SC2086
    b=$("$DROVER" $cmd --state-dir "$work/flag")
    [ "$a" = "$b" ] || fail "$cmd: --store sqlite:DIR and --state-dir DIR differ"
done
"$DROVER" status --store "sqlite:$work/flag/" --state-dir "$work/flag" >"$work/out" ||
    fail "--store and --state-dir naming one directory refused"
grep -qx "state directory $work/flag" "$work/out" || { cat "$work/out"; fail "status: which directory"; }
echo "ok: --store sqlite:DIR is --state-dir DIR (history, show, status)"

# Two spellings of one level that disagree: refused, naming both.
for cmd in deploy resume promote abort rollback history show status; do
    args=()
    case $cmd in
    deploy) args=(-i "$work/inv.ini" "$work/plan.yml") ;;
    resume | history | status) ;;
    *) args=(DEP-1) ;;
    esac
    refused "drover $cmd: --store sqlite:$work/a and --state-dir $work/b name different stores: give one of them" \
        $cmd --store "sqlite:$work/a" --state-dir "$work/b" "${args[@]}"
    DROVER_STORE="sqlite:$work/a" DROVER_STATE_DIR="$work/b" \
        refused "drover $cmd: \$DROVER_STORE sqlite:$work/a and \$DROVER_STATE_DIR $work/b name different stores: unset one of them" \
        $cmd "${args[@]}"
    refused "drover $cmd: --store: store 'etcd://127.0.0.1:2379/drover': this build has no 'etcd' backend (its backends: sqlite:DIR)" \
        $cmd --store etcd://127.0.0.1:2379/drover "${args[@]}"
done
[ ! -e "$work/a" ] && [ ! -e "$work/b" ] || fail "a refused selection created a directory"
echo "ok: --store/--state-dir and \$DROVER_STORE/\$DROVER_STATE_DIR disagreeing, and etcd://, refused with exit 2 by every command"

# etcd:// from the environment and the config file; a URL that is not one.
DROVER_STORE=etcd://127.0.0.1:2379/drover \
    refused "drover history: \$DROVER_STORE: store 'etcd://127.0.0.1:2379/drover': this build has no 'etcd' backend (its backends: sqlite:DIR)" history
printf 'store: etcds://10.0.0.1:2379,10.0.0.2:2379/team\n' >"$user_cfg"
refused "drover deploy: $user_cfg:1:8: store 'etcds://10.0.0.1:2379,10.0.0.2:2379/team': this build has no 'etcds' backend (its backends: sqlite:DIR)" \
    deploy -i "$work/inv.ini" "$work/plan.yml"
refused "drover show: --store: store '$work/flag' is not a store URL (this build's backends: sqlite:DIR)" \
    show last --store "$work/flag"
echo "ok: etcd:// from \$DROVER_STORE or the config file, and a bare path, refused with exit 2"

# A bad config file: exit 2 at file:line:col, nothing journaled.
printf 'store: sqlite:%s\nstor: sqlite:%s\n' "$work/user" "$work/x" >"$user_cfg"
refused "drover deploy: $user_cfg:2:1: unknown key 'stor'; did you mean 'store'?" \
    deploy -i "$work/inv.ini" -e version=bad "$work/plan.yml"
printf 'state_dir: %s\n' "$work/x" >"$user_cfg"
refused "drover history: $user_cfg:1:1: unknown key 'state_dir': a state directory is the store 'sqlite:DIR' (store: sqlite:DIR)" history
printf 'store: "sqlite:%s\n' "$work/x" >"$user_cfg"
refused "drover status: $user_cfg:2:1: found unexpected end of stream" status
printf 'store: sqlite:relative/dir\n' >"$user_cfg"
refused "drover history: $user_cfg:1:8: store 'sqlite:relative/dir' names a relative directory" history
DROVER_CONFIG=$work/none.yml refused "drover history: \$DROVER_CONFIG: $work/none.yml: no such file" history
journaled "$work/user" user
[ ! -e "$work/x" ] && [ ! -e relative ] || fail "a bad config file created a directory"
# ... unless a flag or the environment names the store: files are not read
"$DROVER" history --store "sqlite:$work/user" >/dev/null || fail "--store read the config file"
echo "ok: a bad config file is refused at file:line:col with exit 2"
