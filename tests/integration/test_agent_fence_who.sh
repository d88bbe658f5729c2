#!/usr/bin/env bash
# tests/integration/test_agent_fence_who.sh: drover-agents say who raised
# their epoch, as SSH hosts do (docs/state.md "A new state directory"), on
# real agents with two state directories:
#  1. a deploy from state directory B raises the agents' epoch, and each
#     agent records who did (B's state directory id, coordinator host,
#     deploy, when);
#  2. a deploy from a new state directory C (epoch 1) is refused by every
#     agent, and the refusal names B's state directory, host, deploy, the
#     epoch and the time, and gives `--take-over-fence 6`; no agent's job
#     store holds a job of C's deploy (ground truth: nothing ran);
#  1b. an ad-hoc `drover run` (epoch 0) still runs, and moves no fence;
#  3. `--take-over-fence 6` gets C through at epoch 7; B is then refused
#     even at the same epoch 7 (another state directory), naming C.
set -u
export AGENTS_NET=127.0.33 AGENTS_PORT=23350
. "$TOP/tests/integration/lib/agents.sh"

agents_start 2
work=$AGENTS_DIR/work
mkdir -p "$work"
flags=(-i "$AGENTS_DIR/inventory.ini" --coordinator-key "$AGENTS_KEY"
    --known-agents "$AGENTS_DIR/known_agents")

cat >"$work/plan.yml" <<EOF2
name: agent-fence-who
hosts: agents
strategy:
  waves: [2]
steps:
  - name: s1
    run: "echo \$WHO >> $work/{{ inventory_hostname }}.log"
    env: { WHO: "{{ who }}" }
EOF2

# a state directory whose epoch counter is already at $2
state_at() {
    mkdir -p -m 700 "$1"
    printf '%s\n' "$2" >"$1/epoch"
    chmod 600 "$1/epoch"
}

# deploy_from DIR WHO OUT [ARGS...]: deploy from state directory DIR;
# prints its exit status
deploy_from() {
    local dir=$1 who=$2 out=$3 rc=0
    shift 3
    "$DROVER" deploy "${flags[@]}" --state-dir "$dir" -e who="$who" "$@" \
        "$work/plan.yml" >"$out" 2>&1 || rc=$?
    echo "$rc"
}

# 1. B raises the agents' epoch to 6
state_at "$work/b" 5
rc=$(deploy_from "$work/b" B "$work/b.out")
[ "$rc" = 0 ] || { cat "$work/b.out"; agents_fail "B's deploy exited $rc"; }
bid=$(cat "$work/b/id")
bdep=$(sed -n 's/^deploy \(DEP-[^ ]*\) (epoch 6)$/\1/p' "$work/b.out")
[ -n "$bdep" ] || { cat "$work/b.out"; agents_fail "B's deploy is not at epoch 6"; }
host=$(hostname | tr -c 'A-Za-z0-9._:@\n-' _)
for x in 1 2; do
    f=$AGENTS_DIR/a$x/state/epoch
    [ "$(head -n 1 "$f")" = 6 ] || agents_fail "a$x's epoch: $(cat "$f")"
    who=$(sed -n 2p "$f")
    for w in "state_dir=$bid" "coordinator=$host" "deploy=$bdep" "at=20"; do
        case " $who" in *" $w"*) ;; *) agents_fail "a$x's epoch record lacks $w: $who" ;; esac
    done
done
echo "ok: the agents record who raised their epoch"

# an ad-hoc `drover run` (no lock, epoch 0) is not fenced out by a deploy's
# epoch, as over SSH, and leaves the fence as it is
"$DROVER" run -i "$AGENTS_DIR/inventory.ini" "${flags[@]}" agents -- \
    "echo adhoc >> $work/adhoc" >"$work/run.out" 2>&1 ||
    { cat "$work/run.out"; agents_fail "drover run was refused after a deploy"; }
[ "$(grep -cx adhoc "$work/adhoc" 2>/dev/null)" = 2 ] ||
    agents_fail "the ad-hoc command did not run on both agents: $(cat "$work/run.out")"
for x in 1 2; do
    [ "$(head -n 1 "$AGENTS_DIR/a$x/state/epoch")" = 6 ] || agents_fail "drover run moved a$x's epoch"
