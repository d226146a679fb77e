#!/bin/bash
# fsmem benchmarks: allocators side by side, every figure a ratio against
# baselines measured in the same run. See bench/README.md.
#
#   bench/run.sh                      (or: make bench)
#
# Environment:
#   BENCH_RUNS=N          runs per cell, median reported (default 5; access 3)
#   BENCH_QUICK=1         tiny sizes and 1 run: a smoke test of the harness
#   BENCH_SECTIONS=LIST   comma-separated: inram, outofcore, growth (default all)
#   BENCH_ALLOCS=LIST     in-RAM allocators (default: glibc jemalloc mimalloc
#                         memkind fsmem-auto fsmem; fsmem-auto is fsmem with
#                         its default RAM tier, fsmem has FSMEM_RAM=0)
#   BENCH_WORKLOADS=LIST  in-RAM workloads (default: larson churn prodcons
#                         realloc arrays mixed access)
#   BENCH_THREADS=LIST    thread counts (default: 1 2)
#   BENCH_OOC=LIST        out-of-core rows (default: glibc mapfile memkind
#                         fsmem fsmem-passes fsmem-random swap; also known:
#                         fsmem-auto)
#   BENCH_OOC_RUNS=N      rounds of the out-of-core rows, medians reported
#                         (default 3; quick: 1)
#   BENCH_SETTLE=S        seconds between out-of-core runs (default 6 on a VM
#                         whose balloon reports free memory to the host, else 0)
#   BENCH_OOC_HEAP_MB=N, BENCH_OOC_LIMIT_MB=N   heap and cgroup limit out of
#                         core (default 2048 and 512; quick: 128 and 32)
#   BENCH_OOC_TOUCHES=N   random page touches out of core (default 5000;
#                         quick: 200)
#   BENCH_DIR=DIR         where backing files, the swap file and the dd test
#                         file go (default $TMPDIR, else /var/tmp; must be a
#                         disk, not tmpfs)
#   BENCH_TIMEOUT=S       per-run limit in RAM (default 300 s)
#   BENCH_OOC_TIMEOUT=S   per-row limit out of core (default 600 s)
#   BENCH_GROWTH=LIST     growth rows (default: glibc fsmem fsmem-ram0 mapfile
#                         swap; fsmem is FSMEM_RAM unset, fsmem-ram0 has 0)
#   BENCH_GROWTH_LIMIT_MB=N    cgroup limit of the growth section (default
#                         512; quick: 32)
#   BENCH_GROWTH_FACTORS=LIST  heaps as multiples of that limit (default
#                         "0.25 0.5 1 2 4"; quick: "0.5 2")
#   BENCH_GROWTH_TIMEOUT=S     per-run limit in the growth section (default
#                         300 s); a row that times out skips larger heaps
#
# Output in build/bench/: raw.tsv (every run), inram.tsv, outofcore.tsv and
# growth.tsv (medians and ratios), *-table.txt (the tables printed here),
# *.png.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
B=build/bench
ABS_B=$ROOT/$B

QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 1 ] && RUNS=${BENCH_RUNS:-1} || RUNS=${BENCH_RUNS:-5}
SECTIONS=,${BENCH_SECTIONS:-inram,outofcore,growth},
ALLOCS=${BENCH_ALLOCS:-glibc jemalloc mimalloc memkind fsmem-auto fsmem}
WORKLOADS=${BENCH_WORKLOADS:-larson churn prodcons realloc arrays mixed access}
THREADS=${BENCH_THREADS:-1 2}
OOC_ROWS=${BENCH_OOC:-glibc mapfile memkind fsmem fsmem-passes fsmem-random swap}
GROWTH_ROWS=${BENCH_GROWTH:-glibc fsmem fsmem-ram0 mapfile swap}
TIMEOUT=${BENCH_TIMEOUT:-300}
OOC_TIMEOUT=${BENCH_OOC_TIMEOUT:-600}
GROWTH_TIMEOUT=${BENCH_GROWTH_TIMEOUT:-300}
ALLOCS=${ALLOCS//,/ } WORKLOADS=${WORKLOADS//,/ } THREADS=${THREADS//,/ } OOC_ROWS=${OOC_ROWS//,/ }
GROWTH_ROWS=${GROWTH_ROWS//,/ }
# glibc is the baseline of every ratio: always measured, always first.
ALLOCS="glibc $(for a in $ALLOCS; do [ "$a" != glibc ] && printf '%s ' "$a"; done)"
ALLOCS=${ALLOCS% }
GROWTH_ROWS="glibc $(for a in $GROWTH_ROWS; do [ "$a" != glibc ] && printf '%s ' "$a"; done)"
GROWTH_ROWS=${GROWTH_ROWS% }

say() { echo "bench: $*" >&2; }

# turn I N ROUND: which of N rows runs I-th in round ROUND. Each round
# starts one row further on, and every odd one runs backwards, so that
# no row keeps its place or always follows the same row: a drift of the
# machine, or what a run leaves behind (a row that read 30 GB leaves the
# disk and the page cache otherwise than one that read 4), touches all
# alike.
turn() {
    local k=$((($1 + $3) % $2))
    [ $(($3 % 2)) = 1 ] && k=$(($2 - 1 - k))
    echo "$k"
}

# A VM whose balloon reports free memory to its host (virtio feature 5)
# hands back what a run freed a couple of seconds after it ends, and a
# run that touches memory then waits for the host to give it back: 2 GiB
# filled through fsmem right after another run took 0.93-0.97 s, six
# seconds later 1.93-2.02 s (swap 2.91 against 3.56 s). So every
# out-of-core run starts OOC_SETTLE seconds after the one before, when
# the host has taken that memory back, as it has for a job that starts
# on a quiet machine; otherwise a row's time would depend on which row
# came before it.
free_page_reporting() {
    local f
    for f in /sys/bus/virtio/drivers/virtio_balloon/virtio*/features; do
        [ -r "$f" ] && [ "$(cut -c6 "$f")" = 1 ] && return 0
    done
    return 1
}
OOC_SETTLE=0
[ "$QUICK" != 1 ] && free_page_reporting && OOC_SETTLE=6
OOC_SETTLE=${BENCH_SETTLE:-$OOC_SETTLE}
if ! [[ $OOC_SETTLE =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    say "BENCH_SETTLE=$OOC_SETTLE: not a number of seconds"
    exit 2
fi

# ---------------------------------------------------------------- sizes
# Arguments after the thread count, per workload. Defaults take glibc
# about 0.3-1.5 s per run with one thread on the reference machine.
if [ "$QUICK" = 1 ]; then
    declare -A ARGS=([larson]=2 [churn]=1 [prodcons]=1 [realloc]=1 [arrays]=16 [mixed]=1
                     [access]="64 2 20000")
    OOC_LIMIT_MB=32 OOC_HEAP_MB=128 OOC_TOUCHES=200
    GROWTH_LIMIT_MB=32 GROWTH_FACTORS="0.5 2"
    ACCESS_RUNS=1
else
    declare -A ARGS=([larson]=100 [churn]=30 [prodcons]=40 [realloc]=24 [arrays]=128 [mixed]=12
                     [access]="3072 3 200000")
    OOC_LIMIT_MB=512 OOC_HEAP_MB=2048 OOC_TOUCHES=5000
    GROWTH_LIMIT_MB=512 GROWTH_FACTORS="0.25 0.5 1 2 4"
    ACCESS_RUNS=$((RUNS < 3 ? RUNS : 3))
fi
OOC_LIMIT_MB=${BENCH_OOC_LIMIT_MB:-$OOC_LIMIT_MB}
OOC_HEAP_MB=${BENCH_OOC_HEAP_MB:-$OOC_HEAP_MB}
OOC_TOUCHES=${BENCH_OOC_TOUCHES:-$OOC_TOUCHES}
[ "$QUICK" = 1 ] && OOC_RUNS=${BENCH_OOC_RUNS:-1} || OOC_RUNS=${BENCH_OOC_RUNS:-3}
# count NAME VALUE MIN: VALUE must be a whole number of at least MIN
count() {
    [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && return 0
    say "$1=$2: not a whole number of at least $3"
    exit 2
}
count BENCH_OOC_LIMIT_MB "$OOC_LIMIT_MB" 16
count BENCH_OOC_HEAP_MB "$OOC_HEAP_MB" 1
count BENCH_OOC_TOUCHES "$OOC_TOUCHES" 0
count BENCH_OOC_RUNS "$OOC_RUNS" 1
GROWTH_LIMIT_MB=${BENCH_GROWTH_LIMIT_MB:-$GROWTH_LIMIT_MB}
GROWTH_FACTORS=${BENCH_GROWTH_FACTORS:-$GROWTH_FACTORS}
# Ascending, so the first heap is the baseline's and a timeout can skip the rest.
GROWTH_FACTORS=$(printf '%s\n' ${GROWTH_FACTORS//,/ } | awk '$1 + 0 > 0' | sort -gu | tr '\n' ' ')
GROWTH_FACTORS=${GROWTH_FACTORS% }
# Three write passes: their median is the steady state, one pass can be hit
# by writeback of the fill. No random touches: out of core they cost seconds
# each (see outofcore) and say nothing about growth.
GROWTH_PASSES=3

# ---------------------------------------------------------------- build
say "building workloads, runner and memkind shim into $B/"
mkdir -p "$B" || exit 1
if ! make -s -f bench/bench.mk all >"$B/build.log" 2>&1; then
    # Build what can be built: the shim needs libmemkind-dev, the rest only cc.
    make -s -k -f bench/bench.mk all >>"$B/build.log" 2>&1
    say "some targets did not build (see $B/build.log):"
    grep -E 'error|No rule' "$B/build.log" | head -5 >&2
fi
for p in runner larson access; do
    [ -x "$B/$p" ] || { say "cannot run without $B/$p"; exit 1; }
done

# ---------------------------------------------------------------- workspace
pick_dir() {
    local base type
    for base in ${BENCH_DIR:-} ${TMPDIR:-} /var/tmp "$ROOT/build"; do
        [ -d "$base" ] && [ -w "$base" ] || continue
        type=$(stat -f -c %T "$base" 2>/dev/null) || continue
        case $type in tmpfs | ramfs) say "$base is $type (RAM), not a disk: skipped"; continue ;; esac
        mktemp -d "$base/fsmem-bench.XXXXXX" && return 0
    done
    return 1
}
WORK=$(pick_dir) || { say "no writable disk directory for backing files"; exit 1; }
WORK=$(cd "$WORK" && pwd -P)
# Per-run scratch files (stdout, metrics) stay out of $WORK, where the
# runner counts every file the child holds open as backing store.
SCRATCH=$(mktemp -d "$ABS_B/.scratch.XXXXXX") || exit 1
SWAPFILE= SWAP_ON=0 CGROUP=
cleanup() {
    local i err
    if [ "$SWAP_ON" = 1 ]; then
        # After ^C the killed run may still be exiting with pages in swap,
        # which swapoff cannot bring back into its small cgroup: let it go.
        for i in 1 2 3 4 5 6 7 8 9 10; do
            err=$(swapoff "$SWAPFILE" 2>&1) && { SWAP_ON=0; break; }
            sleep 0.5
        done
        [ "$SWAP_ON" = 1 ] && say "WARNING: swapoff $SWAPFILE failed ($err); run it by hand"
    fi
    [ -n "$SWAPFILE" ] && [ "$SWAP_ON" = 0 ] && rm -f "$SWAPFILE"
    if [ -n "$CGROUP" ] && [ -d "$CGROUP" ]; then
        for i in 1 2 3 4 5; do rmdir "$CGROUP" 2>/dev/null && break; sleep 0.5; done
    fi
    rm -rf "$WORK" "$SCRATCH"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT TERM HUP

find_lib() {
    local f
    for f in "/usr/lib/$(gcc -print-multiarch 2>/dev/null)/$1" /usr/lib/x86_64-linux-gnu/"$1" \
             /usr/lib64/"$1" /usr/lib/"$1" /usr/local/lib/"$1"; do
        [ -f "$f" ] && { echo "$f"; return 0; }
    done
    ldconfig -p 2>/dev/null | awk -v n="$1" '$1 == n { print $NF; exit }'
}
JEMALLOC=$(find_lib libjemalloc.so.2)
MIMALLOC=$(find_lib libmimalloc.so.2)

# alloc_setup NAME: sets RENV (runner -e options), RDISK (runner -d option)
# and RMISSING (why NAME cannot run, or empty).
alloc_setup() {
    RENV=() RDISK=() RMISSING=
    case $1 in
    glibc) ;;
    jemalloc) [ -n "$JEMALLOC" ] && RENV=(-e "LD_PRELOAD=$JEMALLOC") || RMISSING="libjemalloc.so.2 not found" ;;
    mimalloc) [ -n "$MIMALLOC" ] && RENV=(-e "LD_PRELOAD=$MIMALLOC") || RMISSING="libmimalloc.so.2 not found" ;;
    memkind)
        [ -f "$ABS_B/libmemkind_shim.so" ] || RMISSING="$B/libmemkind_shim.so not built (libmemkind-dev?)"
        RENV=(-e "LD_PRELOAD=$ABS_B/libmemkind_shim.so" -e "MEMKIND_SHIM_DIR=$WORK")
        RDISK=(-d "$WORK") ;;
    fsmem | fsmem-auto)
        [ -f "$ROOT/build/libfsmem.so" ] || RMISSING="build/libfsmem.so does not exist"
        RENV=(-e "LD_PRELOAD=$ROOT/build/libfsmem.so" -e "FSMEM_DIR=$WORK")
        [ "$1" = fsmem ] && RENV+=(-e FSMEM_RAM=0) || RENV+=(-e FSMEM_RAM=auto)
        RDISK=(-d "$WORK") ;;
    fsmem-random)   # out of core: fsmem for scattered access
        alloc_setup fsmem
        RENV+=(-e FSMEM_PAGING=random) ;;
    fsmem-passes)   # out of core: fsmem reading 2 MiB a fault whatever the program does
        alloc_setup fsmem
        RENV+=(-e FSMEM_PAGING=passes) ;;
    mapfile) RDISK=(-d "$WORK") ;;
    swap) ;;
    *) RMISSING="unknown allocator" ;;
    esac
}

