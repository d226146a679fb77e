#!/bin/bash
# Every FSMEM_* setting, bad and good, through the three ways in: the
# preloaded library (a), the launcher's options (b) and the launcher reading
# the environment (c). A bad value must stop the program before it runs,
# with one line on stderr naming the setting and the value.
set -u
: "${BUILD:?set BUILD to the absolute path of build/}"
LIB=$BUILD/libfsmem.so
FSMEM=$BUILD/fsmem
for f in "$BUILD/fsmem" "$BUILD/libfsmem.so"; do
    [ -e "$f" ] || { echo "FAIL: $f is missing (run make first)"; exit 1; }
done
unset FSMEM_DIR FSMEM_SIZE FSMEM_RAM FSMEM_STATS FSMEM_PAGING LD_PRELOAD

mounted=""
tmp=""
cleanup() {
    [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT

fstype() { stat -f -c %T "$1" 2>/dev/null; }
on_disk() { [ -d "$1" ] && [ -w "$1" ] && case $(fstype "$1") in tmpfs | ramfs | "") false ;; esac; }

# The good rows need a directory on a real disk, or the library would warn.
for d in "${TMPDIR:-}" /var/tmp /tmp "$PWD"; do
    if [ -n "$d" ] && on_disk "$d"; then
        tmp=$(mktemp -d -p "$d" fsmem-settings.XXXXXX) && break
    fi
done
if [ -z "$tmp" ]; then
    echo "skip: no writable directory on a disk filesystem"
    exit 77
fi
export FSMEM_DIR=$tmp

failed=0 passed=0
fail() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}

opt_of() { local o=${1#FSMEM_}; echo "--${o,,}"; }

# run WAY VAR VALUE: runs /bin/echo RAN with VAR=VALUE the given way, leaving
# $out, $err (file) and $rc; $name is what the message must mention.
run() {
    local way=$1 var=$2 value=$3 opt
    opt=$(opt_of "$var")
    case $way in
    a) name=$var
       out=$(env "$var=$value" LD_PRELOAD="$LIB" /bin/echo RAN 2>"$tmp/err") ;;
    b) name=$opt
       if [ "$var" = FSMEM_STATS ]; then # its value is optional: only =PATH
           out=$("$FSMEM" "$opt=$value" -- /bin/echo RAN 2>"$tmp/err")
       else
           out=$("$FSMEM" "$opt" "$value" -- /bin/echo RAN 2>"$tmp/err")
       fi ;;
    c) name=$var
       out=$(env "$var=$value" "$FSMEM" /bin/echo RAN 2>"$tmp/err") ;;
    esac
    rc=$?
    err=$(cat "$tmp/err")
    nlines=$(grep -c '' "$tmp/err")
}

bad() {
    local var=$1 value=$2 way
    for way in a b c; do
        run "$way" "$var" "$value"
        local what="($way) $name='$value'"
        if [ "$rc" -eq 0 ]; then
            fail "$what: exit status 0, expected an error"
        elif [ "$out" = RAN ]; then
            fail "$what: the program ran"
        elif [ "$nlines" -ne 1 ]; then
            fail "$what: expected one line on stderr, got $nlines: $err"
        elif [[ $err != *"$name"* || $err != *"$value"* ]]; then
            fail "$what: the message does not name the setting and value: $err"
        else
            passed=$((passed + 1))
        fi
    done
}

# good VAR VALUE [WARNINGS]: the program runs; stderr holds WARNINGS lines.
good() {
    local var=$1 value=$2 warnings=${3:-0} way
    for way in a b c; do
        run "$way" "$var" "$value"
        local what="($way) $name='$value'"
        if [ "$rc" -ne 0 ] || [ "$out" != RAN ]; then
            fail "$what: exit status $rc, output '$out', expected RAN: $err"
        elif [ "$nlines" -ne "$warnings" ]; then
            fail "$what: expected $warnings line(s) on stderr, got $nlines: $err"
        else
            passed=$((passed + 1))
        fi
    done
}

