/* realloc: strings and vectors that grow, the way parsers, serialisers and
 * builders grow their buffers.
 *
 *   realloc THREADS SCALE      SCALE = bytes appended in all, in units of 16 MiB
 *
 * Each thread keeps STRINGS strings and VECTORS vectors alive at once and
 * appends to a random one at every step:
 *   - a string grows by 1..64 bytes with realloc to the exact new length
 *     (the naive builder: one realloc per append), up to a target length
 *     drawn log-uniformly in 16 B..1 MiB;
 *   - a vector appends 8-byte elements and doubles its capacity with
 *     realloc when full, up to a target drawn log-uniformly in 64 B..32 MiB.
 * When a buffer reaches its target it is checked and freed, and a new one
 * starts. Interleaving several growing buffers means a realloc can grow in
 * place only if the allocator leaves room after a block.
 * The work is split evenly between threads. */
#include "common.h"

#define STRINGS 16
#define VECTORS 4

struct buf {
    unsigned char *p;
    size_t len, cap, target;
};

struct job {
    int id;
    long bytes;
    uint64_t sum;
    char pad[64];
};

static uint64_t finish(struct buf *b)
{
    uint64_t s = b->len;
    for (size_t i = 0; i < b->len; i += 4096) s = s * 31 + b->p[i];
    if (b->len) s += b->p[b->len - 1];
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    return s;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    rng_t r = rng_seed(0x7ea1, (uint64_t)j->id);
    struct buf str[STRINGS] = {{0}}, vec[VECTORS] = {{0}};
    uint64_t sum = 0;
    long appended = 0;
    for (int i = 0; i < STRINGS; i++) str[i].target = rng_logrange(&r, 16, 1 << 20);
    for (int i = 0; i < VECTORS; i++) vec[i].target = rng_logrange(&r, 64, 32 << 20);
    while (appended < j->bytes) {
        uint64_t x = rng_next(&r);
        if (x % 64 < 60) {                   /* strings: most appends */
            struct buf *b = &str[(x >> 8) % STRINGS];
            size_t add = 1 + (x >> 16) % 64;
            unsigned char *np = realloc(b->p, b->len + add);
            if (!np) die("realloc");
            b->p = np;
            memset(b->p + b->len, (int)(x >> 40), add);
            b->len += add;
            appended += (long)add;
            if (b->len >= b->target) {
                sum += finish(b);
                b->target = rng_logrange(&r, 16, 1 << 20);
            }
        } else {                              /* vectors: bursts of pushes */
            struct buf *b = &vec[(x >> 8) % VECTORS];
            for (int k = 0; k < 64; k++) {
                if (b->len + 8 > b->cap) {
                    size_t nc = b->cap ? b->cap * 2 : 64;
                    unsigned char *np = realloc(b->p, nc);
                    if (!np) die("realloc");
                    b->p = np;
                    b->cap = nc;
                }
                uint64_t v = x + (uint64_t)k;
                memcpy(b->p + b->len, &v, 8);
                b->len += 8;
            }
            appended += 64 * 8;
            if (b->len >= b->target) {
                sum += finish(b);
                b->target = rng_logrange(&r, 64, 32 << 20);
            }
        }
    }
    for (int i = 0; i < STRINGS; i++) sum += finish(&str[i]);
    for (int i = 0; i < VECTORS; i++) sum += finish(&vec[i]);
    j->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = (int)arg_long(argc, argv, 1, 1);
    long total = arg_long(argc, argv, 2, 24) * (16L << 20);
    struct job *jobs = xmalloc(sizeof *jobs * (size_t)n);
    for (int i = 0; i < n; i++) {
        jobs[i].id = i;
        jobs[i].bytes = total / n;
        jobs[i].sum = 0;
    }
    run_threads(n, worker, jobs, sizeof *jobs);
    finish_jobs(jobs, n, sizeof *jobs, offsetof(struct job, sum));
    return 0;
}
