#!/bin/bash
# realloc of large blocks that must move: contents survive, the process
# does not copy them (RAM-tier pages are moved, file pages copied by the
# kernel from file to file), and the kernel mappings that moves leave
# behind stay few. tests/progs/regrow grows a 256 MiB block past a
# neighbour, then grows eight 1-4 MiB blocks 150 times each, checking
# every block as it goes.
#   The 256 MiB growth must not raise peak resident memory by more than
#   64 MiB: copying through the process faults the new copy in (+256 MiB).
#     RAM tier (FSMEM_RAM=2G): from Linux 5.7 (MREMAP_DONTUNMAP); after
#     some 1200 moves the process must have fewer than 2000 mappings (a
#     few hundred are expected).
#     file pages (FSMEM_RAM=0): copy_file_range, where the filesystem
#     supports it (a message says so if it did not).
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

# grew_by: the rise in peak resident memory (KiB) over the 256 MiB growth.
grew_by() {
    local before after
    read -r _ before after < <(grep '^hwm ' "$dir.out")
    echo $((after - before))
}

note "RAM tier (FSMEM_RAM=2G)"
run 2G
rise=$(grew_by)
if [ "$moves" = 1 ]; then
    [ "$rise" -lt $((64 << 10)) ] ||
        fail "growing a 256 MiB RAM-tier block raised peak memory by $((rise >> 10)) MiB: copied, not moved"
else
    echo "  Linux $kernel has no MREMAP_DONTUNMAP: blocks are copied (not checked)"
fi
maps=$(awk '/^maps /{print $2}' "$dir.out")
[ "$maps" -lt 2000 ] || fail "$maps mappings after some 1200 moves: moves leave too many behind"

note "file pages (FSMEM_RAM=0)"
run 0
rise=$(grew_by)
if [ "$rise" -ge $((64 << 10)) ]; then
    echo "  the copy went through the process (+$((rise >> 10)) MiB): no copy_file_range on $(stat -f -c %T "$dir")"
    [ "$(stat -f -c %T "$dir")" != ext2/ext3 ] || fail "ext4 supports copy_file_range, yet the 256 MiB block was copied through the process"
fi
left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "regrow: all runs passed"
