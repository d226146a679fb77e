#!/bin/bash
# Backing files are private and never outlive the process:
#  - while a program with a 400 MiB heap runs, FSMEM_DIR lists nothing; its
#    backing files (/proc/PID/fd links "DIR/... (deleted)") have no link
#    at all, mode 0600 (even under umask 000), and another user cannot
#    open them;
#  - after kill -9 early, mid-fill and late (also with a fork+exec'ed child
#    still running), the directory is empty and the disk space is back;
#  - symlinks and files planted in FSMEM_DIR by another user are neither
#    followed nor changed, also on the fallback path used where O_TMPFILE
#    is missing (forced by tests/progs/notmpfile, whose predictable
#    "random" names collide with a planted symlink).
# As root the heap goes to a loop-mounted ext4 image (exact df); otherwise
# to a directory on disk, with the other-user parts left out.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/holder" "$BUILD/tests/static/notmpfile" "$BUILD/tests/notmpfile" \
    "$BUILD/libfsmem.so"

work=$(disk_tmpdir fsmem-crash) || fail "no writable directory on disk"
chmod 755 "$work"
mnt=$work/mnt
mounted=
pids=()
cleanup() {
    local p
    exec 3>&- 2>/dev/null
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "$mounted" ] && { umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null; }
    rm -rf "$work"
}
trap cleanup EXIT
mkdir "$mnt" || fail "mkdir $mnt"

root=
if [ "$(id -u)" = 0 ]; then
    root=1
    truncate -s 768M "$work/img" && mkfs.ext4 -q -F -m 0 -b 4096 "$work/img" ||
        fail "cannot make an ext4 image"
    if err=$(mount -o loop "$work/img" "$mnt" 2>&1); then
        mounted=1
        slack=$((2 << 20))          # a private filesystem: df is exact
    else
        note "cannot loop-mount ($err): using $mnt on the host filesystem"
        slack=$((200 << 20))
    fi
    command -v setpriv >/dev/null || fail "setpriv is missing (util-linux)"
    as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
else
    note "not root: a shared filesystem (df is approximate) and no other-user checks"
    slack=$((200 << 20))
fi
chmod 755 "$mnt"

avail() { sync; df -B1 --output=avail "$1" | tail -n 1 | tr -d ' '; }
HEAP_MIB=400

# backing_fds PID DIR: prints "fd mode links uid" for each backing file.
backing_fds() {
    local fd link
    for fd in /proc/"$1"/fd/*; do
        link=$(readlink "$fd" 2>/dev/null) || continue
        case $link in "$2"/*" (deleted)") ;; *) continue ;; esac
        echo "${fd##*/} $(stat -L -c '%a %h %u' "$fd")"
    done
}

# check_private PID DIR WHAT: the running process's backing files are
# nameless, 0600 and closed to other users.
check_private() {
    local pid=$1 d=$2 what=$3 fds fd mode links uid n=0
    local names
    names=$(ls -A "$d")
    [ -z "$names" ] || fail "$what: FSMEM_DIR lists names while the program runs: $names"
    fds=$(backing_fds "$pid" "$d")
    [ -n "$fds" ] || fail "$what: no backing file of $d among /proc/$pid/fd (was fsmem in use?)"
    while read -r fd mode links uid; do
        n=$((n + 1))
        [ "$mode" = 600 ] || fail "$what: backing file fd $fd has mode $mode, not 600"
        [ "$links" = 0 ] || fail "$what: backing file fd $fd has $links link(s) (a name somewhere)"
        [ "$uid" = "$(id -u)" ] || fail "$what: backing file fd $fd is owned by uid $uid"
        if [ -n "$root" ]; then
            if as_nobody head -c 1 "/proc/$pid/fd/$fd" >/dev/null 2>&1; then
                fail "$what: user nobody could open backing file /proc/$pid/fd/$fd"
            fi
        fi
    done <<<"$fds"
    echo "  $what: $n backing file(s), mode 600, no links, empty directory"
}

