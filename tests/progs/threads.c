/* threads: the allocator under concurrent use.
 *
 *   threads [NTHREADS [SECONDS]]      defaults: 8 threads, 3 seconds
 *
 * Worker threads allocate random sizes (mostly small, some up to 1 MiB,
 * now and then aligned allocations and reallocs), fill every block with a
 * pattern derived from (thread, sequence number) and verify it before it is
 * freed. A share of blocks is handed to another worker through a
 * mutex-protected mailbox; the receiver verifies and frees it, or keeps it
 * and reallocs it later (cross-thread free and realloc). Meanwhile churn
 * threads keep starting short-lived threads that allocate, hand some blocks
 * to the workers and exit with the rest still cached or freed.
 *
 * Exits 1 with a message on the first mismatch, 0 with a summary line. */
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

#define MAX_THREADS 256
#define SLOTS 384
#define MAILBOX 256
#define CHURN_THREADS 2

struct block {
    unsigned char *p;
    size_t size;
    uint32_t owner;     /* thread that filled it */
    uint64_t seq;       /* its sequence number in that thread */
};

struct mailbox {
    pthread_mutex_t lock;
    unsigned head, count;
    struct block b[MAILBOX];
};

static struct mailbox *boxes;
static int nworkers;
static atomic_int stop;
static atomic_ulong total_ops, total_cross, total_churn;

static inline uint64_t key(uint32_t owner, uint64_t seq)
{
    return mix(((uint64_t)owner << 40) ^ seq ^ 0x5DEECE66Dull);
}

/* Word j of a block with key k; byte i is byte (i % 8) of word (i / 8). */
static inline uint64_t pword(uint64_t k, size_t j)
{
    return k + (uint64_t)j * 0x9E3779B97F4A7C15ull;
}

static void fill(struct block *b)
{
    uint64_t k = key(b->owner, b->seq);
    size_t i = 0, n = b->size;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pword(k, i >> 3);
        memcpy(b->p + i, &w, 8);
    }
    if (i < n) {
        uint64_t w = pword(k, i >> 3);
        memcpy(b->p + i, &w, n - i);
    }
}

static void check(const struct block *b, const char *when, uint32_t me)
{
    uint64_t k = key(b->owner, b->seq);
    size_t i = 0, n = b->size;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b->p + i, 8);
        if (w != pword(k, i >> 3))
            break;
    }
    if (i < n) {
        uint64_t w = 0, e = pword(k, i >> 3);
        size_t m = n - i < 8 ? n - i : 8;
        memcpy(&w, b->p + i, m);
        if (m < 8) {
            uint64_t mask = (UINT64_C(1) << (m * 8)) - 1;
            w &= mask;
            e &= mask;
        }
        if (w != e)
            die("thread %u, %s: block %p (size %zu, filled by thread %u, seq %llu) corrupted "
                "near byte %zu", me, when, (void *)b->p, b->size, b->owner,
                (unsigned long long)b->seq, i);
    }
}

