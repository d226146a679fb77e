/* Slabs: runs of pages cut into objects of one size class.
 *
 * A slab belongs to one thread heap, its owner, which alone allocates from
 * it. Which slots are free is recorded out of band, in bitmaps: free_bits
 * is the owner's, plain memory; remote_bits (slab_remote_bits) collects
 * frees from other threads with atomic OR, and the owner merges it into
 * free_bits when it runs short. A bitmap, not a free list threaded
 * through the objects, because a free list would make free() write into
 * the object's page, which may be on disk; and because a bit that is
 * already set is a double free, caught on the spot.
 *
 * Slots a slab has never used are not in free_bits yet: avail counts the
 * slots made free so far, and the owner adds the next class_info.extend
 * (a page's worth) only when it has no free slot left, no remote free
 * is waiting, and no other listed slab of the class that the owner looks
 * at has a page's worth free (heap.c, retire_current). So a class touches as many pages as it holds objects, not a
 * whole slab, and slots freed by other threads are taken again before
 * fresh pages are. A slot at or above avail was never handed out.
 *
 * A slab the owner finds exhausted is unlisted and marked SLAB_FULL. The
 * first remote free into a full slab moves it to SLAB_QUEUED and pushes it
 * on the owner's ready stack, where the owner finds it again. Both sides
 * publish first and look second (sequentially consistent): the remote
 * thread sets its bit, then reads the state; the owner stores FULL, then
 * looks for bits. So a slab cannot be left full with a pending remote
 * free that nobody saw. remote_count only says whether to look: it is
 * raised before the bit is set and lowered after the bit is merged. */
#ifndef FSMEM_ALLOC_SLAB_H
#define FSMEM_ALLOC_SLAB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc/sizes.h"
#include "util/lock.h"

enum slab_state { SLAB_ACTIVE, SLAB_FULL, SLAB_QUEUED };

struct heap;
struct run;

struct slab {
    /* Fixed while the slab lives (avail only grows, and seldom): read by
     * every free, from any thread. */
    uintptr_t start;
    struct heap *owner;
    uint64_t recip;       /* the class's reciprocal, for slot_of */
    uint32_t size;
    uint32_t cls;
    uint32_t avail;       /* slots [0, avail) handed out or free; none above */
    uint32_t remote_at;   /* where remote_bits starts, in words from free_bits */
    struct run *run;
    /* Shared with other threads. */
    _Alignas(64) _Atomic uint32_t state;
    _Atomic uint32_t remote_count;       /* a hint: remote frees not yet merged */
    struct slab *next_ready;
    /* The owner's working state, written on every malloc and free. A line
     * of its own: if frees from other threads read it, each of them would
     * take it from the owner's cache and the owner's next malloc would
     * have to fetch it back. */
    _Alignas(64) uint32_t used;   /* slots not free in the owner's view */
    uint32_t cursor;      /* no free bit below this word */
    bool listed;          /* the heap's current slab or on its partial list */
    struct slab *next, *prev;            /* partial list */
    /* As many words as the class's slots need (rounded up to a power of
     * two), then remote_bits, as many again, from the next cache line
     * on: a record is only as large as its class needs (256 bytes for up
     * to 64 slots, 1216 for 4096), since records live in memory that is
     * never paged out. */
    uint64_t free_bits[];
};

/* The bitmap other threads' frees set, with atomic OR. */
static inline _Atomic uint64_t *slab_remote_bits(struct slab *s)
{
    return (_Atomic uint64_t *)(s->free_bits + s->remote_at);
}

/* A new slab of class cls owned by h, all slots free; NULL when out of memory. */
struct slab *slab_new(struct heap *h, unsigned cls);
/* Gives an empty slab's pages back. */
void slab_release(struct slab *s);
/* Makes the next slots the slab has never used free; false when none
 * are left. Owner only. */
bool slab_extend(struct slab *s);
/* Bitmap words that can hold a bit: none lies at or above avail. */
static inline uint32_t slab_words(const struct slab *s)
{
    return (s->avail + 63) / 64;
}
/* Whether slot lies where the slab has handed out slots; other threads
 * may ask, since avail only grows while the slab lives. */
static inline bool slab_slot_known(struct slab *s, uint32_t slot)
{
    return slot < __atomic_load_n(&s->avail, __ATOMIC_RELAXED);
}
/* Folds remote frees into free_bits; returns how many slots it freed.
 * Aborts on a slot freed twice. Owner only. */
uint32_t slab_merge_remote(struct slab *s);
/* Whether slot is free, as far as any thread can tell without a lock.
 * An allocated slot's bits are clear and nobody else may set them, so a
 * racy read never calls a live slot free. */
static inline bool slab_slot_free(struct slab *s, uint32_t slot)
{
    uint64_t bit = UINT64_C(1) << (slot & 63);
    return ((__atomic_load_n(&s->free_bits[slot >> 6], __ATOMIC_RELAXED) |
             atomic_load_explicit(&slab_remote_bits(s)[slot >> 6], memory_order_relaxed)) &
            bit) != 0;
}

/* Whether a remote free's bit is waiting (sequentially consistent loads:
 * see retire_current). Owner only. */
bool slab_has_remote(struct slab *s);
/* free() from a thread other than the owner. */
void slab_free_remote(struct slab *s, uint32_t slot);

void slab_fork(enum fork_phase phase);

#endif
