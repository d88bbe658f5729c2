#!/usr/bin/env bash
# tests/integration/test_run_input.sh: bad input to `drover run` gives a
# clear error and a distinct exit status, never a crash: malformed
# inventories (file:line:col), missing files, bad flags and keys.
set -euo pipefail
: "${DROVER:?DROVER must point at the drover binary}"

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=$work/out

expect() { # want-exit grep-pattern args...
    local want=$1 pat=$2 rc=0
    shift 2
    "$DROVER" run "$@" >"$out" 2>&1 || rc=$?
    [ $rc -eq "$want" ] || { cat "$out"; fail "drover run $*: exit $rc, want $want"; }
    [ $rc -lt 128 ] || fail "drover run $*: crashed (exit $rc)"
    grep -qE -- "$pat" "$out" || { cat "$out"; fail "drover run $*: no match for '$pat'"; }
}

ssh-keygen -q -t ed25519 -N '' -f "$work/id" >/dev/null
ssh-keygen -q -t rsa -N '' -f "$work/rsa" >/dev/null
printf '[web\nh1\n' >"$work/bad1.ini"
printf '[web]\nh1 ansible_port=abc ansible_host=127.0.1.1\n' >"$work/bad2.ini"
printf '[web]\nh1 ansible_host=127.0.1.1\n' >"$work/good.ini"
printf 'all:\n  hosts:\n    h1: {ansible_host: [1, 2\n' >"$work/bad3.yml"
printf '[web]\nh1 ansible_host=127.0.1.1 ansible_port=99999\n' >"$work/bad4.ini"

k=(--key "$work/id" --known-hosts "$work/kh")
expect 3 "bad1.ini:1:[0-9]+: " -i "$work/bad1.ini" "${k[@]}" web -- true
ok "unclosed group header: file:line:col"
expect 3 "bad3.yml:[0-9]+:[0-9]+: " -i "$work/bad3.yml" "${k[@]}" all -- true
ok "broken YAML inventory: file:line:col"
expect 3 "h1: ansible_port 'abc' is not a port number" -i "$work/bad2.ini" "${k[@]}" web -- true
expect 3 "ansible_port '99999'" -i "$work/bad4.ini" "${k[@]}" web -- true
ok "bad ansible_port named with its host"
expect 3 "$work/missing.ini" -i "$work/missing.ini" "${k[@]}" web -- true
ok "missing inventory named"
expect 3 "cannot sign with rsa-sha2; use an ed25519 key" -i "$work/good.ini" \
    --key "$work/rsa" --known-hosts "$work/kh" web -- true
ok "RSA key refused with the plain message"
expect 3 "$work/nokey.*cannot read the private key" -i "$work/good.ini" \
    --key "$work/nokey" web -- true
ok "missing key file named"
expect 2 "missing -- before the command" -i "$work/good.ini" "${k[@]}" web true
expect 2 "no COMMAND after --" -i "$work/good.ini" "${k[@]}" web --
expect 2 "no inventory" "${k[@]}" web -- true
expect 2 "no hosts match 'db'" -i "$work/good.ini" "${k[@]}" db -- true
expect 2 "unexpected 'extra'" -i "$work/good.ini" "${k[@]}" web extra -- true
expect 2 "--forks: expected a number" -i "$work/good.ini" "${k[@]}" --forks 0 web -- true
expect 2 "--timeout: bad duration 'soon'" -i "$work/good.ini" "${k[@]}" --timeout soon web -- true
expect 2 "--connect-timeout: bad duration" -i "$work/good.ini" "${k[@]}" --connect-timeout 5x web -- true
ok "usage errors: exit 2 with what is wrong"
expect 0 "--accept-new" --help
ok "--help lists the ssh flags"
