#!/bin/bash
# shellcheck disable=SC2016 # the sh -c scripts expand in the child
# The fsmem launcher: help and version, option parsing, what it puts in the
# program's environment, and exit statuses like a shell's.
set -u
: "${BUILD:?set BUILD to the absolute path of build/}"
FSMEM=$BUILD/fsmem
for f in "$BUILD/fsmem" "$BUILD/libfsmem.so"; do
    [ -e "$f" ] || { echo "FAIL: $f is missing (run make first)"; exit 1; }
done
unset FSMEM_DIR FSMEM_SIZE FSMEM_RAM FSMEM_STATS LD_PRELOAD

tmp=""
trap '[ -n "$tmp" ] && rm -rf "$tmp"' EXIT

# The preloaded library warns about tmpfs; give it a disk directory.
for d in "${TMPDIR:-}" /var/tmp /tmp "$PWD"; do
    if [ -n "$d" ] && [ -d "$d" ] && [ -w "$d" ]; then
        case $(stat -f -c %T "$d") in tmpfs | ramfs) continue ;; esac
        tmp=$(mktemp -d -p "$d" fsmem-launcher.XXXXXX) && tmp=$(realpath "$tmp") && break
    fi
done
if [ -z "$tmp" ]; then
    echo "skip: no writable directory on a disk filesystem"
    exit 77
fi
export FSMEM_DIR=$tmp
lib=$(realpath "$BUILD/libfsmem.so")

failed=0 passed=0
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
ok() { passed=$((passed + 1)); }

# expect STATUS STDOUT -- command...: exact exit status and stdout.
expect() {
    local status=$1 want=$2 out rc
    shift 3
    out=$("$@" 2>"$tmp/err")
    rc=$?
    if [ "$rc" -ne "$status" ]; then
        fail "$*: exit status $rc, expected $status: $(cat "$tmp/err")"
    elif [ "$out" != "$want" ]; then
        fail "$*: printed '$out', expected '$want'"
    else
        ok
    fi
}

# expect_err STATUS TEXT -- command...: one line on stderr containing TEXT.
expect_err() {
    local status=$1 text=$2 rc
    shift 3
    "$@" >/dev/null 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$status" ]; then
        fail "$*: exit status $rc, expected $status: $(cat "$tmp/err")"
    elif [ "$(grep -c '' "$tmp/err")" -ne 1 ] || ! grep -qF -- "$text" "$tmp/err"; then
        fail "$*: expected one line with '$text' on stderr, got: $(cat "$tmp/err")"
    else
        ok
    fi
}

# Help and version.
for h in -h --help; do
    help=$("$FSMEM" "$h")
    rc=$?
    [ "$rc" -eq 0 ] || fail "fsmem $h: exit status $rc"
    for word in --dir --size --ram --stats --help --version \
        FSMEM_DIR FSMEM_SIZE FSMEM_RAM FSMEM_STATS LD_PRELOAD; do
        [[ $help == *"$word"* ]] || fail "fsmem $h does not mention $word"
    done
    ok
done
version=$(sed -n 's/^#define FSMEM_VERSION "\(.*\)"/\1/p' include/fsmem.h)
expect 0 "fsmem $version" -- "$FSMEM" --version
expect 0 "fsmem $version" -- "$FSMEM" -V

# The program's exit status, and a shell's for programs that cannot run.
expect 7 "" -- "$FSMEM" -- sh -c 'exit 7'
expect 0 "" -- "$FSMEM" true
expect_err 127 "fsmem: no-such-program-here: command not found" -- \
    "$FSMEM" no-such-program-here
expect_err 127 "$tmp/missing" -- "$FSMEM" "$tmp/missing"
: >"$tmp/plain"
chmod 644 "$tmp/plain"
expect_err 126 "$tmp/plain" -- "$FSMEM" "$tmp/plain"
expect_err 126 "$tmp" -- "$FSMEM" -- "$tmp"

# Usage errors: exit 2, the program does not run.
expect_err 2 "'--bogus'" -- "$FSMEM" --bogus echo RAN
expect_err 2 "fsmem --help" -- "$FSMEM" -x echo RAN
expect_err 2 "fsmem --help" -- "$FSMEM"
expect_err 2 "fsmem --help" -- "$FSMEM" --size 1G
expect_err 2 "fsmem --help" -- "$FSMEM" --size 1G --
expect_err 2 "--dir" -- "$FSMEM" --dir
# A bad setting: exit 1, before the program runs.
expect_err 1 "--size=12Q" -- "$FSMEM" --size 12Q echo RAN

