#!/bin/bash
# PhyML and RAxML beyond a memory cgroup's limit: the workloads fsmem exists
# for. Slow (about 20 minutes); not part of make check. See bench/PHYLO.md.
#
#   bench/phylo.sh                    (as root: cgroups and a swap file)
#
# For each tool, on an alignment of our own (bench/phylo/simalign.c, no
# network), four runs of the same command:
#   (a) plain    glibc malloc, no limit: time, peak RSS, log-likelihood, tree
#   (b) cgroup   glibc malloc in a memory cgroup of 1/4 of (a)'s peak RSS
#                (swap not allowed): expected to be killed
#   (c) fsmem    build/fsmem --dir DISK --stats in the same cgroup: must
#                finish with results identical to (a), byte for byte
#   (d) swap     glibc malloc in the same cgroup with swap allowed, on a
#                swap file on the same disk as (c)'s backing files (the
#                baseline fsmem argues against); the swap file is removed
#                in every case (trap)
# Ratios are times against (a) of the same run. The table goes to stdout
# and build/bench/phylo.txt; each run's files stay in build/bench/phylo/.
#
# Environment:
#   PHYLO_TOOLS=LIST        phyml raxml (default both)
#   PHYLO_ROWS=LIST         plain cgroup fsmem swap (default all; plain is
#                           always run, the others need it)
#   PHYLO_PHYML_SIZE=TxS    taxa x sites of the PhyML alignment (200x8000)
#   PHYLO_RAXML_SIZE=TxS    the same for RAxML (200x20000)
#   PHYLO_FRACTION=N        cgroup limit = peak RSS of (a) / N (default 4),
#                           at least 64 MiB
#   PHYLO_DIR=DIR           backing files and swap file (default: $TMPDIR,
#                           else /var/tmp; must be a disk, not tmpfs)
#   PHYLO_TIMEOUT=S         per run (default 900)
#   PHYLO_QUICK=1           tiny alignments: a smoke test of the script
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
. "$ROOT/tests/lib.sh"

say() { echo "phylo: $*" >&2; }
die() { say "$*"; exit 1; }

QUICK=${PHYLO_QUICK:-0}
TOOLS=${PHYLO_TOOLS:-phyml raxml}
ROWS=" ${PHYLO_ROWS:-plain cgroup fsmem swap} "
ROWS=${ROWS//,/ } TOOLS=${TOOLS//,/ }
FRACTION=${PHYLO_FRACTION:-4}
TIMEOUT=${PHYLO_TIMEOUT:-900}
if [ "$QUICK" = 1 ]; then
    PHYML_SIZE=${PHYLO_PHYML_SIZE:-60x3000} RAXML_SIZE=${PHYLO_RAXML_SIZE:-100x8000}
else
    PHYML_SIZE=${PHYLO_PHYML_SIZE:-200x8000} RAXML_SIZE=${PHYLO_RAXML_SIZE:-200x20000}
fi
OUT=$BUILD/bench/phylo
TABLE=$BUILD/bench/phylo.txt
SEED=12345

# ---------------------------------------------------------------- tools
PHYML=${PHYLO_PHYML:-/usr/lib/phyml/bin/phyml}   # serial; /usr/bin/phyml starts MPI
pick_raxml() {
    local d=/usr/bin
    if grep -qw avx /proc/cpuinfo && [ -x $d/raxmlHPC-PTHREADS-AVX ]; then
        RAXML=$d/raxmlHPC-PTHREADS-AVX
    elif grep -qw pni /proc/cpuinfo && [ -x $d/raxmlHPC-PTHREADS-SSE3 ]; then
        RAXML=$d/raxmlHPC-PTHREADS-SSE3   # (pni is how cpuinfo spells SSE3)
    elif [ -x $d/raxmlHPC-PTHREADS ]; then
        RAXML=$d/raxmlHPC-PTHREADS
    else
        return 1
    fi
}
RAXML=${PHYLO_RAXML:-}
missing=()
[ -x "$PHYML" ] || missing+=(phyml)
[ -n "$RAXML" ] || pick_raxml || missing+=(raxml)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2 ||
            die "apt-get install ${missing[*]} failed"
        [ -n "$RAXML" ] || pick_raxml || true
    else
        die "missing Debian packages: ${missing[*]} (apt-get install ${missing[*]})"
    fi
fi
[ -x "$PHYML" ] || die "no serial PhyML at $PHYML"
[ -n "$RAXML" ] && [ -x "$RAXML" ] || die "no RAxML pthreads binary in /usr/bin"
# RAxML's pthreads builds need at least 2 threads; results depend on the
# count, so it is the same in every run.
RAXML_THREADS=2
[ -x "$BUILD/fsmem" ] && [ -f "$BUILD/libfsmem.so" ] || die "build/fsmem is missing (run make first)"
[ "$(id -u)" = 0 ] || say "not root: only the unconstrained runs (cgroups and swap need root)"

mkdir -p "$OUT" || exit 1
cc -std=gnu11 -O2 -Wall -Wextra -o "$OUT/simalign" bench/phylo/simalign.c -lm ||
    die "cannot build bench/phylo/simalign.c"

if [ -n "${PHYLO_DIR:-}" ]; then
    mkdir -p "$PHYLO_DIR" && WORK=$(mktemp -d "$PHYLO_DIR/fsmem-phylo.XXXXXX") ||
        die "cannot make a directory in $PHYLO_DIR"
    case $(stat -f -c %T "$WORK") in tmpfs | ramfs) die "$PHYLO_DIR is in RAM (tmpfs), not on a disk" ;; esac
