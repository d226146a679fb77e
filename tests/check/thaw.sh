#!/bin/bash
# After fork, heap pages the parent rewrites are private copies (RAM);
# once every child has exec'd or exited they become file pages again.
# A live child must keep its fork-time view meanwhile.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/thaw" "$BUILD/libfsmem.so"
dir=$(disk_tmpdir fsmem-thaw) || fail "no writable directory on disk for backing files"
cg=
trap 'cgroup_remove "$cg"; rm -rf "$dir"' EXIT
FSMEM_DIR=$dir FSMEM_RAM=0 LD_PRELOAD=$BUILD/libfsmem.so "$BUILD/tests/thaw" 256 ||
    fail "thaw under LD_PRELOAD=libfsmem.so (FSMEM_RAM=0)"
FSMEM_DIR=$dir FSMEM_RAM=0 "$BUILD/tests/static/thaw" 256 || fail "thaw statically linked"
# fsmem's own threads never touch the heap: the paging sampler running
# beside the program must not keep it frozen.
FSMEM_DIR=$dir FSMEM_RAM=0 FSMEM_PAGING=auto LD_PRELOAD=$BUILD/libfsmem.so "$BUILD/tests/thaw" 256 ||
    fail "thaw with FSMEM_PAGING=auto (fsmem's sampler thread running)"
# Under a cgroup v1 limit the early-writeback thread runs beside the
# program (cgroup v2 needs none): it must not keep the heap frozen either.
if cg=$(cgroup_make thaw $((1 << 30))); then
    cgroup_run "$cg" env FSMEM_DIR="$dir" FSMEM_RAM=0 LD_PRELOAD="$BUILD/libfsmem.so" \
        "$BUILD/tests/thaw" 256 || fail "thaw in a memory cgroup of 1 GiB"
    where="and in a memory cgroup"
else
    note "no memory cgroup ($cg): the run under a limit is skipped"
    where="(no cgroup run)"
fi
echo "thaw: preloaded, static and FSMEM_PAGING=auto runs passed $where"
