#!/bin/bash
# Resource limits smaller than the heap: with ulimit -v (RLIMIT_AS) or
# ulimit -f (RLIMIT_FSIZE) below FSMEM_SIZE the program runs, one line on
# stderr says the heap was limited, and allocation works up to the limit
# and then fails cleanly (NULL, not SIGSEGV, SIGBUS or SIGXFSZ). A limit
# that leaves no room for a heap at all stops the program with one line
# naming the limit and a non-zero exit, never a crash. Uses
# tests/progs/bigheap (exit 2 = malloc returned NULL); preloaded, statically
# linked and through the launcher; and under valgrind, which caps the
# address space where fsmem cannot see it.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/bigheap" "$BUILD/tests/static/bigheap" "$BUILD/libfsmem.so" "$BUILD/fsmem"

dir=$(disk_tmpdir fsmem-limits) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir" "$dir.out" "$dir.err" "$dir.stats"' EXIT
ulimit -c 0
failures=()

# limited ULIMIT_ARGS -- CMD...: runs CMD under the limit; leaves $st,
# $dir.out, $dir.err and $fsm (the stderr lines from fsmem).
limited() {
    local lim=()
    while [ "$1" != -- ]; do lim+=("$1"); shift; done
    shift
    (ulimit "${lim[@]}" && exec "$@") >"$dir.out" 2>"$dir.err"
    st=$?
    fsm=$(grep '^fsmem' "$dir.err")
}

# expect_run WHAT WANT RE: WANT = ok (exit 0, bigheap's "ok") or nomem (exit
# 2: malloc failed); fsmem said exactly one line matching RE (or none if RE
# is empty).
expect_run() {
    local what=$1 want=$2 re=$3 n
    n=$(grep -c '^fsmem' "$dir.err")
    if [ "$st" -ge 128 ]; then
        failures+=("$what: $(describe_status $st) (a crash): $(tail -n 2 "$dir.err" | tr '\n' '|')")
        return
    fi
    case $want in
    ok) { [ "$st" -eq 0 ] && grep -qx ok "$dir.out"; } ||
        { failures+=("$what: exit $st, expected 0 and ok: $(tail -n 2 "$dir.err" | tr '\n' '|')"); return; } ;;
    nomem) [ "$st" -eq 2 ] && grep -q 'malloc.*failed' "$dir.err" ||
        { failures+=("$what: exit $st, expected 2 (malloc returned NULL): $(tail -n 2 "$dir.err" | tr '\n' '|')"); return; } ;;
    esac
    if [ -z "$re" ]; then
        [ "$n" -eq 0 ] || { failures+=("$what: unexpected message: $fsm"); return; }
    else
        [ "$n" -eq 1 ] || { failures+=("$what: expected one line from fsmem, got $n: $(tr '\n' '|' <<<"$fsm")"); return; }
        grep -qE -- "$re" <<<"$fsm" || { failures+=("$what: the message does not match /$re/: $fsm"); return; }
    fi
    echo "  $what: $(describe_status $st); ${fsm:-no message}"
}

# expect_refused WHAT RE: fsmem stopped the program before main: exit 1,
# nothing on stdout, stderr exactly one line "fsmem: ..." matching RE.
expect_refused() {
    local what=$1 re=$2
    if [ "$st" -ge 128 ]; then
        failures+=("$what: $(describe_status $st) (a crash, not a message): $(head -c 200 "$dir.err")")
        return
    fi
    if [ "$st" -eq 0 ] || [ -s "$dir.out" ]; then
        failures+=("$what: the program ran (exit $st)")
        return
    fi
    if [ "$(grep -c '' "$dir.err")" -ne 1 ] || [ -z "$fsm" ]; then
        failures+=("$what: stderr must be one line from fsmem: $(head -c 300 "$dir.err" | tr '\n' '|')")
        return
    fi
    grep -qE -- "$re" <<<"$fsm" || { failures+=("$what: the message does not name the limit (/$re/): $fsm"); return; }
    echo "  $what: exit $st; $fsm"
}

P=(env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_DIR="$dir")
S=(env FSMEM_DIR="$dir")

note "glibc (control)"
limited -v $((2 << 20)) -- "$BUILD/tests/bigheap" 300
[ "$st" -eq 0 ] || fail "bigheap 300 fails with glibc under ulimit -v 2G: the test itself is wrong"

