#!/bin/bash
# check-timeout: 900
# The checks that use a memory cgroup, again under cgroup v2, in a
# virtual machine booted from Debian's stock 6.1 kernel (tests/guest/run.sh).
# This machine's memory controller is cgroup v1, while most systems and
# batch schedulers now give jobs a cgroup v2 limit (memory.max), and
# fsmem reads that limit, and what is left under it, from other files.
# The kernel is also older than ext4's large folios, so the same checks
# cover fsmem's paging where 2 MiB reads come back as single pages, and
# it gives every anonymous mapping transparent huge pages (THP "always",
# as Red Hat's kernels do), which this machine's kernel does not.
#
# Not run there: pattern, and the unit tests' fault trail skips. Under
# qemu's emulated CPU a 2 MiB read fault takes 2.1-2.3 ms of CPU (0.18 ms
# on this machine), more than the trail's bound for random touches, so
# the trail never speaks, for the emulator's sake.
#
#   FSMEM_GUEST_CHECKS   the checks to run in the guest (default below)
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/libfsmem.so"

checks=${FSMEM_GUEST_CHECKS:-mission rewrite fork quiet thaw reclaim full_disk unit}
out=$(mktemp) || fail "no temporary file"
trap 'rm -f "$out"' EXIT
bash "$ROOT/tests/guest/run.sh" $checks >"$out" 2>&1
status=$?
cat "$out"
case $status in
0) ;;
77) skip "$(grep '^skip: ' "$out" | tail -n 1 | sed 's/^skip: //')" ;;
*) fail "in the cgroup v2 guest: $(tail -n 1 "$out")" ;;
esac
# Every check must have run: a check that skips in the guest proves nothing.
grep -Eq "^$(echo "$checks" | wc -w) passed, 0 failed, 0 skipped$" "$out" ||
    fail "in the cgroup v2 guest, not every check passed: $(grep -E '^[0-9]+ passed' "$out")"
echo "cgroup v2 (Debian kernel): $checks passed"
