#!/bin/bash
# The long multithreaded stress run (`make stress`), also run briefly by
# tests/check/stress.sh.
#
#   FSMEM_STRESS_SECONDS=60 tests/stress.sh
#
# Splits FSMEM_STRESS_SECONDS (default 60) over four runs, each verifying
# every block's contents by pattern (tests/progs/stress: 8+ threads, small,
# large and huge blocks, cross-thread frees, realloc, every aligned
# allocation call; tests/progs/threads: handovers and thread churn):
#   1. stress, 8 threads, preloaded, heap all on files (FSMEM_RAM=0)
#   2. stress, 16 threads, statically linked, default RAM tier
#   3. stress, 8 threads, preloaded, a 64 MiB RAM tier that spills to files
#      in two striped directories
#   4. threads, 8 workers plus thread churn, preloaded, FSMEM_RAM=0
# Each must exit 0 with its "ok" line and nothing from fsmem on stderr, and
# leave nothing in the backing directories. Exit 0 = pass, 1 = fail.
. "$(dirname "$0")/lib.sh"
need_file "$BUILD/tests/stress" "$BUILD/tests/static/stress" "$BUILD/tests/threads" "$BUILD/libfsmem.so"

total=${FSMEM_STRESS_SECONDS:-60}
case $total in '' | *[!0-9]*) fail "FSMEM_STRESS_SECONDS=$total: not a whole number of seconds" ;; esac
[ "$total" -ge 4 ] || total=4
per=$((total / 4))

dir=$(disk_tmpdir fsmem-stress) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/a" "$dir/b" || fail "mkdir"
export FSMEM_STATS=$dir/stats

# run WHAT CMD...: runs CMD (which takes about $per s) with a generous
# timeout; fails unless it exits 0 with an ok line and fsmem was in use.
run() {
    local what=$1 st
    shift
    note "$what ($per s)"
    timeout -k 10 $((per * 3 + 60)) "$@" >"$dir/out" 2>"$dir/err"
    st=$?
    cat "$dir/out"
    if [ "$st" -ne 0 ]; then
        sed 's/^/  stderr: /' "$dir/err" | tail -n 20
        [ "$st" -eq 124 ] && fail "$what: still running after $((per * 3 + 60)) s (deadlock?)"
        fail "$what: $(describe_status $st)"
    fi
    grep -q ': ok' "$dir/out" || fail "$what: no ok line"
    if grep -q '^fsmem' "$dir/err"; then
        sed 's/^/  stderr: /' "$dir/err"
        fail "$what: fsmem printed a message"
    fi
    fsmem_was_used "$FSMEM_STATS" "$what"
    local left
    left=$(ls -A "$dir/a" "$dir/b" | grep -v -e '^$' -e ':$')
    [ -z "$left" ] || fail "$what: files left in the backing directories: $left"
}

run "stress, 8 threads, preloaded, FSMEM_RAM=0" \
    env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$dir/a" "$BUILD/tests/stress" 8 "$per"
run "stress, 16 threads, static, default RAM tier" \
    env FSMEM_DIR="$dir/a" "$BUILD/tests/static/stress" 16 "$per"
run "stress, 8 threads, preloaded, FSMEM_RAM=64M, striped over two directories" \
    env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=64M FSMEM_DIR="$dir/a:$dir/b" "$BUILD/tests/stress" 8 "$per"
run "threads, 8 workers and thread churn, preloaded, FSMEM_RAM=0" \
    env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$dir/a" "$BUILD/tests/threads" 8 "$per"
echo "stress: all runs passed ($total s)"
