#!/bin/bash
# A full disk is an allocation failure, never a crash: FSMEM_DIR on a small
# loop-mounted ext4 filesystem, partly taken by other data, is filled by
# tests/progs/fill. malloc must return NULL with errno ENOMEM; memory that
# malloc handed out must be writable afterwards (disk reserved up front, no
# SIGBUS); after frees, the space comes back and allocation works again.
# Preloaded and statically linked; then again with another process taking
# the disk's last free block between malloc and the first write. Needs
# root.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/fill" "$BUILD/tests/static/fill" "$BUILD/tests/bigheap" "$BUILD/libfsmem.so"

[ "$(id -u)" = 0 ] || skip "needs root to loop-mount a small ext4 filesystem"
for t in mkfs.ext4 mount umount losetup; do
    command -v "$t" >/dev/null || skip "$t is not installed"
done

work=$(disk_tmpdir fsmem-full) || fail "no writable directory on disk for the image"
mnt=$work/mnt
mounted=
cleanup() {
    [ -n "$mounted" ] && { umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null; }
    rm -rf "$work"
}
trap cleanup EXIT
mkdir "$mnt" || fail "mkdir $mnt"
truncate -s 256M "$work/img" || fail "cannot create the image file"
mkfs.ext4 -q -F -m 0 -b 4096 "$work/img" || fail "mkfs.ext4 failed"
err=$(mount -o loop "$work/img" "$mnt" 2>&1) || skip "cannot loop-mount an ext4 image here: $err"
mounted=1

avail() { df -B1 --output=avail "$mnt" | tail -n 1 | tr -d ' '; }
size=$(df -B1 --output=size "$mnt" | tail -n 1 | tr -d ' ')

# Other data takes most of the disk, so that the disk fills up before the
# heap reaches FSMEM_SIZE (which may not exceed the filesystem's size).
fallocate -l 120M "$mnt/ballast" || fail "cannot create the ballast file"
sync
base_avail=$(avail)
note "filesystem: $((size >> 20)) MiB, $((base_avail >> 20)) MiB free after the ballast"

# fill_rest FILE: another process takes every block still free.
fill_rest() {
    local f=$1 off=0 step=$((64 << 20))
    : >"$f"
    while [ "$step" -ge 4096 ]; do
        if fallocate -o "$off" -l "$step" "$f" 2>/dev/null; then
            off=$((off + step))
        else
            step=$((step / 2))
        fi
    done
}

# run_fill NAME OTHER CMD...: runs fill (whose last argument is the
# directory, added here); when it has allocated all it can,
# OTHER=yes lets another process take whatever the disk still has; then
# fill writes its memory. Checks df while it is full, then lets it finish;
# fails unless it exited 0 (not killed by SIGBUS or anything else).
run_fill() {
    local what=$1 other=$2 pid st now_avail
    shift 2
    rm -f "$work/ctl" "$work/out" "$work/err"
    mkfifo "$work/ctl" || fail "mkfifo"
    "$@" <"$work/ctl" >"$work/out" 2>"$work/err" &
    pid=$!
    exec 3>"$work/ctl"
    for stage in allocated full; do
        wait_for_line "$work/out" "^$stage:" 60 "$pid"
        case $? in
        1) exec 3>&-; kill -9 "$pid"; wait "$pid"; fail "$what: no '$stage:' line within 60 s" ;;
        2) exec 3>&-; wait "$pid"; st=$?
           cat "$work/out" "$work/err"
           rm -f "$mnt/other"
           fail "$what: $(describe_status $st) before '$stage:' (memory malloc returned was not writable)" ;;
        esac
        if [ $stage = allocated ]; then
            note "$what: $(grep '^allocated:' "$work/out")"
            if [ "$other" = yes ]; then
                fill_rest "$mnt/other"
                note "$what: another process took the remaining $(($(stat -c %b "$mnt/other") / 2)) KiB;" \
                    "now fill writes its memory"
            fi
            echo go >&3
        fi
    done
    now_avail=$(avail)
    note "$what: $(grep '^full:' "$work/out")"
    note "$what: df while full: $((now_avail >> 10)) KiB available of $((size >> 20)) MiB"
    rm -f "$mnt/other"
    # Nearly full: what is left is below 15% of what the heap could have had
    # (the heap's address space, 192 MiB, is larger than that, so only the
    # disk can have stopped it).
    if [ "$now_avail" -gt $((base_avail * 15 / 100)) ]; then
        echo go >&3
        exec 3>&-
        wait "$pid"
        fail "$what: malloc failed while the filesystem still had $((now_avail >> 10)) KiB" \
            "free: not a full disk"
    fi
    echo go >&3
    exec 3>&-
    wait "$pid"
    st=$?
    cat "$work/out"
    [ -s "$work/err" ] && sed 's/^/  stderr: /' "$work/err"
    [ "$st" -eq 0 ] || fail "$what: $(describe_status $st) (expected exit 0: NULL with ENOMEM, never a signal)"
    grep -q '^fill: ok' "$work/out" || fail "$what: no 'fill: ok' line"
    grep -q '^fsmem: ' "$work/err" && fail "$what: fsmem printed a message on a full disk"
    rm -f "$work/ctl"
    # Everything the process held is back.
    sync
    now_avail=$(avail)
    [ "$now_avail" -ge $((base_avail - (1 << 20))) ] ||
        fail "$what: after exit only $((now_avail >> 10)) KiB free, $((base_avail >> 10)) KiB before"
    left=$(ls -A "$mnt" | grep -vx -e ballast -e lost+found)
    [ -z "$left" ] || fail "$what: files left in the backing directory: $left"
}