else
    WORK=$(disk_tmpdir fsmem-phylo) || die "no writable directory on a disk"
fi

# ---------------------------------------------------------------- cleanup
CG= SWAPFILE= SWAP_ON=0
cleanup() {
    [ -n "$CG" ] && cgroup_remove "$CG"
    CG=
    if [ "$SWAP_ON" = 1 ]; then
        if swapoff "$SWAPFILE"; then SWAP_ON=0; else say "WARNING: swapoff $SWAPFILE failed: run it by hand"; fi
    fi
    [ -n "$SWAPFILE" ] && [ "$SWAP_ON" = 0 ] && rm -f "$SWAPFILE"
    [ "$SWAP_ON" = 0 ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

swap_on() {   # MIB
    SWAPFILE=$WORK/phylo.swap
    if ! dd if=/dev/zero of="$SWAPFILE" bs=1M count="$1" conv=fsync status=none ||
        ! chmod 600 "$SWAPFILE" || ! mkswap "$SWAPFILE" >/dev/null; then
        say "cannot make a swap file in $WORK"
        rm -f "$SWAPFILE"
        return 1
    fi
    SWAP_ON=1   # first: the trap must try swapoff even if swapon half-worked
    if ! swapon "$SWAPFILE"; then
        SWAP_ON=0
        rm -f "$SWAPFILE"
        say "swapon refused"
        return 1
    fi
}
swap_off() {
    if [ "$SWAP_ON" = 1 ]; then
        swapoff "$SWAPFILE" && SWAP_ON=0 || say "WARNING: swapoff $SWAPFILE failed"
    fi
    [ "$SWAP_ON" = 0 ] && rm -f "$SWAPFILE"
}

# ---------------------------------------------------------------- one run
# run_tool TOOL DIR [CGROUP] [fsmem]: runs TOOL's command in DIR (which
# holds aln.phy, and start.tree for raxml) under /usr/bin/time, in CGROUP
# when given, with the fsmem launcher when the 4th argument is "fsmem".
# Leaves DIR/status and DIR/time (elapsed s, max RSS KiB, major faults,
# minor faults, blocks in, blocks out; 512-byte blocks).
run_tool() {
    local tool=$1 dir=$2 cg=${3:-} mode=${4:-} cmd pre=()
    case $tool in
    phyml) cmd=("$PHYML" -i aln.phy -d nt -m GTR -c 4 -a e -o l -b 0 --r_seed "$SEED" --no_memory_check) ;;
    raxml) cmd=("$RAXML" -T "$RAXML_THREADS" -f e -t start.tree -s aln.phy -m GTRGAMMA -n run -p "$SEED") ;;
    esac
    [ "$mode" = fsmem ] && pre=("$BUILD/fsmem" --dir "$WORK/backing" --stats --)
    [ -n "$cg" ] && pre=(sh -c "$CGROUP_ENTER" "$cg" "${pre[@]}")
    echo "${pre[*]} ${cmd[*]}" >"$dir/command"
    (cd "$dir" && /usr/bin/time -f '%e %M %F %R %I %O' -o "$dir/time.raw" \
        timeout -k 10 "$TIMEOUT" "${pre[@]}" "${cmd[@]}" >"$dir/stdout" 2>"$dir/stderr")
    echo $? >"$dir/status"
    tail -n 1 "$dir/time.raw" >"$dir/time"
}

