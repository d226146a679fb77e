#!/bin/bash
# fork(): copy-on-write isolation between parent and child, fork from a
# multithreaded parent, fork+exec. fsmem preloaded and statically linked.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/forker" "$BUILD/tests/static/forker" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-fork) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir" "$dir.stats"' EXIT
export FSMEM_STATS=$dir.stats

note "glibc (control)"
FSMEM_STATS= "$BUILD/tests/forker" 50 || fail "forker fails with plain glibc malloc: the test itself is wrong"

note "fsmem preloaded, FSMEM_RAM=0"
with_fsmem "$dir" "$BUILD/tests/forker" 200 || fail "forker under LD_PRELOAD=libfsmem.so"
fsmem_was_used "$FSMEM_STATS" "fork (preloaded)"

note "fsmem statically linked, FSMEM_RAM=0"
FSMEM_RAM=0 FSMEM_DIR=$dir "$BUILD/tests/static/forker" 200 ||
    fail "forker statically linked with libfsmem.a"
fsmem_was_used "$FSMEM_STATS" "fork (static)"

left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "fork: all runs passed"
