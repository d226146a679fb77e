#!/bin/bash
# The proof: a program whose heap is 4x the memory it may use is killed
# with plain malloc and finishes with fsmem, with the same checksum as an
# unconstrained run. The limit is a memory cgroup when one can be made,
# else RLIMIT_DATA (ulimit -d: counts private memory, not MAP_SHARED file
# mappings). While fsmem runs, its backing files hold about the heap's size
# in disk blocks; after kill -9 nothing is left in the directory and the
# space comes back.
#
#   FSMEM_MISSION_MIB        heap size (default 1024)
#   FSMEM_MISSION_LIMIT_MIB  memory limit (default 256)
#   FSMEM_MISSION_MODE       cgroup | rlimit (default: cgroup when possible)
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/bigheap" "$BUILD/libfsmem.so"

mib=${FSMEM_MISSION_MIB:-1024}
limit_mib=${FSMEM_MISSION_LIMIT_MIB:-256}
dir=$(disk_tmpdir fsmem-mission) || fail "no writable directory on a disk filesystem"
cgroups=()
bg=
cleanup() {
    [ -n "$bg" ] && kill -9 "$bg" 2>/dev/null
    local cg
    for cg in "${cgroups[@]}"; do cgroup_remove "$cg"; done
    rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/backing" "$dir/out"
backing=$dir/backing
heap="$BUILD/tests/bigheap"
fsmem_env=(env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$backing")

checksum() { sed -n 's/^checksum //p' "$1"; }

# ---- the unconstrained reference ----------------------------------------------
note "reference: bigheap $mib MiB, plain malloc, no limit"
"$heap" "$mib" >"$dir/out/ref" 2>"$dir/out/ref.err" ||
    fail "bigheap $mib fails without any limit ($(cat "$dir/out/ref.err")): the machine is too small?"
ref=$(checksum "$dir/out/ref")
[ -n "$ref" ] || fail "bigheap printed no checksum"
note "reference checksum $ref"

# ---- the limit ------------------------------------------------------------------
mode=${FSMEM_MISSION_MODE:-cgroup}
if [ "$mode" = cgroup ]; then
    if probe=$(cgroup_make probe $((limit_mib << 20))); then
        cgroup_remove "$probe"
    else
        note "no memory cgroup ($probe): using RLIMIT_DATA instead"
        mode=rlimit
    fi
fi

# limited KIND NAME CMD...: runs CMD under the limit in the foreground,
# output in $dir/out/NAME{,.err}; sets $status, $secs and $cg (cgroup mode).
limited() {
    local kind=$1 name=$2 t0
    shift 2
    cg=
    t0=$(now)
    if [ "$kind" = cgroup ]; then
        cg=$(cgroup_make "$name" $((limit_mib << 20))) || fail "cgroup: $cg"
        cgroups+=("$cg")
        # (the subshell keeps bash's "Killed" notice out of the log)
        (sh -c "$CGROUP_ENTER" "$cg" "$@" >"$dir/out/$name" 2>"$dir/out/$name.err"; exit $?) 2>/dev/null
    else
        (sh -c 'ulimit -d "$0" && exec "$@"' $((limit_mib << 10)) "$@" \
            >"$dir/out/$name" 2>"$dir/out/$name.err"; exit $?) 2>/dev/null
    fi
    status=$?
    secs=$(elapsed "$t0")
}

# mission KIND: plain must fail, fsmem must succeed with the reference sum.
mission() {
    local kind=$1 what
    if [ "$kind" = cgroup ]; then
        what="a memory cgroup capped at $limit_mib MiB ($(cgroup_version))"
    else
        what="RLIMIT_DATA (ulimit -d) of $limit_mib MiB"
    fi
    note "limit: $what; heap $mib MiB"

    limited "$kind" plain-$kind "$heap" "$mib"
    if [ "$status" -eq 0 ] || grep -q '^ok$' "$dir/out/plain-$kind"; then
        fail "plain malloc finished a $mib MiB heap under $what: the limit does not bind," \
            "so this test proves nothing"
    fi
    local how
    how=$(describe_status "$status")
    [ "$kind" = cgroup ] && how="$how, OOM kills in the cgroup: $(cgroup_oom_kills "$cg")"
    local msg
    msg=$(tail -n 1 "$dir/out/plain-$kind.err")
    note "without fsmem: failed as expected ($how) after ${secs}s${msg:+: $msg}"

    limited "$kind" fsmem-$kind "${fsmem_env[@]}" FSMEM_STATS=1 "$heap" "$mib"
    if [ "$status" -ne 0 ]; then
        cat "$dir/out/fsmem-$kind.err"
        fail "with fsmem under $what: $(describe_status "$status") after ${secs}s (expected to finish)"
    fi
    local sum
    sum=$(checksum "$dir/out/fsmem-$kind")
    [ "$sum" = "$ref" ] || fail "with fsmem: checksum '$sum', unconstrained run: $ref"
    grep -q '^ok$' "$dir/out/fsmem-$kind" || fail "with fsmem: no 'ok' line"
    local peak=""
    [ "$kind" = cgroup ] && peak=", cgroup peak $(($(cgroup_peak "$cg") >> 20)) MiB"
    note "with fsmem: finished in ${secs}s, checksum $sum (same as unconstrained)$peak"
    sed 's/^/    /' "$dir/out/fsmem-$kind.err"
    # Cgroup v1 limits dirty pages only machine-wide: there fsmem starts
    # writeback itself once the cgroup runs short of clean page cache.
    if [ "$kind" = cgroup ] && [ "$(cgroup_version)" = v1 ]; then
        grep -Eq 'early writeback +[1-9][0-9]* times' "$dir/out/fsmem-$kind.err" ||
            fail "with fsmem in a cgroup v1: the summary shows no early writeback" \
                "(writing a heap 4x the limit must run short of clean pages)"
    fi
    [ -z "$(ls -A "$backing")" ] || fail "files left in $backing after the run: $(ls -A "$backing")"
}

mission "$mode"
# As root the cgroup is the main proof; the unprivileged route is cheap, so
# check it too.
[ "$mode" = cgroup ] && [ -z "${FSMEM_MISSION_MODE:-}" ] && mission rlimit

# ---- disk blocks follow the heap; nothing survives kill -9 ------------------------
note "backing files while a $mib MiB heap is live (paused run), then kill -9"
out=$dir/out/paused
if [ "$mode" = cgroup ]; then
    cg=$(cgroup_make paused $((limit_mib << 20))) || fail "cgroup: $cg"
    cgroups+=("$cg")
    sh -c "$CGROUP_ENTER" "$cg" "${fsmem_env[@]}" "$heap" "$mib" 600 >"$out" 2>"$out.err" &
else
    sh -c 'ulimit -d "$0" && exec "$@"' $((limit_mib << 10)) "${fsmem_env[@]}" "$heap" "$mib" 600 \
        >"$out" 2>"$out.err" &
fi
bg=$!
samples=()
t=0
while ! grep -q '^ok$' "$out"; do
    kill -0 "$bg" 2>/dev/null || { cat "$out.err"; fail "paused run ended early: $(tail -n 1 "$out.err")"; }
    [ "$t" -lt 240 ] || fail "paused run did not reach 'ok' within 120 s"
    if [ $((t % 4)) = 0 ]; then
        s=$(backing_kib "$bg" "$backing" | head -n 1)
        samples+=("$((s >> 10))")
    fi
    sleep 0.5
    t=$((t + 1))
done
[ "$(checksum "$out")" = "$ref" ] || fail "paused run: checksum $(checksum "$out"), want $ref"
{ read -r kib; read -r files; } < <(backing_kib "$bg" "$backing")
note "disk held by the backing files over time (MiB): ${samples[*]} -> $((kib >> 10)) in $files file(s)"
[ "$files" -ge 1 ] || fail "no deleted backing file of the process found in $backing (ls -l /proc/$bg/fd: $(ls -l /proc/$bg/fd | tail -n +2 | sed 's/.*-> //' | tr '\n' ' '))"
[ "$kib" -ge $((mib * 1024 * 9 / 10)) ] ||
    fail "backing files hold $((kib >> 10)) MiB of disk for a live $mib MiB heap (expected at least 90%)"
[ "$kib" -le $((mib * 1024 * 2 + 256 * 1024)) ] ||
    fail "backing files hold $((kib >> 10)) MiB of disk for a $mib MiB heap (more than twice)"
named=$(ls -A "$backing")
[ -z "$named" ] || fail "backing files have names in $backing while the program runs: $named"

avail_before=$(df -k --output=avail "$backing" | tail -n 1)
kill -9 "$bg"
wait "$bg" 2>/dev/null
bg=
left=$(ls -A "$backing")
[ -z "$left" ] || fail "after kill -9, files remain in $backing: $left"
# The blocks go back to the filesystem once the last descriptor closes;
# allow a little time and some noise from other writers.
freed=0
for i in $(seq 50); do
    avail_after=$(df -k --output=avail "$backing" | tail -n 1)
    freed=$((avail_after - avail_before))
    [ "$freed" -ge $((kib / 2)) ] && break
    sleep 0.2
done
[ "$freed" -ge $((kib / 2)) ] ||
    fail "after kill -9 only $((freed >> 10)) MiB came back to the filesystem (the files held $((kib >> 10)) MiB)"
note "after kill -9: $backing is empty, $((freed >> 10)) MiB of disk came back"
echo "mission: $mib MiB heap under a $limit_mib MiB limit ($mode): plain malloc fails, fsmem finishes with the right checksum"