# results DIR TOOL: prints "LNL SIG": the log-likelihood as the tool wrote
# it and a hash of every deterministic output file (tree, and statistics or
# model parameters without the time used). Empty when missing.
results() {
    local dir=$1 tool=$2 lnl
    case $tool in
    phyml)
        [ -s "$dir/aln.phy_phyml_tree.txt" ] || return 0
        lnl=$(awk -F'\t' '/^\. Log-likelihood:/ { print $NF }' "$dir/aln.phy_phyml_stats.txt")
        echo "$lnl $( (cat "$dir/aln.phy_phyml_tree.txt"
            grep -v 'Time used' "$dir/aln.phy_phyml_stats.txt") | sha256sum | cut -c1-16)"
        ;;
    raxml)
        [ -s "$dir/RAxML_result.run" ] || return 0
        lnl=$(awk '/^Final GAMMA  likelihood:/ { print $NF }' "$dir/RAxML_info.run")
        echo "$lnl $(cat "$dir/RAxML_result.run" "$dir/RAxML_binaryModelParameters.run" |
            sha256sum | cut -c1-16)"
        ;;
    esac
}

# identical DIR_A DIR_B TOOL: the deterministic output files are the same
identical() {
    local a=$1 b=$2 tool=$3
    case $tool in
    phyml)
        cmp -s "$a/aln.phy_phyml_tree.txt" "$b/aln.phy_phyml_tree.txt" &&
            cmp -s <(grep -v 'Time used' "$a/aln.phy_phyml_stats.txt") \
                <(grep -v 'Time used' "$b/aln.phy_phyml_stats.txt")
        ;;
    raxml)
        cmp -s "$a/RAxML_result.run" "$b/RAxML_result.run" &&
            cmp -s "$a/RAxML_binaryModelParameters.run" "$b/RAxML_binaryModelParameters.run"
        ;;
    esac
}

mib() { awk -v b="$1" 'BEGIN { printf "%.0fM", b / 1048576 }'; }
gib() { awk -v b="$1" 'BEGIN { printf "%.1fG", b / 1073741824 }'; }

