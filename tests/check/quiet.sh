#!/bin/bash
# A program that stops touching memory is left alone. fsmem's helper
# threads (the sampler, prefill, and early writeback under a cgroup v1
# limit) watch a program whose heap is on files; once it takes no page
# fault they must read nothing (no pagemap, no memory.stat), the sampler
# must wake at most a few times a second and prefill not at all. A program computing on resident data or
# waiting for input would otherwise lose CPU time and be woken hundreds of
# times a second (jitter that a parallel job feels).
#
# holder fills 384 MiB on files (FSMEM_RAM=0), in a 256 MiB memory cgroup
# when one can be made (else without, or under cgroup v2: then there is
# no writeback thread),
# and waits on its input. Each fsmem thread's read calls (syscr in
# /proc/PID/task/TID/io) and wake-ups (voluntary context switches) are
# taken over QUIET_S seconds of that wait.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/holder" "$BUILD/libfsmem.so"

QUIET_S=3
SAMPLER_MAX=$((QUIET_S * 5 + 10))   # 5 a second while quiet, and slack
PREFILL_MAX=2                        # it sleeps until the heap grows again
dir=$(disk_tmpdir fsmem-quiet) || fail "no writable directory on disk for backing files"
cg=
pid=
cleanup() {
    exec 3>&- 2>/dev/null
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    cgroup_remove "$cg"
    rm -rf "$dir" "$dir.ctl" "$dir.out"
}
trap cleanup EXIT

run=(env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$dir" FSMEM_STATS=
     "$BUILD/tests/holder" 384)
if cg=$(cgroup_make quiet $((256 << 20))); then
    run=(sh -c "$CGROUP_ENTER" "$cg" "${run[@]}")
    where="in a 256 MiB cgroup"
else
    note "no memory cgroup ($cg): the sampler alone is checked"
    cg=
    where="without a cgroup"
fi
mkfifo "$dir.ctl" || fail "mkfifo"
"${run[@]}" <"$dir.ctl" >"$dir.out" 2>&1 &
pid=$!
exec 3>"$dir.ctl"
wait_for_line "$dir.out" '^filled' 120 "$pid" || fail "no 'filled' line: $(cat "$dir.out")"

# thread_counts: "comm reads wakeups" for each fsmem thread of $pid.
thread_counts() {
    local t
    for t in /proc/"$pid"/task/*; do
        case $(cat "$t/comm" 2>/dev/null) in fsmem-*) ;; *) continue ;; esac
        printf '%s %s %s\n' "$(cat "$t/comm")" \
            "$(awk '$1 == "syscr:" { print $2 }' "$t/io")" \
            "$(awk '$1 == "voluntary_ctxt_switches:" { print $2 }' "$t/status")"
    done | sort
}

sleep 1.5   # the last faults of the fill are looked at once more
before=$(thread_counts)
sleep "$QUIET_S"
after=$(thread_counts)
[ -n "$before" ] || fail "holder $where has no fsmem thread with its heap on files"
# Early writeback is for cgroup v1 limits only (v2 limits a cgroup's
# dirty pages itself): its thread must be there under v1, and not under v2.
if [ -n "$cg" ]; then
    ver=$(cgroup_version)
    if grep -q '^fsmem-writeback ' <<<"$before"; then
        [ "$ver" = v1 ] || fail "an fsmem-writeback thread $where, under cgroup $ver"
    else
        [ "$ver" != v1 ] || fail "no fsmem-writeback thread $where (cgroup v1)"
    fi
fi

failures=()
summary=
while read -r name r0 w0 r1 w1; do
    reads=$((r1 - r0)) wakes=$((w1 - w0))
    summary+=" $name: $reads reads, $wakes wake-ups;"
    [ "$reads" -eq 0 ] || failures+=("$name made $reads read calls in ${QUIET_S} s while the program took no fault")
    if [ "$name" = fsmem-sampler ] && [ "$wakes" -gt "$SAMPLER_MAX" ]; then
        failures+=("fsmem-sampler woke $wakes times in ${QUIET_S} s while the program took no fault (at most $SAMPLER_MAX expected)")
    fi
    if [ "$name" = fsmem-prefill ] && [ "$wakes" -gt "$PREFILL_MAX" ]; then
        failures+=("fsmem-prefill woke $wakes times in ${QUIET_S} s after the heap stopped growing (at most $PREFILL_MAX expected)")
    fi
done < <(join <(echo "$before") <(echo "$after"))
note "quiet for ${QUIET_S} s $where:${summary%;}"

exec 3>&-
wait "$pid" || failures+=("holder $(describe_status $?): $(tail -n 3 "$dir.out")")
pid=
grep -q '^done' "$dir.out" || failures+=("holder did not finish: $(tail -n 3 "$dir.out")")
finish "$dir" "quiet: fsmem's threads read nothing while the program took no fault ($where)"