struct rng { uint64_t s; };
static inline uint64_t rnd(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

static size_t random_size(struct rng *r)
{
    uint64_t x = rnd(r) % 1000;
    if (x < 700)
        return 1 + (size_t)(rnd(r) % 128);
    if (x < 900)
        return 128 + (size_t)(rnd(r) % 1900);
    if (x < 985)
        return 2048 + (size_t)(rnd(r) % 30000);
    if (x < 998)
        return 32768 + (size_t)(rnd(r) % 200000);
    return 262144 + (size_t)(rnd(r) % (768u << 10));
}

/* Allocates a block of a random size, sometimes aligned, and fills it. */
static void new_block(struct block *b, struct rng *r, uint32_t me, uint64_t *seq)
{
    size_t n = random_size(r);
    uint64_t how = rnd(r) % 100;
    void *p = NULL;
    size_t align = 16;
    if (how < 3) {
        align = (size_t)1 << (4 + rnd(r) % 9); /* 16 .. 4096 */
        int e = posix_memalign(&p, align, n);
        if (e)
            die("thread %u: posix_memalign(%zu, %zu) returned %d", me, align, n, e);
    } else if (how < 5) {
        align = (size_t)1 << (4 + rnd(r) % 13); /* 16 .. 64 KiB */
        size_t an = (n + align - 1) / align * align;
        p = aligned_alloc(align, an);
        if (!p)
            die("thread %u: aligned_alloc(%zu, %zu) returned NULL", me, align, an);
    } else if (how < 10) {
        p = calloc(1, n);
        if (!p)
            die("thread %u: calloc(1, %zu) returned NULL", me, n);
        const unsigned char *c = p;
        for (size_t i = 0; i < n; i++)
            if (c[i])
                die("thread %u: calloc(1, %zu) byte %zu is %#x, not zero", me, n, i, c[i]);
    } else {
        p = malloc(n);
        if (!p)
            die("thread %u: malloc(%zu) returned NULL", me, n);
    }
    if ((uintptr_t)p % align)
        die("thread %u: allocation of %zu bytes at %p is not %zu-byte aligned", me, n, p, align);
    if (malloc_usable_size(p) < n)
        die("thread %u: malloc_usable_size %zu < %zu", me, malloc_usable_size(p), n);
    b->p = p;
    b->size = n;
    b->owner = me;
    b->seq = (*seq)++;
    fill(b);
}

/* Reallocates a block to a random size; the common prefix must survive. */
static void realloc_block(struct block *b, struct rng *r, uint32_t me, uint64_t *seq)
{
    size_t n = random_size(r);
    check(b, "before realloc", me);
    unsigned char *q = realloc(b->p, n);
    if (!q)
        die("thread %u: realloc(%zu -> %zu) returned NULL", me, b->size, n);
    if ((uintptr_t)q % 16)
        die("thread %u: realloc result %p is not 16-byte aligned", me, (void *)q);
    struct block kept = *b;
    kept.p = q;
    kept.size = b->size < n ? b->size : n;
    check(&kept, "after realloc (contents not preserved)", me);
    b->p = q;
    b->size = n;
    b->owner = me;
    b->seq = (*seq)++;
    fill(b);
}

static void release(struct block *b, const char *when, uint32_t me)
{
    check(b, when, me);
    free(b->p);
    b->p = NULL;
}

/* Posts a block to worker `to`; returns 0 if its mailbox is full. */
static int post(int to, const struct block *b)
{
    struct mailbox *m = &boxes[to];
    int ok = 0;
    pthread_mutex_lock(&m->lock);
    if (m->count < MAILBOX) {
        m->b[(m->head + m->count) % MAILBOX] = *b;
        m->count++;
        ok = 1;
    }
    pthread_mutex_unlock(&m->lock);
    return ok;
}

/* Takes up to max blocks out of worker me's mailbox. */
static unsigned take(int me, struct block *out, unsigned max)
{
    struct mailbox *m = &boxes[me];
    unsigned n = 0;
    pthread_mutex_lock(&m->lock);
    while (n < max && m->count) {
        out[n++] = m->b[m->head];
        m->head = (m->head + 1) % MAILBOX;
        m->count--;
    }
    pthread_mutex_unlock(&m->lock);
    return n;
}

struct worker_arg {
    uint32_t id;
};

static void *worker(void *argp)
{
    struct worker_arg *a = argp;
    uint32_t me = a->id;
    struct rng r = { mix(me + 1) | 1 };
    uint64_t seq = 0;
    unsigned long ops = 0, cross = 0;
    struct block *slot = calloc(SLOTS, sizeof *slot);
    struct block in[32];
    if (!slot)
        die("thread %u: calloc for slots failed", me);

    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        for (int burst = 0; burst < 64; burst++, ops++) {
            struct block *s = &slot[rnd(&r) % SLOTS];
            uint64_t what = rnd(&r) % 100;
            if (!s->p) {
                new_block(s, &r, me, &seq);
            } else if (what < 8) {
                realloc_block(s, &r, me, &seq);
            } else if (what < 30 && nworkers > 1) {
                int to = (int)(rnd(&r) % (uint64_t)(nworkers - 1));
                if (to >= (int)me)
                    to++;
                check(s, "before handing over", me);
                if (post(to, s)) {
                    s->p = NULL;
                    cross++;
                } else {
                    release(s, "local free (mailbox full)", me);
                }
            } else {
                release(s, "local free", me);
            }
        }
        /* Blocks from other threads: verify; free most, adopt a few. */
        unsigned n = take((int)me, in, 32);
        for (unsigned i = 0; i < n; i++) {
            struct block *s = &slot[rnd(&r) % SLOTS];
            if (!s->p && rnd(&r) % 4 == 0) {
                check(&in[i], "adopting a block from another thread", me);
                *s = in[i];    /* later freed or realloc'ed here */
            } else {
                release(&in[i], "cross-thread free", me);
            }
        }
    }
    for (int i = 0; i < SLOTS; i++)
        if (slot[i].p)
            release(&slot[i], "final free", me);
    free(slot);
    atomic_fetch_add(&total_ops, ops);
    atomic_fetch_add(&total_cross, cross);
    return NULL;
}

/* A short-lived thread: allocates, frees some, gives some away, exits. */
struct churn_arg {
    uint32_t id;
    uint64_t seed;
};