done
echo "ok: drover run is not fenced out and moves no fence"

# 2. a new state directory is refused, told who acted and the way through
rc=$(deploy_from "$work/c" C "$work/c.out")
cat "$work/c.out"
[ "$rc" != 0 ] || agents_fail "a new state directory was let through"
grep -q "^deploy DEP-[^ ]* (epoch 1)$" "$work/c.out" || agents_fail "C's deploy is not at epoch 1"
# as over SSH, the first refusal stops the fenced coordinator: no wave
# verdict, no rollback attempt against hosts that refuse it anyway
grep -q "stopped: host a[12]: fenced at epoch 6" "$work/c.out" ||
    agents_fail "C was not stopped at the first refusal"
grep -qi "rolling back" "$work/c.out" && agents_fail "the fenced coordinator tried a rollback"
refused_or_cut=
for x in 1 2; do
    line=$(grep "a$x: .*host a$x: fenced at epoch 6 by" "$work/c.out" | head -n 1)
    if [ -z "$line" ]; then
        # the first refusal stopped the deploy before this agent answered
        grep -qE "^  a$x +wave 1 +failed .*the deploy stopped" "$work/c.out" ||
            agents_fail "a$x was neither refused nor cut off"
        refused_or_cut="$refused_or_cut cut"
    else
        refused_or_cut="$refused_or_cut refused"
    fi
    [ -z "$line" ] || for w in "state_dir=$bid" "coordinator=$host" "deploy=$bdep" " at=20" \
        "ours is 1" "newer coordinator" "--take-over-fence 6"; do
        case "$line" in *"$w"*) ;; *) agents_fail "a$x's refusal lacks '$w': $line" ;; esac
    done
    # ground truth: the agent's job store holds no job of C's (job ids
    # end in the epoch: docs/agent.md)
    if ls "$AGENTS_DIR/a$x/state/jobs" | grep -E '^DEP-' | grep -qE ':1(\.running)?$'; then
        agents_fail "a$x's job store holds a job of C's deploy: $(ls "$AGENTS_DIR/a$x/state/jobs")"
    fi
    grep -q "^C" "$work/a$x.log" && agents_fail "a$x ran C's step"
    [ "$(head -n 1 "$AGENTS_DIR/a$x/state/epoch")" = 6 ] || agents_fail "a$x's epoch moved"
done
case $refused_or_cut in *refused*) ;; *) agents_fail "no agent's refusal was reported" ;; esac
echo "ok: a new state directory is refused with who acted and --take-over-fence"

# 3. taken over: C at epoch 7 passes; B at 7 too is refused, naming C
rc=$(deploy_from "$work/c" C "$work/c2.out" --take-over-fence 6)
[ "$rc" = 0 ] || { cat "$work/c2.out"; agents_fail "--take-over-fence 6 exited $rc"; }
cid=$(cat "$work/c/id")
for x in 1 2; do
    f=$AGENTS_DIR/a$x/state/epoch
    [ "$(head -n 1 "$f")" = 7 ] || agents_fail "a$x's epoch after the take-over: $(cat "$f")"
    sed -n 2p "$f" | grep -q "state_dir=$cid " || agents_fail "a$x's record does not name C: $(cat "$f")"
    tail -n 1 "$work/a$x.log" | grep -q "^C$" || agents_fail "C did not deploy a$x"
done
b2dep_jobs_before=$(ls "$AGENTS_DIR"/a*/state/jobs | wc -l)
rc=$(deploy_from "$work/b" B "$work/b2.out")
cat "$work/b2.out"
[ "$rc" != 0 ] || agents_fail "the coordinator taken over was let through"
grep -q "(epoch 7)" "$work/b2.out" || agents_fail "B's second deploy is not at epoch 7"
grep -q "fenced at epoch 7 by state_dir=$cid" "$work/b2.out" || agents_fail "B's refusal does not name C"
[ "$(ls "$AGENTS_DIR"/a*/state/jobs | wc -l)" = "$b2dep_jobs_before" ] || agents_fail "B's refused deploy left jobs"
for x in 1 2; do
    tail -n 1 "$work/a$x.log" | grep -q "^C$" || agents_fail "a$x ran B's step after the take-over"
done
echo "ok: the coordinator taken over is refused at the same epoch"
echo "PASS test_agent_fence_who"
