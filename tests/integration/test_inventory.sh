#!/usr/bin/env bash
# tests/integration/test_inventory.sh: the drover binary against the
# expectations Ansible wrote for each case in tests/data/inventory/ (see
# regen.sh there): --list, --list --export, --graph and --list-hosts
# compared byte for byte (tests/unit/inventory/test_inv_json compares the
# same as JSON values, through the library). Ansible is not needed.
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
    # drover prints the JSON byte for byte as ansible-inventory does
    # (sorted keys, 4 spaces, Python's float repr).
    for mode in list export; do
        checks=$((checks + 1))
        flags=(--list)
        [ "$mode" = export ] && flags+=(--export)
        if ! "$DROVER" inventory "${args[@]}" "${flags[@]}" >"$work/$mode.json" 2>"$work/err"; then
            echo "FAIL $case ${flags[*]}: exit $?"; cat "$work/err"; fail=$((fail + 1))
        elif ! diff -u "$dir/$mode.json" "$work/$mode.json"; then
            echo "FAIL $case ${flags[*]} differs from ansible-inventory"; fail=$((fail + 1))
        else
            echo "ok   $case ${flags[*]}"
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
