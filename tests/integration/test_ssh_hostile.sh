#!/usr/bin/env bash
# tests/integration/test_ssh_hostile.sh: no SSH peer can stall the others.
# Hostile stand-in servers (lib/hostile_sshd.py: an endless banner,
# garbage, accept-and-silence, a banner then silence, a byte-per-second
# drip, endless packets before the key exchange, a reset in mid key
# exchange) sit in the same `drover run` and the same `drover deploy` as
# three healthy sshd hosts: the healthy ones finish on time (what the hosts
# record), drover's CPU stays low, and each hostile host fails with its
# own reason naming the phase, within the connect timeout. SIGTERM (a CI
# system cancelling the job) during such a run or deploy takes effect
# within seconds: running commands are killed on their hosts, hosts still
# connecting are dropped, the deploy is journaled as paused; during a
# rollback Ctrl-C lets it finish and SIGTERM cuts it (reported, exit 5).
set -euo pipefail
export FLEET_NET=127.0.23 FLEET_PORT=22300
. "$TOP/tests/integration/lib/engine.sh"
: "${DROVER:?DROVER must point at the drover binary}"

ok() { echo "ok: $*"; }

engine_start 3
HNET=$FLEET_NET
HPORT=22301
MODES=(flood garbage silent mute drip ignore reset)

# The hostile servers, one address each: 127.0.23.101 flood, .102 garbage...
specs=()
{
    cat "$FLEET_INVENTORY"
    echo "[hostile]"
} >"$WORK/inv.ini"
for i in "${!MODES[@]}"; do
    m=${MODES[$i]}
    addr=$HNET.$((101 + i))
    specs+=("$addr:$HPORT:$m")
    mkdir -p "$WORK/hostile/$m"
    echo "$m ansible_host=$addr ansible_port=$HPORT ansible_user=root app_dir=$WORK/hostile/$m" \
        >>"$WORK/inv.ini"
done
python3 "$TOP/tests/integration/lib/hostile_sshd.py" "${specs[@]}" \
    2>"$WORK/hostile.log" &
