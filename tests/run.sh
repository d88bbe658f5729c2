#!/usr/bin/env bash
# tests/run.sh: run drover's test suites and print one line per test and a
# closing "N passed, N failed". Usage: tests/run.sh [unit] [integration]
# [fuzz] [fuzz-long] [all]. BUILD names the build directory (default build).
# A single integration test: tests/run.sh integration test_run.sh
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export DROVER=$PWD/$BUILD/drover
export DROVER_AGENT=$PWD/$BUILD/drover-agent
export DEMO_APP=$PWD/$BUILD/demo-app
export TOP=$PWD
LOGDIR=$PWD/$BUILD/test-logs
mkdir -p "$LOGDIR"

pass=0
fail=0
failed=()

record() { # name status logfile seconds
    if [ "$2" -eq 0 ]; then
        pass=$((pass + 1))
        printf 'PASS  %-50s %6ss\n' "$1" "$4"
    else
        fail=$((fail + 1))
        failed+=("$1")
        printf 'FAIL  %-50s %6ss (exit %s, log %s)\n' "$1" "$4" "$2" "$3"
        tail -n 40 "$3" | sed 's/^/      | /'
    fi
}

run_one() { # name logfile command...
    local name=$1 log=$2
    shift 2
    local t0=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    record "$name" "$rc" "$log" $((SECONDS - t0))
}

suite_unit() {
    local t
    for t in $(find "$BUILD/tests/unit" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
        local name=unit/${t#"$BUILD"/tests/unit/}
        run_one "$name" "$LOGDIR/$(echo "$name" | tr / _).log" "$t"
    done
}

suite_integration() {
    local only=${1:-}
    local t
    for t in tests/integration/test_*.sh; do
        [ -e "$t" ] || continue
        [ -n "$only" ] && [ "$(basename "$t")" != "$only" ] && continue
        local name=integration/$(basename "$t" .sh)
        run_one "$name" "$LOGDIR/$(basename "$t" .sh).log" timeout 600 bash "$t"
    done
}

# A sanitizer report fails a fuzz run: the harnesses are built with
# -fno-sanitize-recover=all (Makefile), and these options say so again for
# binaries built otherwise. Ours come last, so they win over the caller's.
fuzz_env() {
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}halt_on_error=1 \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1 \
        "$@"
}

fuzz_run() { # seconds-or-runs mode
    local f
    for f in "$BUILD"/fuzz/fuzz_*; do
        [ -x "$f" ] || continue
        local name
        name=$(basename "$f")
        local corpus=tests/fuzz/corpus/${name#fuzz_}
        local work
        work=$(mktemp -d)
        mkdir -p "$corpus"
        # a crashing input lands next to the log, not in the source tree
        local limit=-runs="${FUZZ_RUNS:-20000}"
        [ "$1" = short ] || limit=-max_total_time="${FUZZ_SECONDS:-300}"
        run_one "fuzz/$name" "$LOGDIR/$name.log" fuzz_env "$f" "$limit" \
            -max_len=4096 -rss_limit_mb=1024 \
            -artifact_prefix="$LOGDIR/$name-" "$work" "$corpus"
        rm -rf "$work"
    done
}

[ $# -eq 0 ] && set -- all
while [ $# -gt 0 ]; do
    case $1 in
    unit) suite_unit ;;
    integration)
        if [ $# -gt 1 ] && [[ $2 == test_*.sh ]]; then
            suite_integration "$2"; shift
        else
            suite_integration
        fi ;;
    fuzz) fuzz_run short ;;
    fuzz-long) fuzz_run long ;;
    all) suite_unit; fuzz_run short; suite_integration ;;
    *) echo "run.sh: unknown suite '$1'" >&2; exit 2 ;;
    esac
    shift
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
