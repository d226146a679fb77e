#!/bin/bash
# The malloc family's behaviour: glibc as a control, then fsmem preloaded
# (every byte on files), then fsmem statically linked; then the fsmem_*
# calls (statistics per directory, fsmem_advise) from a preloaded program.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/api" "$BUILD/tests/static/api" "$BUILD/tests/advise" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-api) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir" "$dir.2" "$dir.stats"' EXIT
export FSMEM_STATS=$dir.stats

note "glibc (control)"
FSMEM_STATS= "$BUILD/tests/api" || fail "api fails with plain glibc malloc: the test itself is wrong"

note "fsmem preloaded, FSMEM_RAM=0"
with_fsmem "$dir" "$BUILD/tests/api" || fail "api under LD_PRELOAD=libfsmem.so (FSMEM_RAM=0)"
fsmem_was_used "$FSMEM_STATS" "api (preloaded)"

note "fsmem statically linked, FSMEM_RAM=0"
FSMEM_RAM=0 FSMEM_DIR=$dir "$BUILD/tests/static/api" || fail "api statically linked with libfsmem.a"
fsmem_was_used "$FSMEM_STATS" "api (static)"

note "fsmem_get_stats and fsmem_advise, heap striped over two directories"
mkdir "$dir.2" || fail "mkdir $dir.2"
LD_PRELOAD=$BUILD/libfsmem.so FSMEM_RAM=0 FSMEM_DIR=$dir:$dir.2 "$BUILD/tests/advise" 2 ||
    fail "advise: the fsmem_* calls misbehave (output above)"

left=$(ls -A "$dir" "$dir.2" | grep -v -e '^$' -e ':$')
[ -z "$left" ] || fail "files left in the backing directories: $left"
echo "api: all runs passed"
