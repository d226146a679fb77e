#!/bin/bash
# fork() keeps copy-on-write semantics: parent and child never see each
# other's later heap writes (both ways; blocks from before the fork, small,
# > 1 MiB and spanning chunks; blocks allocated afterwards at the same
# addresses; frees, calloc and realloc after the fork; a grandchild), a
# child forked while threads allocate is not deadlocked, posix_spawn and
# vfork+exec work, and forking again and again does not use up the heap.
# Heap all on files (FSMEM_RAM=0), a RAM tier that spills (FSMEM_RAM=64M)
# and the default RAM tier; preloaded and statically linked. Nothing is
# timed here (see the benchmarks).
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/forkiso" "$BUILD/tests/static/forkiso" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-forksem) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir" "$dir.stats" "$dir.out"' EXIT
export FSMEM_STATS=$dir.stats

failures=()
# run WHAT CMD...: runs under a 30 s timeout; a failure is recorded and the
# other runs go on. Returns non-zero on failure.
run() {
    local what=$1 st
    shift
    timeout -k 5 30 "$@" >"$dir.out" 2>&1
    st=$?
    if [ "$st" -eq 124 ]; then
        failures+=("$what: timed out after 30 s (deadlock?): $(tail -n 3 "$dir.out")")
    elif [ "$st" -ne 0 ]; then
        failures+=("$what: $(describe_status $st): $(tail -n 3 "$dir.out")")
    else
        echo "  $what: $(grep '^forkiso: ok' "$dir.out" | tail -n 1)"
        return 0
    fi
    echo "  $what: FAILED"
    return 1
}

modes=("iso" "threads 30" "spawn 10")

note "glibc (control)"
for m in "${modes[@]}" "repeat 100"; do
    FSMEM_STATS='' run "glibc $m" "$BUILD/tests/forkiso" $m ||
        fail "forkiso $m fails with glibc malloc: the test itself is wrong"
done

# (the static build is checked with FSMEM_RAM=0 and auto, the preloaded
# library with all three, to keep the check short)
for cfg in 0:preloaded 0:static 64M:preloaded auto:preloaded auto:static; do
    ram=${cfg%%:*}
    for how in ${cfg#*:}; do
        if [ $how = preloaded ]; then
            cmd=(env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM="$ram" FSMEM_DIR="$dir" "$BUILD/tests/forkiso")
        else
            cmd=(env FSMEM_RAM="$ram" FSMEM_DIR="$dir" "$BUILD/tests/static/forkiso")
        fi
        note "fsmem $how, FSMEM_RAM=$ram"
        for m in "${modes[@]}"; do
            run "$how RAM=$ram $m" "${cmd[@]}" $m &&
                fsmem_was_used "$FSMEM_STATS" "$how RAM=$ram $m"
        done
        # 100 rounds of 1 MiB each fit a 1 GiB heap many times over: forks
        # must not eat the heap's address space.
        FSMEM_SIZE=1G run "$how RAM=$ram FSMEM_SIZE=1G repeat 100" "${cmd[@]}" repeat 100 &&
            fsmem_was_used "$FSMEM_STATS" "$how RAM=$ram repeat"
    done
done

finish "$dir" "fork_semantics: all runs passed"
