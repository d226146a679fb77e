#!/bin/bash
# Disk follows the live heap: a program fills 1 GiB on files (FSMEM_RAM=0)
# in one block, in 1 MiB blocks and in 64 KiB blocks, then frees it all;
# within a second its backing files must have given the space back. At
# most a constant stays: freed runs younger than half a second are kept
# for reuse up to the purge floor plus 96 MiB (128 MiB), and a program
# that goes idle makes no call that would purge them later. While
# filled, the files hold at least the heap.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/freeback" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-reclaim) || fail "no writable directory on disk for backing files"
pid=
cleanup() {
    exec 3>&- 2>/dev/null
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$dir" "$dir.ctl" "$dir.out"
}
trap cleanup EXIT
mib=1024
keep_kib=$((168 << 10))   # 128 MiB of young freed runs + up to 32 MiB reserved ahead + slack

for block_kib in $((mib << 10)) 1024 64; do
    rm -f "$dir.ctl" "$dir.out"
    mkfifo "$dir.ctl" || fail "mkfifo"
    LD_PRELOAD=$BUILD/libfsmem.so FSMEM_RAM=0 FSMEM_DIR=$dir FSMEM_STATS= \
        "$BUILD/tests/freeback" "$mib" "$block_kib" <"$dir.ctl" >"$dir.out" 2>&1 &
    pid=$!
    exec 3>"$dir.ctl"
    wait_for_line "$dir.out" '^filled' 120 "$pid" ||
        fail "${block_kib} KiB blocks: no 'filled' line: $(cat "$dir.out")"
    full=$(backing_kib "$pid" "$dir" | head -n 1)
    [ "$full" -ge $((mib << 10)) ] ||
        fail "${block_kib} KiB blocks: backing files hold only $full KiB for a $mib MiB heap"
    echo go >&3
    wait_for_line "$dir.out" '^freed' 30 "$pid" || fail "${block_kib} KiB blocks: no 'freed' line"
    start=$(now)
    sleep 1
    after=$(backing_kib "$pid" "$dir" | head -n 1)
    note "${block_kib} KiB blocks: $((full >> 10)) MiB on disk while filled, $((after >> 10)) MiB one second after freeing it all"
    [ "$after" -le "$keep_kib" ] ||
        fail "${block_kib} KiB blocks: $after KiB still on disk a second after freeing the heap (at most $keep_kib expected)"
    exec 3>&-
    wait "$pid" || fail "${block_kib} KiB blocks: freeback $(describe_status $?)"
    pid=
done
left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "reclaim: disk use followed the heap in all runs"
