#!/bin/bash
# After fork, heap pages the parent rewrites are private copies (RAM);
# once every child has exec'd or exited they become file pages again.
# A live child must keep its fork-time view meanwhile.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/thaw" "$BUILD/libfsmem.so"
dir=$(disk_tmpdir fsmem-thaw) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir"' EXIT
FSMEM_DIR=$dir FSMEM_RAM=0 LD_PRELOAD=$BUILD/libfsmem.so "$BUILD/tests/thaw" 256 ||
    fail "thaw under LD_PRELOAD=libfsmem.so (FSMEM_RAM=0)"
FSMEM_DIR=$dir FSMEM_RAM=0 "$BUILD/tests/static/thaw" 256 || fail "thaw statically linked"
echo "thaw: preloaded and static runs passed"
