#!/bin/bash
# The allocator's own unit tests, built with AddressSanitizer and UBSan.
. "$(dirname "$0")/../lib.sh"
dir=$(disk_tmpdir fsmem-unit) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir"' EXIT
ran=0
for t in "$BUILD"/unit/*; do
    [ -x "$t" ] || continue
    FSMEM_DIR=$dir FSMEM_RAM=0 ASAN_OPTIONS=detect_leaks=0 "$t" || fail "$(basename "$t")"
    ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || fail "no unit test binaries in $BUILD/unit"
echo "unit: $ran sanitizer-built test programs passed"
