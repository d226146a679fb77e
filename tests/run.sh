#!/bin/bash
# Runs the checks in tests/check/*.sh (all, or the ones named) and reports.
#
#   tests/run.sh [NAME...]        NAME: "api", "api.sh" or "tests/check/api.sh"
#
# Each check runs from the repository root with ROOT and BUILD exported,
# under a timeout (FSMEM_TEST_TIMEOUT seconds; else the check's own line
# "# check-timeout: N" near its top; else 300), its output in
# build/test-logs/NAME.log (or FSMEM_TEST_LOGS/NAME.log). Exit status
# 0 = pass, 77 = skip (the reason is the last line it printed), anything
# else = fail. The last line is always "N passed, N failed, N skipped";
# the exit status is non-zero if a check failed (or a named one does not
# exist).
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$ROOT/build
export ROOT BUILD
cd "$ROOT" || exit 1

logs=${FSMEM_TEST_LOGS:-$BUILD/test-logs}
mkdir -p "$logs" || exit 1

tests=()
missing=0
if [ $# -eq 0 ]; then
    while IFS= read -r t; do
        tests+=("$t")
    done < <(LC_ALL=C ls tests/check/*.sh 2>/dev/null | LC_ALL=C sort)
else
    for arg in "$@"; do
        name=$(basename "$arg" .sh)
        if [ -f "tests/check/$name.sh" ]; then
            tests+=("tests/check/$name.sh")
        else
            echo "FAIL $name: no such check (tests/check/$name.sh)"
            missing=$((missing + 1))
        fi
    done
fi

passed=0
failed=$missing
skipped=0
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    log=$logs/$name.log
    timeout_s=${FSMEM_TEST_TIMEOUT:-$(sed -n '1,5s/^# check-timeout: \([0-9][0-9]*\)$/\1/p' "$t")}
    timeout_s=${timeout_s:-300}
    start=$(date +%s.%N)
    # (in a subshell, so bash's "Killed" notice stays off the report)
    (timeout -k 10 "$timeout_s" bash "$t" </dev/null >"$log" 2>&1; exit $?) 2>/dev/null
    rc=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    case $rc in
    0)
        echo "PASS $name (${secs}s)"
        passed=$((passed + 1))
        ;;
    77)
        reason=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
        reason=${reason#skip: }
        echo "SKIP $name: ${reason:-no reason given}"
        skipped=$((skipped + 1))
        ;;
    *)
        if [ "$rc" -eq 124 ] ||
            { [ "$rc" -eq 137 ] && awk -v s="$secs" -v t="$timeout_s" 'BEGIN { exit !(s >= t) }'; }; then
            echo "FAIL $name (timed out after ${timeout_s}s; log: ${log#"$ROOT"/})"
        elif [ "$rc" -gt 128 ]; then
            echo "FAIL $name (killed by signal $((rc - 128)) after ${secs}s; log: ${log#"$ROOT"/})"
        else
            echo "FAIL $name (exit $rc after ${secs}s; log: ${log#"$ROOT"/})"
        fi
        tail -n 30 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
        ;;
    esac
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
