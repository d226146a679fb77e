#!/bin/bash
# Heap misuse that the metadata can see stops the program: abort (SIGABRT,
# so a core dump is possible) after exactly one line on stderr that starts
# "fsmem: ", names the error and gives the address. tests/progs/misuse
# prints the address it is about to misuse; the line must contain it.
# fsmem preloaded and statically linked.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/tests/misuse" "$BUILD/tests/static/misuse" "$BUILD/libfsmem.so"

dir=$(disk_tmpdir fsmem-misuse) || fail "no writable directory on disk for backing files"
trap 'rm -rf "$dir" "$dir.out" "$dir.err" "$dir.stats"' EXIT
ulimit -c 0   # the aborts below would leave core files in the repository

# case | what the message must say (extended regex, case-insensitive)
cases='
double_free_small|double free
double_free_large|double free
double_free_thread|double free
double_free_large_merged|double free
double_free_released|double free
interior_small|never returned|not allocated|invalid
interior_large|never returned|not allocated|invalid
interior_large_head|never returned|not allocated|invalid
stack|never returned|not allocated|invalid
mmap|never returned|not allocated|invalid
realloc_freed_small|realloc.*(freed|double free)
realloc_freed_large|realloc.*(freed|double free)
realloc_interior|realloc.*(never returned|not allocated|invalid)
'

failures=()
# check_case HOW CASE REGEX CMD...: one misuse run.
check_case() {
    local how=$1 c=$2 re=$3 st addr line nlines hexes h found=0
    shift 3
    # (in a subshell, so that bash's "Aborted" notice stays out of the log)
    ("$@" "$c" >"$dir.out" 2>"$dir.err"; exit $?) 2>/dev/null
    st=$?
    addr=$(sed -n 's/^addr \(0x[0-9a-fA-F]*\)$/\1/p' "$dir.out")
    if [ -z "$addr" ]; then
        failures+=("$how $c: the program printed no address ($(describe_status $st))")
        return
    fi
    if grep -q '^survived' "$dir.out"; then
        failures+=("$how $c: the program survived the misuse of $addr and went on (exit $st)")
        return
    fi
    if [ "$st" -ne $((128 + 6)) ]; then
        failures+=("$how $c: $(describe_status $st), expected killed by SIGABRT; stderr: $(head -c 300 "$dir.err")")
        return
    fi
    nlines=$(grep -c '' "$dir.err")
    line=$(head -n 1 "$dir.err")
    if [ "$nlines" -ne 1 ] || [[ $line != "fsmem: "* ]]; then
        failures+=("$how $c: stderr must be exactly one line starting 'fsmem: ', got $nlines line(s): $(head -c 300 "$dir.err" | tr '\n' '|')")
        return
    fi
    # The address, compared as a number (formatting of %p and fsmem may differ).
    hexes=$(grep -oiE '0x[0-9a-f]+' <<<"$line")
    for h in $hexes; do
        [ $((h)) -eq $((addr)) ] && found=1
    done
    [ "$found" = 1 ] || { failures+=("$how $c: the message does not give the address $addr: $line"); return; }
    if ! grep -qiE -- "$re" <<<"$line"; then
        failures+=("$how $c: the message does not name the error (expected /$re/): $line")
        return
    fi
    echo "  $how $c: $line"
}

note "glibc (control): the ok case runs"
"$BUILD/tests/misuse" ok >"$dir.out" 2>"$dir.err" || fail "misuse ok fails with glibc malloc: the test itself is wrong"

for how in preloaded static; do
    if [ $how = preloaded ]; then
        run=(env LD_PRELOAD="$BUILD/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$dir" "$BUILD/tests/misuse")
    else
        run=(env FSMEM_RAM=0 FSMEM_DIR="$dir" "$BUILD/tests/static/misuse")
    fi
    note "fsmem $how: the ok case exits 0 and prints nothing on stderr"
    FSMEM_STATS=$dir.stats "${run[@]}" ok >"$dir.out" 2>"$dir.err"
    st=$?
    [ "$st" -eq 0 ] || fail "$how ok: $(describe_status $st): $(cat "$dir.err")"
    [ -s "$dir.err" ] && fail "$how ok: unexpected stderr: $(cat "$dir.err")"
    fsmem_was_used "$dir.stats" "$how ok"

    note "fsmem $how: misuse cases"
    while IFS='|' read -r c re; do
        [ -n "$c" ] || continue
        check_case "$how" "$c" "$re" "${run[@]}"
    done <<<"$cases"
done

finish "$dir" "misuse: every case stopped with one message naming the error and the address"
