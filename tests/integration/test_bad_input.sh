#!/usr/bin/env bash
# tests/integration/test_bad_input.sh: hostile and mistaken input gets a
# clear error, where it is, and the documented exit status (docs/cli.md),
# at once: a plan and an inventory nested 100,000 levels deep, an invalid
# lock name, a string where an inventory wants a mapping, bad ports,
# --forks out of range, unusable state directories, and a health check
# answered by a server that does not speak HTTP (a stand-in on loopback).
set -euo pipefail
: "${DROVER:?DROVER must point at the drover binary}"

NET=${BAD_INPUT_NET:-127.0.26}
PORT=${BAD_INPUT_PORT:-22601}

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

work=$(mktemp -d)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
out=$work/out
mkdir -m 700 "$work/state"

# expect STATUS PATTERN COMMAND...: drover COMMAND exits STATUS and its
# output (stdout and stderr) matches PATTERN (grep -E).
expect() {
    local want=$1 pat=$2 rc=0
    shift 2
    "$DROVER" "$@" >"$out" 2>&1 || rc=$?
    [ $rc -eq "$want" ] || { cat "$out"; fail "drover $*: exit $rc, want $want"; }
    grep -qE -- "$pat" "$out" || { cat "$out"; fail "drover $*: no match for '$pat'"; }
}

# within MS COMMAND...: expect ... finishing within MS milliseconds.
within() {
    local ms=$1 t0 t1
    shift
    t0=$(date +%s%N)
    expect "$@"
    t1=$(date +%s%N)
    [ $(((t1 - t0) / 1000000)) -lt "$ms" ] ||
        fail "drover ${*:3}: $(((t1 - t0) / 1000000)) ms, want under $ms"
}

nest() { # nest N: N '[' then N ']'
    python3 -c "import sys; n=int(sys.argv[1]); print('['*n + ']'*n)" "$1"
}

printf '[web]\nh1 drover_transport=local\n' >"$work/local.ini"
printf 'name: ok\nsteps: [{run: "true"}]\n' >"$work/ok.yml"

# --- 16: depth is checked while parsing --------------------------------
{ printf 'name: deep\nsteps: [{run: "true"}]\nvars:\n  a: '; nest 100000; } >"$work/deep.yml"
within 1000 3 '/deep\.yml:4:68: YAML nested deeper than 64 levels$' \
    validate "$work/deep.yml"
within 1000 3 'deep\.yml:4:68: YAML nested deeper than 64 levels' \
    deploy -i "$work/local.ini" --state-dir "$work/state" "$work/deep.yml"
ok "a plan nested 100,000 levels deep: refused at once, file:line:col"
{ printf 'all:\n  hosts:\n    h1:\n      x: '; nest 100000; } >"$work/deep.yml"
within 1000 3 'deep\.yml:4:262: YAML nested deeper than 256 levels' \
    inventory -i "$work/deep.yml" --list
within 1000 3 'deep\.yml:4:262: YAML nested deeper than 256 levels' \
    run -i "$work/deep.yml" all -- true
