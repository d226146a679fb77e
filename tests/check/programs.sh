#!/bin/bash
# Real programs under LD_PRELOAD=libfsmem.so with every byte of the heap on
# files (FSMEM_RAM=0) must print exactly what they print without it, and
# write the same files: python3 (the pyenv wrapper as users run it, and the
# interpreter binary itself, also with PYTHONMALLOC=malloc so that every
# object comes from malloc), sort on 2 million lines, the C++ containers
# program, gcc and g++ compiling, perl, sqlite3 and git when installed.
. "$(dirname "$0")/../lib.sh"
need_file "$BUILD/libfsmem.so" "$BUILD/tests/containers"

tmp=$(disk_tmpdir fsmem-programs) || fail "no writable directory on disk"
trap 'rm -rf "$tmp"' EXIT
fsdir=$tmp/backing
mkdir -p "$fsdir"
export PYTHONHASHSEED=0 LC_ALL=C TZ=UTC
failures=0
ran=0
skipped=()

# In a case's script, `run PROG ARGS...` runs the program under test: as
# is, or with fsmem preloaded (every byte on files) when FSMEM_CASE=1.
# The scripts find their inputs in $T (work directory), $SRC (repository),
# $B (build directory), $PY (python binary) and write outputs to $OUT.
run() {
    if [ "${FSMEM_CASE:-0}" = 1 ]; then
        env LD_PRELOAD="$B/libfsmem.so" FSMEM_RAM=0 FSMEM_DIR="$FSDIR" FSMEM_STATS="$FSSTATS" "$@"
    else
        "$@"
    fi
}
export -f run
export T=$tmp SRC=$ROOT B=$BUILD FSDIR=$fsdir PY=