# kill_at POINT REGEX DELAY [spawn]: start a holder, wait for REGEX, check,
# kill -9, check that nothing is left.
kill_at() {
    local point=$1 re=$2 delay=$3 spawn=${4:-} d=$mnt/run-$1 base pid st child='' used now
    mkdir "$d" && chmod 700 "$d" || fail "mkdir $d"
    base=$(avail "$d")
    rm -f "$work/ctl" "$work/out"
    mkfifo "$work/ctl"
    (umask 000; exec env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$d" \
        "$BUILD/tests/holder" "$HEAP_MIB" "$delay" $spawn <"$work/ctl" >"$work/out" 2>&1) &
    pid=$!
    pids+=("$pid")
    exec 3>"$work/ctl"
    wait_for_line "$work/out" "$re" 60 "$pid" ||
        fail "$point: the program did not reach /$re/: $(cat "$work/out")"
    check_private "$pid" "$d" "$point"
    if [ -n "$spawn" ]; then
        child=$(sed -n 's/^spawned //p' "$work/out")
        [ -n "$child" ] || fail "$point: no child was spawned"
        pids+=("$child")
        if grep -q -- "$d" "/proc/$child/maps" 2>/dev/null || [ -n "$(backing_fds "$child" "$d")" ]; then
            fail "$point: the fork+exec'ed child holds the backing files (O_CLOEXEC missing?)"
        fi
    fi
    if [ "$point" = late ] || [ "$point" = late-spawn ]; then
        used=$((base - $(avail "$d")))
        [ "$used" -ge $(((HEAP_MIB - 50) << 20)) ] ||
            fail "$point: the filesystem shows only $((used >> 20)) MiB in use for a $HEAP_MIB MiB heap"
    fi
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    st=$?
    exec 3>&-
    [ "$st" -eq 137 ] || fail "$point: $(describe_status $st) before kill -9 landed: $(cat "$work/out")"
    for _ in $(seq 50); do
        now=$(avail "$d")
        [ -z "$(ls -A "$d")" ] && [ "$now" -ge $((base - slack)) ] && break
        sleep 0.2
    done
    [ -z "$(ls -A "$d")" ] || fail "$point: files left after kill -9: $(ls -A "$d")"
    [ "$now" -ge $((base - slack)) ] ||
        fail "$point: $(((base - now) >> 20)) MiB of disk still in use 10 s after kill -9"
    if [ -n "$child" ]; then
        kill -0 "$child" 2>/dev/null || fail "$point: the spawned child is gone too early"
        kill -9 "$child"
    fi
    echo "  $point: killed at /$re/; directory empty, disk space back ($(((base - now) >> 10)) KiB apart)"
    rmdir "$d"
}

note "kill -9 at several points of a $HEAP_MIB MiB heap (FSMEM_RAM=0, umask 000)"
kill_at early '^ready' 2
kill_at mid '^progress (19[2-9]|2[0-9][0-9])' 20
kill_at late '^filled' 0
kill_at late-spawn '^filled' 0 spawn

[ -n "$root" ] || { echo "crash: passed (other-user checks need root)"; exit 0; }

# ---- planted by another user -------------------------------------------
# A directory everyone may write to, not sticky (so the kernel's
# protected_symlinks does not step in: fsmem alone must refuse to follow).
note "symlinks and files planted by user nobody in FSMEM_DIR"
p=$mnt/shared
mkdir "$p" && chmod 777 "$p" || fail "mkdir $p"
echo "precious data of root" >"$work/victim"
chmod 644 "$work/victim"
as_nobody sh -c '
    cd "$1" || exit 1
    for n in .fsmem-0000000000000000 .fsmem fsmem "#1" .fsmem-1; do ln -s "$2" "$n" || exit 1; done
    ln -s /etc/passwd .fsmem-passwd || exit 1
    echo planted >.fsmem-1000000000000000 || exit 1
' sh "$p" "$work/victim" || fail "user nobody could not plant files in $p"
snapshot() {
    (cd "$p" && for n in $(ls -A | LC_ALL=C sort); do
        if [ -L "$n" ]; then echo "$n -> $(readlink "$n")"; else echo "$n $(sha256sum <"$n")"; fi
    done)
    stat -c '%s %Y %a' "$work/victim"
    sha256sum <"$work/victim"
    sha256sum </etc/passwd
}
before=$(snapshot)

# planted_run WHAT CMD...: runs CMD (FSMEM_DIR=$p) until "filled", checks,
# lets it finish, checks that nothing planted changed.
planted_run() {
    local what=$1 pid st line
    shift
    rm -f "$work/ctl" "$work/out"
    mkfifo "$work/ctl"
    (umask 000; exec env FSMEM_RAM=0 FSMEM_DIR="$p" "$@" <"$work/ctl" >"$work/out" 2>&1) &
    pid=$!
    pids+=("$pid")
    exec 3>"$work/ctl"
    wait_for_line "$work/out" '^filled' 60 "$pid" || fail "$what: did not fill: $(cat "$work/out")"
    line=$(grep '^filled' "$work/out")
    [ "$(snapshot)" = "$before" ] || fail "$what: planted files or their targets changed while it ran"
    # Only the planted names: none of fsmem's.
    local fds n=0 fd mode links uid
    fds=$(backing_fds "$pid" "$p")
    [ -n "$fds" ] || fail "$what: no backing file in $p among /proc/$pid/fd"
    while read -r fd mode links uid; do
        n=$((n + 1))
        [ "$mode" = 600 ] && [ "$links" = 0 ] ||
            fail "$what: backing file fd $fd: mode $mode, $links link(s)"
        as_nobody head -c 1 "/proc/$pid/fd/$fd" >/dev/null 2>&1 &&
            fail "$what: user nobody could open /proc/$pid/fd/$fd"
    done <<<"$fds"
    exec 3>&-
    wait "$pid"
    st=$?
    [ "$st" -eq 0 ] || fail "$what: $(describe_status $st): $(cat "$work/out")"
    grep -q '^done' "$work/out" || fail "$what: no 'done': $(cat "$work/out")"
    [ "$(snapshot)" = "$before" ] || {
        diff <(echo "$before") <(snapshot) | sed 's/^/  /'
        fail "$what: planted files or their targets changed"
    }
    echo "  $what: $n backing file(s), mode 600, nameless; planted files and targets unchanged ${line#filled}"
}

planted_run "O_TMPFILE (preloaded)" env LD_PRELOAD="$BUILD/libfsmem.so" "$BUILD/tests/holder" 100
for how in static preloaded; do
    if [ $how = static ]; then
        planted_run "no O_TMPFILE ($how)" "$BUILD/tests/static/notmpfile" 100
    else
        planted_run "no O_TMPFILE ($how)" env LD_PRELOAD="$BUILD/libfsmem.so" "$BUILD/tests/notmpfile" 100
    fi
    # The fallback really ran, and its first name was the planted symlink.
    grep -Eq 'tmpfile_refused=[1-9]' "$work/out" || fail "no O_TMPFILE ($how): O_TMPFILE was never tried: $(cat "$work/out")"
    grep -Eq 'getrandom_calls=([2-9]|[1-9][0-9])' "$work/out" ||
        fail "no O_TMPFILE ($how): fsmem did not retry after the planted .fsmem-0000000000000000: $(cat "$work/out")"
done
echo "crash: all passed"
