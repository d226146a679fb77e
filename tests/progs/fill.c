/* fill: malloc on a filesystem that fills up.
 *
 *   fill DIR [AGAIN]  DIR: the backing directory (FSMEM_DIR), for statvfs;
 *                     AGAIN: the percentage of step 4 (default 90)
 *
 * 1. Allocates blocks of mixed sizes (small, tens of KiB, 1-8 MiB) without
 *    touching them until malloc returns NULL, then keeps going with smaller
 *    and smaller sizes down to 16 bytes until those fail too. Every NULL
 *    must come with errno ENOMEM.
 * 2. Prints "allocated: ..." and waits for a line on stdin (meanwhile the
 *    test may let another process take the rest of the disk).
 * 3. Only then writes every byte of every block and reads it back: disk
 *    blocks must have been reserved when malloc said yes, so touching the
 *    memory now cannot raise SIGBUS, however full the disk is.
 *    Prints "full: ..." and waits for a line on stdin (the test looks at
 *    df meanwhile).
 * 4. Frees every other block; the disk space of the big ones must come
 *    back (statvfs), and allocating the same sizes again must mostly
 *    succeed (at least AGAIN% of the bytes freed), with the memory writable.
 *    The blocks that were kept must still hold their data.
 * Bookkeeping lives in mmap'ed memory, not in the heap under test.
 * Exits 0 with "fill: ok ...", 1 with "fill: FAIL ..." on stderr. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "progs.h"

#define MAXBLK (1u << 20)

struct blk {
    unsigned char *p;
    size_t n;
};

static struct blk *b;
static int again_percent;
static size_t nb;
static const char *dir;

static uint64_t avail_bytes(void)
{
    struct statvfs v;
    if (statvfs(dir, &v) != 0)
        die("statvfs(%s): %s", dir, strerror(errno));
    return (uint64_t)v.f_bavail * v.f_frsize;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Sizes cycle through small, medium and large. */
static size_t pick(size_t i)
{
    switch (i % 8) {
    case 5: return 32768 + rnd() % (300u << 10);
    case 6: return (1u << 20) + rnd() % (2u << 20);
    case 7: return (2u << 20) + rnd() % (6u << 20);
    default: return 16 + rnd() % 4000;
    }
}

static unsigned char pat(size_t blk, size_t i) { return (unsigned char)(blk * 131 + i * 7 + (i >> 12)); }

static void write_blk(size_t k)
{
    unsigned char *p = b[k].p;
    for (size_t i = 0; i < b[k].n; i++)
        p[i] = pat(k, i);
}

static void check_blk(size_t k, const char *when)
{
    const unsigned char *p = b[k].p;
    for (size_t i = 0; i < b[k].n; i++)
        if (p[i] != pat(k, i))
            die("%s: block %zu (%zu bytes at %p) byte %zu is %#x, expected %#x", when, k,
                b[k].n, (void *)p, i, p[i], pat(k, i));
}

/* Allocates n bytes into slot nb; returns 0 on NULL (checking errno). */
static int take(size_t n)
{
    if (nb == MAXBLK)
        die("more than %u blocks and the disk is not full", MAXBLK);
    errno = 0;
    void *p = malloc(n);
    if (!p) {
        if (errno != ENOMEM)
            die("malloc(%zu) returned NULL with errno %d (%s), not ENOMEM", n, errno,
                strerror(errno));
        return 0;
    }
    b[nb].p = p;
    b[nb].n = n;
    nb++;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: fill DIR [AGAIN_PERCENT]\n");
        return 2;
    }
    dir = argv[1];
    again_percent = argc == 3 ? atoi(argv[2]) : 90;
    setvbuf(stdout, NULL, _IONBF, 0);
    b = mmap(NULL, MAXBLK * sizeof *b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (b == MAP_FAILED)
        die("mmap: %s", strerror(errno));

    /* 1. Until NULL, then smaller sizes until those fail too. */
    uint64_t total = 0;
    size_t first_null = 0, nulls = 0;
    for (size_t i = 0;; i++) {
        size_t n = pick(i);
        if (!take(n)) {
            first_null = n;
            nulls++;
            break;
        }
        total += n;
    }
    for (size_t n = first_null / 2; n >= 16; n /= 2) {
        while (take(n))
            total += n;
        nulls++;
    }
    if (total < (32u << 20))
        die("only %llu bytes allocated before malloc failed", (unsigned long long)total);

    printf("allocated: %zu blocks, %llu bytes\n", nb, (unsigned long long)total);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        die("stdin closed before the go-ahead");

    /* 3. Touch everything now. */
    for (size_t k = 0; k < nb; k++)
        write_blk(k);
    for (size_t k = 0; k < nb; k++)
        check_blk(k, "after filling the disk");
    uint64_t avail_full = avail_bytes();
    printf("full: %zu blocks, %llu bytes, first NULL at malloc(%zu), %zu NULLs all ENOMEM, "
           "%llu bytes left on the filesystem\n", nb, (unsigned long long)total, first_null,
           nulls, (unsigned long long)avail_full);

    /* Let the test look at df. */
    if (!fgets(line, sizeof line, stdin))
        die("stdin closed before the go-ahead");

    /* 4. Free every other block. */
    size_t nfull = nb;
    uint64_t freed = 0, freed_big = 0;
    static size_t again_n[MAXBLK / 2 + 1];
    size_t nagain = 0;
    for (size_t k = 1; k < nfull; k += 2) {
        check_blk(k, "before free");
        free(b[k].p);
        freed += b[k].n;
        if (b[k].n >= (2u << 20))
            freed_big += b[k].n;
        again_n[nagain++] = b[k].n;
        b[k].p = NULL;
    }
    uint64_t avail_freed = avail_bytes();
    if (avail_freed < avail_full + freed_big / 2)
        die("freed %llu bytes in blocks of 2 MiB or more, but the filesystem has only %llu "
            "more bytes free (%llu -> %llu): freed memory still holds disk",
            (unsigned long long)freed_big, (unsigned long long)(avail_freed - avail_full),
            (unsigned long long)avail_full, (unsigned long long)avail_freed);

    /* Allocate the same sizes again, into new slots. */
    size_t start = nb;
    uint64_t again = 0;
    size_t failed = 0;
    for (size_t j = 0; j < nagain; j++) {
        if (take(again_n[j])) {
            again += again_n[j];
            write_blk(nb - 1);
        } else {
            failed++;
        }
    }
    for (size_t k = start; k < nb; k++)
        check_blk(k, "allocated again after freeing");
    for (size_t k = 0; k < nfull; k += 2)
        check_blk(k, "kept block after the others were freed and reallocated");
    if (again * 100 < freed * (uint64_t)again_percent)
        die("after freeing %llu bytes only %llu could be allocated again (%zu of %zu "
            "allocations failed)", (unsigned long long)freed, (unsigned long long)again,
            failed, nagain);
    printf("fill: ok: freed %llu bytes (%llu in big blocks; %llu bytes came back to the "
           "filesystem), allocated %llu again (%zu of %zu allocations failed), all written "
           "and verified\n", (unsigned long long)freed, (unsigned long long)freed_big,
           (unsigned long long)(avail_freed - avail_full), (unsigned long long)again, failed,
           nagain);
    return 0;
}