note "ulimit -v 2 GiB, FSMEM_SIZE 1T (default)"
limited -v $((2 << 20)) -- "${P[@]}" "$BUILD/tests/bigheap" 300
expect_run "preloaded, 300 MiB" ok 'ulimit -v.*limited|limited.*ulimit -v'
limited -v $((2 << 20)) -- "${S[@]}" FSMEM_RAM=0 "$BUILD/tests/static/bigheap" 300
expect_run "static, FSMEM_RAM=0, 300 MiB" ok 'ulimit -v.*limited|limited.*ulimit -v'
limited -v $((2 << 20)) -- "$BUILD/fsmem" --dir "$dir" -- "$BUILD/tests/bigheap" 300
expect_run "launcher, 300 MiB" ok 'ulimit -v.*limited|limited.*ulimit -v'
limited -v $((1 << 20)) -- "${P[@]}" FSMEM_RAM=0 "$BUILD/tests/bigheap" 2000
expect_run "preloaded, FSMEM_RAM=0, 2000 MiB under 1 GiB" nomem 'ulimit -v'
limited -v $((1 << 20)) -- "${P[@]}" "$BUILD/tests/bigheap" 2000
expect_run "preloaded, RAM tier, 2000 MiB under 1 GiB" nomem 'ulimit -v'
limited -v $((2 << 20)) -- "${P[@]}" FSMEM_SIZE=256M FSMEM_RAM=0 FSMEM_STATS="$dir.stats" \
    "$BUILD/tests/bigheap" 200
expect_run "preloaded, FSMEM_SIZE=256M fits: no message" ok ''
fsmem_was_used "$dir.stats" "FSMEM_SIZE=256M under ulimit -v 2G"

note "ulimit -f 200 MiB (RLIMIT_FSIZE)"
limited -f $((200 << 10)) -- "${P[@]}" FSMEM_RAM=0 "$BUILD/tests/bigheap" 150
expect_run "preloaded, FSMEM_RAM=0, 150 MiB" ok 'ulimit -f.*limited|limited.*ulimit -f'
limited -f $((200 << 10)) -- "${S[@]}" FSMEM_RAM=0 "$BUILD/tests/static/bigheap" 150
expect_run "static, FSMEM_RAM=0, 150 MiB" ok 'ulimit -f.*limited|limited.*ulimit -f'
limited -f $((200 << 10)) -- "${P[@]}" "$BUILD/tests/bigheap" 150
expect_run "preloaded, RAM tier, 150 MiB" ok 'ulimit -f.*limited|limited.*ulimit -f'
limited -f $((200 << 10)) -- "${P[@]}" FSMEM_RAM=0 "$BUILD/tests/bigheap" 400
expect_run "preloaded, FSMEM_RAM=0, 400 MiB: NULL, no SIGXFSZ or SIGBUS" nomem 'ulimit -f'

note "limits that leave no room for a heap"
for kib in 32768 65536 98304 131072; do
    limited -v $kib -- "${P[@]}" "$BUILD/tests/bigheap" 10
    expect_refused "ulimit -v $((kib >> 10))M, preloaded" 'ulimit -v'
    limited -v $kib -- "${S[@]}" "$BUILD/tests/static/bigheap" 10
    expect_refused "ulimit -v $((kib >> 10))M, static" 'ulimit -v'
done
limited -v 65536 -- "$BUILD/fsmem" --dir "$dir" -- "$BUILD/tests/bigheap" 10
expect_refused "ulimit -v 64M, launcher" 'ulimit -v'
limited -f $((16 << 10)) -- "${P[@]}" FSMEM_RAM=0 "$BUILD/tests/bigheap" 10
expect_refused "ulimit -f 16M, preloaded" 'ulimit -f'
limited -f $((16 << 10)) -- "${S[@]}" "$BUILD/tests/static/bigheap" 10
expect_refused "ulimit -f 16M, static, RAM tier" 'ulimit -f'

# valgrind caps a program's address space itself, below what fsmem
# reserves by default: the message must say what to lower.
if command -v valgrind >/dev/null; then
    note "an address-space cap fsmem cannot read (valgrind --tool=none)"
    VG=(valgrind -q --tool=none --trace-children=yes)
    limited -v unlimited -- "${VG[@]}" "${S[@]}" "$BUILD/tests/static/bigheap" 10
    if [ "$st" -eq 0 ] && [ -z "$fsm" ]; then
        # The default heap is sized from the disk; a small one fits.
        echo "  valgrind, static, default FSMEM_SIZE: the heap fit under valgrind here (nothing to check)"
    else
        expect_refused "valgrind, static, default FSMEM_SIZE" 'cannot reserve .* lower FSMEM_SIZE'
    fi
    limited -v unlimited -- "${VG[@]}" "${S[@]}" FSMEM_SIZE=1G FSMEM_RAM=64M "$BUILD/tests/static/bigheap" 10
    expect_run "valgrind, static, FSMEM_SIZE=1G FSMEM_RAM=64M" ok ''
else
    echo "  skipped the valgrind cases: valgrind is not installed"
fi

finish "$dir" "limits: all runs passed"
