#!/bin/bash
# Everyday programs with libfsmem.so preloaded and every byte of the heap on
# files (FSMEM_RAM=0) must give exactly what they give without it:
#
#   python3-tests  python3 running a slice of its own regression test suite
#                  (python3 -m test -v, PYTHONMALLOC=malloc in both runs so
#                  that every object comes from malloc): the same tests run
#                  and pass, line for line, with the same status;
#   xz-T2          xz with two threads compressing and decompressing 12 MB
#                  of generated text: the same .xz bytes, exact round trip;
#   zstd-T2        the same with zstd, two worker threads.
#
# Each run must leave a FSMEM_STATS summary for the program (proof that
# fsmem was loaded) and no file in the backing directory. Rows whose
# program (or python's test package) is missing are skipped with a note.
# programs.sh covers python3 scripts, sort, C++ containers, gcc, perl,
# sqlite3 and git; they are not repeated here.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/libfsmem.so"

tmp=$(disk_tmpdir fsmem-everyday) || fail "no writable directory on disk"
trap 'rm -rf "$tmp"' EXIT
fsdir=$tmp/backing
mkdir -p "$fsdir"
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0
ran=0
failures=0
skipped=()

# compare NAME PROG WORKDIR CMD: runs the bash command CMD twice in fresh
# directories WORKDIR/plain and WORKDIR/fsmem (its working directory, also
# in $OUT): as is, then with fsmem preloaded. Both runs must end with the
# same status and print the same (the run's directory read as $OUT, and
# after $NORMALIZE, a sed -E script, when set); they must write the same
# files under $OUT, byte for byte; and the fsmem run must have written a
# summary for PROG to its FSMEM_STATS file.
compare() {
    local name=$1 prog=$2 base=$3 cmd=$4 st_plain st_fsmem t0 t_plain t_fsmem ok=1 f
    mkdir -p "$base/plain" "$base/fsmem"
    t0=$(now)
    (cd "$base/plain" && OUT=$base/plain bash -c "$cmd") >"$base/plain.out" 2>&1
    st_plain=$?
    t_plain=$(elapsed "$t0")
    t0=$(now)
    (cd "$base/fsmem" && OUT=$base/fsmem LD_PRELOAD=$BUILD/libfsmem.so FSMEM_RAM=0 \
        FSMEM_DIR=$fsdir FSMEM_STATS=$base/fsmem.stats bash -c "$cmd") >"$base/fsmem.out" 2>&1
    st_fsmem=$?
    t_fsmem=$(elapsed "$t0")
    ran=$((ran + 1))
    # the run's own directory may appear in what it prints
    for f in plain fsmem; do
        sed -E -e "s|$base/$f|\$OUT|g" -e "${NORMALIZE:-}" "$base/$f.out" >"$base/$f.norm"
    done

    if ! grep -q "summary for $prog " "$base/fsmem.stats" 2>/dev/null; then
        note "$name: no FSMEM_STATS summary for $prog: fsmem was not in use"
        ok=0
    fi
    if [ "$st_plain" -ne "$st_fsmem" ]; then
        note "$name: with fsmem $(describe_status "$st_fsmem"), without: $(describe_status "$st_plain")"
        tail -n 15 "$base/fsmem.out"
        ok=0
    elif [ "$st_plain" -ne 0 ]; then
        note "$name: note: fails the same way without fsmem ($(describe_status "$st_plain"))"
    fi
    if ! cmp -s "$base/plain.norm" "$base/fsmem.norm"; then
        note "$name: output differs with fsmem (- without, + with):"
        diff -u "$base/plain.norm" "$base/fsmem.norm" | head -n 30
        ok=0
    fi
    # every file the runs wrote, by relative path
    if ! diff <(cd "$base/plain" && find . -type f | sort) \
        <(cd "$base/fsmem" && find . -type f | sort) >/dev/null; then
        note "$name: the runs wrote different sets of files"
        ok=0
    else
        while IFS= read -r f; do
            if ! cmp -s "$base/plain/$f" "$base/fsmem/$f"; then
                note "$name: file ${f#./} differs with fsmem"
                ok=0
            fi
        done < <(cd "$base/plain" && find . -type f | sort)
    fi
    if [ -n "$(ls -A "$fsdir")" ]; then
        note "$name: files left in the backing directory:"
        ls -la "$fsdir"
        rm -rf "${fsdir:?}"/* 2>/dev/null
        ok=0
    fi
    if [ "$ok" = 1 ]; then
        note "$name: identical ($(wc -l <"$base/plain.out") lines of output); ${t_plain}s without, ${t_fsmem}s with fsmem"
    else
        failures=$((failures + 1))
    fi
}

# ---- python3: a slice of its own test suite -----------------------------------
PY=
if command -v python3 >/dev/null 2>&1; then
    # the interpreter itself, not a wrapper such as pyenv's shim
    PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
fi
if [ -z "$PY" ] || [ ! -x "$PY" ]; then
    skipped+=("python3-tests (no python3)")
elif ! testdir=$("$PY" -c 'import os, test.regrtest; print(os.path.dirname(test.regrtest.__file__))' 2>/dev/null); then
    skipped+=("python3-tests ($PY has no test package)")
else
    mods=()
    # quick modules (about 8 s in all without fsmem on the reference machine)
    for m in test_json test_re test_collections test_heapq test_bisect test_struct \
        test_textwrap test_fractions test_functools test_operator test_csv \
        test_binascii test_hashlib; do
        [ -e "$testdir/$m.py" ] || [ -d "$testdir/$m" ] && mods+=("$m")
    done
    if [ ${#mods[@]} -eq 0 ]; then
        skipped+=("python3-tests (none of the chosen test modules in $testdir)")
    else
        note "python3-tests: $PY -m test -v ${mods[*]}"
        # Drop what changes from run to run: elapsed times and load averages,
        # the worker directory named after the pid, object addresses.
        NORMALIZE='s/^[0-9]+:[0-9]{2}:[0-9]{2} (load avg: [0-9.]+ )?//
s/^(Ran [0-9]+ tests?) in [0-9.]+s$/\1/
/^Total duration:/d
s/ in [0-9.]+ (ms|sec|min)\b//g
s/\([0-9.]+ (ms|sec)\)//g
s/test_python_worker_[0-9]+/test_python_worker_PID/g
s/0x[0-9a-fA-F]+/0xADDR/g' \
            compare python3-tests "$(basename "$PY")" "$tmp/python3-tests" \
            "mkdir tmp && TMPDIR=\$OUT/tmp PYTHONMALLOC=malloc \"$PY\" -m test -v --randseed 1 ${mods[*]} && rm -rf \"\$OUT/tmp\""
        n=$(grep -Ec ' \.\.\. (ok|skipped)' "$tmp/python3-tests/plain.out")
        note "python3-tests: $n test cases, ${#mods[@]} modules"
        [ "$n" -ge 100 ] || { note "python3-tests: only $n test cases ran"; failures=$((failures + 1)); }
    fi
fi

# ---- multithreaded compressors --------------------------------------------------
# 12 MB of text with some structure (an LCG, the same bytes every time)
awk 'BEGIN { x = 4242; for (i = 0; i < 330000; i++) {
        x = (x * 69069 + 1) % 4294967296
        printf "%08x %7d %s %s\n", x, i % 100000,
            substr("the quick brown fox jumps over the lazy dog", 1 + x % 20, 5 + x % 17),
            (x % 7 == 0 ? "seven" : "other")
     } }' >"$tmp/data.txt" || fail "cannot write test data to $tmp"

if command -v xz >/dev/null 2>&1; then
    NORMALIZE= compare xz-T2 xz "$tmp/xz" \
        "xz -T2 -3 --block-size=2MiB -c \"$tmp/data.txt\" >data.xz &&
         xz -T2 -d -c data.xz >back.txt && cmp back.txt \"$tmp/data.txt\" && xz -l data.xz"
else
    skipped+=("xz-T2 (no xz)")
fi
if command -v zstd >/dev/null 2>&1; then
    NORMALIZE= compare zstd-T2 zstd "$tmp/zstd" \
        "zstd -q -T2 -6 -B1MiB -c \"$tmp/data.txt\" >data.zst &&
         zstd -q -T2 -d -c data.zst >back.txt && cmp back.txt \"$tmp/data.txt\" && zstd -l data.zst"
else
    skipped+=("zstd-T2 (no zstd)")
fi

[ ${#skipped[@]} -eq 0 ] || note "not tested: ${skipped[*]}"
[ "$failures" -eq 0 ] || fail "$failures everyday program(s) behaved differently under fsmem (details above)"
[ "$ran" -gt 0 ] || skip "none of the everyday programs could be run: ${skipped[*]}"
echo "everyday: $ran programs gave identical results with and without fsmem"
