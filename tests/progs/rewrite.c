/* rewrite MIB WRITES: fills a heap of MIB blocks of 1 MiB, then adds one
 * to a word on WRITES random pages of it, and prints
 *
 *   filled
 *   rewritten <page-cache bytes the process dirtied during the writes>
 *   sum <checksum>
 *
 * The dirtied bytes come from /proc/self/io (write_bytes, which the kernel
 * counts when a page or a large folio turns dirty): a page written back
 * and dirtied again counts again, so the figure shows how often the heap's
 * file pages were written back under the program. */
#include <stdlib.h>

#include "progs.h"

#define BLOCK ((size_t)1 << 20)
#define PAGE 4096

static long long dirtied_so_far(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return -1;
    char line[128];
    long long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "write_bytes: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        die("usage: rewrite MIB WRITES");
    long nblocks = atol(argv[1]), writes = atol(argv[2]);
    if (nblocks <= 0 || writes < 0)
        die("bad arguments");
    uint64_t **block = malloc(sizeof *block * (size_t)nblocks);
    if (!block)
        die("malloc of the block table");
    for (long b = 0; b < nblocks; b++) {
        block[b] = malloc(BLOCK);
        if (!block[b])
            die("malloc of block %ld: %s", b, strerror(errno));
        for (size_t w = 0; w < BLOCK / 8; w += PAGE / 8)
            block[b][w] = (uint64_t)b;
    }
    printf("filled\n");
    fflush(stdout);
    long long before = dirtied_so_far();
    uint64_t x = 1;
    for (long i = 0; i < writes; i++) {
        x = mix(x + (uint64_t)i);
        block[x % (uint64_t)nblocks][(x >> 32) % (BLOCK / PAGE) * (PAGE / 8)] += 1;
    }
    long long after = dirtied_so_far();
    uint64_t sum = 0;
    for (long b = 0; b < nblocks; b++)
        for (size_t w = 0; w < BLOCK / 8; w += PAGE / 8)
            sum += block[b][w];
    uint64_t want = (uint64_t)writes + (uint64_t)nblocks * (uint64_t)(nblocks - 1) / 2 * (BLOCK / PAGE);
    if (sum != want)
        die("checksum %llu, expected %llu", (unsigned long long)sum, (unsigned long long)want);
    printf("rewritten %lld\nsum %llu\n", before < 0 || after < 0 ? -1 : after - before,
           (unsigned long long)sum);
    return 0;
}
