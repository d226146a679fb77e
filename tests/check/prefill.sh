#!/bin/bash
# Fresh file pages are filled ahead of a program that writes them in
# address order, and only then. tests/progs/prefill writes 512 MiB of
# heap on files (FSMEM_RAM=0) as 1 MiB blocks allocated one after
# another, and as one block, and reads every page back; the FSMEM_STATS
# summary says how much the fsmem-prefill thread filled. It must have
# taken part of both fills, and none of a block the program allocates
# and leaves alone; of one written on a few random pages, at most the
# 32 MiB it may run ahead. In a memory cgroup of 192 MiB, a fill of
# 512 MiB read back at once: the thread may take its half of the fill
# and no more (it once followed the reads as a new fill, reading every
# other block back from disk ahead of them). Needs two CPUs: with one,
# the thread is not started.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/prefill" "$BUILD/libfsmem.so"

cpus=$(nproc 2>/dev/null || echo 1)
[ "$cpus" -ge 2 ] || skip "one CPU: fsmem fills fresh pages ahead of the program only with two or more"

dir=$(disk_tmpdir fsmem-prefill) || fail "no writable directory on disk for backing files"
cg=
trap 'cgroup_remove "$cg"; rm -rf "$dir" "$dir.stats" "$dir.out"' EXIT
failures=()

# filled MODE: runs prefill MODE 512 (under the command in the array
# "wrap" when it is set) and sets got to the bytes the thread filled (0
# when the summary has no prefill line: the thread never ran). Not in a
# subshell: its failures must reach the caller.
wrap=()
filled() {
    got=0
    : >"$dir.stats"
    "${wrap[@]}" env FSMEM_STATS="$dir.stats" LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 \
        FSMEM_DIR="$dir" "$BUILD/tests/prefill" "$1" 512 >"$dir.out" 2>&1 ||
        { failures+=("prefill $1: $(describe_status $?): $(tail -n 2 "$dir.out")"); return; }
    grep -qx ok "$dir.out" || failures+=("prefill $1: no 'ok': $(tail -n 2 "$dir.out")")
    [ -s "$dir.stats" ] || failures+=("prefill $1: no FSMEM_STATS summary: was fsmem in use?")
    got=$(awk '/^fsmem: +prefill / {
            v = $3; u = substr(v, length(v)); n = v + 0
            if (u == "K") n *= 1024; else if (u == "M") n *= 1048576; else if (u == "G") n *= 1073741824
            b = n
        }
        END { printf "%d\n", b + 0 }' "$dir.stats")
}

mib() { echo $(($1 >> 20)); }

for mode in blocks one; do
    filled "$mode"
    b=$got
    note "$mode: $(mib "$b") MiB of 512 filled ahead of the program"
    [ "$b" -ge $((8 << 20)) ] ||
        failures+=("$mode: the thread filled $(mib "$b") MiB of a 512 MiB fill in address order (at least 8 expected)")
done
filled idle
b=$got
note "idle: $(mib "$b") MiB filled in a block never written"
[ "$b" -eq 0 ] || failures+=("idle: the thread filled $b bytes of a block the program never wrote")
filled random
b=$got
note "random: $(mib "$b") MiB filled in a block written on 64 random pages"
[ "$b" -le $((32 << 20)) ] ||
    failures+=("random: the thread filled $(mib "$b") MiB of a block written at random (at most 32 expected)")
# (Twice: the thread followed the reads in 7 runs of 9 when it could.)
if cg=$(cgroup_make prefill $((192 << 20))); then
    for run in 1 2; do
        wrap=(cgroup_run "$cg")
        filled pass
        wrap=()
        b=$got
        note "pass: $(mib "$b") MiB of a 512 MiB fill read back at once, in a 192 MiB cgroup"
        [ "$b" -le $(((256 + 32) << 20)) ] ||
            failures+=("pass: the thread filled $(mib "$b") MiB of a 512 MiB fill read back at once (at most 288 expected: it followed the reads)")
    done
else
    note "skipped the fill read back at once: $cg"
fi
rm -f "$dir.out"
finish "$dir" "prefill: fills in address order were helped, other blocks left alone"