static void *short_lived(void *argp)
{
    struct churn_arg *a = argp;
    struct rng r = { mix(a->seed) | 1 };
    uint64_t seq = 0;
    struct block b[48];
    for (int i = 0; i < 48; i++)
        new_block(&b[i], &r, a->id, &seq);
    for (int i = 0; i < 48; i++) {
        uint64_t what = rnd(&r) % 4;
        if (what == 0)
            realloc_block(&b[i], &r, a->id, &seq);
        if (what <= 1 && nworkers > 0 && post((int)(rnd(&r) % (uint64_t)nworkers), &b[i]))
            continue;   /* freed by a worker after this thread is gone */
        release(&b[i], "free in short-lived thread", a->id);
    }
    return NULL;
}

static atomic_uint next_short_id = 0x10000;
static atomic_int detached_live;

static void *short_lived_detached(void *argp)
{
    short_lived(argp);
    free(argp);     /* allocated by the churner thread */
    atomic_fetch_sub(&detached_live, 1);
    return NULL;
}

static void *churner(void *argp)
{
    uint32_t base = ((struct worker_arg *)argp)->id;
    unsigned long k = 0;
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        pthread_t t[4];
        struct churn_arg ca[4];
        for (int i = 0; i < 4; i++) {
            ca[i].id = atomic_fetch_add(&next_short_id, 1);
            ca[i].seed = ((uint64_t)base << 32) + k * 4 + (uint64_t)i;
            int e = pthread_create(&t[i], NULL, short_lived, &ca[i]);
            if (e)
                die("churn: pthread_create failed: %s", strerror(e));
        }
        for (int i = 0; i < 4; i++)
            pthread_join(t[i], NULL);
        /* And one detached thread, whose exit nobody waits for. */
        struct churn_arg *da = malloc(sizeof *da);
        if (!da)
            die("churn: malloc failed");
        da->id = atomic_fetch_add(&next_short_id, 1);
        da->seed = ~(((uint64_t)base << 32) + k);
        atomic_fetch_add(&detached_live, 1);
        pthread_t d;
        int e = pthread_create(&d, &detached, short_lived_detached, da);
        if (e)
            die("churn: pthread_create (detached) failed: %s", strerror(e));
        k++;
    }
    pthread_attr_destroy(&detached);
    atomic_fetch_add(&total_churn, k * 5);
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
    int nthreads = argc > 1 ? atoi(argv[1]) : 8;
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    if (nthreads < 1 || nthreads > MAX_THREADS || seconds <= 0) {
        fprintf(stderr, "usage: threads [NTHREADS (1..%d) [SECONDS]]\n", MAX_THREADS);
        return 2;
    }
    nworkers = nthreads;
    boxes = calloc((size_t)nthreads, sizeof *boxes);
    if (!boxes)
        die("calloc for mailboxes failed");
    for (int i = 0; i < nthreads; i++)
        pthread_mutex_init(&boxes[i].lock, NULL);

    pthread_t w[MAX_THREADS], c[CHURN_THREADS];
    struct worker_arg wa[MAX_THREADS], cargs[CHURN_THREADS];
    double t0 = now();
    for (int i = 0; i < nthreads; i++) {
        wa[i].id = (uint32_t)i;
        int e = pthread_create(&w[i], NULL, worker, &wa[i]);
        if (e)
            die("pthread_create failed: %s", strerror(e));
    }
    for (int i = 0; i < CHURN_THREADS; i++) {
        cargs[i].id = 1000 + (uint32_t)i;
        int e = pthread_create(&c[i], NULL, churner, &cargs[i]);
        if (e)
            die("pthread_create failed: %s", strerror(e));
    }
    while (now() - t0 < seconds)
        usleep(20000);
    atomic_store(&stop, 1);
    for (int i = 0; i < CHURN_THREADS; i++)
        pthread_join(c[i], NULL);
    for (int i = 0; i < nthreads; i++)
        pthread_join(w[i], NULL);
    for (int waited = 0; atomic_load(&detached_live) > 0; waited++) {
        if (waited > 3000)
            die("detached short-lived threads did not finish within 30 s (deadlock?)");
        usleep(10000);
    }

    /* Blocks still in mailboxes were posted after their receiver stopped. */
    unsigned long left = 0;
    struct block in[32];
    for (int i = 0; i < nthreads; i++) {
        unsigned n;
        while ((n = take(i, in, 32)) > 0)
            for (unsigned k = 0; k < n; k++, left++)
                release(&in[k], "free of a leftover block by main", 9999);
    }
    printf("threads: ok: %d threads, %.1f s, %lu operations, %lu handed over, "
           "%lu short-lived threads, %lu leftovers\n", nthreads, now() - t0,
           atomic_load(&total_ops), atomic_load(&total_cross), atomic_load(&total_churn), left);
    return 0;
}
