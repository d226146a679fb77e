#!/bin/bash
# A short version of `make stress` (tests/stress.sh): 8 and 16 threads,
# random sizes from 1 byte to 24 MiB, cross-thread frees, realloc and
# aligned allocations, contents verified by pattern. FSMEM_STRESS_SECONDS
# (default here 10) sets the total length.
. "$(dirname "$0")/../lib.sh"
FSMEM_STRESS_SECONDS=${FSMEM_CHECK_STRESS_SECONDS:-10} exec bash "$ROOT/tests/stress.sh"
