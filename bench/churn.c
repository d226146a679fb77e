/* churn: many small objects built up and torn down, like a program that
 * builds a large pointer-linked structure (a tree, a graph, a symbol table)
 * again and again.
 *
 *   churn THREADS SCALE        SCALE = objects allocated in all, in units of 100,000
 *
 * Each thread, independently, repeats a cycle over LIVE objects:
 *   1. allocate LIVE objects (8..128 bytes mostly, 1 in 16 up to 1 KiB),
 *      each linked to the previous one, and fill them completely;
 *   2. free a random half and allocate replacements (holes, then reuse);
 *   3. walk the list, then free everything, in allocation order on even
 *      cycles and in random order on odd ones.
 * The work is split evenly between threads. */
#include "common.h"

#define LIVE 250000

struct node {
    struct node *next;
    uint32_t size;
    uint32_t tag;
    unsigned char data[];
};

struct job {
    int id;
    long objects;
    uint64_t sum;
    char pad[64];
};

static size_t pick_size(rng_t *r)
{
    uint64_t x = rng_next(r);
    if ((x & 15) == 0) return 128 + (x >> 8) % 897;      /* 128..1024 */
    return 16 + ((x >> 8) % 15) * 8;                     /* 16..128 */
}

static struct node *make(rng_t *r, uint32_t tag)
{
    size_t sz = pick_size(r);
    struct node *n = malloc(sz);
    if (!n) die("malloc");
    n->next = NULL;
    n->size = (uint32_t)sz;
    n->tag = tag;
    memset(n->data, (int)(tag & 0xff), sz - sizeof *n);
    return n;
}

static uint64_t check(const struct node *n)
{
    size_t len = n->size - sizeof *n;
    uint64_t v = n->tag;
    if (len) v += n->data[0] + n->data[len - 1];
    return v;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    rng_t r = rng_seed(0xc4u, (uint64_t)j->id);
    struct node **tab = xmalloc(sizeof *tab * LIVE);
    uint64_t sum = 0;
    for (long done = 0, cycle = 0; done < j->objects; cycle++) {
        long live = j->objects - done < LIVE ? j->objects - done : LIVE;
        if (live < 2) live = 2;
        for (long i = 0; i < live; i++) {
            tab[i] = make(&r, (uint32_t)(i + cycle));
            if (i) tab[i - 1]->next = tab[i];
        }
        for (long k = 0; k < live / 2; k++) {
            long i = (long)(rng_next(&r) % (uint64_t)live);
            sum += check(tab[i]);
            free(tab[i]);
            tab[i] = make(&r, (uint32_t)(i * 7 + cycle));
        }
        for (long i = 1; i < live; i++) tab[i - 1]->next = tab[i];
        for (struct node *n = tab[0]; n; n = n->next) sum += n->size;
        if (cycle & 1) {            /* random order: Fisher-Yates, then free */
            for (long i = live - 1; i > 0; i--) {
                long k = (long)(rng_next(&r) % (uint64_t)(i + 1));
                struct node *t = tab[i]; tab[i] = tab[k]; tab[k] = t;
            }
        }
        for (long i = 0; i < live; i++) {
            sum += check(tab[i]);
            free(tab[i]);
        }
        done += live + live / 2;
    }
    free(tab);
    j->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = (int)arg_long(argc, argv, 1, 1);
    long total = arg_long(argc, argv, 2, 30) * 100000L;
    struct job *jobs = xmalloc(sizeof *jobs * (size_t)n);
    for (int i = 0; i < n; i++) {
        jobs[i].id = i;
        jobs[i].objects = total / n;
        jobs[i].sum = 0;
    }
    run_threads(n, worker, jobs, sizeof *jobs);
    finish_jobs(jobs, n, sizeof *jobs, offsetof(struct job, sum));
    return 0;
}
