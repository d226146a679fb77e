/* mixed: every size class at once, including huge blocks (> 64 MiB).
 *
 *   mixed THREADS SCALE        SCALE = allocations in all, in units of 10,000
 *
 * Each thread keeps SLOTS blocks live and replaces a random one at every
 * step. Sizes: 70% small (8..256 B), 25% medium (256 B..32 KiB), 5% large
 * (32 KiB..4 MiB), and every HUGE_EVERY-th allocation of a thread is huge
 * (64..256 MiB; at most two live per thread). A quarter of all allocations
 * use calloc, and their zeroing is checked. Small and medium blocks are
 * written in full; large blocks get one word per 4 KiB page; huge blocks
 * one word per 64 KiB, like a big array of which a part is used. This is
 * the shape of scientific codes: big matrices next to many small records.
 * The work is split evenly between threads. */
#include "common.h"

#define SLOTS      1024
#define HUGE_EVERY 4000
#define HUGE_MIN   (64UL << 20)
#define HUGE_MAX   (256UL << 20)

struct job {
    int id;
    long allocs;
    uint64_t sum;
    char pad[64];
};

static uint64_t touch(unsigned char *p, size_t sz, uint64_t v, int zeroed)
{
    uint64_t bad = 0;
    size_t step = sz <= (32 << 10) ? 0 : sz < HUGE_MIN ? 4096 : 65536;
    if (step == 0) {
        if (zeroed) bad += p[0] | p[sz / 2] | p[sz - 1];
        memset(p, (int)v, sz);
    } else {
        for (size_t o = 0; o + 8 <= sz; o += step) {
            if (zeroed) { uint64_t w; memcpy(&w, p + o, 8); bad += w != 0; }
            memcpy(p + o, &v, 8);
        }
    }
    stamp(p, sz, v);
    return bad;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    rng_t r = rng_seed(0x313ed, (uint64_t)j->id);
    void **slot = calloc(SLOTS, sizeof *slot);
    size_t *size = calloc(SLOTS, sizeof *size);
    if (!slot || !size) die("calloc");
    uint64_t sum = 0;
    int huge_live = 0;
    for (long i = 0; i < j->allocs; i++) {
        uint64_t x = rng_next(&r);
        unsigned k = (unsigned)(x % SLOTS);
        if (slot[k]) {
            sum += unstamp(slot[k], size[k]);
            if (size[k] >= HUGE_MIN) huge_live--;
            free(slot[k]);
        }
        unsigned pct = (unsigned)((x >> 16) % 100);
        size_t sz;
        if (i % HUGE_EVERY == HUGE_EVERY - 1 && huge_live < 2) {
            sz = rng_range(&r, HUGE_MIN, HUGE_MAX);
            huge_live++;
        } else if (pct < 70) sz = rng_range(&r, 8, 256);
        else if (pct < 95) sz = rng_logrange(&r, 256, 32 << 10);
        else sz = rng_logrange(&r, 32 << 10, 4 << 20);
        int zeroed = (x >> 40) % 4 == 0;
        unsigned char *p = zeroed ? calloc(1, sz) : malloc(sz);
        if (!p) die("malloc");
        sum += touch(p, sz, x, zeroed) << 32;
        slot[k] = p;
        size[k] = sz;
    }
    for (unsigned k = 0; k < SLOTS; k++)
        if (slot[k]) { sum += unstamp(slot[k], size[k]); free(slot[k]); }
    free(slot);
    free(size);
    j->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = (int)arg_long(argc, argv, 1, 1);
    long total = arg_long(argc, argv, 2, 20) * 10000L;
    struct job *jobs = xmalloc(sizeof *jobs * (size_t)n);
    for (int i = 0; i < n; i++) {
        jobs[i].id = i;
        jobs[i].allocs = total / n;
        jobs[i].sum = 0;
    }
    run_threads(n, worker, jobs, sizeof *jobs);
    finish_jobs(jobs, n, sizeof *jobs, offsetof(struct job, sum));
    return 0;
}