: >"$tmp/file"
while IFS='|' read -r var value; do
    bad "$var" "$value"
done <<EOF
FSMEM_SIZE|-1
FSMEM_SIZE|12Q
FSMEM_SIZE|
FSMEM_SIZE|0
FSMEM_SIZE|1M
FSMEM_SIZE|99999999999999999999999
FSMEM_SIZE|16777216T
FSMEM_SIZE|1k5
FSMEM_SIZE|1 G
FSMEM_SIZE|1.5G
FSMEM_SIZE|10P
FSMEM_SIZE|16000000T
FSMEM_DIR|$tmp/missing
FSMEM_DIR|$tmp/file
FSMEM_DIR|/proc
FSMEM_DIR|$tmp:$tmp/missing
FSMEM_DIR|a::b
FSMEM_DIR|$tmp:
FSMEM_DIR|
FSMEM_RAM|-5
FSMEM_RAM|abc
FSMEM_RAM|1X
FSMEM_RAM|
FSMEM_STATS|$tmp/missing/stats.txt
FSMEM_STATS|$tmp
FSMEM_PAGING|sequential
FSMEM_PAGING|RANDOM
EOF

# A read-only directory: a read-only mount when root, else a mode-555
# directory (root may write there regardless of the mode).
mkdir "$tmp/ro"
if [ "$(id -u)" -eq 0 ]; then
    if mount -t tmpfs -o ro,size=1m fsmem-ro "$tmp/ro" 2>/dev/null; then
        mounted=$tmp/ro
    elif mount --bind "$tmp/ro" "$tmp/ro" 2>/dev/null; then
        mounted=$tmp/ro
        mount -o remount,ro,bind "$tmp/ro" 2>/dev/null || { umount "$tmp/ro"; mounted=""; }
    fi
    if [ -n "$mounted" ]; then
        bad FSMEM_DIR "$tmp/ro"
    else
        echo "note: cannot mount here; read-only directory row skipped"
    fi
else
    chmod 555 "$tmp/ro"
    bad FSMEM_DIR "$tmp/ro"
fi

disk_bytes=$(stat -f -c '%b * %S' "$tmp")
disk_bytes=$((disk_bytes))
while IFS='|' read -r var value; do
    good "$var" "$value"
done <<EOF
FSMEM_SIZE|1G
FSMEM_SIZE|512M
FSMEM_SIZE|64MiB
FSMEM_SIZE|1gb
FSMEM_DIR|$tmp
FSMEM_DIR|$tmp:$tmp
FSMEM_RAM|0
FSMEM_RAM|auto
FSMEM_RAM|1G
FSMEM_STATS|0
FSMEM_PAGING|auto
FSMEM_PAGING|passes
FSMEM_PAGING|random
EOF
if [ "$disk_bytes" -ge $((2 << 40)) ]; then
    good FSMEM_SIZE 2t
else
    echo "note: the disk is smaller than 2T; FSMEM_SIZE=2t row skipped"
fi

# tmpfs is accepted, with one warning that it is RAM.
if [ "$(fstype /dev/shm)" = tmpfs ] && [ -w /dev/shm ]; then
    good FSMEM_DIR /dev/shm 1
else
    echo "note: /dev/shm is not a writable tmpfs; tmpfs row skipped"
fi

# FSMEM_STATS=stderr is stderr, as fsmem_get_settings() names it, not a
# file called "stderr" in the working directory. sort closes stderr before
# library destructors run, so this also checks that the summary survives
# that.
mkdir "$tmp/cwd"
err=$(cd "$tmp/cwd" && printf 'b\na\n' | FSMEM_STATS=stderr FSMEM_DIR=$tmp LD_PRELOAD="$LIB" sort 2>&1 >/dev/null)
if [ -e "$tmp/cwd/stderr" ]; then
    fail "FSMEM_STATS=stderr wrote a file named stderr"
elif ! grep -q "^fsmem:" <<<"$err"; then
    fail "FSMEM_STATS=stderr printed no summary on stderr: $err"
else
    passed=$((passed + 1))
fi

echo "settings: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
