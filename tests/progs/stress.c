/* stress: the whole malloc family under concurrent, verified load.
 *
 *   stress [THREADS [SECONDS [HUGE_MIB]]]     defaults: 8, 5, 24
 *
 * Each worker keeps up to SLOTS blocks. Every block is filled with a
 * pattern derived from a key (owner thread, sequence number) and checked
 * in full (blocks over 1 MiB: one word in every 512 bytes) before it is
 * freed, reallocated or handed over. Operations: malloc, calloc (must read
 * as zero), realloc (the common prefix must survive; sometimes to 0 = free),
 * reallocarray, posix_memalign / aligned_alloc / memalign / valloc /
 * pvalloc (alignment checked), malloc_usable_size (at least the size
 * asked). Sizes: small (up to 1 KiB), medium (to 32 KiB), large (to
 * 1 MiB) and now and then huge (1 MiB to HUGE_MIB MiB; at most two live
 * per thread; half of their reallocs grow them by a quarter, so that
 * some move past a taken neighbour). A quarter of the blocks go to another worker through a
 * mailbox; the receiver checks them, then frees them or keeps them (and
 * later reallocs and frees them: cross-thread free and realloc). Prints
 * "stress: ok ..." and exits 0, or "stress: FAIL ..." and exits 1. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

#define MAXT 64
#define SLOTS 512
#define BOX 128
#define SPARSE ((size_t)1 << 20)    /* above this, check one word per 512 bytes */

struct blk {
    unsigned char *p;
    size_t n;
    uint64_t key;
    size_t align;
};

struct box {
    pthread_mutex_t lock;
    unsigned head, count;
    struct blk b[BOX];
};

static struct box boxes[MAXT];
static int nthreads;
static size_t huge_max;
static atomic_int stop;
static atomic_ulong n_ops, n_cross, n_huge, n_aligned, n_realloc;

static inline uint64_t pword(uint64_t key, size_t j) { return key ^ (j * 0x9E3779B97F4A7C15ull); }

static void fill(struct blk *b)
{
    size_t i = 0, n = b->n;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pword(b->key, i >> 3);
        memcpy(b->p + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = pword(b->key, i >> 3);
        memcpy(b->p + i, &w, n - i);
    }
}

/* Checks the first `len` bytes of b against its pattern. */
static void check_prefix(const struct blk *b, size_t len, const char *when)
{
    size_t step = len > SPARSE ? 512 : 8, i = 0;
    for (; i + 8 <= len; i += step) {
        uint64_t w;
        memcpy(&w, b->p + i, 8);
        if (w != pword(b->key, i >> 3))
            die("%s: block %p (%zu bytes, key %llx) wrong at byte %zu", when, (void *)b->p, b->n,
                (unsigned long long)b->key, i);
    }
    size_t tail = len & ~(size_t)7;
    if (len > SPARSE && tail >= 8) {   /* and the last whole word */
        uint64_t w;
        memcpy(&w, b->p + tail - 8, 8);
        if (w != pword(b->key, (tail - 8) >> 3))
            die("%s: block %p (%zu bytes) wrong near its end", when, (void *)b->p, b->n);
    }
    if (tail < len) {
        uint64_t w = 0, e = pword(b->key, tail >> 3);
        memcpy(&w, b->p + tail, len - tail);
        uint64_t mask = (UINT64_C(1) << (8 * (len - tail))) - 1;
        if ((w & mask) != (e & mask))
            die("%s: block %p (%zu bytes) wrong in its last bytes", when, (void *)b->p, b->n);
    }
}

static void check(const struct blk *b, const char *when) { check_prefix(b, b->n, when); }

