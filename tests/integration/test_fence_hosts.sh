#!/usr/bin/env bash
# tests/integration/test_fence_hosts.sh: one coordinator acts on a fleet,
# checked by the SSH hosts themselves (coordinator/fence.h), on a real
# sshd fleet with several state directories:
#  1. every remote action is fenced atomically with it: coordinator A is
#     stopped (SIGSTOP) mid-step, coordinator B (a higher epoch) deploys
#     every host, A is continued: A's next step is refused by the host and
#     A stops; the hosts' own step logs show no step of A after B's;
#  2. the host fence is not a coordinator's epoch counter: with the
#     hosts' fence directory the same as a state directory (what the old
#     defaults gave a root coordinator deploying to its own machine), a
#     deploy from another state directory leaves that counter alone, and
#     its coordinator is refused instead of outranking the newer one;
#  3. a new state directory is refused with who acted (state directory
#     id, coordinator host, epoch, deploy), and --take-over-fence EPOCH
#     lets it through, journaled; the old one is then refused.
set -euo pipefail
FLEET_NET=127.0.21 FLEET_PORT=22121 FLEET_APP_PORT=22122
. "$TOP/tests/integration/lib/fleet.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

fleet_start 3
work=$FLEET_DIR/work
mkdir -p "$work"
flags=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS")

# each step appends "<coordinator> <step>" to its host's own log
cat >"$work/plan.yml" <<EOF
name: fence-hosts
hosts: fleet
strategy:
  waves: [1]
steps:
  - name: s1
    run: "echo \$WHO s1 >> {{ app_dir }}/steps.log; sleep {{ nap }}"
    env: { WHO: "{{ who }}" }
  - name: s2
    run: "echo \$WHO s2 >> {{ app_dir }}/steps.log"
    env: { WHO: "{{ who }}" }
EOF

# a state directory whose epoch counter is already at $2
state_at() {
    mkdir -p -m 700 "$1"
    printf '%s\n' "$2" >"$1/epoch"
    chmod 600 "$1/epoch"
}

# 1. A stopped mid-step, B deploys everything, A continued
state_at "$work/b" 5
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" --state-dir "$work/a" \
    -e who=A -e nap=2 "$work/plan.yml" >"$work/a.out" 2>&1 &
apid=$!
for _ in $(seq 100); do
    grep -q "A s1" "$(fleet_host_dir 1)/steps.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "A s1" "$(fleet_host_dir 1)/steps.log" || { cat "$work/a.out"; fail "A never started"; }
kill -STOP "$apid"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" --state-dir "$work/b" \
    -e who=B -e nap=0 "$work/plan.yml" >"$work/b.out" 2>&1 || { cat "$work/b.out"; fail "B failed"; }
kill -CONT "$apid"
set +e
wait "$apid"
arc=$?
set -e
cat "$work/a.out"
[ "$arc" != 0 ] || fail "the stopped coordinator A succeeded after B"
grep -q "newer coordinator" "$work/a.out" || fail "A was not told it was fenced"
for x in 1 2 3; do
    log=$(fleet_host_dir $x)/steps.log
    echo "h$x: $(tr '\n' ',' <"$log")"
    awk '/^B/ { b = 1 } /^A/ && b { exit 1 }' "$log" || fail "h$x ran a step of A after B's: $(tr '\n' ',' <"$log")"
    grep -q "^B s2" "$log" || fail "B did not deploy h$x"
done
echo "ok: a stopped coordinator is refused at its next step on every host"

# 2. the hosts' fence directory is a coordinator's state directory
sed "s|drover_fence_dir=[^ ]*|drover_fence_dir=$work/shared|" "$FLEET_INVENTORY" >"$work/shared.ini"
state_at "$work/newer" 7
"$DROVER" deploy -i "$work/shared.ini" "${flags[@]}" --state-dir "$work/newer" \
    -e who=N -e nap=0 "$work/plan.yml" >"$work/newer.out" 2>&1 || { cat "$work/newer.out"; fail "the newer coordinator failed"; }
