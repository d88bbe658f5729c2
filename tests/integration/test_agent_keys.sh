#!/usr/bin/env bash
# tests/integration/test_agent_keys.sh: the key files of real drover-agents
# and of `drover run` mean what they say. known_agents: the last line of a
# host wins (a key rotated by appending a line is the one trusted, for every
# host of the fleet); a wrong last line fails every host as "could not
# authenticate the agent", nothing runs, and --accept-new fetches nothing.
# authorized_keys: a coordinator key hidden past byte 511 of a '#' comment
# is no key (the agent refuses it, nothing runs). Ground truth: marker files
# the commands write, the agent's own log, the bytes of known_agents.
set -u
AGENTS_NET=127.0.24
AGENTS_PORT=22400
. "$TOP/tests/integration/lib/agents.sh"

N=6
agents_start $N
work=$AGENTS_DIR/work
mkdir -p "$work"

# an inventory without drover_agent_key: keys come from known_agents only
{
    echo "[agents]"
    for x in $(seq $N); do
        echo "a$x ansible_host=$(agents_addr "$x") drover_transport=agent drover_agent_port=$AGENTS_PORT"
    done
} >"$work/inventory.ini"
for x in $(seq $N); do
    "$DROVER_AGENT" keygen -f "$work/old$x.key" >/dev/null 2>&1 || agents_fail "keygen"
done
real() { cat "$AGENTS_DIR/a$1/agent.key.pub"; }
old() { cat "$work/old$1.key.pub"; }

run() { # run KNOWN_AGENTS TAG [drover run options]: exit status in $rc
    local known=$1 tag=$2
    shift 2
    "$DROVER" run -i "$work/inventory.ini" --coordinator-key "$AGENTS_KEY" \
        --known-agents "$known" --connect-timeout 5s "$@" agents -- \
        "touch $work/ran-$tag-\$(hostname)-\$\$; echo ran" \
        >"$work/out-$tag" 2>&1
    rc=$?
}

# 1. keys rotated by appending: every host's old key, then every new one
{
    for x in $(seq $N); do echo "$(agents_addr "$x"):$AGENTS_PORT $(old "$x") old"; done
    for x in $(seq $N); do echo "$(agents_addr "$x"):$AGENTS_PORT $(real "$x") rotated"; done
} >"$work/known_rotated"
run "$work/known_rotated" rotated
[ $rc -eq 0 ] || { cat "$work/out-rotated"; agents_fail "rotated keys: exit $rc"; }
[ "$(grep -c ': ran$' "$work/out-rotated")" -eq $N ] ||
    { cat "$work/out-rotated"; agents_fail "not every host ran with its appended key"; }
[ "$(ls "$work" | grep -c '^ran-rotated-')" -eq $N ] || agents_fail "markers: $(ls "$work")"

# 2. the other way round: the last line is wrong for every host
{
    for x in $(seq $N); do echo "$(agents_addr "$x"):$AGENTS_PORT $(real "$x")"; done
    for x in $(seq $N); do echo "$(agents_addr "$x"):$AGENTS_PORT $(old "$x") replaced"; done
} >"$work/known_replaced"
cp "$work/known_replaced" "$work/known_before"
run "$work/known_replaced" replaced --accept-new
[ $rc -ne 0 ] || agents_fail "a replaced key still trusted: $(cat "$work/out-replaced")"
[ "$(grep -c 'could not authenticate the agent' "$work/out-replaced")" -ge $N ] ||
    { cat "$work/out-replaced"; agents_fail "the failure is not worded as an authentication failure"; }
! grep -q "recorded in" "$work/out-replaced" || agents_fail "--accept-new fetched a key for a pinned host"
cmp -s "$work/known_replaced" "$work/known_before" || agents_fail "known_agents changed"
! ls "$work" | grep -q '^ran-replaced-' || agents_fail "a command ran through a replaced key"

# 3. authorized_keys: our key hidden past byte 511 of a comment, one other
#    key so that the agent starts
x=$N
kill -TERM "$(agents_pid $x)"
for _ in $(seq 50); do kill -0 "$(agents_pid $x)" 2>/dev/null || break; sleep 0.1; done
{
    printf '#%0.s' $(seq 511) | tr -d '\n'
    cat "$AGENTS_KEY.pub"
    cat "$work/old1.key.pub"
} >"$AGENTS_DIR/a$x/authorized_keys"
agents_launch $x
printf '%s:%s %s\n' "$(agents_addr $x)" $AGENTS_PORT "$(real $x)" >"$work/known_a$x"
"$DROVER" run -i "$work/inventory.ini" --coordinator-key "$AGENTS_KEY" \
    --known-agents "$work/known_a$x" --connect-timeout 5s "a$x" -- \
    "touch $work/ran-hidden" >"$work/out-hidden" 2>&1
rc=$?
[ $rc -ne 0 ] || agents_fail "a key hidden in a comment was authorized"
[ ! -e "$work/ran-hidden" ] || agents_fail "a command ran for a key hidden in a comment"
grep -qF "zap: refused $(cat "$AGENTS_KEY.pub")" "$AGENTS_DIR/a$x/agent.log" ||
    agents_fail "the agent did not refuse the hidden key: $(cat "$work/out-hidden")"
grep -q "authorized_keys" "$work/out-hidden" ||
    { cat "$work/out-hidden"; agents_fail "no advice about authorized_keys"; }
echo "ok"
