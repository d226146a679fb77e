#!/bin/bash
# fork+exec and posix_spawn from a process with a big heap, fsmem against
# glibc, ratios measured in the same run (median of BENCH_RUNS runs).
#   bench/forkexec.sh [HEAP_MIB] [ROUNDS]
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/tests/lib.sh"
mib=${1:-2048}
rounds=${2:-50}
runs=${BENCH_RUNS:-3}
out=$ROOT/build/bench
mkdir -p "$out"
cc -O2 -Wall -Wextra -o "$out/forkexec" "$ROOT/bench/forkexec.c" || exit 1
dir=$(disk_tmpdir fsmem-forkexec) || exit 1
trap 'rm -rf "$dir"' EXIT

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

declare -A fork spawn
for ((i = 0; i < runs; i++)); do
    for a in glibc fsmem fsmem-files; do
        case $a in
        glibc) line=$("$out/forkexec" "$mib" "$rounds") ;;
        fsmem) line=$(FSMEM_DIR=$dir LD_PRELOAD=$ROOT/build/libfsmem.so "$out/forkexec" "$mib" "$rounds") ;;
        fsmem-files) line=$(FSMEM_DIR=$dir FSMEM_RAM=0 LD_PRELOAD=$ROOT/build/libfsmem.so "$out/forkexec" "$mib" "$rounds") ;;
        esac
        fork[$a]+="$(field fork_us <<<"$line") "
        spawn[$a]+="$(field spawn_us <<<"$line") "
    done
done
{
    echo "fork+exec and posix_spawn of /bin/true with a $mib MiB heap (microseconds per round, median of $runs runs)"
    printf '%-14s %10s %10s %12s %12s\n' allocator fork_us spawn_us fork/glibc spawn/glibc
    gf=$(tr ' ' '\n' <<<"${fork[glibc]}" | grep . | median)
    gs=$(tr ' ' '\n' <<<"${spawn[glibc]}" | grep . | median)
    for a in glibc fsmem fsmem-files; do
        f=$(tr ' ' '\n' <<<"${fork[$a]}" | grep . | median)
        s=$(tr ' ' '\n' <<<"${spawn[$a]}" | grep . | median)
        printf '%-14s %10s %10s %12.2f %12.2f\n' "$a" "$f" "$s" "$(awk -v a="$f" -v b="$gf" 'BEGIN{print a/b}')" \
            "$(awk -v a="$s" -v b="$gs" 'BEGIN{print a/b}')"
    done
} | tee "$out/forkexec.txt"
