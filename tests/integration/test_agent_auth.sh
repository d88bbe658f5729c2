#!/usr/bin/env bash
# tests/integration/test_agent_auth.sh: both ends authenticate. An unknown
# coordinator key is refused by the agent's ZAP handler and nothing runs; a
# coordinator pinned to the wrong agent key refuses to talk; an agent with
# no authorized key, or a secret key readable by others, will not start;
# key files are written 0600.
set -u
. "$TOP/tests/integration/lib/agents.sh"

agents_start 2
marker=$AGENTS_DIR/ran

# the right keys work
out=$(agents_exec 1 --job ok1 -- echo hello) || agents_fail "exec with the right keys: $out"
[ "$out" = hello ] || agents_fail "unexpected output '$out'"

# an unknown coordinator key: refused by ZAP, nothing runs
"$DROVER_AGENT" keygen -f "$AGENTS_DIR/stranger.key" >/dev/null 2>&1
"$DROVER_AGENT" exec --connect "$(agents_endpoint 1)" \
    --server-key "$AGENTS_DIR/a1/agent.key.pub" --key "$AGENTS_DIR/stranger.key" \
    --connect-timeout 1500 --job evil -- "touch $marker" 2>"$AGENTS_DIR/err"
rc=$?
[ $rc -eq 76 ] || agents_fail "stranger key: exit $rc, wanted 76"
[ ! -e "$marker" ] || agents_fail "the agent ran a command for an unknown key"
grep -qF "zap: refused $(cat "$AGENTS_DIR/stranger.key.pub")" "$AGENTS_DIR/a1/agent.log" ||
    agents_fail "the refusal is not logged with the key"
[ ! -e "$AGENTS_DIR/a1/state/jobs/evil" ] || agents_fail "job evil was recorded"

# the coordinator pinned to the wrong agent key (a2's key for a1)
"$DROVER_AGENT" exec --connect "$(agents_endpoint 1)" \
    --server-key "$AGENTS_DIR/a2/agent.key.pub" --key "$AGENTS_KEY" \
    --connect-timeout 1500 --job wrongpin -- "touch $marker" 2>"$AGENTS_DIR/err"
rc=$?
[ $rc -eq 76 ] || agents_fail "wrong pinned key: exit $rc, wanted 76"
grep -q "server-key is its public key" "$AGENTS_DIR/err" || agents_fail "no advice: $(cat "$AGENTS_DIR/err")"
[ ! -e "$marker" ] || agents_fail "a command ran through a wrongly pinned key"

# key files: secret 0600, public 0644
[ "$(stat -c %a "$AGENTS_DIR/a1/agent.key")" = 600 ] || agents_fail "agent.key not 0600"
[ "$(stat -c %a "$AGENTS_DIR/a1/agent.key.pub")" = 644 ] || agents_fail "agent.key.pub not 0644"
"$DROVER" keygen -f "$AGENTS_DIR/c2.key" >"$AGENTS_DIR/c2.out" 2>/dev/null ||
    agents_fail "drover keygen failed"
[ "$(stat -c %a "$AGENTS_DIR/c2.key")" = 600 ] || agents_fail "drover keygen: not 0600"
[ "$(cat "$AGENTS_DIR/c2.out")" = "$(cat "$AGENTS_DIR/c2.key.pub")" ] ||
    agents_fail "drover keygen printed something else than the public key"
"$DROVER" keygen -f "$AGENTS_DIR/c2.key" 2>"$AGENTS_DIR/err" && agents_fail "keygen overwrote a key"
grep -q -- "--force" "$AGENTS_DIR/err" || agents_fail "no --force advice"

# an agent that trusts no key, or whose secret key is readable, refuses to start
d=$AGENTS_DIR/bad
mkdir -p "$d"
"$DROVER_AGENT" keygen -f "$d/agent.key" >/dev/null 2>&1
: >"$d/authorized_keys"
"$DROVER_AGENT" --foreground --listen tcp://127.0.2.200:7447 --key "$d/agent.key" \
    --authorized-keys "$d/authorized_keys" --state-dir "$d/state" 2>"$d/err"
rc=$?
[ $rc -eq 3 ] || agents_fail "empty authorized_keys: exit $rc, wanted 3"
grep -q "holds no key" "$d/err" || agents_fail "empty authorized_keys: $(cat "$d/err")"
cp "$AGENTS_KEY.pub" "$d/authorized_keys"
chmod 644 "$d/agent.key"
"$DROVER_AGENT" --foreground --listen tcp://127.0.2.200:7447 --key "$d/agent.key" \
    --authorized-keys "$d/authorized_keys" --state-dir "$d/state" 2>"$d/err"
rc=$?
[ $rc -eq 3 ] || agents_fail "0644 secret key: exit $rc, wanted 3"
grep -q "chmod 600" "$d/err" || agents_fail "0644 secret key: $(cat "$d/err")"
# a bad config file names file:line:col
printf 'listen = tcp://127.0.2.200:7447\nmax_jobs = many\n' >"$d/agent.conf"
"$DROVER_AGENT" --foreground --config "$d/agent.conf" 2>"$d/err"
rc=$?
[ $rc -eq 3 ] || agents_fail "bad config: exit $rc"
grep -q "agent.conf:2:12: max_jobs" "$d/err" || agents_fail "bad config: $(cat "$d/err")"
echo "ok"