hostile_pid=$!
fleet_atexit "kill $hostile_pid 2>/dev/null"
for _ in $(seq 50); do
    [ "$(ss -Hltn | grep -c ":$HPORT ")" -ge ${#MODES[@]} ] && break
    sleep 0.1
done
[ "$(ss -Hltn | grep -c ":$HPORT ")" -ge ${#MODES[@]} ] ||
    fail "the hostile servers are not listening: $(cat "$WORK/hostile.log")"

# timed OUT CMD...: run CMD (at most 30 s) with its output in OUT; sets RC,
# MS (wall time) and CPU_MS (user + system time of CMD).
timed() {
    local out=$1 t0
    shift
    t0=$(date +%s%N)
    RC=0
    bash -c '"$@" >"$0" 2>&1; rc=$?; times >"$0.times"; exit $rc' \
        "$out" timeout -s KILL 30 "$@" || RC=$?
    MS=$((($(date +%s%N) - t0) / 1000000))
    # times: the shell's line, then its children's ("0m0.120s 0m0.030s")
    CPU_MS=$(tail -n 1 "$out.times" | awk '{
        ms = 0
        for (i = 1; i <= 2; i++) {
            split($i, a, "m"); sub("s", "", a[2]); ms += (a[1] * 60 + a[2]) * 1000
        }
        printf "%d", ms }')
}

# started_by X LIMIT_MS T0_NS: host X recorded (in its own directory) that
# the command ran within LIMIT_MS of T0_NS.
started_by() {
    local f
    f=$(fleet_host_dir "$1")/ran
    [ -f "$f" ] || fail "h$1 never ran the command"
    local d=$((($(cat "$f") - $3) / 1000000))
    [ "$d" -lt "$2" ] || fail "h$1 ran the command ${d}ms after the start (limit $2ms)"
}

# The reason each hostile host must fail with, as `drover run` prints it.
declare -A WANT=(
    [flood]='\[failed\] .*no SSH version line in the first 8192 bytes \(during ssh banner\); not an SSH server\? It began "drover test: this is not'
    [garbage]='\[failed\] .*not an SSH version line \(during ssh banner\); not an SSH server\? It began "'
    [silent]='\[unreachable\] .*connect timed out after 5\.00s \(during ssh banner; 0 bytes received\)'
    [mute]='\[unreachable\] .*connect timed out after 5\.00s \(during key exchange; [0-9]+ bytes received\)'
    [drip]='\[unreachable\] .*connect timed out after 5\.00s \(during ssh banner; [1-9] bytes received\)'
    [ignore]='\[failed\] .*the server sent over 256 KiB before authentication ended \(during key exchange\); refused'
    [reset]='\[unreachable\] .*(Connection reset by peer|Broken pipe) \(during key exchange\)'
)
SSHF=(--key "$FLEET_KEY" --known-hosts "$FLEET_KNOWN_HOSTS")

# 1. drover run: the healthy hosts run at once, each hostile host fails
# with its phase, the whole run ends at the connect timeout.
rm -f "$FLEET_DIR"/hosts/h*/ran
t0=$(date +%s%N)
# each host writes into its own directory: hX for the address 127.0.23.X
timed "$WORK/run.out" "$DROVER" run -i "$WORK/inv.ini" "${SSHF[@]}" \
    --connect-timeout 5s 'fleet:hostile' -- \
    'a=${SSH_CONNECTION#* * }; a=${a%% *}; date +%s%N >'"$FLEET_DIR"'/hosts/h${a##*.}/ran; echo fine'
cat "$WORK/run.out"
[ "$RC" = 1 ] || fail "run: exit $RC, want 1 (a host failed; docs/run.md)"
for x in 1 2 3; do
    grep -q "^h$x: fine$" "$WORK/run.out" || fail "run: h$x did not run"
    grep -Eq "^h$x: \[ok\] exit 0" "$WORK/run.out" || fail "run: h$x not ok"
done
for m in "${MODES[@]}"; do
    grep -Eq "^$m: ${WANT[$m]}" "$WORK/run.out" ||
        fail "run: $m: no line matching /${WANT[$m]}/"
done
grep -q '^10 hosts: 3 ok, 3 failed, 4 unreachable' "$WORK/run.out" ||
    fail "run: summary"
[ "$MS" -lt 9000 ] || fail "run took ${MS}ms with a 5s connect timeout"
[ "$CPU_MS" -lt 1500 ] || fail "run: drover used ${CPU_MS}ms of CPU in ${MS}ms"
# the healthy hosts were done before the first hostile host timed out
last_ok=$(grep -n '^h[1-3]: \[ok\]' "$WORK/run.out" | tail -1 | cut -d: -f1)
first_to=$(grep -n 'connect timed out' "$WORK/run.out" | head -1 | cut -d: -f1)
[ "$last_ok" -lt "$first_to" ] || fail "run: the healthy hosts waited for the hostile ones"
for x in 1 2 3; do started_by "$x" 3500 "$t0"; done
ok "run: 3 healthy hosts ok, 7 hostile ones failed by phase in ${MS}ms, ${CPU_MS}ms CPU"

# 2. drover deploy: the same hosts in one wave (max_fail lets the hostile
# ones fail): the healthy hosts are deployed on time, by the hosts' own
# record, and every hostile host is reported with its phase.
engine_reset
cat >"$WORK/hostile.yml" <<'EOF'
name: hostile
hosts: "fleet:hostile"
strategy: { waves: ["100%"], max_fail: "100%" }
steps:
  - name: switch
    run: "date +%s%N > {{ app_dir }}/ran && ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
EOF
rm -f "$FLEET_DIR"/hosts/h*/ran
t0=$(date +%s%N)
timed "$WORK/deploy.out" "$DROVER" deploy -i "$WORK/inv.ini" "${DFLAGS[@]}" \
    --connect-timeout 5s -e version=2 "$WORK/hostile.yml"
cat "$WORK/deploy.out"
for x in 1 2 3; do started_by "$x" 3500 "$t0"; done
versions_are 2 2 2
for m in "${MODES[@]}"; do
    # deploy calls every host it could not open unreachable
    want=${WANT[$m]#*\] }
    grep -Eq "^  $m: UNREACHABLE: .*$want" "$WORK/deploy.out" ||
        fail "deploy: $m: no line matching /$want/"
done
[ "$RC" = 1 ] || fail "deploy: exit $RC, want 1 (hosts failed; docs/cli.md)"
expect_in "$WORK/deploy.out" 'deploy failed: 10 hosts: 3 healthy, 0 failed, 7 unreachable'
[ "$MS" -lt 9000 ] || fail "deploy took ${MS}ms with a 5s connect timeout"
[ "$CPU_MS" -lt 1500 ] || fail "deploy: drover used ${CPU_MS}ms of CPU in ${MS}ms"
ok "deploy: healthy hosts deployed on time, hostile ones failed by phase (${MS}ms, ${CPU_MS}ms CPU)"

# gone PATTERN: no process matches PATTERN (within a second).
gone() {
    for _ in $(seq 20); do
        [ "$(pgrep -fc "$1" || true)" = 0 ] && return 0
        sleep 0.05
    done
    fail "still running on the hosts after SIGTERM: $(pgrep -fa "$1")"
}

# signal_when_running SIG SLEEP N OUT CMD...: start CMD (output in OUT);
# once N hosts run `sleep SLEEP` (the hosts run on this machine), send it
# SIG; sets RC and MS (signal to exit).
signal_when_running() {
    local sig=$1 what=$2 count=$3 out=$4 pid t0 i
    shift 4
    "$@" >"$out" 2>&1 &
    pid=$!
    fleet_atexit "kill -KILL $pid 2>/dev/null"
    for ((i = 0; i < 200; i++)); do
        [ "$(pgrep -fxc "sleep $what" || true)" -ge "$count" ] && break
        sleep 0.05
    done
    [ $i -lt 200 ] || fail "the remote commands 'sleep $what' did not start: $(cat "$out")"
    t0=$(date +%s%N)
    kill "-$sig" "$pid"
    RC=0
    wait "$pid" || RC=$?
    MS=$((($(date +%s%N) - t0) / 1000000))
    cat "$out"
}

# 3. SIGTERM during a run, hostile hosts still in their handshakes (a long
# connect timeout): drover exits 1 within seconds, the running commands are
# killed on their hosts, the connecting hosts are dropped.
n=$((41000 + RANDOM % 1000))
signal_when_running TERM "$n.5" 3 "$WORK/term-run.out" "$DROVER" run -i "$WORK/inv.ini" \
    "${SSHF[@]}" --connect-timeout 60s 'fleet:hostile' -- "sleep $n.5"
[ "$RC" = 1 ] || fail "run SIGTERM: exit $RC, want 1"
[ "$MS" -lt 6000 ] || fail "run SIGTERM: drover took ${MS}ms to exit"
[ "$(grep -c '^h[1-3]: \[failed\] cancelled' "$WORK/term-run.out")" = 3 ] ||
    fail "run SIGTERM: the running commands were not cancelled"
for m in silent mute drip; do
    grep -q "^$m: \[failed\] interrupted while connecting" "$WORK/term-run.out" ||
        fail "run SIGTERM: $m was not dropped"
done
gone "sleep $n.5"
ok "run: SIGTERM took effect in ${MS}ms; remote commands killed"

# 4. SIGTERM during a deploy: the steps in flight are cancelled (killed on
# the hosts), the hosts still connecting fail, the deploy is journaled as
# paused (exit 6, resumable) within seconds.
engine_reset
cat >"$WORK/slow.yml" <<EOF
name: hostile
hosts: "fleet:hostile"
strategy: { waves: ["100%"], max_fail: "100%" }
steps:
  - name: slow
    run: "date +%s%N > {{ app_dir }}/ran && sleep $n.7"
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
EOF
signal_when_running TERM "$n.7" 3 "$WORK/term-deploy.out" "$DROVER" deploy \
    -i "$WORK/inv.ini" "${DFLAGS[@]}" --connect-timeout 60s -e version=2 \
    "$WORK/slow.yml"
[ "$RC" = 6 ] || fail "deploy SIGTERM: exit $RC, want 6 (paused)"
[ "$MS" -lt 6000 ] || fail "deploy SIGTERM: drover took ${MS}ms to exit"
expect_in "$WORK/term-deploy.out" 'terminated \(SIGTERM\): cancelling the running steps' \
    'deploy paused: terminated \(SIGTERM\) in wave 1; running steps were cancelled' \
    '^  silent: FAILED: cancelled by SIGTERM'
gone "sleep $n.7"
versions_are 1 1 1
id=$(deploy_id "$WORK/term-deploy.out")
show_json "$id" >"$WORK/term.json"
json_check "$WORK/term.json" '
assert r["state"] == "paused", r["state"]
steps = [s for s in r["steps"] if s["name"] == "slow"]
assert sorted(s["host"] for s in steps) == ["h1", "h2", "h3"], steps
assert all(s["outcome"] == "cancelled" for s in steps), steps
assert not [s for s in r["steps"] if s["name"] == "switch"], r["steps"]
'
ok "deploy: SIGTERM took effect in ${MS}ms; steps killed, journaled cancelled, paused"

# 5. Signals during a rollback (the healthy hosts alone; h3 fails in wave
# 2, so waves 2 and 1 are rolled back, each rollback step slow). Ctrl-C
# does not cut a rollback short: it goes on through wave 1, and the
# release is put back everywhere. SIGTERM cancels it at once: the hosts
# whose rollback was cut need a human (exit 5), and the output says wave 1
# was not rolled back (it is not claimed as rolled back).
r=1.$((RANDOM % 90 + 10))3
cat >"$WORK/back.yml" <<EOF
name: hostile
hosts: fleet
strategy: { waves: [1, 2] }
steps:
  - name: switch
    run: "ln -sfn {{ app_dir }}/releases/{{ version }} {{ app_dir }}/current"
  - name: h3 fails
    run: "test {{ inventory_hostname }} != h3"
rollback:
  steps:
    - name: back
      run: "sleep $r && ln -sfn {{ app_dir }}/releases/1 {{ app_dir }}/current"
EOF
engine_reset
signal_when_running INT "$r" 2 "$WORK/int-back.out" "$DROVER" deploy \
    -i "$WORK/inv.ini" "${DFLAGS[@]}" -e version=2 "$WORK/back.yml"
[ "$RC" = 1 ] || fail "Ctrl-C in a rollback: exit $RC, want 1 (rolled back)"
expect_in "$WORK/int-back.out" 'interrupted: the rollback goes on' \
    'rollback of wave 1: 1 host'
versions_are 1 1 1
ok "Ctrl-C in a rollback: the rollback went on, every host is back"

engine_reset
signal_when_running TERM "$r" 2 "$WORK/term-back.out" "$DROVER" deploy \
    -i "$WORK/inv.ini" "${DFLAGS[@]}" -e version=2 "$WORK/back.yml"
[ "$RC" = 5 ] || fail "SIGTERM in a rollback: exit $RC, want 5 (rollback failed)"
[ "$MS" -lt 6000 ] || fail "SIGTERM in a rollback: drover took ${MS}ms to exit"
expect_in "$WORK/term-back.out" 'terminated \(SIGTERM\): cancelling the rollback' \
    'the rollback stops in wave 2: wave 1 is not rolled back' \
    'ROLLBACK FAILED on 2 hosts'
expect_not_in "$WORK/term-back.out" 'rollback of wave 1'
gone "sleep $r"
versions_are 2 2 2
ok "SIGTERM in a rollback: cut in ${MS}ms, reported as failed, wave 1 left as it was"
