#!/bin/bash
# fsmem demo: a program that needs 4x more memory than it is allowed.
# Run with plain malloc it is stopped; run under fsmem it finishes, with
# the same result as a run with no limit at all.
#
#   demo/run.sh            (or: make demo)
#   DEMO_MIB=2048 DEMO_LIMIT_MIB=512 demo/run.sh
#   DEMO_LIMIT_KIND=rlimit demo/run.sh     (skip the cgroup, use ulimit -d)
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/tests/lib.sh"
cd "$ROOT" || exit 1

mib=${DEMO_MIB:-1024}
limit_mib=${DEMO_LIMIT_MIB:-256}

for f in "$BUILD/fsmem" "$BUILD/libfsmem.so"; do
    [ -e "$f" ] || { echo "demo: $f is missing; run make first" >&2; exit 1; }
done
mkdir -p "$BUILD/demo"
${CC:-cc} -O2 -Wall -Wextra -o "$BUILD/demo/hungry" demo/hungry.c || exit 1
prog=$BUILD/demo/hungry

work=$(disk_tmpdir fsmem-demo) || { echo "demo: no writable directory on disk" >&2; exit 1; }
cg=
cleanup() {
    cgroup_remove "$cg"
    rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/backing"

say() { printf '%s\n' "$*"; }
checksum_of() { sed -n 's/.*checksum \([0-9a-f]*\).*/\1/p' "$1"; }

say "fsmem demo: $(basename "$prog") keeps $mib MiB in memory; it will be allowed $limit_mib MiB."
say

# 1. The answer it should give, with no limit.
t0=$(now)
"$prog" "$mib" >"$work/ref.out" 2>"$work/ref.err"
st=$?
t_ref=$(elapsed "$t0")
ref=$(checksum_of "$work/ref.out")
if [ "$st" -ne 0 ] || [ -z "$ref" ]; then
    say "demo: the program fails even without a limit ($(cat "$work/ref.err")); is the machine too small?"
    exit 1
fi
say "no limit, plain malloc:    finished in $t_ref s, checksum $ref"

# 2. The limit: a memory cgroup (like a Slurm --mem job) when we may make
#    one, else RLIMIT_DATA (ulimit -d), which any user can set.
why=
if [ "${DEMO_LIMIT_KIND:-}" = rlimit ]; then
    why="DEMO_LIMIT_KIND=rlimit"
elif ! cg=$(cgroup_make demo $((limit_mib << 20))); then
    why=$cg
    cg=
fi
if [ -n "$cg" ]; then
    limit_text="a memory cgroup of $limit_mib MiB (cgroup $(cgroup_version), like a batch job's --mem)"
    enter() { sh -c "$CGROUP_ENTER" "$cg" "$@"; }
else
    limit_text="RLIMIT_DATA of $limit_mib MiB (ulimit -d; no memory cgroup: $why)"
    enter() { sh -c 'ulimit -d "$0" && exec "$@"' $((limit_mib << 10)) "$@"; }
fi
# limited OUT ERR CMD...: CMD under the limit; the subshell keeps bash's
# own "Killed" notice off the screen.
limited() {
    local out=$1 err=$2
    shift 2
    (enter "$@" >"$out" 2>"$err"; exit $?) 2>/dev/null
}
say "the limit:                 $limit_text"
say

# 3. Limited, plain malloc.
say "\$ $(basename "$prog") $mib"
t0=$(now)
limited "$work/plain.out" "$work/plain.err" "$prog" "$mib"
st_plain=$?
t_plain=$(elapsed "$t0")
if [ "$st_plain" -eq 0 ]; then
    plain_text="finished in $t_plain s: the limit did not bind (is $limit_mib MiB really less than $mib MiB?)"
elif [ "$st_plain" -eq 137 ] && [ -n "$cg" ]; then
    plain_text="killed by the kernel (out of memory) after $t_plain s"
elif [ "$st_plain" -gt 128 ]; then
    plain_text="$(describe_status "$st_plain") after $t_plain s"
else
    plain_text="failed after $t_plain s: $(tail -n 1 "$work/plain.err")"
fi
say "  $plain_text"
say

# 4. Limited, under fsmem.
say "\$ fsmem --dir $work/backing --stats -- $(basename "$prog") $mib"
t0=$(now)
limited "$work/fsmem.out" "$work/fsmem.err" \
    "$BUILD/fsmem" --dir "$work/backing" --stats -- "$prog" "$mib"
st_fsmem=$?
t_fsmem=$(elapsed "$t0")
sed 's/^/  /' "$work/fsmem.err"
sum=$(checksum_of "$work/fsmem.out")
if [ "$st_fsmem" -ne 0 ]; then
    fsmem_text="$(describe_status "$st_fsmem") after $t_fsmem s"
    [ "$st_fsmem" -eq 137 ] && [ -n "$cg" ] && fsmem_text="killed by the kernel (out of memory) after $t_fsmem s"
elif [ "$sum" = "$ref" ]; then
    fsmem_text="finished in $t_fsmem s, checksum $sum (same as an unlimited run)"
else
    fsmem_text="finished in $t_fsmem s, but checksum $sum differs from the unlimited run's $ref"
fi
[ -z "$(ls -A "$work/backing")" ] || fsmem_text="$fsmem_text; files were left in $work/backing"
say

say "without fsmem: $plain_text"
say "with fsmem:    $fsmem_text"

if [ "$st_plain" -ne 0 ] && [ "$st_fsmem" -eq 0 ] && [ "$sum" = "$ref" ] &&
    [ -z "$(ls -A "$work/backing")" ]; then
    exit 0
fi
say "demo: not the expected outcome"
exit 1
