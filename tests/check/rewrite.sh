#!/bin/bash
# A heap that fits under its cgroup v1 limit is not written back under the
# program. Cgroup v1 limits dirty page cache only machine-wide, so fsmem
# starts writeback itself when reclaim would find nothing to take without
# waiting; a heap whose file pages all fit under the limit leaves plenty
# of room, and writing it back then would only make each next write dirty
# a 2 MiB folio again.
#
# rewrite fills 768 MiB in a 1 GiB cgroup (the default RAM tier takes
# half of the limit, so about 256 MiB lie on files), then writes one word
# on 20 million random pages. The kernel counts every page or folio that
# turns dirty (write_bytes): the fill dirties the heap once, and the
# random writes must dirty far less than the file pages again. Rewritten
# back each time the cgroup ran short of clean cache, they dirtied
# 2 GB and more.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/rewrite" "$BUILD/libfsmem.so"

heap_mib=768
limit_mib=1024
writes=20000000
dir=$(disk_tmpdir fsmem-rewrite) || fail "no writable directory on disk for backing files"
cg=
cleanup() {
    cgroup_remove "$cg"
    rm -rf "$dir" "$dir.out" "$dir.stats"
}
trap cleanup EXIT

[ "$(cgroup_version)" = v1 ] ||
    skip "no cgroup v1 memory controller: under cgroup v2 the kernel limits each cgroup's dirty pages itself"
cg=$(cgroup_make rewrite $((limit_mib << 20))) || skip "$cg"

start=$(now)
cgroup_run "$cg" env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_DIR="$dir" FSMEM_STATS="$dir.stats" \
    "$BUILD/tests/rewrite" "$heap_mib" "$writes" >"$dir.out" 2>&1 ||
    fail "rewrite failed ($(describe_status $?)): $(cat "$dir.out")"
secs=$(elapsed "$start")
files=$(awk '$2 == "used" && $4 == "files" { print $5 }' "$dir.stats")
dirtied=$(awk '$1 == "rewritten" { print $2 }' "$dir.out")
[ -n "$dirtied" ] && [ "$dirtied" -ge 0 ] || fail "no 'rewritten' figure: $(cat "$dir.out")"
note "$heap_mib MiB heap in a $limit_mib MiB cgroup, $files on files: $writes random writes" \
    "in ${secs}s dirtied $((dirtied >> 20)) MiB of page cache again"
grep 'early writeback' "$dir.stats" | sed 's/^/    /'
[ "$dirtied" -lt $((128 << 20)) ] ||
    fail "the random writes dirtied $((dirtied >> 20)) MiB again: the heap's file pages were written back under the program although they fit under the limit"
left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "rewrite: a heap that fits under its cgroup's limit was not written back under the program"
