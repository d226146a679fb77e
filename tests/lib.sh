# Shared helpers for tests/check/*.sh and demo/run.sh. Source it:
#
#   . "$ROOT/tests/lib.sh"
#
# Sets ROOT and BUILD when the caller has not. Nothing here exits unless
# its name says so (skip, fail, need_file, finish).

: "${ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${BUILD:=$ROOT/build}"
export ROOT BUILD

# skip REASON: the test cannot run here; the runner shows REASON.
skip() {
    echo "skip: $*"
    exit 77
}

# fail MESSAGE: the test failed.
fail() {
    echo "FAIL: $*"
    exit 1
}

# finish DIR MESSAGE: the end of a test that collects its failures in the
# array "failures": fails on any of them, or on files left in DIR (the
# backing directory); otherwise says MESSAGE.
finish() {
    local left
    left=$(ls -A "$1")
    [ -z "$left" ] || failures+=("files left in the backing directory: $left")
    if [ ${#failures[@]} -gt 0 ]; then
        printf 'FAIL: %s\n' "${failures[@]}"
        exit 1
    fi
    echo "$2"
}

# note MESSAGE: progress, prefixed with the script's name.
note() {
    echo "[$(basename "$0" .sh)] $*"
}

# need_file PATH...: fail unless every path exists (build products).
need_file() {
    local f
    for f in "$@"; do
        [ -e "$f" ] || fail "$f is missing (run make first)"
    done
}

# now: seconds since the epoch with fractions (for durations).
now() {
    date +%s.%N
}

# elapsed START: seconds since START (from now), one decimal.
elapsed() {
    awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

# disk_tmpdir PREFIX: makes a fresh directory on a disk filesystem (not
# tmpfs or ramfs, which would be RAM) and prints its path. Tries $TMPDIR,
# /var/tmp, then $BUILD. Returns 1 if none will do.
disk_tmpdir() {
    local prefix=${1:-fsmem} base type d
    for base in "${TMPDIR:-}" /var/tmp "$BUILD"; do
        [ -n "$base" ] && [ -d "$base" ] && [ -w "$base" ] || continue
        type=$(stat -f -c %T "$base" 2>/dev/null) || continue
        case $type in tmpfs | ramfs) continue ;; esac
        d=$(mktemp -d "$base/$prefix.XXXXXX" 2>/dev/null) || continue
        echo "$d"
        return 0
    done
    return 1
}

# backing_kib PID DIR: prints the disk space (KiB, from st_blocks) held by
# PID's open files that were deleted and lived in DIR: fsmem's backing
# files, whose /proc/PID/fd links read "DIR/#12345 (deleted)". Prints the
# number of such files on a second line.
backing_kib() {
    local pid=$1 dir=$2 fd link blocks unit total=0 files=0
    for fd in /proc/"$pid"/fd/*; do
        link=$(readlink "$fd" 2>/dev/null) || continue
        case $link in
        "$dir"/*" (deleted)") ;;
        *) continue ;;
        esac
        read -r blocks unit < <(stat -L -c '%b %B' "$fd" 2>/dev/null) || continue
        total=$((total + blocks * unit / 1024))
        files=$((files + 1))
    done
    echo "$total"
    echo "$files"
}

# wait_for_line FILE REGEX SECONDS [PID]: waits until a line of FILE
# matches REGEX. Returns 1 on timeout, 2 if PID (when given) has exited.
wait_for_line() {
    local file=$1 re=$2 limit=$3 pid=${4:-} t=0
    while ! grep -Eq -- "$re" "$file" 2>/dev/null; do
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            grep -Eq -- "$re" "$file" 2>/dev/null && return 0
            return 2
        fi
        [ "$t" -ge $((limit * 10)) ] && return 1
        sleep 0.1
        t=$((t + 1))
    done
    return 0
}

# describe_status STATUS: "exit 0", "killed by SIGKILL", ...
describe_status() {
    local st=$1
    if [ "$st" -gt 128 ] && [ "$st" -lt 160 ]; then
        echo "killed by SIG$(kill -l $((st - 128)) 2>/dev/null || echo $((st - 128)))"
    else
        echo "exit $st"
    fi
}

# ---- memory cgroups -------------------------------------------------------
#
#   cg=$(cgroup_make NAME LIMIT_BYTES) || skip "$cg"
#   trap 'cgroup_remove "$cg"' EXIT
#   cgroup_run "$cg" prog args...
#
# cgroup_make prints the new cgroup's directory, or on failure a one-line
# reason (on stdout too, so `|| skip "$cg"` shows it) and returns 1.
# LIMIT_BYTES is a byte count (K/M/G suffixes are accepted by the kernel).
# cgroup v1: a child of this process's memory cgroup, memory.limit_in_bytes
# and memory.memsw.limit_in_bytes (when present, so swap cannot absorb the
# overflow). cgroup v2: a child of this process's cgroup, memory.max and
# memory.swap.max=0.

# cgroup_version: prints "v1" or "v2" for the memory controller, or fails.
cgroup_version() {
    if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] ||
        [ -f /sys/fs/cgroup/memory/cgroup.procs ]; then
        echo v1
    elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
        echo v2
    else
        return 1
    fi
}

cgroup_make() {
    local name=$1 limit=$2 ver rel parent cg err
    if ! ver=$(cgroup_version); then
        echo "no memory cgroup controller mounted (neither /sys/fs/cgroup/memory nor cgroup v2)"
        return 1
    fi
    if [ "$ver" = v1 ]; then
        rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)
        parent=/sys/fs/cgroup/memory${rel%/}
        [ -d "$parent" ] || parent=/sys/fs/cgroup/memory   # namespaced view
    else
        rel=$(awk -F: '$1 == "0" { print $3; exit }' /proc/self/cgroup)
        parent=/sys/fs/cgroup${rel%/}
        [ -d "$parent" ] || parent=/sys/fs/cgroup
        if ! grep -qw memory "$parent/cgroup.controllers" 2>/dev/null; then
            echo "cgroup v2: the memory controller is not available in $parent"
            return 1
        fi
        if ! grep -qw memory "$parent/cgroup.subtree_control" 2>/dev/null &&
            ! echo +memory 2>/dev/null >"$parent/cgroup.subtree_control"; then
            echo "cgroup v2: cannot enable the memory controller for children of $parent" \
                "(not delegated to uid $(id -u), or the cgroup has processes)"
            return 1
        fi
    fi
    if [ ! -w "$parent" ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "no permission to create a memory cgroup under $parent (not root, not delegated)"
        else
            echo "cannot create a memory cgroup under $parent (not writable: read-only mount?)"
        fi
        return 1
    fi
    cg=$parent/fsmem-$name-$$-$RANDOM
    if ! err=$(mkdir "$cg" 2>&1); then
        echo "cannot create a memory cgroup: ${err#mkdir: }"
        return 1
    fi
    if [ "$ver" = v1 ]; then
        if ! err=$( (echo "$limit" >"$cg/memory.limit_in_bytes") 2>&1); then
            rmdir "$cg" 2>/dev/null
            echo "cannot set memory.limit_in_bytes in $cg: ${err##*: }"
            return 1
        fi
        if [ -f "$cg/memory.memsw.limit_in_bytes" ] &&
            ! err=$( (echo "$limit" >"$cg/memory.memsw.limit_in_bytes") 2>&1); then
            rmdir "$cg" 2>/dev/null
            echo "cannot set memory.memsw.limit_in_bytes in $cg: ${err##*: }"
            return 1
        fi
    else
        if ! err=$( (echo "$limit" >"$cg/memory.max") 2>&1); then
            rmdir "$cg" 2>/dev/null
            echo "cannot set memory.max in $cg: ${err##*: }"
            return 1
        fi
        [ -f "$cg/memory.swap.max" ] && echo 0 >"$cg/memory.swap.max" 2>/dev/null
    fi
    echo "$cg"
}

# cgroup_limit CG: prints the memory limit in force in CG, in bytes.
cgroup_limit() {
    if [ -f "$1/memory.limit_in_bytes" ]; then
        cat "$1/memory.limit_in_bytes"
    else
        cat "$1/memory.max"
    fi
}

# cgroup_peak CG: prints the most memory CG has used, in bytes, if known.
cgroup_peak() {
    if [ -f "$1/memory.max_usage_in_bytes" ]; then
        cat "$1/memory.max_usage_in_bytes"
    elif [ -f "$1/memory.peak" ]; then
        cat "$1/memory.peak"
    else
        echo 0
    fi
}

# cgroup_oom_kills CG: prints how many processes the OOM killer killed in
# CG (0 when the kernel does not say).
cgroup_oom_kills() {
    local n
    if [ -f "$1/memory.oom_control" ]; then
        n=$(awk '$1 == "oom_kill" { print $2 }' "$1/memory.oom_control")
    elif [ -f "$1/memory.events" ]; then
        n=$(awk '$1 == "oom_kill" { print $2 }' "$1/memory.events")
    fi
    echo "${n:-0}"
}

# The shell snippet that moves itself into cgroup $0 and execs "$@". To run
# a command in the background and know its pid:
#   sh -c "$CGROUP_ENTER" "$cg" prog args... &  pid=$!
CGROUP_ENTER='echo $$ >"$0/cgroup.procs" && exec "$@"'

# cgroup_run CG CMD ARGS...: runs CMD inside CG and returns its status.
cgroup_run() {
    local cg=$1
    shift
    sh -c "$CGROUP_ENTER" "$cg" "$@"
}

# cgroup_remove CG: kills whatever still runs in CG and removes it. Safe to
# call twice, or with an empty argument; meant for EXIT traps.
cgroup_remove() {
    local cg=$1 pids pid i
    [ -n "$cg" ] && [ -d "$cg" ] || return 0
    # (cgroup files have size 0 to test -s: read them)
    for i in $(seq 50); do
        pids=$(cat "$cg/cgroup.procs" 2>/dev/null)
        [ -n "$pids" ] || break
        for pid in $pids; do
            kill -9 "$pid" 2>/dev/null
        done
        sleep 0.1
    done
    for i in $(seq 50); do
        rmdir "$cg" 2>/dev/null && return 0
        [ -d "$cg" ] || return 0
        sleep 0.1
    done
    echo "warning: could not remove cgroup $cg (still in it: $(cat "$cg/cgroup.procs" 2>/dev/null | tr '\n' ' '))" >&2
    return 1
}

# ---- fsmem ---------------------------------------------------------------

# with_fsmem DIR CMD ARGS...: runs CMD with libfsmem.so preloaded, every
# byte of the heap on files in DIR (FSMEM_RAM=0). When FSMEM_STATS is set
# in the caller's environment it is passed on.
with_fsmem() {
    local dir=$1
    shift
    LD_PRELOAD=$BUILD/libfsmem.so FSMEM_RAM=0 FSMEM_DIR=$dir "$@"
}

# fsmem_was_used STATSFILE WHAT: fails the test unless STATSFILE (given to
# the run as FSMEM_STATS=STATSFILE) holds a summary, i.e. fsmem was really
# loaded and in charge of the heap: a run that silently used glibc's malloc
# must not count as a pass. Empties the file for the next run.
fsmem_was_used() {
    local file=$1 what=$2
    [ -s "$file" ] || fail "$what: no FSMEM_STATS summary in $file: was fsmem really in use?"
    : >"$file"
}
