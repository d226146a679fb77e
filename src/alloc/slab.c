#include "alloc/slab.h"

#include <stddef.h>
#include <string.h>

#include "alloc/heap.h"
#include "alloc/meta.h"
#include "alloc/pages.h"
#include "util/msg.h"

/* Slab records come in seven sizes, for bitmaps of 1, 2, 4 ... 64 words,
 * each size recycled through a pool of its own. In a record for w words
 * remote_bits starts on the first cache line after free_bits. */
#define BITS_AT offsetof(struct slab, free_bits)
#define LINE_UP(n) (((n) + 63) & ~(size_t)63)
#define REMOTE_AT(w) ((LINE_UP(BITS_AT + 8 * (size_t)(w)) - BITS_AT) / 8)
#define RECORD_SIZE(w) LINE_UP(BITS_AT + 8 * (REMOTE_AT(w) + (w)))
#define RECORD_POOL(w) {LOCK_INIT, RECORD_SIZE(w), NULL}
#define RECORD_KINDS 7
static struct meta_pool record_pool[RECORD_KINDS] = {
    RECORD_POOL(1),  RECORD_POOL(2),  RECORD_POOL(4),  RECORD_POOL(8),
    RECORD_POOL(16), RECORD_POOL(32), RECORD_POOL(64),
};
_Static_assert(SLAB_WORDS == 64, "one record size per power of two up to SLAB_WORDS");

/* The record kind for a class: its bitmap words, rounded up to a power of two. */
static unsigned record_kind(unsigned cls)
{
    uint32_t words = (class_table[cls].slots + 63) / 64;
    return words <= 1 ? 0 : 32 - (unsigned)__builtin_clz(words - 1);
}

struct slab *slab_new(struct heap *h, unsigned cls)
{
    const struct class_info *ci = &class_table[cls];
    unsigned kind = record_kind(cls);
    struct slab *s = pool_get(&record_pool[kind]);
    if (!s)
        return NULL;
    s->remote_at = (uint32_t)REMOTE_AT(1u << kind);
    bool zeroed;
    struct run *r = pages_alloc(ci->pages, 1, s, &zeroed);
    if (!r) {
        pool_put(&record_pool[kind], s);
        return NULL;
    }
    s->start = r->start;   /* s->run was set by pages_alloc */
    s->size = ci->size;
    s->recip = ci->recip;
    s->cls = cls;
    s->owner = h;
    slab_extend(s);
    return s;
}

/* Bits lo..hi-1 of a word, 0 <= lo < hi <= 64. */
static uint64_t bit_range(uint32_t lo, uint32_t hi)
{
    uint64_t below_hi = hi == 64 ? ~UINT64_C(0) : (UINT64_C(1) << hi) - 1;
    return below_hi & ~((UINT64_C(1) << lo) - 1);
}

bool slab_extend(struct slab *s)
{
    const struct class_info *ci = &class_table[s->cls];
    uint32_t from = s->avail;
    if (from >= ci->slots)
        return false;
    uint32_t to = ci->slots - from > ci->extend ? from + ci->extend : ci->slots;
    for (uint32_t w = from / 64; w * 64 < to; w++) {
        uint32_t lo = from > w * 64 ? from - w * 64 : 0;
        uint32_t hi = to < (w + 1) * 64 ? to - w * 64 : 64;
        s->free_bits[w] |= bit_range(lo, hi);
    }
    __atomic_store_n(&s->avail, to, __ATOMIC_RELAXED);
    if (from / 64 < s->cursor)
        s->cursor = from / 64;
    return true;
}

void slab_release(struct slab *s)
{
    pages_free(s->run);
    pool_put(&record_pool[record_kind(s->cls)], s);
}

uint32_t slab_merge_remote(struct slab *s)
{
    if (atomic_load_explicit(&s->remote_count, memory_order_acquire) == 0)
        return 0;
    uint32_t nwords = slab_words(s);
    _Atomic uint64_t *remote_bits = slab_remote_bits(s);
    uint32_t freed = 0, lowest = nwords;
    for (uint32_t w = 0; w < nwords; w++) {
        if (!atomic_load_explicit(&remote_bits[w], memory_order_relaxed))
            continue;
        uint64_t b = atomic_exchange_explicit(&remote_bits[w], 0, memory_order_acquire);
        if (b & s->free_bits[w])
            msg_fatal_ptr("double free of",
                          (void *)(s->start + ((uintptr_t)w * 64 +
                                               (unsigned)__builtin_ctzl(b & s->free_bits[w])) *
                                                  s->size));
        s->free_bits[w] |= b;
        freed += (uint32_t)__builtin_popcountl(b);
        if (w < lowest)
            lowest = w;
    }
    atomic_fetch_sub_explicit(&s->remote_count, freed, memory_order_relaxed);
    if (lowest < s->cursor)
        s->cursor = lowest;
    s->used -= freed;
    return freed;
}

bool slab_has_remote(struct slab *s)
{
    /* The count is raised before a bit is set, and the remote free reads
     * the state after: a count still zero here (after FULL was stored)
     * means any free yet to come will see FULL and queue the slab. */
    if (atomic_load(&s->remote_count) == 0)
        return false;
    for (uint32_t w = 0; w < slab_words(s); w++)
        if (atomic_load(&slab_remote_bits(s)[w]))
            return true;
    return false;
}

void slab_free_remote(struct slab *s, uint32_t slot)
{
    uint64_t bit = UINT64_C(1) << (slot & 63);
    if (__atomic_load_n(&s->free_bits[slot >> 6], __ATOMIC_RELAXED) & bit)
        msg_fatal_ptr("double free of", (void *)(s->start + (uintptr_t)slot * s->size));
    /* Count first, bit second: once the bit is out, the owner may merge
     * it, find the slab empty and recycle its record, so a late increment
     * would land on another slab and leave it a count with no bit behind
     * it. This way the count is never below the bits pending. */
    atomic_fetch_add(&s->remote_count, 1);
    uint64_t old = atomic_fetch_or(&slab_remote_bits(s)[slot >> 6], bit);
    if (old & bit)
        msg_fatal_ptr("double free of", (void *)(s->start + (uintptr_t)slot * s->size));
    /* Only the state is read after the bit: a recycled record is never
     * FULL while its slots are all free, so at worst a slab of the new
     * owner is queued early, which drain_ready tolerates. */
    uint32_t full = SLAB_FULL;
    if (atomic_load(&s->state) == SLAB_FULL &&
        atomic_compare_exchange_strong(&s->state, &full, SLAB_QUEUED))
        heap_push_ready(s->owner, s);
}

void slab_fork(enum fork_phase phase)
{
    for (unsigned k = 0; k < RECORD_KINDS; k++)
        lock_fork(&record_pool[phase == FORK_PREPARE ? k : RECORD_KINDS - 1 - k].lock, phase);
}
