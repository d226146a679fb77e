/* bigheap: a program whose heap is as large as you ask.
 *
 *   bigheap MIB [PAUSE_SECONDS]
 *
 * Allocates about MIB MiB with malloc: nine tenths in blocks of 64 KiB to
 * 4 MiB, one tenth in small list nodes (16..512 bytes of payload). Fills it
 * all with a deterministic pseudo-random pattern, then reads everything
 * back, verifying each word and folding it into a checksum. Prints
 *
 *   heap MIB MiB: B blocks, N nodes
 *   checksum 0123456789abcdef
 *   ok
 *
 * on stdout: the same for the same MIB whatever the allocator or the
 * addresses. With PAUSE_SECONDS it then sleeps that long, heap still live,
 * before freeing it (so a test can look at the process from outside).
 * Timings go to stderr. Exit status: 0 ok, 1 wrong data, 2 malloc failed,
 * 3 bad arguments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

struct node {
    struct node *next;
    uint32_t len;       /* payload bytes */
    uint32_t id;
    unsigned char data[];
};

/* Word j of the object with identifier id. */
static inline uint64_t pword(uint64_t id, uint64_t j)
{
    return mix(id * 0x9E3779B97F4A7C15ull + j);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x853C49E6748FEA9Bull;
static uint64_t rnd(void)
{
    rng += 0x9E3779B97F4A7C15ull;
    return mix(rng);
}

static void out_of_memory(size_t n, uint64_t done)
{
    fprintf(stderr, "bigheap: malloc(%zu) failed after %llu MiB\n", n,
            (unsigned long long)(done >> 20));
    exit(2);
}

static void fill_words(unsigned char *p, size_t n, uint64_t id)
{
    for (size_t j = 0; j < n / 8; j++) {
        uint64_t w = pword(id, j);
        memcpy(p + j * 8, &w, 8);
    }
}

/* Folds the words in, and returns 0 if one is not what fill_words wrote. */
static int read_words(const unsigned char *p, size_t n, uint64_t id, uint64_t *sum)
{
    uint64_t s = *sum;
    int ok = 1;
    for (size_t j = 0; j < n / 8; j++) {
        uint64_t w;
        memcpy(&w, p + j * 8, 8);
        ok &= w == pword(id, j);
        s = (s ^ w) * 0x100000001B3ull + j;
    }
    *sum = s;
    return ok;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || atol(argv[1]) <= 0) {
        fprintf(stderr, "usage: bigheap MIB [PAUSE_SECONDS]\n");
        return 3;
    }
    uint64_t total = (uint64_t)atol(argv[1]) << 20;
    double pause = argc > 2 ? atof(argv[2]) : 0;
    uint64_t block_budget = total / 10 * 9, node_budget = total - block_budget;

    /* Block sizes first (deterministic), so the table can be sized. */
    size_t cap = 1024, nblocks = 0;
    size_t *bsize = malloc(cap * sizeof *bsize);
    if (!bsize)
        out_of_memory(cap * sizeof *bsize, 0);
    for (uint64_t left = block_budget; left >= 8;) {
        size_t n = (size_t)(64u << 10) << (rnd() % 7);      /* 64 KiB .. 4 MiB */
        n += (size_t)(rnd() % 4096) & ~(size_t)7;             /* not page multiples */
        if (n > left)
            n = (size_t)left & ~(size_t)7;
        if (nblocks == cap) {
            cap *= 2;
            size_t *nb = realloc(bsize, cap * sizeof *bsize);
            if (!nb)
                out_of_memory(cap * sizeof *bsize, 0);
            bsize = nb;
        }
        bsize[nblocks++] = n;
        left -= n;
    }
    unsigned char **block = calloc(nblocks, sizeof *block);
    if (!block)
        out_of_memory(nblocks * sizeof *block, 0);

    /* Fill: blocks and nodes interleaved, as a real program's heap is. */
    double t0 = now();
    uint64_t done = 0, nodes = 0, node_bytes = 0;
    struct node *head = NULL, **tail = &head;
    size_t b = 0;
    while (b < nblocks || node_bytes < node_budget) {
        if (b < nblocks) {
            block[b] = malloc(bsize[b]);
            if (!block[b])
                out_of_memory(bsize[b], done);
            fill_words(block[b], bsize[b], (uint64_t)b);
            done += bsize[b];
            b++;
        }
        /* About as many node bytes per block as the budget ratio asks. */
        uint64_t want = b < nblocks ? node_budget * b / nblocks : node_budget;
        while (node_bytes < want) {
            uint32_t len = (uint32_t)(16 + (rnd() % 497)) & ~7u;
            struct node *nd = malloc(sizeof *nd + len);
            if (!nd)
                out_of_memory(sizeof *nd + len, done);
            nd->next = NULL;
            nd->len = len;
            nd->id = (uint32_t)nodes;
            fill_words(nd->data, len, (1ull << 40) + nodes);
            *tail = nd;
            tail = &nd->next;
            nodes++;
            node_bytes += sizeof *nd + len;
            done += sizeof *nd + len;
        }
    }
    double t1 = now();

    /* Read everything back, in allocation order for blocks, list order for
     * nodes. */
    uint64_t sum = 0xCBF29CE484222325ull;
    int ok = 1;
    for (size_t i = 0; i < nblocks; i++)
        if (!read_words(block[i], bsize[i], (uint64_t)i, &sum)) {
            fprintf(stderr, "bigheap: block %zu (size %zu) does not hold what was written\n",
                    i, bsize[i]);
            ok = 0;
        }
    uint64_t count = 0;
    for (struct node *nd = head; nd; nd = nd->next, count++) {
        if (nd->id != (uint32_t)count ||
            !read_words(nd->data, nd->len, (1ull << 40) + count, &sum)) {
            fprintf(stderr, "bigheap: node %llu does not hold what was written\n",
                    (unsigned long long)count);
            ok = 0;
            break;
        }
        sum ^= nd->len;
    }
    if (count != nodes) {
        fprintf(stderr, "bigheap: node list has %llu nodes, %llu were made\n",
                (unsigned long long)count, (unsigned long long)nodes);
        ok = 0;
    }
    double t2 = now();
    fprintf(stderr, "bigheap: %llu MiB: fill %.2f s, read %.2f s\n",
            (unsigned long long)(total >> 20), t1 - t0, t2 - t1);
    if (!ok)
        return 1;
    printf("heap %llu MiB: %zu blocks, %llu nodes\n", (unsigned long long)(total >> 20),
           nblocks, (unsigned long long)nodes);
    printf("checksum %016llx\n", (unsigned long long)sum);
    printf("ok\n");
    fflush(stdout);

    if (pause > 0) {
        double end = now() + pause;
        while (now() < end)
            usleep(50000);
    }
    for (size_t i = 0; i < nblocks; i++)
        free(block[i]);
    while (head) {
        struct node *next = head->next;
        free(head);
        head = next;
    }
    free(block);
    free(bsize);
    return 0;
}