RAW=$B/raw.tsv
# results of an earlier run must not pass for this one's
rm -f "$B"/*.tsv "$B"/*.dat "$B"/*.png "$B"/*-table.txt "$B"/last-failure-*.stderr
RAW_HEADER='section\tworkload\tthreads\talloc\trun\tstatus\twall\tuser\tsys\trss_kb\tdisk_kb\tmem_kb\tfoot_kb\tmajflt\tminflt\tin_kb\tout_kb\tchecksum\ttouch\twpass\trpass\trandom\trandom_us\tfree\tlate_us'
printf '%b\n' "$RAW_HEADER" >"$RAW"
# the measurement columns of a row that has none (missing, skipped): one
# "-" for each column after status
NO_METRICS=$(printf '%b\n' "$RAW_HEADER" | awk -F'\t' '{ for (i = 7; i <= NF; i++) printf "\t-" }')

# run_one SECTION WORKLOAD THREADS ALLOC RUN TIMEOUT [runner options] -- CMD...
# Runs one measurement and appends its row to raw.tsv; prints a short
# result for the progress line.
run_one() {
    local sec=$1 wl=$2 th=$3 al=$4 run=$5 tmo=$6
    shift 6
    local m=$SCRATCH/metrics ph=$SCRATCH/phases out=$SCRATCH/stdout
    rm -f "$m" "$ph" "$out"
    "$B/runner" -o "$m" -t "$tmo" -e "BENCH_PHASES=$ph" "$@" >"$out" 2>"$SCRATCH/stderr"
    if [ ! -s "$m" ]; then
        echo "status=runner-failed" >"$m"
    fi
    awk -v sec="$sec" -v wl="$wl" -v th="$th" -v al="$al" -v run="$run" \
        -v sum="$(head -c 64 "$out" | head -n 1)" -v phf="$ph" '
        BEGIN {
            n = split("touch wpass rpass random random_us free late_us", P, " ")
            while ((getline line < phf) > 0) { split(line, f, "\t"); ph[f[1]] = f[2] }
        }
        {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        }
        END {
            st = v["status"]
            if (st == "ok" && sum !~ /^[0-9a-f]+$/) st = "no-checksum"
            printf "%s\t%s\t%s\t%s\t%s\t%s", sec, wl, th, al, run, st
            split("wall user sys rss_kb disk_kb mem_kb foot_kb majflt minflt in_kb out_kb", K, " ")
            for (i = 1; i <= 11; i++) printf "\t%s", (K[i] in v) ? v[K[i]] : "-"
            printf "\t%s", sum == "" ? "-" : sum
            for (i = 1; i <= n; i++) printf "\t%s", (P[i] in ph) ? ph[P[i]] : "-"
            printf "\n"
        }' FS='\t' "$m" >>"$RAW"
    tail -n 1 "$RAW" | awk -F'\t' '{ if ($6 == "ok") printf "%.2fs", $7; else printf "%s", $6 }'
    if grep -q . "$SCRATCH/stderr" 2>/dev/null && ! tail -n 1 "$RAW" | awk -F'\t' '$6 == "ok" { exit 0 } { exit 1 }'; then
        cp "$SCRATCH/stderr" "$B/last-failure-$al-$wl.stderr"
    fi
}

# ------------------------------------------------------------ in RAM
inram() {
    local alist=() a
    for a in $ALLOCS; do alist+=("$a"); done
    local na=${#alist[@]} run wl th i line res runs wi=0
    say "in RAM: ${WORKLOADS// /, } x ${ALLOCS// /, } x threads ${THREADS// /,}; $RUNS run(s), medians"
    for a in "${alist[@]}"; do
        alloc_setup "$a"
        [ -n "$RMISSING" ] && say "  $a: missing ($RMISSING): reported as missing"
    done
    for ((run = 1; run <= RUNS; run++)); do
        wi=0
        for wl in $WORKLOADS; do
            wi=$((wi + 1))
            [ -x "$B/$wl" ] || { say "no $B/$wl: skipped"; continue; }
            runs=$RUNS
            [ "$wl" = access ] && runs=$ACCESS_RUNS
            [ "$run" -le "$runs" ] || continue
            for th in $THREADS; do
                line="  run $run/$runs $wl t=$th:"
                # the order turns every round and workload
                for ((i = 0; i < na; i++)); do
                    a=${alist[$(turn "$i" "$na" $((run + wi)))]}
                    alloc_setup "$a"
                    if [ -n "$RMISSING" ]; then
                        printf 'inram\t%s\t%s\t%s\t%s\tmissing%s\n' "$wl" "$th" "$a" "$run" \
                            "$NO_METRICS" >>"$RAW"
                        res=missing
                    else
                        # shellcheck disable=SC2086
                        res=$(run_one inram "$wl" "$th" "$a" "$run" "$TIMEOUT" \
                            "${RENV[@]}" "${RDISK[@]}" -- "$B/$wl" "$th" ${ARGS[$wl]})
                    fi
                    line="$line $a $res"
                done
                say "$line"
            done
        done
    done
    awk -f bench/summarize.awk -v mode=inram -v allocs="$ALLOCS" \
        -v out_tsv="$B/inram.tsv" -v out_plot="$B/inram-plot.dat" \
        -v out_mem="$B/inram-mem.dat" -v out_access="$B/inram-access.dat" "$RAW" >"$B/inram-table.txt"
    cat "$B/inram-table.txt"
}

# ------------------------------------------------------------ out of core
# cgroup_swap allow|deny MIB: lets the runs in $CGROUP (limited to MIB)
# use swap, or not even when some is on elsewhere (a v1 cgroup may swap
# without limit by default).
cgroup_swap() {
    local mem=-1 v2=max
    [ "$1" = deny ] && mem=$(($2 << 20)) v2=0
    [ -f "$CGROUP/memory.memsw.limit_in_bytes" ] && echo "$mem" >"$CGROUP/memory.memsw.limit_in_bytes"
    [ -f "$CGROUP/memory.swap.max" ] && echo "$v2" >"$CGROUP/memory.swap.max"
}

# make_cgroup MIB [SECTION]: a memory cgroup limited to MIB; sets CGROUP or
# returns 1. A later section reuses the cgroup of an earlier one (its
# processes have exited), with its own limit.
make_cgroup() {
    local mb=$1 sec=${2:-out of core} rel base
    if [ "$(id -u)" != 0 ]; then
        say "$sec: skipped: needs root to create a memory cgroup and a swap file"
        return 1
    fi
    rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)
    if [ -n "$rel" ] && [ -d "/sys/fs/cgroup/memory$rel" ]; then
        base=/sys/fs/cgroup/memory$rel                  # cgroup v1
        CGROUP=$base/fsmem-bench.$$
        { [ -d "$CGROUP" ] || mkdir "$CGROUP" 2>/dev/null; } &&
            echo $((mb << 20)) >"$CGROUP/memory.limit_in_bytes" 2>/dev/null && return 0
    elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        rel=$(awk -F: '$1 == "0" { print $3; exit }' /proc/self/cgroup)
        base=/sys/fs/cgroup$rel                         # cgroup v2
        CGROUP=$base/fsmem-bench.$$
        { [ -d "$CGROUP" ] || mkdir "$CGROUP" 2>/dev/null; } && [ -f "$CGROUP/memory.max" ] &&
            echo $((mb << 20)) >"$CGROUP/memory.max" 2>/dev/null && return 0
    fi
    say "$sec: skipped: cannot create a memory cgroup under ${base:-/sys/fs/cgroup} (no memory controller?)"
    [ -n "$CGROUP" ] && rmdir "$CGROUP" 2>/dev/null
    CGROUP=
    return 1
}

# dd_seconds ARGS...: runs dd, prints its elapsed seconds, or nothing.
dd_seconds() {
    LC_ALL=C dd "$@" 2>&1 | awk '/copied/ { for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) { print $(i-1); exit } }'
}

outofcore() {
    local limit=$OOC_LIMIT_MB heap=$OOC_HEAP_MB row res wr rd
    say "out of core: heap $heap MiB in a cgroup limited to $limit MiB; fill, 1 write pass, 1 read pass," \
        "$OOC_TOUCHES random page touches; $OOC_RUNS round(s) of every row, medians"
    [ "$OOC_SETTLE" != 0 ] && say "  each run starts ${OOC_SETTLE}s after the one before (BENCH_SETTLE)"
    make_cgroup "$limit" || return 0

    # The disk's own bandwidth, measured now, on the same file system: the
    # best of three request sizes (on a virtual disk the best size varies).
    # A read-modify-write pass reads every byte and writes it back, so its
    # limit is the rate at which the disk reads one file while it writes
    # another (each stream's; on a disk whose reads and writes share one
    # channel, half of either alone).
    local ddf=$WORK/dd.bin ddw=$WORK/dd-w.bin count=$((heap < 1024 ? heap : 1024)) bs wbw=0 rbw=0 rwbw=0 mbs
    # best RATE SECONDS...: the larger of RATE and count MiB over the
    # longest of SECONDS, in MB/s (0 when one of them is missing).
    best() {
        local rate=$1 ss= x; shift
        for x in "$@"; do ss="$ss ${x:-0}"; done
        awk -v a="$rate" -v c="$count" -v ss="$ss" 'BEGIN {
            n = split(ss, s, " "); t = 0
            for (i = 1; i <= n; i++) { if (s[i] + 0 <= 0) { t = 0; break }; if (s[i] + 0 > t) t = s[i] + 0 }
            b = t > 0 ? sprintf("%.1f", c * 1.048576 / t) : 0
            print ((b + 0 > a + 0) ? b : a) }'
    }
    for bs in 1 4 16; do
        wr=$(dd_seconds if=/dev/zero of="$ddf" bs=${bs}M count=$((count / bs)) oflag=direct)
        rd=$(dd_seconds if="$ddf" of=/dev/null bs=${bs}M iflag=direct)
        wbw=$(best "$wbw" "$wr")
        rbw=$(best "$rbw" "$rd")
        dd_seconds if="$ddf" of=/dev/null bs=${bs}M iflag=direct >"$B/dd-r.s" &
        wr=$(dd_seconds if=/dev/zero of="$ddw" bs=${bs}M count=$((count / bs)) oflag=direct)
        wait
        rd=$(cat "$B/dd-r.s")
        rm -f "$ddf" "$ddw" "$B/dd-r.s"
        rwbw=$(best "$rwbw" "$rd" "$wr")
    done
    [ "$wbw" = 0 ] && wbw=-
    [ "$rbw" = 0 ] && rbw=-
    [ "$rwbw" = 0 ] && rwbw=-
    say "  disk, direct I/O, ${count} MiB, best of 1/4/16 MiB requests: write $wbw MB/s, read $rbw MB/s," \
        "read and write at once $rwbw MB/s each"

    # Rounds, not runs in a row: a slow spell of the shared disk then
    # touches every row alike; the order turns every round (turn).
    local run ooc_rows=($OOC_ROWS) nrows i row
    nrows=${#ooc_rows[@]}
    for ((run = 1; run <= OOC_RUNS; run++)); do
    for ((i = 0; i < nrows; i++)); do
        row=${ooc_rows[$(turn "$i" "$nrows" $((run - 1)))]}
        alloc_setup "$row"
        if [ -n "$RMISSING" ]; then
            [ "$run" = 1 ] || continue
            printf 'outofcore\taccess\t1\t%s\t1\tmissing%s\n' "$row" "$NO_METRICS" >>"$RAW"
            say "  $row: missing ($RMISSING)"
            continue
        fi
        local args=(1 "$heap" 1 "$OOC_TOUCHES")
        [ "$row" = mapfile ] && args+=("$WORK")
        if [ "$row" = swap ]; then
            if ! swap_on $((heap + 256)); then
                [ "$run" = 1 ] &&
                    printf 'outofcore\taccess\t1\tswap\t1\tskipped%s\n' "$NO_METRICS" >>"$RAW"
                continue
            fi
            cgroup_swap allow "$limit"
        else
            cgroup_swap deny "$limit"
        fi
        [ -f "$CGROUP/memory.max_usage_in_bytes" ] && echo 0 >"$CGROUP/memory.max_usage_in_bytes" 2>/dev/null
        sleep "$OOC_SETTLE"
        res=$(run_one outofcore access 1 "$row" "$run" "$OOC_TIMEOUT" -c "$CGROUP" \
            "${RENV[@]}" "${RDISK[@]}" -- "$B/access" "${args[@]}")
        [ "$row" = swap ] && swap_off
        say "  run $run/$OOC_RUNS $row: $res"
    done
    done
    awk -f bench/summarize.awk -v mode=outofcore -v heap_mb="$heap" -v limit_mb="$limit" -v runs_in="$OOC_RUNS" \
        -v disk_w="$wbw" -v disk_r="$rbw" -v disk_rw="$rwbw" -v out_tsv="$B/outofcore.tsv" \
        -v out_plot="$B/outofcore-plot.dat" "$RAW" >"$B/outofcore-table.txt"
    cat "$B/outofcore-table.txt"
}

# swap_on MIB: a swap file on the benchmark's disk, enabled. swap_off undoes it;
# the EXIT trap does too, whatever happens.
swap_on() {
    SWAPFILE=$WORK/bench.swap
    if ! dd if=/dev/zero of="$SWAPFILE" bs=1M count="$1" status=none 2>/dev/null ||
        ! chmod 600 "$SWAPFILE" || ! mkswap "$SWAPFILE" >/dev/null 2>&1; then
        say "  swap: skipped: cannot make a swap file in $WORK"
        rm -f "$SWAPFILE"
        return 1
    fi
    SWAP_ON=1                 # set first: the trap must try swapoff if swapon half-worked
    if ! swapon "$SWAPFILE" 2>/dev/null; then
        SWAP_ON=0
        say "  swap: skipped: swapon refused (container or file system without swap file support)"
        rm -f "$SWAPFILE"
        return 1
    fi
    return 0
}

swap_off() {
    if [ "$SWAP_ON" = 1 ]; then
        swapoff "$SWAPFILE" && SWAP_ON=0 || say "WARNING: swapoff $SWAPFILE failed"
    fi
    [ "$SWAP_ON" = 0 ] && rm -f "$SWAPFILE"
}

# ------------------------------------------------------------ growth
# growth_setup ROW: alloc_setup for a growth row. Here "fsmem" is fsmem as a
# user gets it, FSMEM_RAM unset (auto: half the cgroup limit), and
# "fsmem-ram0" is everything on files.
growth_setup() {
    case $1 in
    fsmem | fsmem-ram0)
        alloc_setup fsmem
        RENV=(-e "LD_PRELOAD=$ROOT/build/libfsmem.so" -e "FSMEM_DIR=$WORK")
        [ "$1" = fsmem-ram0 ] && RENV+=(-e FSMEM_RAM=0) ;;
    *) alloc_setup "$1" ;;
    esac
}

growth() {
    local limit=$GROWTH_LIMIT_MB f heap heaps= row res runs run line args
    local -A gave_up=()
    say "growth: heap ${GROWTH_FACTORS// /, } x a memory cgroup limit of $limit MiB; ${GROWTH_ROWS// /, }; fill, $GROWTH_PASSES write passes, 1 read pass"
    [ -n "$GROWTH_FACTORS" ] || { say "growth: skipped: no factor > 0 in BENCH_GROWTH_FACTORS"; return 0; }
    make_cgroup "$limit" growth || return 0
    for f in $GROWTH_FACTORS; do
        heap=$(awk -v f="$f" -v l="$limit" 'BEGIN { h = int(f * l + 0.5); print h < 1 ? 1 : h }')
        heaps="$heaps $heap"
        # Up to the limit a run takes a second or less, so one run is noise
        # (and the smallest heap is every ratio's baseline): median of
        # BENCH_RUNS. Above it one run, or swap alone would take many minutes.
        runs=1
        awk -v f="$f" 'BEGIN { exit !(f <= 1) }' && runs=$RUNS
        for row in $GROWTH_ROWS; do
            line="  ${f}x ($heap MiB) $row:"
            growth_setup "$row"
            if [ -n "$RMISSING" ]; then
                printf 'growth\taccess-%s\t1\t%s\t1\tmissing%s\n' "$heap" "$row" "$NO_METRICS" >>"$RAW"
                say "$line missing ($RMISSING)"
                continue
            fi
            if [ -n "${gave_up[$row]:-}" ]; then
                printf 'growth\taccess-%s\t1\t%s\t1\tskipped%s\n' "$heap" "$row" "$NO_METRICS" >>"$RAW"
                say "$line skipped (${gave_up[$row]})"
                continue
            fi
            args=(1 "$heap" "$GROWTH_PASSES" 0)
            [ "$row" = mapfile ] && args+=("$WORK")
            if [ "$row" = swap ]; then
                if ! swap_on $((heap + 256)); then
                    printf 'growth\taccess-%s\t1\tswap\t1\tskipped%s\n' "$heap" "$NO_METRICS" >>"$RAW"
                    gave_up[swap]="no swap file"
                    continue
                fi
                cgroup_swap allow "$limit"
            else
                cgroup_swap deny "$limit"
            fi
            for ((run = 1; run <= runs; run++)); do
                [ -f "$CGROUP/memory.max_usage_in_bytes" ] && echo 0 >"$CGROUP/memory.max_usage_in_bytes" 2>/dev/null
                # FSMEM_RAM from the caller's environment would reach the child
                # and make "fsmem" something other than its default.
                res=$(unset FSMEM_RAM; run_one growth "access-$heap" 1 "$row" "$run" "$GROWTH_TIMEOUT" \
                    -c "$CGROUP" "${RENV[@]}" "${RDISK[@]}" -- "$B/access" "${args[@]}")
                line="$line $res"
                [ "$res" = timeout ] && gave_up[$row]="timed out at a smaller heap"
                # a failed run fails the cell: repeating it only costs time
                [[ $res =~ ^[0-9.]+s$ ]] || break
            done
            [ "$row" = swap ] && swap_off
            say "$line"
        done
    done
    awk -f bench/summarize.awk -v mode=growth -v allocs="$GROWTH_ROWS" -v factors="$GROWTH_FACTORS" \
        -v heaps="${heaps# }" -v limit_mb="$limit" -v passes="$GROWTH_PASSES" -v runs_in="$RUNS" \
        -v out_tsv="$B/growth.tsv" -v out_plot="$B/growth-plot.dat" "$RAW" >"$B/growth-table.txt"
    cat "$B/growth-table.txt"
}

# ------------------------------------------------------------ plots
# histogram DATA PNG TITLE SETTINGS: a clustered bar chart of DATA (row
# names in the first column, one column per allocator, '-' where none)
# with SETTINGS (gnuplot lines: scales, reference lines). Columns with
# no number at all (an allocator not installed) are left out: gnuplot
# gives up on the whole chart when the first one it draws is empty.
histogram() {
    [ -s "$1" ] || return 0
    local data=$SCRATCH/plot.dat
    awk -F'\t' 'NR == FNR { if (FNR > 1) for (i = 2; i <= NF; i++) if ($i != "-") keep[i] = 1; next }
        { line = $1; for (i = 2; i <= NF; i++) if (i in keep) line = line "\t" $i; print line }' \
        "$1" "$1" >"$data"
    [ "$(head -n 1 "$data" | awk -F'\t' '{ print NF }')" -gt 1 ] || return 0
    gnuplot >>"$B/gnuplot.log" 2>&1 <<EOF
set terminal $term
set output '$2'
set title '$3'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set grid ytics
set key outside right top
set datafile missing '-'
set datafile separator '\t'
set format y '%g'
$4
plot for [c=2:*] '$data' using c:xtic(1) title columnheader
EOF
}

plots() {
    if ! command -v gnuplot >/dev/null; then
        say "gnuplot not found (apt-get install gnuplot-nox): no plots"
        return 0
    fi
    local term="pngcairo size 1100,520 font 'sans,10'"
    gnuplot -e "set terminal $term" >/dev/null 2>&1 || term="png size 1100,520"
    : >"$B/gnuplot.log"
    histogram "$B/inram-plot.dat" "$B/inram-time.png" \
        'Allocation-heavy workloads in RAM: wall time / glibc (median of runs, lower is better)' \
        "set logscale y 2
set ytics (0.25, 0.5, 1, 2, 4, 8, 16, 32)
set xtics rotate by -30
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2"
    histogram "$B/inram-mem.dat" "$B/inram-memory.png" \
        'Peak RSS + backing-file blocks / glibc peak RSS (lower is better)' \
        "set logscale y 2
set xtics rotate by -30
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2"
    histogram "$B/inram-access.dat" "$B/inram-access.png" \
        'Big heap in RAM: seconds per phase (median of runs, lower is better)' \
        "set logscale y 10
set yrange [0.001:*]
set xtics rotate by -30"
    histogram "$B/outofcore-plot.dat" "$B/outofcore.png" \
        "Out of core: heap ${OOC_HEAP_MB} MiB, cgroup limit ${OOC_LIMIT_MB} MiB: seconds per phase (lower is better)" \
        "set logscale y 10
set yrange [0.01:*]"
    if [ -s "$B/growth-plot.dat" ]; then
        local f xt= lo hi
        for f in $GROWTH_FACTORS; do xt="$xt, '${f}x' $f"; done
        lo=$(awk -v f="${GROWTH_FACTORS%% *}" 'BEGIN { print f / 1.3 }')
        hi=$(awk -v f="${GROWTH_FACTORS##* }" 'BEGIN { print f * 1.3 }')
        gnuplot >>"$B/gnuplot.log" 2>&1 <<EOF
set terminal $term
set output '$B/growth.png'
set title 'Heap growing past a memory cgroup limit of ${GROWTH_LIMIT_MB} MiB: steady-state seconds per GiB / glibc in RAM (lower is better)'
set logscale x 2
set logscale y 2
set xrange [$lo:$hi]
set xtics (${xt#, })
set xlabel 'heap / memory limit'
set ylabel 'slowdown against glibc at the smallest heap'
set grid xtics ytics
set key outside right top
set datafile missing '-'
set datafile separator '\t'
set format y '%g'
set ytics (0.125, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
set offsets 0, 0, graph 0.05, graph 0.05
set arrow from first 1, graph 0 to first 1, graph 1 nohead lw 2 dt 2
set label 'memory limit' at first 1, graph 0.95 offset 0.5, 0
plot for [c=2:*] '$B/growth-plot.dat' using 1:c with linespoints lw 2 pt 7 title columnheader
EOF
    fi
    local p
    for p in "$B"/*.png; do [ -s "$p" ] && say "plot: $p"; done
    return 0
}

# ------------------------------------------------------------ main
say "$(uname -srm); $(nproc) CPUs; $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo); files in $WORK ($(stat -f -c %T "$WORK"))"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on this machine disturb timings)"
[ "$QUICK" = 1 ] && say "BENCH_QUICK=1: tiny sizes, $RUNS run: checks the harness, the numbers mean little"
[ -f build/libfsmem.so ] || say "build/libfsmem.so does not exist: fsmem rows will say 'missing'"
t0=$(date +%s)
case $SECTIONS in *,inram,*) inram ;; esac
case $SECTIONS in *,outofcore,*) outofcore ;; esac
case $SECTIONS in *,growth,*) growth ;; esac
plots
say "raw results: $RAW; summaries: $B/inram.tsv $B/outofcore.tsv $B/growth.tsv"
say "done in $(($(date +%s) - t0)) s"
exit 0