# ---------------------------------------------------------------- benchmark
ROWS_TSV=$OUT/rows.tsv
: >"$ROWS_TSV"
start_all=$(now)
for tool in $TOOLS; do
    case $tool in
    phyml) size=$PHYML_SIZE ;;
    raxml) size=$RAXML_SIZE ;;
    *) die "unknown tool $tool (phyml, raxml)" ;;
    esac
    taxa=${size%x*} sites=${size#*x}
    T=$OUT/$tool
    rm -rf "$T" && mkdir -p "$T" || exit 1
    "$OUT/simalign" dna "$taxa" "$sites" "$SEED" >"$T/aln.phy" || die "simalign failed"
    say "$tool: alignment of $taxa taxa x $sites sites (DNA), sha256 $(sha256sum <"$T/aln.phy" | cut -c1-16)"
    if [ "$tool" = raxml ]; then
        # the starting tree (randomized stepwise-addition parsimony), made
        # once: every measured run optimizes from the same tree
        (cd "$T" && "$RAXML" -T "$RAXML_THREADS" -y -s aln.phy -m GTRGAMMA -n start -p "$SEED" >start.log 2>&1) &&
            cp "$T/RAxML_parsimonyTree.start" "$T/start.tree" || die "raxml -y failed (see $T/start.log)"
    fi

    limit=0 t_plain=0 peak_plain=0 done_plain=0
    for row in plain cgroup fsmem swap; do
        case $ROWS in *" $row "*) ;; *) [ "$row" != plain ] && continue ;; esac
        if [ "$row" != plain ] && { [ "$done_plain" = 0 ] || [ "$(id -u)" != 0 ]; }; then
            continue
        fi
        D=$T/$row
        mkdir -p "$D" && cp "$T/aln.phy" "$D/"
        [ "$tool" = raxml ] && cp "$T/start.tree" "$D/"
        rm -rf "$WORK/backing" && mkdir -p "$WORK/backing"
        CG=
        if [ "$row" != plain ]; then
            CG=$(cgroup_make "phylo-$row" "$limit") || { say "$tool/$row: $CG"; CG=; continue; }
            if [ "$row" = swap ]; then
                # room for the whole heap and then some
                if ! swap_on $((peak_plain / 1048576 * 3 / 2 + 256)); then
                    cgroup_remove "$CG"; CG=
                    printf '%s\t%s\tskipped (no swap file)\t\t\t\t\t\t\t\t\n' "$tool" "$row" >>"$ROWS_TSV"
                    continue
                fi
                if [ -f "$CG/memory.memsw.limit_in_bytes" ]; then
                    echo -1 >"$CG/memory.memsw.limit_in_bytes" || say "cannot lift memsw limit"
                elif [ -f "$CG/memory.swap.max" ]; then
                    echo max >"$CG/memory.swap.max"
                fi
            fi
        fi
        say "$tool: ($row) running$([ -n "$CG" ] && echo " in a cgroup of $(mib "$limit")")..."
        run_tool "$tool" "$D" "$CG" "$([ "$row" = fsmem ] && echo fsmem)"
        st=$(cat "$D/status")
        read -r secs rss_kib majflt minflt inblk outblk <"$D/time"
        cgpeak=- oom=0 swpeak=-
        if [ -n "$CG" ]; then
            cgpeak=$(mib "$(cgroup_peak "$CG")")
            if [ "$row" = swap ]; then   # the most swap the run held
                if [ -f "$CG/memory.memsw.max_usage_in_bytes" ]; then
                    swpeak=$(mib $(($(cat "$CG/memory.memsw.max_usage_in_bytes") - $(cgroup_peak "$CG"))))
                elif [ -f "$CG/memory.swap.peak" ]; then
                    swpeak=$(mib "$(cat "$CG/memory.swap.peak")")
                fi
            fi
            oom=$(cgroup_oom_kills "$CG")
            cgroup_remove "$CG"
            CG=
        fi
        [ "$row" = swap ] && swap_off
        if [ "$st" = 0 ]; then
            outcome=finished
        elif [ "$oom" -gt 0 ]; then
            outcome="killed (OOM)"
        elif [ "$st" = 124 ]; then
            outcome="timed out"
        else
            outcome=$(describe_status "$st")
        fi
        read -r lnl sig <<<"$(results "$D" "$tool")"
        same=-
        if [ "$row" = plain ]; then
            if [ "$st" != 0 ] || [ -z "${lnl:-}" ]; then
                say "$tool: the unconstrained run failed ($outcome); see $D/stderr"
                tail -n 5 "$D/stderr" >&2
                printf '%s\t%s\t%s\t%s\t\t%s\t\t\t\t\t\n' "$tool" "$row" "$outcome" "$secs" "$rss_kib" >>"$ROWS_TSV"
                break
            fi
            done_plain=1 t_plain=$secs peak_plain=$((rss_kib * 1024))
            limit=$(((peak_plain / FRACTION + 1048575) / 1048576 * 1048576))
            # below this, the program's code and fsmem's own metadata take
            # most of the cgroup: not a meaningful test
            [ "$limit" -ge $((64 << 20)) ] || limit=$((64 << 20))
            same=reference
        elif [ "$st" = 0 ]; then
            if identical "$T/plain" "$D" "$tool"; then same=identical; else same=DIFFERENT; fi
        fi
        ratio=$(awk -v a="$secs" -v b="$t_plain" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
        [ "$st" = 0 ] || ratio=-
        if [ "$row" = fsmem ] && [ -s "$D/stderr" ]; then
            grep '^fsmem:' "$D/stderr" >"$D/fsmem-stats"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$row" "$outcome" "$secs" "$ratio" \
            "$rss_kib" "$cgpeak/$swpeak" "$((inblk * 512))" "$((outblk * 512))" "${lnl:--}" "$same" >>"$ROWS_TSV"
        say "$tool: ($row) $outcome after ${secs}s$([ "$ratio" != - ] && echo ", x$ratio"), peak RSS $(mib $((rss_kib * 1024)))${lnl:+, lnL $lnl}${sig:+, results $sig}${same:+ ($same)}"
        echo "$limit" >"$T/limit"
    done
done
total=$(elapsed "$start_all")

# ---------------------------------------------------------------- table
{
    echo "fsmem phylogenetics benchmark (bench/phylo.sh), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "machine: $(nproc) cores, $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM," \
        "Linux $(uname -r), cgroup $(cgroup_version 2>/dev/null || echo none)," \
        "disk: $(findmnt -n -o FSTYPE -T "$WORK" 2>/dev/null || stat -f -c %T "$WORK") on $(df --output=source "$WORK" | tail -n 1)"
    echo "fsmem $(sed -n 's/^#define FSMEM_VERSION "\(.*\)"/\1/p' include/fsmem.h), $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- src 2>/dev/null || echo '+changes')"
    for tool in $TOOLS; do
        case $tool in
        phyml) echo "phyml: $("$PHYML" --version 2>&1 | grep -o 'PhyML version [^ ]*' | head -n 1 | sed 's/\.$//') $PHYML_SIZE (taxa x sites), GTR+G4, branch lengths on the BioNJ tree:"
            echo "       $(cat "$OUT/phyml/plain/command" 2>/dev/null)" ;;
        raxml) echo "raxml: $("$RAXML" -v 2>/dev/null | grep -o 'RAxML version [0-9.]*') $RAXML_SIZE (taxa x sites), GTRGAMMA, model and branch lengths (-f e) on a parsimony tree:"
            echo "       $(cat "$OUT/raxml/plain/command" 2>/dev/null)" ;;
        esac
    done
    echo "rows: (a) plain glibc malloc, no limit; (b) plain in a memory cgroup of 1/$FRACTION of (a)'s peak RSS, no swap;"
    echo "      (c) build/fsmem --dir <disk> --stats in that cgroup; (d) plain in that cgroup with swap allowed (swap file on the same disk)"
    echo "time x(a): wall time / (a)'s wall time in this run; cg mem/swap: the cgroup's peak memory use / peak swap use;"
    echo "read/written: the process's block I/O (rusage; with fsmem, its backing files, through the page cache)"
    echo
    awk -F'\t' '
        function gb(b) { return b == "" ? "-" : sprintf("%.1fG", b / 1073741824) }
        function mb(k) { return k == "" ? "-" : sprintf("%.0fM", k / 1024) }
        BEGIN {
            name["plain"] = "(a) plain, no limit"; name["cgroup"] = "(b) plain, cgroup"
            name["fsmem"] = "(c) fsmem, cgroup"; name["swap"] = "(d) swap, cgroup"
            printf "%-6s %-20s %-13s %8s %7s %8s %11s %7s %7s %-16s %s\n", "tool", "run", "outcome",
                "time s", "x(a)", "peak RSS", "cg mem/swap", "read", "written", "log-likelihood", "result vs (a)"
        }
        {
            printf "%-6s %-20s %-13s %8s %7s %8s %11s %7s %7s %-16s %s\n", $1, name[$2], $3,
                ($4 == "" ? "-" : $4), ($5 == "" ? "-" : $5), mb($6), ($7 == "" || $7 == "-/-" ? "-" : $7),
                gb($8), gb($9), ($10 == "" ? "-" : $10), ($11 == "" ? "-" : $11)
        }' "$ROWS_TSV"
    for tool in $TOOLS; do
        [ -f "$OUT/$tool/limit" ] && echo "$tool cgroup limit: $(mib "$(cat "$OUT/$tool/limit")")"
        [ -f "$OUT/$tool/fsmem/fsmem-stats" ] &&
            sed -n 's/^fsmem:   \(peak heap\|RAM tier\|major faults\) */    fsmem \1: /p' "$OUT/$tool/fsmem/fsmem-stats" | head -n 3
    done
    echo "total time of the benchmark: ${total}s"
} | tee "$TABLE"
say "table written to $TABLE; runs in $OUT/"
