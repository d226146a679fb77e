#!/bin/sh
# Installs the Debian packages that fsmem's tests and benchmarks use.
# Building the library itself needs only a C compiler and make.
set -eu
tests="build-essential g++ make python3 perl git sqlite3 gawk coreutils util-linux e2fsprogs procps xz-utils zstd valgrind qemu-system-x86 busybox-static"
bench="gnuplot-nox libjemalloc2 libmimalloc2.0 libmemkind-dev phyml raxml time"
pkgs="$tests"
[ "${1:-}" = "--bench" ] && pkgs="$tests $bench"
if [ "$(id -u)" != 0 ]; then
    echo "fsmem deps: run as root to install: $pkgs" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