struct rng { uint64_t s; };
static inline uint64_t rnd(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

struct worker {
    int id;
    struct rng r;
    uint64_t seq;
    int huge_live;
    struct blk slot[SLOTS];
};

static int is_huge(size_t n) { return n > SPARSE; }

static size_t pick_size(struct worker *w)
{
    uint64_t x = rnd(&w->r) % 1000;
    if (x < 600)
        return 1 + rnd(&w->r) % 1024;
    if (x < 850)
        return 1024 + rnd(&w->r) % 31744;
    if (x < 995 || w->huge_live >= 2)
        return 32768 + rnd(&w->r) % (SPARSE - 32768);
    return SPARSE + 1 + rnd(&w->r) % (huge_max - SPARSE);
}

static void zero_check(const unsigned char *p, size_t n)
{
    size_t step = n > SPARSE ? 509 : 1;
    for (size_t i = 0; i < n; i += step)
        if (p[i])
            die("calloc(%zu) at %p: byte %zu is %#x, not 0", n, (const void *)p, i, p[i]);
    if (n && p[n - 1])
        die("calloc(%zu) at %p: last byte is not 0", n, (const void *)p);
}

static void new_block(struct worker *w, struct blk *b)
{
    size_t n = pick_size(w), align = 16;
    uint64_t how = rnd(&w->r) % 100;
    void *p = NULL;
    if (how < 4) {
        align = (size_t)1 << (3 + rnd(&w->r) % 18);     /* 8 B .. 1 MiB */
        int e = posix_memalign(&p, align, n);
        if (e)
            die("posix_memalign(%zu, %zu): %s", align, n, strerror(e));
    } else if (how < 7) {
        align = (size_t)1 << (4 + rnd(&w->r) % 14);     /* 16 B .. 128 KiB */
        n = (n + align - 1) / align * align;
        p = aligned_alloc(align, n);
    } else if (how < 9) {
        align = (size_t)1 << (5 + rnd(&w->r) % 10);
        p = memalign(align, n);
    } else if (how < 10) {
        align = 4096;
        p = rnd(&w->r) & 1 ? valloc(n) : pvalloc(n);
    } else if (how < 20) {
        p = calloc(1, n);
        if (p)
            zero_check(p, n);
    } else if (how < 22) {
        size_t cnt = 1 + n / 16;
        p = reallocarray(NULL, cnt, 16);
        n = cnt * 16;
    } else {
        p = malloc(n);
    }
    if (!p)
        die("allocation of %zu bytes (align %zu) returned NULL: %s", n, align, strerror(errno));
    if (align > 16)
        atomic_fetch_add_explicit(&n_aligned, 1, memory_order_relaxed);
    if ((uintptr_t)p % (align < 16 ? 16 : align))
        die("%p (%zu bytes) is not %zu-byte aligned", p, n, align);
    if (malloc_usable_size(p) < n)
        die("malloc_usable_size(%p) = %zu < %zu", p, malloc_usable_size(p), n);
    b->p = p;
    b->n = n;
    b->align = align;
    b->key = mix(((uint64_t)w->id << 48) ^ ++w->seq);
    if (is_huge(n)) {
        w->huge_live++;
        atomic_fetch_add_explicit(&n_huge, 1, memory_order_relaxed);
    }
    fill(b);
}

static void drop(struct worker *w, struct blk *b, const char *when)
{
    check(b, when);
    if (is_huge(b->n))
        w->huge_live--;
    free(b->p);
    b->p = NULL;
}

static void resize(struct worker *w, struct blk *b)
{
    check(b, "before realloc");
    size_t n = pick_size(w);
    /* Big blocks often grow a little, as arrays do: past a taken
     * neighbour that is a move (of the pages themselves, in the RAM tier). */
    if (b->n > SPARSE && b->n + b->n / 4 <= huge_max && rnd(&w->r) % 2 == 0)
        n = b->n + b->n / 4;
    if (rnd(&w->r) % 50 == 0) {   /* realloc(p, 0) frees */
        if (is_huge(b->n))
            w->huge_live--;
        void *q = realloc(b->p, 0);
        if (q)
            free(q);
        b->p = NULL;
        return;
    }
    unsigned char *q = realloc(b->p, n);
    if (!q)
        die("realloc(%zu -> %zu) returned NULL", b->n, n);
    if ((uintptr_t)q % 16)
        die("realloc result %p is not 16-byte aligned", (void *)q);
    struct blk kept = *b;
    kept.p = q;
    check_prefix(&kept, b->n < n ? b->n : n, "after realloc (contents lost)");
    w->huge_live += is_huge(n) - is_huge(b->n);
    b->p = q;
    b->n = n;
    b->key = mix(((uint64_t)w->id << 48) ^ ++w->seq);
    fill(b);
    atomic_fetch_add_explicit(&n_realloc, 1, memory_order_relaxed);
}

static int post(int to, const struct blk *b)
{
    struct box *m = &boxes[to];
    int ok = 0;
    pthread_mutex_lock(&m->lock);
    if (m->count < BOX) {
        m->b[(m->head + m->count) % BOX] = *b;
        m->count++;
        ok = 1;
    }
    pthread_mutex_unlock(&m->lock);
    return ok;
}

static unsigned take(int me, struct blk *out, unsigned max)
{
    struct box *m = &boxes[me];
    unsigned n = 0;
    pthread_mutex_lock(&m->lock);
    while (n < max && m->count) {
        out[n++] = m->b[m->head];
        m->head = (m->head + 1) % BOX;
        m->count--;
    }
    pthread_mutex_unlock(&m->lock);
    return n;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    unsigned long ops = 0, cross = 0;
    struct blk in[32];
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int k = 0; k < 64; k++, ops++) {
            struct blk *b = &w->slot[rnd(&w->r) % SLOTS];
            uint64_t what = rnd(&w->r) % 100;
            if (!b->p) {
                new_block(w, b);
            } else if (what < 15) {
                resize(w, b);
            } else if (what < 40 && nthreads > 1 && !is_huge(b->n)) {
                int to = (int)(rnd(&w->r) % (uint64_t)(nthreads - 1));
                to += to >= w->id;
                check(b, "before handing over");
                if (post(to, b)) {
                    b->p = NULL;
                    cross++;
                } else {
                    drop(w, b, "free (mailbox full)");
                }
            } else {
                drop(w, b, "free");
            }
        }
        unsigned n = take(w->id, in, 32);
        for (unsigned i = 0; i < n; i++) {
            struct blk *b = &w->slot[rnd(&w->r) % SLOTS];
            if (!b->p && rnd(&w->r) % 3 == 0) {
                check(&in[i], "adopting a block from another thread");
                *b = in[i];
            } else {
                drop(w, &in[i], "cross-thread free");
            }
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (w->slot[i].p)
            drop(w, &w->slot[i], "final free");
    atomic_fetch_add(&n_ops, ops);
    atomic_fetch_add(&n_cross, cross);
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    nthreads = argc > 1 ? atoi(argv[1]) : 8;
    double secs = argc > 2 ? atof(argv[2]) : 5;
    long huge_mib = argc > 3 ? atol(argv[3]) : 24;
    if (nthreads < 1 || nthreads > MAXT || secs <= 0 || huge_mib < 2) {
        fprintf(stderr, "usage: stress [THREADS (1..%d) [SECONDS [HUGE_MIB (>= 2)]]]\n", MAXT);
        return 2;
    }
    huge_max = (size_t)huge_mib << 20;
    pthread_t t[MAXT];
    struct worker *w[MAXT];
    for (int i = 0; i < nthreads; i++) {
        pthread_mutex_init(&boxes[i].lock, NULL);
        w[i] = calloc(1, sizeof *w[i]);
        if (!w[i])
            die("calloc for worker state failed");
        w[i]->id = i;
        w[i]->r.s = mix((uint64_t)i + 12345) | 1;
    }
    double t0 = now();
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, run, w[i]) != 0)
            die("pthread_create failed");
    while (now() - t0 < secs)
        usleep(20000);
    atomic_store(&stop, 1);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    unsigned long left = 0;
    struct blk in[32];
    for (int i = 0; i < nthreads; i++) {
        unsigned n;
        while ((n = take(i, in, 32)) > 0)
            for (unsigned k = 0; k < n; k++, left++) {
                check(&in[k], "leftover in a mailbox");
                free(in[k].p);
            }
        free(w[i]);
    }
    printf("stress: ok: %d threads, %.1f s, %lu operations, %lu handed over, %lu reallocs, "
           "%lu aligned, %lu huge, %lu leftovers\n", nthreads, now() - t0, atomic_load(&n_ops),
           atomic_load(&n_cross), atomic_load(&n_realloc), atomic_load(&n_aligned),
           atomic_load(&n_huge), left);
    return 0;
}
