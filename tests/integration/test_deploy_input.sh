#!/usr/bin/env bash
# tests/integration/test_deploy_input.sh: malformed plans and inventories
# give file:line:col errors and a non-zero exit, never a crash (run under
# ASan by `make check`).
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '[web]\nh1 ansible_host=127.0.0.1\n' >"$work/inv.ini"

expect_error() { # name expected-substring expected-exit file
    local out rc
    set +e
    out=$("$DROVER" deploy -i "$work/inv.ini" "$4" 2>&1)
    rc=$?
    set -e
    [ "$rc" = "$3" ] || fail "$1: exit $rc, want $3: $out"
    grep -qF -- "$2" <<<"$out" || fail "$1: want '$2' in: $out"
    echo "ok: $1: $(head -1 <<<"$out")"
}

printf 'name: x\nsteps:\n  - run: "true"\n    timout: 5s\n' >"$work/p1.yml"
expect_error unknown-key "p1.yml:4:5: unknown key 'timout' in a step; did you mean 'timeout'?" 3 "$work/p1.yml"

printf 'name: x\nsteps: [ { run: true\n' >"$work/p2.yml"
expect_error yaml-syntax "p2.yml:3:1:" 3 "$work/p2.yml"

printf 'steps:\n  - name: a\nhealth:\n  interval: 5 parsecs\n' >"$work/p3.yml"
expect_error no-run "p3.yml:2:5: step 1 has no 'run' command" 3 "$work/p3.yml"
expect_error bad-duration "p3.yml:4:13: health.interval" 3 "$work/p3.yml"

printf 'steps:\n  - run: "echo {{ nope }}"\n' >"$work/p4.yml"
expect_error undefined-var "p4.yml:2:5: step 'echo {{ nope }}', host h1: undefined variable 'nope'" 3 "$work/p4.yml"

printf 'hosts: db\nsteps:\n  - run: "true"\n' >"$work/p5.yml"
expect_error no-hosts "matches no host" 3 "$work/p5.yml"

expect_error missing-plan "cannot open plan" 3 "$work/nope.yml"

printf '[web\nh1\n' >"$work/bad.ini"
set +e
out=$("$DROVER" deploy -i "$work/bad.ini" "$work/p4.yml" 2>&1)
rc=$?
set -e
[ "$rc" = 3 ] || fail "bad inventory: exit $rc: $out"
grep -q 'bad.ini:1:' <<<"$out" || fail "bad inventory: no position in: $out"
echo "ok: bad inventory: $out"

set +e
"$DROVER" deploy "$work/p4.yml" >/dev/null 2>&1; rc=$?
set -e
[ "$rc" = 2 ] || fail "missing -i should be a usage error (2), got $rc"
echo ok