# Options end at the first non-option or at "--"; the rest is the program's.
expect 0 "--size" -- "$FSMEM" sh -c 'echo "$1"' sh --size
expect 0 "-l" -- "$FSMEM" --ram 0 -- sh -c 'echo "$1"' sh -l
expect_err 127 "--size" -- "$FSMEM" -- --size 1G
: >"$tmp/listed"
expect 0 "$(ls -l "$tmp/listed")" -- "$FSMEM" -- ls -l "$tmp/listed"
expect 0 "$(ls -l "$tmp/listed")" -- "$FSMEM" ls -l "$tmp/listed"

# Options reach the program's environment, override the variables, and
# relative paths become absolute so children that chdir still find them.
show='echo "$FSMEM_DIR|$FSMEM_SIZE|$FSMEM_RAM|$FSMEM_STATS"'
expect 0 "$tmp|2G||" -- "$FSMEM" --size 2G -- sh -c "$show"
expect 0 "$tmp|1G|0|1" -- env FSMEM_SIZE=12Q "$FSMEM" --size=1G --ram=0 --stats sh -c "$show"
expect 0 "$tmp||auto|$tmp/s.txt" -- "$FSMEM" --ram auto --stats="$tmp/s.txt" sh -c "$show"
mkdir "$tmp/d"
expect 0 "$tmp/d:$tmp||1G|" -- sh -c "cd '$tmp' && '$FSMEM' --dir d:'$tmp' --ram 1G sh -c '$show'"

# LD_PRELOAD keeps what was there, with libfsmem.so first and only once.
other=""
for f in /lib/x86_64-linux-gnu/libm.so.6 /lib64/libm.so.6 /usr/lib64/libm.so.6 /usr/lib/libm.so.6; do
    [ -r "$f" ] && { other=$f; break; }
done
if [ -n "$other" ]; then
    expect 0 "$lib:$other" -- env LD_PRELOAD="$other" "$FSMEM" sh -c 'echo "$LD_PRELOAD"'
    expect 0 "$lib:$other:$other" -- \
        env LD_PRELOAD="$other $lib $other" "$FSMEM" sh -c 'echo "$LD_PRELOAD"'
else
    echo "note: no libm.so.6 found; LD_PRELOAD merging not checked"
fi
expect 0 "$lib" -- "$FSMEM" "$FSMEM" sh -c 'echo "$LD_PRELOAD"'

# The library is found in an installed layout, and its absence is reported.
mkdir -p "$tmp/prefix/bin" "$tmp/prefix/lib/fsmem" "$tmp/alone"
cp "$FSMEM" "$tmp/prefix/bin/"
cp "$BUILD/libfsmem.so" "$tmp/prefix/lib/fsmem/"
expect 0 "$tmp/prefix/lib/fsmem/libfsmem.so" -- \
    "$tmp/prefix/bin/fsmem" sh -c 'echo "$LD_PRELOAD"'
cp "$FSMEM" "$tmp/alone/"
expect_err 1 "libfsmem.so" -- "$tmp/alone/fsmem" echo RAN

# A warning every process of a job would repeat is printed once: by the
# program the launcher starts, not by each process it runs. Without the
# launcher each process prints it.
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ]; then
    job='ls / >/dev/null; ls / >/dev/null; cat /dev/null'
    n=$("$FSMEM" --dir /dev/shm sh -c "$job" 2>&1 | grep -c 'is on tmpfs')
    if [ "$n" = 1 ]; then ok; else fail "tmpfs warning printed $n times under the launcher, want 1"; fi
    n=$(FSMEM_DIR=/dev/shm LD_PRELOAD="$BUILD/libfsmem.so" sh -c "$job" 2>&1 | grep -c 'is on tmpfs')
    if [ "$n" = 4 ]; then ok; else fail "tmpfs warning printed $n times with LD_PRELOAD alone, want 4"; fi
else
    echo "note: /dev/shm is not a writable tmpfs; warning-once rows skipped"
fi

echo "launcher: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
