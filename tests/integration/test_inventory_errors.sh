#!/usr/bin/env bash
# tests/integration/test_inventory_errors.sh: every malformed inventory in
# tests/data/inventory/errors/ is refused with exit status 3 and exactly
# the message in expected.txt (file:line:col, what is wrong, the text);
# bad patterns in patterns.expected exit 1 with their message (a pattern
# matching nothing only warns). Nothing may crash.
set -u
: "${DROVER:?} ${TOP:?}"
cd "$TOP/tests/data/inventory/errors" || exit 1
fail=0
n=0
while IFS=$'\t' read -r src want; do
    n=$((n + 1))
    got=$("$DROVER" inventory -i "$src" --list 2>&1 >/dev/null | head -1)
    "$DROVER" inventory -i "$src" --list >/dev/null 2>&1
    rc=$?
    if [ "$rc" -ne 3 ] || [ "$got" != "$want" ]; then
        echo "FAIL $src (exit $rc)"
        echo "     want: $want"
        echo "     got:  $got"
        fail=$((fail + 1))
    else
        echo "ok   $src"
    fi
done <expected.txt
while IFS=$'\t' read -r pat want; do
    n=$((n + 1))
    got=$("$DROVER" inventory -i patterns.ini --list-hosts "$pat" 2>&1 >/dev/null | head -1)
    "$DROVER" inventory -i patterns.ini --list-hosts "$pat" >/dev/null 2>&1
    rc=$?
    want_rc=1
    case $want in *warn:*) want_rc=0 ;; esac
    if [ "$rc" -ne "$want_rc" ] || [ "$got" != "$want" ]; then
        echo "FAIL pattern '$pat' (exit $rc, want $want_rc)"
        echo "     want: $want"
        echo "     got:  $got"
        fail=$((fail + 1))
    else
        echo "ok   pattern '$pat'"
    fi
done <patterns.expected
check() { # want_rc description command...
    local want=$1 what=$2
    shift 2
    n=$((n + 1))
    "$@" >/dev/null 2>&1
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $what: exit $rc, want $want"
        fail=$((fail + 1))
    else
        echo "ok   $what"
    fi
}
check 3 "missing source" "$DROVER" inventory -i does-not-exist --list
check 1 "--host matching two hosts" "$DROVER" inventory -i patterns.ini --host web
check 1 "--graph of an unknown group" "$DROVER" inventory -i patterns.ini --graph nope
check 2 "no -i" "$DROVER" inventory --list
check 2 "two modes" "$DROVER" inventory -i patterns.ini --list --graph
check 2 "unknown option" "$DROVER" inventory -i patterns.ini --bogus
check 2 "--list-hosts without a pattern" "$DROVER" inventory -i patterns.ini --list-hosts
# A YAML inventory saved as hosts.ini: drover run stops before any host
# (its hosts would have been '---', 'all:', 'web1:').
check 3 "run on a YAML inventory named .ini" "$DROVER" run \
    -i ini_yaml_saved_as_ini.ini --ssh-config none all -- true
echo "inventory errors: $n checks, $fail failed"
[ "$fail" -eq 0 ]