P=(env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_SIZE=192M FSMEM_RAM=0 FSMEM_DIR="$mnt" "$BUILD/tests/fill")
S=(env FSMEM_SIZE=192M FSMEM_RAM=0 FSMEM_DIR="$mnt" "$BUILD/tests/static/fill")
# What can be allocated again after the frees: at least 80% of what was
# freed. The rest is the margin fsmem never reserves (8 MiB + heap/128,
# about an eighth of the ~70 MiB freed here) and the filesystem's own
# records for the extents written meanwhile.
note "fsmem preloaded, FSMEM_RAM=0"
run_fill preloaded no "${P[@]}" "$mnt" 80
note "fsmem statically linked, FSMEM_RAM=0"
run_fill static no "${S[@]}" "$mnt" 80
note "fsmem preloaded, FSMEM_RAM=0; another process takes the last free block"
run_fill preloaded-other yes "${P[@]}" "$mnt" 80
note "fsmem statically linked, FSMEM_RAM=0; another process takes the last free block"
run_fill static-other yes "${S[@]}" "$mnt" 80
# Striping over a nearly full disk and a roomy one: the heap outgrows the
# small disk's free space, so the stripes must move over to the other
# directory instead of failing; the summary reports each directory.
big=$work/big
mkdir "$big" || fail "mkdir $big"
heap_mib=$(((base_avail >> 20) * 2))
note "striped over $mnt ($((base_avail >> 20)) MiB free) and $big: a $heap_mib MiB heap"
env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$mnt:$big" FSMEM_STATS="$work/stats" \
    "$BUILD/tests/bigheap" "$heap_mib" >"$work/out" 2>"$work/err"
st=$?
[ "$st" -eq 0 ] || fail "striped heap: bigheap $(describe_status $st): $(tail -n 3 "$work/out" "$work/err")"
grep -q '^ok' "$work/out" || fail "striped heap: no 'ok' from bigheap"
summary=$(grep -A 12 'summary for bigheap' "$work/stats")
sed -n 's/^fsmem:     /  /p' <<<"$summary"
heap_in() { sed -n "s|^fsmem:     $1: \([0-9.]*[KMGT]\?B\?\) of heap.*|\1|p" <<<"$summary"; }
small_part=$(heap_in "$mnt") big_part=$(heap_in "$big")
[ -n "$small_part" ] && [ -n "$big_part" ] || fail "striped heap: the summary has no line per directory"
case $small_part in 0B) fail "striped heap: nothing was placed in $mnt" ;; esac
case $big_part in 0B) fail "striped heap: nothing was placed in $big" ;; esac
left=$(ls -A "$mnt" "$big" | grep -vx -e ballast -e lost+found -e '' -e "$mnt:" -e "$big:")
[ -z "$left" ] || fail "striped heap: files left behind: $left"
echo "full_disk: all runs passed"
