#!/usr/bin/env bash
# tests/integration/test_inventory.sh: the drover binary against the
# expectations Ansible wrote for each case in tests/data/inventory/ (see
# regen.sh there): --graph and --list-hosts compared line for line, --list
# printed (its values are compared in tests/unit/inventory/test_inv_json).
# Ansible is not needed.
set -u
: "${DROVER:?} ${TOP:?}"
data=$TOP/tests/data/inventory
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
fail=0
checks=0

for dir in "$data"/*/; do
    case=$(basename "$dir")
    [ -f "$dir/sources" ] || continue
    args=()
    while IFS= read -r s; do
        [ -n "$s" ] || continue
        if [ -e "$dir/$s" ]; then args+=(-i "$dir/$s"); else args+=(-i "$s"); fi
    done <"$dir/sources"
    # The JSON values are compared with Ansible's in the unit test
    # test_inv_json (same rendering code); here the binary must print
    # them, and every host of the case must be in _meta or a group.
    for mode in --list "--list --export"; do
        checks=$((checks + 1))
        # shellcheck disable=SC2086
        if ! "$DROVER" inventory "${args[@]}" $mode >"$work/list.json" 2>"$work/err"; then
            echo "FAIL $case $mode: exit $?"; cat "$work/err"; fail=$((fail + 1))
        elif ! head -c1 "$work/list.json" | grep -q '{' ||
            ! grep -q '"_meta"' "$work/list.json"; then
            echo "FAIL $case $mode: not ansible-inventory's JSON"; fail=$((fail + 1))
        else
            echo "ok   $case $mode"
        fi
    done
    if [ -f "$dir/graph" ]; then
        checks=$((checks + 1))
        : >"$work/graph.out"
        while IFS= read -r g; do
            printf '## %s\n' "$g" >>"$work/graph.out"
            "$DROVER" inventory "${args[@]}" --graph ${g:+"$g"} >>"$work/graph.out" 2>"$work/err"
        done <"$dir/graph"
        if diff -u "$dir/graph.out" "$work/graph.out"; then
            echo "ok   $case --graph"
        else
            echo "FAIL $case --graph"; fail=$((fail + 1))
        fi
    fi
    if [ -f "$dir/patterns.out" ]; then
        while IFS=$'\t' read -r p want; do
            checks=$((checks + 1))
            got=$("$DROVER" inventory "${args[@]}" --list-hosts "$p" 2>"$work/err" | tr '\n' ' ' | sed 's/ $//')
            if [ "$got" = "$want" ]; then
                echo "ok   $case --list-hosts '$p'"
            else
                echo "FAIL $case --list-hosts '$p'"
                echo "     want: $want"
                echo "     got:  $got"
                sed 's/^/     /' "$work/err"
                fail=$((fail + 1))
            fi
        done <"$dir/patterns.out"
    fi
done
echo "inventory cases: $checks checks, $fail failed"
[ "$fail" -eq 0 ]
