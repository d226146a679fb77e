#!/bin/bash
# fork(): copy-on-write isolation between parent and child, fork from a
# multithreaded parent, fork+exec. fsmem preloaded and statically linked,
# and a fork after which parent and child both grow past the end of the
# RAM tier.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/forker" "$BUILD/tests/static/forker" "$BUILD/tests/forkgrow" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-fork) || fail "no writable directory on disk for backing files"
cg=
trap 'cgroup_remove "$cg"; rm -rf "$dir" "$dir.stats"' EXIT
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

# Parent and child each grow past the end of the RAM tier after the fork:
# in a 6 GiB cgroup the tier starts at 3 GiB and may grow in either.
if cg=$(cgroup_make fork $((6 << 30))); then
    note "fsmem preloaded, default RAM tier, fork across its end (6 GiB cgroup)"
    cgroup_run "$cg" env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_DIR="$dir" \
        "$BUILD/tests/forkgrow" 2800 1000 || fail "forkgrow: a fork across the end of the RAM tier"
    grep -q 'grown' "$FSMEM_STATS" ||
        fail "forkgrow: the RAM tier never grew, so the case tested nothing: $(grep 'RAM tier' "$FSMEM_STATS")"
    grep 'RAM tier\|used from files' "$FSMEM_STATS" | sed 's/^/    /'
    fsmem_was_used "$FSMEM_STATS" "fork (growing RAM tier)"
else
    note "no memory cgroup ($cg): the fork across the RAM tier's end is not checked"
    cg=
fi

left=$(ls -A "$dir")
[ -z "$left" ] || fail "files left in the backing directory: $left"
echo "fork: all runs passed"
