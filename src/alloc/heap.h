/* Thread heaps: the malloc and free fast paths.
 *
 * Each thread allocates small objects from a heap of its own: per size
 * class, a current slab and a list of partial ones. The fast paths touch
 * only the thread's heap and the slab's owner-only fields: no lock, no
 * atomic read-modify-write, no system call. A heap outlives its thread: at
 * thread exit it is marked free and the next new thread adopts it with
 * its slabs, so nothing has to be walked or returned at exit. */
#ifndef FSMEM_ALLOC_HEAP_H
#define FSMEM_ALLOC_HEAP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "alloc/sizes.h"
#include "alloc/slab.h"
#include "util/msg.h"

struct heap {
    struct slab *current[NCLASSES];
    struct slab *partial[NCLASSES];
    _Atomic(struct slab *) ready;   /* pushed by remote frees */
    struct heap *next_all;
    bool in_use;
};

extern __thread struct heap *tls_heap;

/* The calling thread's heap, adopting or creating one; NULL if out of memory. */
struct heap *heap_attach(void);
/* Thread exit: the heap becomes free for the next thread. */
void heap_detach(struct heap *h);
void heap_push_ready(struct heap *h, struct slab *s);
void *heap_alloc_slow(struct heap *h, unsigned cls);
void heap_free_slow(struct heap *h, struct slab *s);
void heap_fork(enum fork_phase phase);

/* Takes the lowest free slot of word w, whose bits are non-zero. */
static inline void *slab_take(struct slab *s, uint32_t w, uint64_t bits)
{
    s->free_bits[w] = bits & (bits - 1);
    s->used++;
    return (void *)(s->start + ((uintptr_t)w * 64 + (unsigned)__builtin_ctzl(bits)) * s->size);
}

static inline void *heap_alloc(struct heap *h, unsigned cls)
{
    struct slab *s = h->current[cls];
    if (__builtin_expect(s != NULL, 1)) {
        uint32_t w = s->cursor;
        uint64_t bits = s->free_bits[w];
        if (__builtin_expect(bits != 0, 1))
            return slab_take(s, w, bits);
    }
    return heap_alloc_slow(h, cls);
}

/* free() of a small object p in slab s. */
static inline void heap_free(struct slab *s, void *p)
{
    uintptr_t off = (uintptr_t)p - s->start;
    uint32_t slot = slot_of(off, s->recip);
    if (__builtin_expect((uintptr_t)slot * s->size != off || !slab_slot_known(s, slot), 0))
        msg_fatal_ptr("free of a pointer malloc never returned:", p);
    struct heap *h = tls_heap;
    if (__builtin_expect(s->owner != h, 0)) {
        slab_free_remote(s, slot);
        return;
    }
    uint32_t w = slot >> 6;
    uint64_t bit = UINT64_C(1) << (slot & 63);
    if (__builtin_expect(s->free_bits[w] & bit, 0))
        msg_fatal_ptr("double free of", p);
    s->free_bits[w] |= bit;
    if (w < s->cursor)
        s->cursor = w;
    if (__builtin_expect(--s->used == 0 || !s->listed, 0))
        heap_free_slow(h, s);
}

#endif
