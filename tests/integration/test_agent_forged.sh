#!/usr/bin/env bash
# tests/integration/test_agent_forged.sh: a frame nobody authenticated fails
# nothing. A stand-in on the path to a real drover-agent (python3, below)
# answers the first handshakes itself, with an ERROR in place of WELCOME or
# a WELCOME that opens with no key, then passes the bytes through: `drover
# run` dials again and the command runs (ground truth: the marker the
# command writes). The same forged ending every time is reported, after
# three handshakes in a row, as "could not authenticate the agent", with
# no key fetched and nothing run.
set -u
AGENTS_NET=127.0.24
AGENTS_PORT=22420
. "$TOP/tests/integration/lib/agents.sh"

agents_start 1
work=$AGENTS_DIR/work
mkdir -p "$work"
front=127.0.24.30
front_port=22430

cat >"$work/standin.py" <<'PY'
# A ZMTP/CURVE stand-in: connection i gets script[i] (E: ERROR in place of
# WELCOME, B: a WELCOME of the right size that opens with no key), then
# the bytes pass to the real agent. One line per connection in the log.
import os, socket, sys, threading
listen, port, agent, aport, script, log = sys.argv[1:7]
greeting = bytes([0xFF] + [0] * 8 + [0x7F, 3, 1]) + b"CURVE".ljust(20, b"\0") + b"\1" + bytes(31)

def recv_exact(c, n):
    b = b""
    while len(b) < n:
        d = c.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b

def pump(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((listen, int(port)))
s.listen(16)
open(log + ".ready", "w").close()
i = 0
while True:
    c, _ = s.accept()
    act = script[i] if i < len(script) else "P"
    i += 1
    with open(log, "a") as f:
        f.write(act + "\n")
    if act == "P":
        a = socket.create_connection((agent, int(aport)))
        threading.Thread(target=pump, args=(c, a), daemon=True).start()
        threading.Thread(target=pump, args=(a, c), daemon=True).start()
        continue
    try:
        recv_exact(c, 64)
        c.sendall(greeting)
        h = recv_exact(c, 2)
        recv_exact(c, h[1])  # HELLO
        if act == "E":
            c.sendall(bytes([4, 10, 5]) + b"ERROR" + bytes([3]) + b"400")
        else:
            c.sendall(bytes([4, 168]) + b"\x07WELCOME" + os.urandom(160))
        c.recv(1)  # the client closes
    except (EOFError, OSError):
        pass
    c.close()
PY

pin() { echo "$front:$front_port $(cat "$AGENTS_DIR/a1/agent.key.pub")" >"$work/known"; }
standin() { # standin SCRIPT: start the stand-in in front of a1
    rm -f "$work/conns" "$work/conns.ready"
    python3 "$work/standin.py" "$front" "$front_port" "$(agents_addr 1)" \
        "$AGENTS_PORT" "$1" "$work/conns" &
    standin_pid=$!
    for _ in $(seq 50); do [ -e "$work/conns.ready" ] && return 0; sleep 0.1; done
    agents_fail "the stand-in did not start"
}
run() { # run TAG: drover run through the stand-in; status in $rc
    "$DROVER" run -i "$work/inventory.ini" --coordinator-key "$AGENTS_KEY" \
        --known-agents "$work/known" --accept-new --connect-timeout 8s all -- \
        "touch $work/ran-$1; echo ran" >"$work/out-$1" 2>&1
    rc=$?
    kill "$standin_pid" 2>/dev/null
    wait "$standin_pid" 2>/dev/null
}
echo "a1 ansible_host=$front drover_transport=agent drover_agent_port=$front_port" \
    >"$work/inventory.ini"
pin

# forged endings, then the real agent: the command runs
for script in E B EB BBEE; do
    standin "$script"
    run "$script"
    [ $rc -eq 0 ] || { cat "$work/out-$script"; agents_fail "$script: exit $rc"; }
    [ -e "$work/ran-$script" ] || agents_fail "$script: the command did not run"
    [ "$(wc -l <"$work/conns")" -eq $((${#script} + 1)) ] ||
        agents_fail "$script: $(wc -l <"$work/conns") connections"
done

# the same forged ending every time: concluded after three, nothing run,
# no key fetched (--accept-new was given, and known_agents stays as it was)
cp "$work/known" "$work/known_before"
standin EEEEEEEEEE
run always
[ $rc -ne 0 ] || agents_fail "an agent that never authenticated ran the command"
[ ! -e "$work/ran-always" ] || agents_fail "a command ran without an authenticated agent"
grep -q "could not authenticate the agent at tcp://$front:$front_port: 3 handshakes in a row" \
    "$work/out-always" || { cat "$work/out-always"; agents_fail "the conclusion is not worded as wanted"; }
[ "$(wc -l <"$work/conns")" -eq 3 ] || agents_fail "$(wc -l <"$work/conns") connections, wanted 3"
cmp -s "$work/known" "$work/known_before" || agents_fail "known_agents changed"
echo "ok"
