#!/bin/bash
# Runs checks (tests/check/NAME.sh) in a virtual machine booted from
# Debian's stock kernel, where the memory controller is cgroup v2: the
# hierarchy that most current distributions and batch schedulers use,
# which this project's own machines (cgroup v1) cannot show. That kernel
# (6.1) also predates large folios in ext4, so the guest runs fsmem's
# paging as older kernels see it.
#
#   tests/guest/run.sh [CHECK...]
#
# The guest runs the host's own programs and this tree's build: the
# host's root and the tree are shared read-only (9p); fsmem's backing
# files go to an empty ext4 disk image, which the guest sees as a real
# block device. The kernel package is downloaded once (apt-get download)
# into build/guest/. No KVM is needed: qemu emulates the CPU where it
# cannot use KVM, and the checks then run about five to ten times slower.
#
#   FSMEM_GUEST_MEM      the guest's memory (default 8G; lazily taken)
#   FSMEM_GUEST_SETUP    a shell command the guest runs before the checks
#                        (say, to set /sys/kernel/mm/transparent_hugepage)
#   FSMEM_GUEST_TIMEOUT  seconds before the guest is stopped (default 900)
#
# Prints the guest's report (tests/run.sh's: a line per check, and the
# end of the log of every check that failed); exits with tests/run.sh's status
# inside the guest, 1 if the guest did not report one, or 77 with a
# one-line reason when no guest can be booted here.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$ROOT/build
here=$ROOT/tests/guest

skip() {
    echo "skip: $*"
    exit 77
}

# Modules the guest loads, in order: virtio disk and 9p, ext4, and the
# loop device (full_disk's small filesystem). One not shipped as a module
# is taken to be built in.
MODULES="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk
9pnet 9pnet_virtio netfs fscache 9p crc16 mbcache jbd2 crc32c_generic ext4 loop"

for name in "$@"; do
    case $name in
    *[!A-Za-z0-9_.-]* | "") skip "not a check's name: '$name'" ;;
    esac
done
[ "$(uname -m)" = x86_64 ] || skip "the guest is an x86_64 kernel; this machine is $(uname -m)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed (Debian: qemu-system-x86)"
busybox=$(command -v busybox) || skip "busybox is not installed (Debian: busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && skip "$busybox is linked dynamically (Debian's busybox-static has a static one)"
command -v dpkg-deb >/dev/null && command -v apt-cache >/dev/null ||
    skip "no dpkg-deb and apt-cache: the guest's kernel comes from Debian's package"
command -v mkfs.ext4 >/dev/null || skip "mkfs.ext4 is not installed (Debian: e2fsprogs)"

# ---- the kernel: vmlinuz and the modules above, from Debian's package ------
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
[ -n "$pkg" ] || skip "apt knows no linux-image-amd64 package (apt-get update?)"
kernel=$BUILD/guest/$pkg
if [ ! -f "$kernel/vmlinuz" ]; then
    fetch=$(mktemp -d "${TMPDIR:-/tmp}/fsmem-kernel.XXXXXX") || skip "no temporary directory"
    trap 'rm -rf "$fetch"' EXIT
    (cd "$fetch" && apt-get download -q "$pkg" >/dev/null 2>&1) ||
        skip "cannot download $pkg (apt-get download)"
    dpkg-deb -x "$fetch"/*.deb "$fetch/x" || skip "cannot unpack $pkg"
    rm -rf "$kernel.part" && mkdir -p "$kernel.part/modules" || exit 1
    for m in $MODULES; do
        # (newer packages compress their modules; busybox's insmod may not
        # read them that way)
        ko=$(find "$fetch/x/lib/modules" -name "$m.ko" -o -name "$m.ko.xz" -o -name "$m.ko.zst" | head -n 1)
        case $ko in
        "") continue ;;
        *.xz) xz -dc "$ko" ;;
        *.zst) zstd -qdc "$ko" ;;
        *) cat "$ko" ;;
        esac >"$kernel.part/modules/$m.ko" || skip "cannot unpack module $m of $pkg"
        echo "$m" >>"$kernel.part/modules/order"
    done
    cp "$fetch"/x/boot/vmlinuz-* "$kernel.part/vmlinuz" || skip "$pkg has no /boot/vmlinuz"
    rm -rf "$fetch" "$kernel"
    trap - EXIT
    mv "$kernel.part" "$kernel" || exit 1
fi

# ---- the initramfs, the scratch disk and the command -------------------------
work=$(mktemp -d "${TMPDIR:-/var/tmp}/fsmem-guest.XXXXXX") || skip "no temporary directory"
qemu_pid=
cleanup() {
    [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/initrd/bin" "$work/initrd/root" "$work/initrd/proc" "$work/initrd/sys" \
    "$work/initrd/dev" "$work/seed" || exit 1
cp "$busybox" "$work/initrd/bin/busybox" && install -m 755 "$here/init" "$work/initrd/init" &&
    cp -r "$kernel/modules" "$work/initrd/modules" || exit 1
touch "$work/initrd/modules/order"
(cd "$work/initrd" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz" ||
    skip "cannot pack the initramfs"

# The tree is mounted where it lies on the host, after /tmp and /var/tmp,
# so that a checkout in either is not hidden by the guest's own.
echo "$ROOT" >"$work/seed/guest-root"
cat >"$work/seed/guest-cmd" <<EOF
cd '$ROOT' || exit 1
echo "guest: Linux \$(uname -r), \$(awk '/MemTotal/ { printf "%d MiB", \$2 / 1024 }' /proc/meminfo)," \\
    "cgroup v2 controllers: \$(cat /sys/fs/cgroup/cgroup.controllers)"
${FSMEM_GUEST_SETUP:-}
FSMEM_TEST_LOGS=/var/tmp/test-logs exec bash tests/run.sh $*
EOF
truncate -s "${FSMEM_GUEST_DISK:-16G}" "$work/disk.img" &&
    mkfs.ext4 -q -F -d "$work/seed" "$work/disk.img" >/dev/null 2>&1 ||
    skip "cannot make the guest's ext4 disk image in $work"

# ---- the guest -----------------------------------------------------------------
accel=(-accel tcg)
[ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo && accel=(-accel kvm -accel tcg)
timeout -k 10 "${FSMEM_GUEST_TIMEOUT:-900}" qemu-system-x86_64 "${accel[@]}" \
    -m "${FSMEM_GUEST_MEM:-8G}" -smp 2 -display none -monitor none -net none -no-reboot \
    -serial "file:$work/console" \
    -kernel "$kernel/vmlinuz" -initrd "$work/initrd.gz" \
    -append "console=ttyS0 quiet loglevel=2 panic=-1" \
    -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$ROOT,mount_tag=tree,security_model=none,readonly=on,multidevs=remap" \
    -drive "file=$work/disk.img,format=raw,if=virtio,cache=none" \
    >"$work/qemu.out" 2>&1 &
qemu_pid=$!
wait "$qemu_pid"
qemu_status=$?
qemu_pid=
tr -d '\r' <"$work/console" | grep -v '^guest-status ' | grep -v $'\e'
status=$(tr -d '\r' <"$work/console" | awk '$1 == "guest-status" { print $2 }')
if [ -z "$status" ]; then
    case $qemu_status in
    124 | 137) echo "the guest did not finish in ${FSMEM_GUEST_TIMEOUT:-900} s" ;;
    *) echo "the guest gave no status (qemu: exit $qemu_status; $(tail -n 3 "$work/qemu.out" | tr '\n' ' '))" ;;
    esac
    exit 1
fi
exit "$status"
