#!/bin/bash
# The malloc family's behaviour: glibc as a control, then fsmem preloaded
# (every byte on files), then fsmem statically linked.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/api" "$BUILD/tests/static/api" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-api) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir"' EXIT

note "glibc (control)"
"$BUILD/tests/api" || fail "api fails with plain glibc malloc: the test itself is wrong"

note "fsmem preloaded, FSMEM_RAM=0"
with_fsmem "$dir" "$BUILD/tests/api" || fail "api under LD_PRELOAD=libfsmem.so (FSMEM_RAM=0)"

note "fsmem statically linked, FSMEM_RAM=0"
FSMEM_RAM=0 FSMEM_DIR=$dir "$BUILD/tests/static/api" || fail "api statically linked with libfsmem.a"

left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "api: all three runs passed"
