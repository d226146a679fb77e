/* prodcons: one thread allocates, another frees.
 *
 *   prodcons PAIRS SCALE       SCALE = messages in all, in units of 100,000
 *
 * PAIRS producer/consumer pairs (so 2 x PAIRS threads). A producer
 * allocates messages (16..512 bytes, 1 in 32 up to 16 KiB), writes them and
 * passes them through a bounded single-producer single-consumer ring; its
 * consumer reads each message and frees it. Every free is of memory that
 * another thread allocated: the pattern of a pipeline, a logger, or a work
 * queue. The work is split evenly between pairs.
 *
 * The consumer works in batches: it waits for a full ring, then takes the
 * older half. So every allocator holds the same messages at its peak (a
 * full ring per pair). A consumer that kept pace would hold as many as
 * the race between the two threads left in flight, and peak memory would
 * measure scheduling more than the allocator. */
#include "common.h"
#include <sched.h>
#include <stdatomic.h>

#define RING 4096                      /* slots, a power of two */

struct pair {
    _Alignas(64) _Atomic uint64_t head;  /* written by the producer */
    _Alignas(64) _Atomic uint64_t tail;  /* written by the consumer */
    _Alignas(64) void *slot[RING];
    int id;
    long messages;
    uint64_t sum;
};

static void wait_a_bit(unsigned *spins)
{
    if (++*spins > 64) { sched_yield(); *spins = 0; }
    else __builtin_ia32_pause();
}

static void *producer(void *arg)
{
    struct pair *p = arg;
    rng_t r = rng_seed(0x9c0d, (uint64_t)p->id);
    uint64_t head = 0;
    for (long i = 0; i <= p->messages; i++) {
        void *m = NULL;                        /* the last one is NULL: stop */
        if (i < p->messages) {
            uint64_t x = rng_next(&r);
            size_t sz = (x & 31) == 0 ? 512 + (x >> 8) % 15873 : 16 + (x >> 8) % 497;
            m = malloc(sz);
            if (!m) die("malloc");
            memset(m, (int)(x >> 56), sz < 64 ? sz : 64);
            uint32_t hdr[2] = { (uint32_t)sz, (uint32_t)x };
            memcpy(m, hdr, sizeof hdr);
            uint64_t tail = x ^ sz;                /* sz >= 16: no overlap */
            memcpy((char *)m + sz - 8, &tail, 8);
        }
        unsigned spins = 0;
        while (head - atomic_load_explicit(&p->tail, memory_order_acquire) >= RING)
            wait_a_bit(&spins);
        p->slot[head % RING] = m;
        atomic_store_explicit(&p->head, ++head, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct pair *p = arg;
    uint64_t tail = 0, sum = 0, batch = 0;
    for (;;) {
        unsigned spins = 0;
        while (!batch) {
            uint64_t head = atomic_load_explicit(&p->head, memory_order_acquire);
            /* a full ring, or the producer's last message (NULL) is in */
            if (head - tail == RING || (head > tail && !p->slot[(head - 1) % RING]))
                batch = RING / 2;
            else
                wait_a_bit(&spins);
        }
        batch--;
        void *m = p->slot[tail % RING];
        atomic_store_explicit(&p->tail, ++tail, memory_order_release);
        if (!m) break;
        uint32_t hdr[2];
        uint64_t last;
        memcpy(hdr, m, sizeof hdr);
        memcpy(&last, (char *)m + hdr[0] - 8, 8);
        sum += (last ^ hdr[0]) + hdr[1] + ((unsigned char *)m)[12];
        free(m);
    }
    p->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = (int)arg_long(argc, argv, 1, 1);
    long total = arg_long(argc, argv, 2, 40) * 100000L;
    if (n > 128) n = 128;
    struct pair *pairs = aligned_alloc(64, sizeof *pairs * (size_t)n);
    if (!pairs) die("aligned_alloc");
    pthread_t tid[256];
    for (int i = 0; i < n; i++) {
        atomic_init(&pairs[i].head, 0);
        atomic_init(&pairs[i].tail, 0);
        pairs[i].id = i;
        pairs[i].messages = total / n;
        pairs[i].sum = 0;
    }
    for (int i = 0; i < n; i++) {
        if ((errno = pthread_create(&tid[2 * i], NULL, consumer, &pairs[i]))) die("pthread_create");
        if ((errno = pthread_create(&tid[2 * i + 1], NULL, producer, &pairs[i]))) die("pthread_create");
    }
    for (int i = 0; i < 2 * n; i++) pthread_join(tid[i], NULL);
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) sum = sum * 1000003 + pairs[i].sum;
    free(pairs);
    print_checksum(sum);
    return 0;
}
