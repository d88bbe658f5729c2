# shellcheck shell=bash
# tests/integration/lib/hostdir.sh: the directory of one test host (an sshd
# host of lib/fleet.sh, or an agent host of lib/agents.sh), and the stand-in
# commands (lib/standins) its commands may find first on PATH. Sourced by
# fleet.sh and agents.sh.
#
# A host directory D holds releases/{1,2,3}/VERSION (release 3 is the broken
# one: releases/3/BEHAVIOR says ready=503) and current -> releases/1; the
# demo-app serves D (--dir D) and the stand-ins keep their state in it
# (STANDIN_HOME=D: calls.log, git-head, db/, ...).

# the stand-in commands and the PATH a host gives them
STANDINS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/standins" && pwd)
STANDINS_PATH=$STANDINS_DIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# hostdir_layout D: fill host directory D (D/releases/{1,2,3} must exist).
hostdir_layout() {
    local d=$1
    echo 1 >"$d/releases/1/VERSION"
    echo 2 >"$d/releases/2/VERSION"
    echo 3 >"$d/releases/3/VERSION"
    echo "ready=503" >"$d/releases/3/BEHAVIOR"
    ln -sfn "$d/releases/1" "$d/current"
}