# run_case NAME SCRIPT [FILE...]: runs the bash SCRIPT twice, without and
# with fsmem, OUT set to a fresh directory each time. Its exit status, its
# stdout and each FILE (relative to OUT) must be the same both times, and
# fsmem must have written its FSMEM_STATS summary (proof it was loaded).
run_case() {
    local name=$1 script=$2
    shift 2
    local base=$tmp/$name st_plain st_fsmem f t0 t_plain t_fsmem ok=1
    mkdir -p "$base/plain" "$base/fsmem"

    t0=$(now)
    FSMEM_CASE=0 OUT=$base/plain bash -c "$script" >"$base/plain.out" 2>"$base/plain.err"
    st_plain=$?
    t_plain=$(elapsed "$t0")
    if [ "$st_plain" -ne 0 ]; then
        note "$name: FAILS WITHOUT fsmem ($(describe_status $st_plain)); the check is wrong:"
        tail -n 5 "$base/plain.err"
        failures=$((failures + 1))
        return
    fi
    t0=$(now)
    FSMEM_CASE=1 FSSTATS=$base/fsmem.stats OUT=$base/fsmem bash -c "$script" \
        >"$base/fsmem.out" 2>"$base/fsmem.err"
    st_fsmem=$?
    t_fsmem=$(elapsed "$t0")
    ran=$((ran + 1))

    if [ ! -s "$base/fsmem.stats" ]; then
        note "$name: no FSMEM_STATS summary was written: fsmem was not in use"
        ok=0
    elif [ "$st_fsmem" -ne "$st_plain" ]; then
        note "$name: with fsmem $(describe_status $st_fsmem), without: exit $st_plain"
        tail -n 15 "$base/fsmem.err"
        ok=0
    elif ! cmp -s "$base/plain.out" "$base/fsmem.out"; then
        note "$name: output differs with fsmem (- without, + with):"
        diff -u "$base/plain.out" "$base/fsmem.out" | head -n 20
        tail -n 5 "$base/fsmem.err"
        ok=0
    fi
    for f in "$@"; do
        if ! cmp "$base/plain/$f" "$base/fsmem/$f"; then
            note "$name: file $f differs with fsmem"
            ok=0
        fi
    done
    if [ "$ok" = 1 ]; then
        note "$name: same output ($(wc -c <"$base/plain.out") bytes${*:+, files: $*}); ${t_plain}s without, ${t_fsmem}s with fsmem"
    else
        failures=$((failures + 1))
    fi
    if [ -n "$(ls -A "$fsdir")" ]; then
        note "$name: files left in $fsdir:"
        ls -la "$fsdir"
        failures=$((failures + 1))
        rm -rf "${fsdir:?}"/* 2>/dev/null
    fi
    return 0
}

have() {
    command -v "$1" >/dev/null 2>&1 || { skipped+=("$1"); return 1; }
}

# ---- python ----------------------------------------------------------------
cat >"$tmp/work.py" <<'PY'
import collections, hashlib, json, re, sys
h = hashlib.sha256()

def feed(x):
    h.update(repr(x).encode())

# dicts of lists of strings, grown and dropped: a few hundred MB of churn
for r in range(2):
    d = {}
    for i in range(150000):
        d['k%07d' % (i * 7919 % 1000003)] = [i, str(i) * (1 + i % 5), {'r': r, 'm': i % 13}]
    feed(len(d))
    feed(sorted(d)[::15000])
    for k in list(d)[::3]:
        del d[k]
    feed(sum(v[0] for v in d.values()))
    del d

# lists of strings and string building
for r in range(2):
    lst = ['%08d-%s' % (i, 'xyz' * (i % 40)) for i in range(300000)]
    feed(len(''.join(lst[::7])))
    lst.sort(key=lambda s: s[::-1])
    feed(lst[::30000])
    del lst

# json round trip
obj = [{'id': i, 'name': 'item%d' % i, 'tags': ['a', 'b', str(i % 10)], 'w': i / 7.0}
       for i in range(60000)]
s = json.dumps(obj, sort_keys=True)
back = json.loads(s)
assert back == obj
h.update(hashlib.sha256(s.encode()).digest())
print('json', len(s))

# regular expressions
text = ' '.join('word%d' % (i * 7919 % 100003) for i in range(300000))
words = re.findall(r'word(\d+)', text)
c = collections.Counter(w[-1] for w in words)
print('re', sorted(c.items()))
feed(re.sub(r'(\d)(\d)', r'\2\1', text[:100000]))

# a big bytearray and sets
b = bytearray(64 * 1024 * 1024)
for i in range(0, len(b), 4096):
    b[i] = i % 251
h.update(hashlib.sha256(b).digest())
st = set(range(0, 2000000, 3)) ^ set(range(0, 2000000, 5))
feed(len(st))
print('digest', h.hexdigest())
PY

if have python3; then
    # The pyenv shim (a bash script that forks and execs the interpreter)
    # or whatever python3 is first in PATH, as a user would run it.
    run_case python3 'run python3 "$T/work.py"'
    PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
    if [ -n "$PY" ] && [ -x "$PY" ]; then
        note "python interpreter binary: $PY"
        run_case python3-binary 'run "$PY" "$T/work.py"'
        run_case python3-malloc 'PYTHONMALLOC=malloc run "$PY" "$T/work.py"'
    fi
fi

# ---- sort --------------------------------------------------------------------
awk 'BEGIN { x = 12345; for (i = 0; i < 2000000; i++) {
        x = (x * 69069 + 1) % 4294967296
        printf "%08x %d %s\n", x, i % 1000, substr("abcdefghijklmnopqrstuvwxyz", 1 + x % 26)
     } }' >"$tmp/sort.in"
run_case sort 'run sort -S 50% --parallel=2 "$T/sort.in" >"$OUT/sorted" &&
    run sort -k2,2n -k1,1r "$T/sort.in" | cksum' sorted

# ---- C++ containers -----------------------------------------------------------
run_case containers 'run "$B/tests/containers" 3'

# ---- compilers ----------------------------------------------------------------
if have gcc; then
    run_case gcc 'cd "$OUT" &&
        run gcc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -c "$SRC/tests/progs/api.c" -o api.o &&
        run gcc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -c "$SRC/tests/progs/threads.c" -o threads.o' \
        api.o threads.o
fi
if have g++; then
    run_case g++ 'cd "$OUT" && run g++ -O2 -std=c++17 -c "$SRC/tests/progs/containers.cc" -o containers.o' \
        containers.o
fi

# ---- perl ---------------------------------------------------------------------
if have perl; then
    cat >"$tmp/work.pl" <<'PL'
use strict; use warnings; use Digest::MD5 qw(md5_hex);
my %h; my @keys;
for my $i (0 .. 250000) {
    my $k = sprintf("key%07d", ($i * 7919) % 1000003);
    $h{$k} = [ $i, "v" x ($i % 30), { n => $i % 11 } ];
}
my @sorted = sort keys %h;
print scalar(@sorted), " keys, first $sorted[0], last $sorted[-1]\n";
my $text = join(" ", map { "w" . ($_ * 31 % 9973) } 0 .. 300000);
my %count; $count{$1}++ while $text =~ /w(\d\d)\b/g;
print join(",", map { "$_=$count{$_}" } (sort { $a <=> $b } keys %count)[0 .. 9]), "\n";
(my $t2 = $text) =~ s/w(\d)(\d)/x$2$1/g;
my $sum = 0; $sum += $h{$_}[0] for grep { $h{$_}[2]{n} == 3 } @sorted;
delete @h{ @sorted[ grep { $_ % 2 } 0 .. $#sorted ] };
print "sum $sum, left ", scalar(keys %h), ", md5 ", md5_hex($t2), "\n";
PL
    run_case perl 'run perl "$T/work.pl"'
fi

# ---- sqlite3 --------------------------------------------------------------------
if have sqlite3; then
    {
        echo "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL, grp INT);"
        echo "BEGIN;"
        awk 'BEGIN { for (i = 1; i <= 100000; i++)
            printf "INSERT INTO t VALUES(%d, %cname%d%c, %d.5, %d);\n", i, 39, (i * 7919) % 100003, 39, i, i % 100 }'
        echo "COMMIT;"
        echo "CREATE INDEX t_name ON t(name);"
        echo "SELECT grp, count(*), sum(v), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 10;"
        echo "SELECT count(DISTINCT name), sum(length(name)) FROM t;"
        echo "SELECT name, v FROM t WHERE name LIKE 'name99%' ORDER BY name DESC LIMIT 5;"
        echo "SELECT a.grp, count(*) FROM t a JOIN t b ON a.id = b.id + 1 WHERE a.grp < 3 GROUP BY a.grp;"
    } >"$tmp/work.sql"
    run_case sqlite3 'run sqlite3 "$OUT/t.db" <"$T/work.sql" &&
        run sqlite3 "$OUT/t.db" "PRAGMA integrity_check; SELECT count(*) FROM t;"' t.db
fi

# ---- git ------------------------------------------------------------------------
if have git; then
    run_case git '
        set -e
        export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$OUT
        export GIT_AUTHOR_NAME="Test Author" GIT_AUTHOR_EMAIL=author@example.com
        export GIT_COMMITTER_NAME="Test Committer" GIT_COMMITTER_EMAIL=committer@example.com
        export GIT_AUTHOR_DATE="2021-02-03T04:05:06Z" GIT_COMMITTER_DATE="2021-02-03T04:05:06Z"
        run git init -q -b main "$OUT/repo"
        cd "$OUT/repo"
        cp "$SRC"/tests/progs/*.c .
        seq 1 200000 >numbers.txt
        run git add -A
        run git commit -q -m "first commit"
        sed -i "s/[0-9]7\$/&x/" numbers.txt
        echo "/* changed */" >>api.c
        run git commit -q -a -m "second commit"
        run git log --stat --format="%H %an %ad %s"
        run git diff --stat HEAD~1
        run git gc -q
        run git fsck --full --no-progress
        run git rev-parse HEAD HEAD:numbers.txt'
fi

[ ${#skipped[@]} -eq 0 ] || note "not installed, not tested: ${skipped[*]}"
[ "$failures" -eq 0 ] || fail "$failures program(s) behaved differently under fsmem (details above)"
[ "$ran" -gt 0 ] || skip "none of the programs could be run"
echo "programs: $ran programs gave identical results with and without fsmem"