ok "an inventory nested 100,000 levels deep: refused at once, file:line:col"
for p in "$TOP"/examples/runbooks/*.yml; do
    expect 0 'ok|valid' validate "$p"
done
ok "the example plans still validate"

# --- 17: each mistake at its place, with the table's status ------------
printf 'name: erp\nlock: "../../etc/passwd"\nsteps: [{run: "true"}]\n' >"$work/lock.yml"
expect 3 "lock\.yml:2:7: lock '\.\./\.\./etc/passwd' is not a lock name" \
    validate "$work/lock.yml"
expect 3 "lock\.yml:2:7: lock '\.\./\.\./etc/passwd' is not a lock name" \
    deploy -i "$work/local.ini" --state-dir "$work/state" "$work/lock.yml"
[ ! -e "$work/etc" ] && [ ! -e /etc/passwd.lock ] || fail "a lock file was made"
ok "an invalid lock name: validate refuses it at file:line:col, deploy exits 3"

printf 'web:\n  hosts: "notamap"\n' >"$work/str.yml"
expect 3 "str\.yml:2:10: 'hosts' of group 'web' must be a mapping, not the string 'notamap'" \
    inventory -i "$work/str.yml" --list
expect 3 "str\.yml:2:10: 'hosts' of group 'web' must be a mapping" \
    run -i "$work/str.yml" all -- true
ok "hosts: \"notamap\" is refused, not a host named notamap"

printf '[web]\nh1 ansible_port=notaport\n' >"$work/p1.ini"
printf '[web]\nh1\n[web:vars]\nansible_port=99999\n' >"$work/p2.ini"
expect 3 "host h1: ansible_port 'notaport' is not a port number" \
    inventory -i "$work/p1.ini" --list
expect 3 "host h1: ansible_port '99999' is not a port number" \
    inventory -i "$work/p2.ini" --list-hosts all
expect 3 "h1: ansible_port '99999' is not a port number" \
    run -i "$work/p2.ini" all -- true
ok "ansible_port=notaport and 99999: inventory refuses them as run does"

for cmd in run deploy resume; do
    args=(-i "$work/local.ini")
    [ $cmd = run ] && args+=(all -- true)
    [ $cmd = deploy ] && args+=("$work/ok.yml")
    expect 2 "--forks: expected a number 1\.\.10000, not '10001'" \
        $cmd --forks 10001 "${args[@]}"
    expect 2 "--forks: expected a number 1\.\.10000, not '8x'" \
        $cmd --forks 8x "${args[@]}"
done
expect 0 'h1' run -i "$work/local.ini" --forks 10000 all -- echo h1
ok "--forks: one limit and one message in run, deploy and resume"

mkdir -m 775 "$work/shared"
chmod 775 "$work/shared"
expect 2 "state dir .*/shared is writable by group or others; run \`chmod 700" \
    deploy -i "$work/local.ini" --state-dir "$work/shared" "$work/ok.yml"
[ ! -e "$work/shared/journal.db" ] || fail "deploy wrote into the shared directory"
expect 2 "state dir /etc/passwd is not a directory" \
    history --state-dir /etc/passwd
expect 2 "state dir /etc/passwd is not a directory" \
    status --state-dir /etc/passwd
expect 2 "state dir .*/shared is writable by group or others" \
    history --state-dir "$work/shared"
expect 0 '^no deploys yet$' history --state-dir "$work/none"
[ ! -e "$work/none" ] || fail "history created a state directory"
ok "unusable state directories: exit 2 with what to do (deploy, history, status)"

# A stand-in that answers every request with an SSH banner.
python3 - "$NET.1" "$PORT" >"$work/garbage.log" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
while True:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
    c.close()
EOF
pids+=($!)
for _ in $(seq 50); do
    python3 -c "import socket,sys; socket.create_connection(('$NET.1', $PORT), 0.2)" \
        2>/dev/null && break
    sleep 0.1
done
cat >"$work/health.yml" <<EOF
name: garbage
steps: [{run: "true"}]
health:
  checks: [{http: "http://$NET.1:$PORT/health"}]
  interval: 100ms
  healthy_deadline: 2s
rollback: {steps: [{run: "true"}]}
EOF
rc=0
"$DROVER" deploy -i "$work/local.ini" --state-dir "$work/state" \
    "$work/health.yml" >"$out" 2>&1 || rc=$?
[ $rc -ne 0 ] || { cat "$out"; fail "a host answered by a non-HTTP server passed"; }
grep -q 'the server did not answer with HTTP (Received HTTP/0.9' "$out" ||
    { cat "$out"; fail "the reason does not say the server did not answer with HTTP"; }
! grep -q 'bad URL' "$out" || { cat "$out"; fail "a garbage reply was called a bad URL"; }
ok "a garbage HTTP reply: 'the server did not answer with HTTP', not 'bad URL'"