[ ! -e "$work/shared/epoch" ] || fail "a host wrote the coordinator's epoch counter: $(cat "$work/shared/epoch")"
set +e
"$DROVER" deploy -i "$work/shared.ini" "${flags[@]}" --state-dir "$work/shared" \
    -e who=S -e nap=0 "$work/plan.yml" >"$work/shared.out" 2>&1
src=$?
set -e
cat "$work/shared.out"
[ "$src" != 0 ] || fail "the coordinator whose state directory holds the host fence outranked the newer one"
grep -q "^S" "$(fleet_host_dir 1)/steps.log" && fail "S ran a step"
[ "$(cat "$work/shared/epoch")" = 1 ] || fail "S's epoch counter is $(cat "$work/shared/epoch"), want its own 1"
echo "ok: the host fence and the coordinator's epoch counter are apart"

# 3. a new state directory: refused with who acted, then taken over
bid=$(cat "$work/b/id")
set +e
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" --state-dir "$work/c" \
    -e who=C -e nap=0 "$work/plan.yml" >"$work/c.out" 2>&1
crc=$?
set -e
cat "$work/c.out"
[ "$crc" != 0 ] || fail "a new state directory was let through"
grep -q "fenced at epoch 6 by .*; ours is 1" "$work/c.out" || fail "the refusal does not give both epochs"
grep -q " at=20[0-9-]*T[0-9:]*Z" "$work/c.out" || fail "the refusal does not say when"
grep -q "state_dir=$bid" "$work/c.out" || fail "the refusal does not name B's state directory $bid"
grep -q "coordinator=$(hostname | tr -c 'A-Za-z0-9._:@\n-' _)" "$work/c.out" || fail "the refusal does not name the coordinator host"
grep -q "deploy=DEP-" "$work/c.out" || fail "the refusal does not name the deploy"
grep -q -- "--take-over-fence 6" "$work/c.out" || fail "the way through is not given"
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" --state-dir "$work/c" --take-over-fence 6 \
    -e who=C -e nap=0 "$work/plan.yml" >"$work/c2.out" 2>&1 || { cat "$work/c2.out"; fail "--take-over-fence 6 failed"; }
"$DROVER" show --state-dir "$work/c" --format json last >"$work/c.json"
grep -q "take-over-fence 6" "$work/c.json" || fail "the take-over is not journaled"
for x in 1 2 3; do
    f=$(fleet_host_dir $x)/fence/fence
    read -r ep rest <"$f"
    [ "$ep" = 7 ] || fail "h$x's fence is at $ep, want 7"
    case " $rest " in *" state_dir=$(cat "$work/c/id") "*) ;; *) fail "h$x's fence does not name C: $rest" ;; esac
    tail -1 "$(fleet_host_dir $x)/steps.log" | grep -q "^C s2" || fail "C did not deploy h$x"
done
# B's next deploy (epoch 6) is refused now
set +e
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" --state-dir "$work/b" \
    -e who=B -e nap=0 "$work/plan.yml" >"$work/b2.out" 2>&1
b2=$?
set -e
[ "$b2" != 0 ] && grep -q "newer coordinator" "$work/b2.out" || { cat "$work/b2.out"; fail "B was not refused after the take-over"; }
echo "ok: a new state directory is told who acted and takes over only when asked"

# 4. a step past its timeout is still killed on the host, detached or not
cat >"$work/slow.yml" <<EOF
name: fence-hosts
hosts: h1
steps:
  - name: stuck
    run: "trap '' TERM; sleep 31.7"
    timeout: 1s
EOF
set +e
"$DROVER" deploy -i "$FLEET_INVENTORY" "${flags[@]}" --state-dir "$work/c" \
    "$work/slow.yml" >"$work/slow.out" 2>&1
src=$?
set -e
[ "$src" != 0 ] && grep -q "timed out" "$work/slow.out" || { cat "$work/slow.out"; fail "the stuck step did not time out"; }
for _ in $(seq 30); do
    pgrep -f "sleep 31.7" >/dev/null || break
    sleep 0.1
done
! pgrep -f "sleep 31.7" >/dev/null || fail "the timed-out step still runs on the host"
echo "ok: a step past its timeout is killed on the host"
echo ok
