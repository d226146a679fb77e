/* regrow: large blocks that realloc must move keep their contents.
 *
 *   regrow BLOCKS ROUNDS
 *
 * First one 256 MiB block, written in full, is grown past a neighbour,
 * and the peak resident memory (VmHWM, KiB) before and after is printed
 * as "hwm BEFORE AFTER": copying needs the block twice over, moving its
 * pages (backing/move.c) does not. Then BLOCKS blocks of 1-4 MiB (so
 * each one's neighbours are taken) are grown ROUNDS times each by a
 * quarter to a half, every growth checking what the block held and
 * writing the new part (one word in 32). Prints the number of mappings
 * (lines of /proc/self/maps) as "maps N", then "ok". Exit 1 with a
 * message on a wrong word. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRIDE 256   /* bytes between checked words */

static uint64_t pattern(size_t block, size_t off)
{
    return (uint64_t)block << 40 ^ (uint64_t)off * 0x9e3779b97f4a7c15ULL;
}

static void fill(unsigned char *p, size_t block, size_t from, size_t to)
{
    for (size_t o = from / STRIDE * STRIDE; o + 8 <= to; o += STRIDE) {
        uint64_t v = pattern(block, o);
        memcpy(p + o, &v, 8);
    }
}

static void check(const unsigned char *p, size_t block, size_t len)
{
    for (size_t o = 0; o + 8 <= len; o += STRIDE) {
        uint64_t v;
        memcpy(&v, p + o, 8);
        if (v != pattern(block, o)) {
            fprintf(stderr, "regrow: block %zu, word at %zu is wrong\n", block, o);
            exit(1);
        }
    }
}

static long status_kb(const char *field)
{
    char line[256];
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, strlen(field)))
            v = atol(line + strlen(field));
    if (f)
        fclose(f);
    return v;
}

static int count_maps(void)
{
    int n = 0, c;
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && (c = fgetc(f)) != EOF)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    size_t big = (size_t)256 << 20;
    unsigned char *p = malloc(big);
    void *neighbour = malloc((size_t)1 << 20);
    if (!p || !neighbour) {
        perror("regrow: malloc");
        return 1;
    }
    memset(p, 0x5a, big);
    long before = status_kb("VmHWM:");
    unsigned char *q = realloc(p, big * 2);
    if (!q) {
        perror("regrow: realloc");
        return 1;
    }
    long after = status_kb("VmHWM:");
    for (size_t o = 0; o < big; o += 4096)
        if (q[o] != 0x5a || q[o + 4095] != 0x5a) {
            fprintf(stderr, "regrow: the 256 MiB block lost its contents at %zu\n", o);
            return 1;
        }
    printf("hwm %ld %ld\n", before, after);
    free(q);
    free(neighbour);
    size_t nblocks = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
    int rounds = argc > 2 ? atoi(argv[2]) : 8;
    unsigned char **b = calloc(nblocks, sizeof *b);
    size_t *len = calloc(nblocks, sizeof *len);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < nblocks; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        len[i] = ((size_t)1 << 20) + (size_t)(x % (3u << 20));
        b[i] = malloc(len[i]);
        if (!b[i]) {
            perror("regrow: malloc");
            return 1;
        }
        fill(b[i], i, 0, len[i]);
    }
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < nblocks; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t n = len[i] + len[i] / 4 + (size_t)(x % (len[i] / 4 + 1));
            unsigned char *g = realloc(b[i], n);
            if (!g) {
                perror("regrow: realloc");
                return 1;
            }
            check(g, i, len[i]);
            fill(g, i, len[i], n);
            b[i] = g;
            len[i] = n;
            /* Keep the working set small: shrink back now and then (in
             * place), so that rounds can go on. */
            if (len[i] > ((size_t)24 << 20)) {
                b[i] = realloc(b[i], (size_t)2 << 20);
                len[i] = (size_t)2 << 20;
            }
        }
    for (size_t i = 0; i < nblocks; i++)
        free(b[i]);

    printf("maps %d\nok\n", count_maps());
    return 0;
}
