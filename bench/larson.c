/* larson: a server that hands its connections' state from thread to thread.
 *
 *   larson THREADS SCALE        SCALE = total replacements, in units of 100,000
 *
 * Modelled on Larson and Krishnan's server benchmark. Each worker owns a
 * table of SLOTS live objects (8..1000 bytes). A worker replaces random
 * entries: free the old object, allocate a new one of random size, stamp it.
 * The work is done in ROUNDS generations of threads: every round starts
 * fresh threads, and the table a thread works on was filled by a thread of
 * the previous round (with 2+ threads, by a different thread that is still
 * alive), so most frees are of memory allocated by another thread, and
 * many are of memory whose allocating thread has exited. The main thread
 * fills the tables at the start and frees what is left at the end.
 *
 * Each table carries its own random sequence and is worked on by exactly
 * one thread per round, so the checksum does not depend on scheduling. */
#include "common.h"

#define SLOTS  4000
#define ROUNDS 20
#define MINSZ  8
#define MAXSZ  1000

struct table {
    void *obj[SLOTS];
    uint32_t size[SLOTS];
    rng_t rng;
    uint64_t sum;
    long ops;                 /* replacements per round */
    char pad[64];
};

static struct table *tables;
static int nthreads;

struct job { struct table *t; };

static void *worker(void *arg)
{
    struct table *t = ((struct job *)arg)->t;
    for (long i = 0; i < t->ops; i++) {
        uint64_t r = rng_next(&t->rng);
        unsigned k = (unsigned)(r % SLOTS);
        t->sum += unstamp(t->obj[k], t->size[k]);
        free(t->obj[k]);
        size_t sz = MINSZ + (r >> 32) % (MAXSZ - MINSZ + 1);
        void *p = malloc(sz);
        if (!p) die("malloc");
        stamp(p, sz, r);
        t->obj[k] = p;
        t->size[k] = (uint32_t)sz;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    nthreads = (int)arg_long(argc, argv, 1, 1);
    long total = arg_long(argc, argv, 2, 100) * 100000L;
    tables = xmalloc(sizeof *tables * (size_t)nthreads);
    for (int a = 0; a < nthreads; a++) {
        struct table *t = &tables[a];
        t->rng = rng_seed(0x1a450, (uint64_t)a);
        t->sum = 0;
        t->ops = total / ((long)nthreads * ROUNDS);
        for (int k = 0; k < SLOTS; k++) {
            size_t sz = rng_range(&t->rng, MINSZ, MAXSZ);
            t->obj[k] = xmalloc(sz);
            stamp(t->obj[k], sz, k);
            t->size[k] = (uint32_t)sz;
        }
    }
    struct job jobs[256];
    for (int r = 0; r < ROUNDS; r++) {
        /* thread i of round r takes table (i + r) mod n */
        for (int i = 0; i < nthreads && i < 256; i++)
            jobs[i].t = &tables[(i + r) % nthreads];
        run_threads(nthreads, worker, jobs, sizeof jobs[0]);
    }
    uint64_t sum = 0;
    for (int a = 0; a < nthreads; a++) {
        struct table *t = &tables[a];
        for (int k = 0; k < SLOTS; k++) {
            t->sum += unstamp(t->obj[k], t->size[k]);
            free(t->obj[k]);
        }
        sum = sum * 1000003 + t->sum;
    }
    free(tables);
    print_checksum(sum);
    return 0;
}
