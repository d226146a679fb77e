#!/bin/bash
# FSMEM_PAGING: how much a fault reads back from disk, with the heap on
# files in a memory cgroup of a quarter of it.
#   default (auto): a heap read in order, touched at random, read
#     again; each pass must read 2 MiB a fault (at most 8 faults per MiB
#     passed over, where 4 KiB reads would take 256), the random
#     touches, once fsmem has seen them, the page touched (at most 16 KiB
#     a fault on average over the second half). Where the fault trail
#     runs (perf events allowed), fsmem must try 4 KiB reads within the
#     first dozen faults or so: at most 32 KiB a fault over the whole
#     phase (about 14 measured; 60-70 when it waited for 32 faults).
#     The switch must keep the page cache, split into pages: over the
#     second half at most 9 touches in 10 fault (about 3 in 4 with a
#     fifth of the heap cached; nearly all when the switch dropped it).
#   default, random touches beside a thread that computes in memory:
#     the same, judged on the touching thread's own figures.
#   default, with perf events refused (tests/progs/noperf): no fault
#     trail; the gate's second of user time switches, as before. The
#     passes sum every word (tests/progs/pattern.c): a pass reading one
#     word a page did so little work per read that the gate took it for
#     random touches now and then, and the random touches after that
#     switch, undone by the pass, waited for sample verdicts.
#   FSMEM_PAGING=passes: the same program; the random touches read 2 MiB
#     a fault too.
#   FSMEM_PAGING=random: random touches read the page touched.
# Figures are over the second half of each phase. Needs a memory cgroup
# and Linux 5.18 or later (skips otherwise).
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/pattern" "$BUILD/tests/noperf" "$BUILD/libfsmem.so"

kernel=$(uname -r)
major=${kernel%%.*} rest=${kernel#*.}
minor=${rest%%[!0-9]*}
if [ "$major" -lt 5 ] || { [ "$major" -eq 5 ] && [ "${minor:-0}" -lt 18 ]; }; then
    skip "Linux $kernel reads file pages with its own read-around (fsmem chooses from 5.18)"
fi

dir=$(disk_tmpdir fsmem-pattern) || fail "no writable directory on disk for backing files"
cg=
cleanup() {
    cgroup_remove "$cg"
    rm -rf "$dir" "$dir.out"
}
trap cleanup EXIT

# run PAGING HEAP_MIB LIMIT_MIB TOUCHES PASSES [BUSY]: pattern in a fresh
# cgroup, fsmem's summary at exit in the output; under the command in
# the array "wrap" when it is set.
wrap=()
run() {
    local paging=$1 mib=$2 limit=$3 status
    cgroup_remove "$cg"
    cg=$(cgroup_make pattern $((limit << 20))) || skip "$cg"
    cgroup_run "$cg" "${wrap[@]}" env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$dir" \
        FSMEM_STATS=stderr FSMEM_PAGING="$paging" "$BUILD/tests/pattern" "$mib" "$4" "$5" ${6:-} \
        >"$dir.out" 2>&1
    status=$?
    sed 's/^/  /' "$dir.out"
    [ "$status" = 0 ] || fail "pattern, FSMEM_PAGING=$paging: $(describe_status $status)"
    grep -qx "paging ${paging:-auto}" "$dir.out" ||
        fail "FSMEM_PAGING=$paging did not reach fsmem: $(grep '^paging' "$dir.out")"
}

# value PHASE UNIT: the number before UNIT on the line of PHASE.
value() {
    awk -v p="$1:" -v u="$2" 'index($0, p) == 1 {
        for (i = 2; i <= NF; i++) if ($i == u) { print $(i - 1); exit } }' "$dir.out"
}

# passes_of: the two passes' faults per MiB must be those of 2 MiB reads.
passes_of() {
    local f
    for f in "$(value pass faults)" "$(value "pass again" faults)"; do
        [ -n "$f" ] || fail "pattern printed no figures"
        awk -v f="$f" 'BEGIN { exit !(f <= 8) }' ||
            fail "$1: a pass took $f major faults per MiB (0.5 expected with 2 MiB reads)"
    done
}

note "default paging (auto): 1 GiB heap in a 256 MiB cgroup"
run "" 1024 256 4000 1
passes_of "default paging"
auto_fpm=$(value "pass again" faults)
auto_kib=$(value scatter KiB)
[ -n "$auto_kib" ] || fail "pattern printed no figures"
[ "$auto_kib" -le 16 ] ||
    fail "by default, random touches between passes read $auto_kib KiB a fault (4 expected once seen)"
auto_whole=$(value "scatter whole" KiB)
auto_faults=$(value scatter major)
awk -v f="$auto_faults" 'BEGIN { exit !(f <= 2000 * 0.9) }' ||
    fail "by default, $auto_faults of the last 2,000 random touches faulted: the switch to 4 KiB reads should keep the page cache"
seen="by the gate (perf events refused: no fault trail)"
if grep -q 'fault trail .* runs\? of random touches' "$dir.out"; then
    [ "$auto_whole" -le 32 ] ||
        fail "by default, random touches between passes read $auto_whole KiB a fault over the whole phase (the fault trail should try 4 KiB reads within a dozen faults or so)"
    seen="by the fault trail"
fi

note "default paging, random touches while another thread computes"
run "" 1024 256 4000 0 1
busy_kib=$(value scatter KiB)
[ -n "$busy_kib" ] || fail "pattern printed no figures"
[ "$busy_kib" -le 16 ] ||
    fail "by default, random touches beside a busy thread read $busy_kib KiB a fault (4 expected once seen)"

note "default paging with perf events refused: the gate alone"
wrap=("$BUILD/tests/noperf")
run "" 1024 256 4000 1
wrap=()
grep -q 'fault trail *off' "$dir.out" ||
    fail "with perf events refused, fsmem's summary does not say the fault trail is off: $(grep 'fault trail' "$dir.out")"
passes_of "default paging, no perf events"
gate_kib=$(value scatter KiB)
[ "$gate_kib" -le 16 ] ||
    fail "with perf events refused, random touches between passes read $gate_kib KiB a fault (4 expected once the gate saw them)"

note "FSMEM_PAGING=passes: the same program"
run passes 1024 256 2000 1
passes_of "FSMEM_PAGING=passes"
pass_fpm=$(value pass faults)
passes_kib=$(value scatter KiB)
[ "$passes_kib" -ge 1024 ] ||
    fail "with FSMEM_PAGING=passes, random touches read $passes_kib KiB a fault (2048 expected)"

note "FSMEM_PAGING=random: 384 MiB heap in a 96 MiB cgroup"
run random 384 96 20000 0
scatter_kib=$(value scatter KiB)
[ -n "$scatter_kib" ] || fail "pattern printed no figures"
[ "$scatter_kib" -le 16 ] ||
    fail "with FSMEM_PAGING=random, random touches read $scatter_kib KiB a fault (4 expected)"
echo "pattern: a random touch read $auto_kib KiB by default (auto; $auto_whole KiB over the whole phase, seen $seen; $auto_faults faults in the last 2,000 touches), $busy_kib KiB beside a busy thread, $gate_kib KiB without perf events, $passes_kib KiB with FSMEM_PAGING=passes (passes: $auto_fpm and $pass_fpm faults per MiB), $scatter_kib KiB with FSMEM_PAGING=random"
