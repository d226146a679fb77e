#!/bin/bash
# realloc of large blocks that must move: contents survive, RAM-tier pages
# are moved rather than copied, and the kernel mappings that moves leave
# behind stay few. tests/progs/regrow grows a 256 MiB block past a
# neighbour, then grows eight 1-4 MiB blocks 150 times each, checking
# every block as it goes.
#   RAM tier: the 256 MiB growth must not raise peak resident memory by
#     more than 64 MiB (a copy raises it by 256 MiB), from Linux 5.7
#     (MREMAP_DONTUNMAP); after some 1200 moves the process must have
#     fewer than 2000 mappings (a few hundred are expected).
#   file pages (FSMEM_RAM=0): copied; contents must survive.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/regrow" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-regrow) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir" "$dir.out"' EXIT

kernel=$(uname -r)
major=${kernel%%.*} rest=${kernel#*.}
minor=${rest%%[!0-9]*}
moves=1
if [ "$major" -lt 5 ] || { [ "$major" -eq 5 ] && [ "${minor:-0}" -lt 7 ]; }; then
    moves=0
fi

# run RAM: regrow with FSMEM_RAM=RAM; leaves its output in $dir.out.
run() {
    local status
    env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_DIR="$dir" FSMEM_RAM="$1" \
        "$BUILD/tests/regrow" 8 150 >"$dir.out" 2>&1
    status=$?
    sed 's/^/  /' "$dir.out"
    [ "$status" = 0 ] && grep -qx ok "$dir.out" ||
        fail "regrow, FSMEM_RAM=$1: $(describe_status $status)"
}

note "RAM tier (FSMEM_RAM=2G)"
run 2G
read -r _ before after < <(grep '^hwm ' "$dir.out")
maps=$(awk '/^maps /{print $2}' "$dir.out")
if [ "$moves" = 1 ]; then
    [ $((after - before)) -lt $((64 << 10)) ] ||
        fail "growing a 256 MiB RAM-tier block raised peak memory by $(((after - before) >> 10)) MiB: copied, not moved"
else
    echo "  Linux $kernel has no MREMAP_DONTUNMAP: blocks are copied (not checked)"
fi
[ "$maps" -lt 2000 ] || fail "$maps mappings after some 1200 moves: moves leave too many behind"

note "file pages (FSMEM_RAM=0)"
run 0
left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "regrow: all runs passed"
