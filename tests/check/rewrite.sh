#!/bin/bash
# A heap that fits in memory is not written back under a program that
# rewrites it at random. Written back, each next write to a 2 MiB folio
# dirties the whole folio again; such runs dirtied gigabytes a second.
#
# - The RAM tier grows while the heap fits. FSMEM_RAM=auto starts with
#   half of the tightest limit; when the heap reaches its end before any
#   of it lies on files, the tier grows by half of what the limit still
#   leaves above a floor (a quarter of the limit, at least 1 GiB).
#   rewrite fills 2800 MiB in a 4 GiB memory cgroup (a 2 GiB tier to
#   start with): the summary must show the tier grown and nothing used
#   from files.
# - File pages that fit under a cgroup v1 limit are left alone. Cgroup v1
#   limits dirty page cache only machine-wide, so fsmem starts writeback
#   itself when reclaim would find nothing to take without waiting; the
#   room still free under the limit counts. rewrite fills 768 MiB in a
#   1 GiB cgroup, whose floor leaves the tier no room to grow: 512 MiB
#   of RAM tier, about 256 MiB on files.
#
# Each run then writes one word on 20 million random pages, and the
# kernel counts every page or folio that turns dirty (write_bytes): the
# fill dirties the heap once, and the random writes must dirty almost
# nothing again.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/rewrite" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-rewrite) || fail "no writable directory on disk for backing files"
cg=
cleanup() {
    cgroup_remove "$cg"
    rm -rf "$dir" "$dir.out" "$dir.stats"
}
trap cleanup EXIT

# run LIMIT_MIB HEAP_MIB: rewrite in a fresh cgroup; fails unless its
# random writes dirtied less than 128 MiB again. Leaves the summary in
# $dir.stats.
run() {
    local limit_mib=$1 heap_mib=$2 start secs dirtied
    cg=$(cgroup_make rewrite $((limit_mib << 20))) || skip "$cg"
    rm -f "$dir.stats"
    start=$(now)
    cgroup_run "$cg" env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_DIR="$dir" FSMEM_STATS="$dir.stats" \
        "$BUILD/tests/rewrite" "$heap_mib" 20000000 >"$dir.out" 2>&1 ||
        fail "rewrite of $heap_mib MiB in a $limit_mib MiB cgroup failed ($(describe_status $?)): $(cat "$dir.out")"
    secs=$(elapsed "$start")
    cgroup_remove "$cg"
    cg=
    dirtied=$(awk '$1 == "rewritten" { print $2 }' "$dir.out")
    [ -n "$dirtied" ] && [ "$dirtied" -ge 0 ] || fail "no 'rewritten' figure: $(cat "$dir.out")"
    note "$heap_mib MiB heap in a $limit_mib MiB cgroup, 20 million random writes in ${secs}s:" \
        "dirtied $((dirtied >> 20)) MiB of page cache again"
    grep -E 'RAM tier|used from files|early writeback' "$dir.stats" | sed 's/^/    /'
    [ "$dirtied" -lt $((128 << 20)) ] ||
        fail "$heap_mib MiB heap in a $limit_mib MiB cgroup: the random writes dirtied" \
            "$((dirtied >> 20)) MiB again: the heap was written back under the program although it fits"
}

run 4096 2800
grep -Eq 'RAM tier .*grown [0-9]+ times? as the heap reached its end' "$dir.stats" ||
    fail "the RAM tier did not grow although the cgroup had room: $(grep 'RAM tier' "$dir.stats")"
grep -Eq 'used from files +0B$' "$dir.stats" ||
    fail "part of a heap that fits in the cgroup went to files: $(grep 'used from files' "$dir.stats")"

if [ "$(cgroup_version)" = v1 ]; then
    run 1024 768
    grep -Eq 'RAM tier +512\.0M \(half of memory cgroup 1\.0G\)$' "$dir.stats" ||
        fail "expected a RAM tier of 512 MiB that did not grow: $(grep 'RAM tier' "$dir.stats")"
else
    note "cgroup $(cgroup_version): the kernel limits each cgroup's dirty pages itself; fsmem's early writeback is for v1 only"
fi
left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "rewrite: heaps that fit in memory were not written back under the program"
