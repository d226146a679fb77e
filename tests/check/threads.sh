#!/bin/bash
# Threads allocating, handing blocks to each other and freeing them, plus
# thread churn: fsmem preloaded and statically linked.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/threads" "$BUILD/tests/static/threads" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-threads) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir" "$dir.stats"' EXIT
export FSMEM_STATS=$dir.stats
secs=${FSMEM_THREADS_SECONDS:-4}

note "glibc (control), 8 threads, 1 s"
FSMEM_STATS= "$BUILD/tests/threads" 8 1 || fail "threads fails with plain glibc malloc: the test itself is wrong"

note "fsmem preloaded, 8 threads, $secs s"
with_fsmem "$dir" "$BUILD/tests/threads" 8 "$secs" || fail "threads under LD_PRELOAD=libfsmem.so"
fsmem_was_used "$FSMEM_STATS" "threads (preloaded)"

note "fsmem preloaded, 2 threads, 2 s"
with_fsmem "$dir" "$BUILD/tests/threads" 2 2 || fail "threads (2) under LD_PRELOAD=libfsmem.so"
fsmem_was_used "$FSMEM_STATS" "threads (preloaded)"

note "fsmem statically linked, 8 threads, $secs s"
FSMEM_RAM=0 FSMEM_DIR=$dir "$BUILD/tests/static/threads" 8 "$secs" ||
    fail "threads statically linked with libfsmem.a"
fsmem_was_used "$FSMEM_STATS" "threads (static)"

left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "threads: all runs passed"
