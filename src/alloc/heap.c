#include "alloc/heap.h"

#include <errno.h>

#include "alloc/meta.h"
#include "backing/arena.h"
#include "util/lock.h"

__thread struct heap *tls_heap;

static lock_t heaps_lock = LOCK_INIT;
static struct heap *all_heaps;

struct heap *heap_attach(void)
{
    lock_acquire(&heaps_lock);
    struct heap *h = all_heaps;
    while (h && h->in_use)
        h = h->next_all;
    if (!h) {
        h = meta_alloc(sizeof *h);
        if (h) {
            h->next_all = all_heaps;
            all_heaps = h;
        }
    }
    if (h)
        h->in_use = true;
    lock_release(&heaps_lock);
    tls_heap = h;
    return h;
}

void heap_detach(struct heap *h)
{
    tls_heap = NULL;
    lock_acquire(&heaps_lock);
    h->in_use = false;
    lock_release(&heaps_lock);
}

void heap_push_ready(struct heap *h, struct slab *s)
{
    struct slab *head = atomic_load_explicit(&h->ready, memory_order_relaxed);
    do
        s->next_ready = head;
    while (!atomic_compare_exchange_weak_explicit(&h->ready, &head, s, memory_order_release,
                                                  memory_order_relaxed));
}

static void partial_push(struct heap *h, struct slab *s)
{
    s->listed = true;
    s->prev = NULL;
    s->next = h->partial[s->cls];
    if (s->next)
        s->next->prev = s;
    h->partial[s->cls] = s;
}

static void partial_unlink(struct heap *h, struct slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        h->partial[s->cls] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->listed = false;
}

/* Slabs that remote frees made allocatable again go back on partial lists
 * (or back to the page allocator when nothing in them is live). */
static void drain_ready(struct heap *h)
{
    struct slab *s = atomic_exchange_explicit(&h->ready, NULL, memory_order_acquire);
    while (s) {
        struct slab *next = s->next_ready;
        atomic_store(&s->state, SLAB_ACTIVE);
        slab_merge_remote(s);
        if (s->used == 0)
            slab_release(s);
        else
            partial_push(h, s);
        s = next;
    }
}

/* The first free slot at or above the cursor, or NULL. */
static void *take_slot(struct slab *s)
{
    uint32_t nwords = slab_words(s);
    for (uint32_t w = s->cursor; w < nwords; w++) {
        uint64_t bits = s->free_bits[w];
        if (bits) {
            s->cursor = w;
            return slab_take(s, w, bits);
        }
    }
    s->cursor = nwords ? nwords - 1 : 0;
    return NULL;
}

/* How many listed slabs retire_current looks through: the one it just
 * put back usually heads the list, so looking at the head alone would
 * miss the slab behind it that other threads have been freeing into. */
#define REUSE_SCAN 4

/* A partial slab of class cls with at least a page's worth of free slots
 * (remote frees merged), unlinked; NULL if the first REUSE_SCAN have
 * fewer. Slabs that remote frees queued are listed first. */
static struct slab *reusable_partial(struct heap *h, unsigned cls)
{
    if (atomic_load_explicit(&h->ready, memory_order_relaxed))
        drain_ready(h);
    uint32_t want = class_table[cls].extend;
    struct slab *o = h->partial[cls];
    for (int i = 0; o && i < REUSE_SCAN; i++, o = o->next) {
        if (o->avail - o->used + atomic_load_explicit(&o->remote_count, memory_order_relaxed) <
            want)
            continue;
        slab_merge_remote(o);
        if (o->avail - o->used >= want) {
            partial_unlink(h, o);
            return o;
        }
    }
    return NULL;
}

/* The current slab has no free slot left in the owner's view. Slots
 * other threads freed come first, in this slab and then in the class's
 * other slabs, and slots never used last: reusing memory that is
 * already resident before touching more. Without the second step a
 * class whose objects other threads free (a pipeline) extends its
 * current slab to the end while freed slots wait in the others. */
static void *retire_current(struct heap *h, struct slab *s)
{
    if (slab_merge_remote(s))
        return take_slot(s);
    if (s->avail < class_table[s->cls].slots) {
        struct slab *o = reusable_partial(h, s->cls);
        if (o) {
            partial_push(h, s);
            o->listed = true;
            h->current[s->cls] = o;
            return take_slot(o);
        }
    }
    if (slab_extend(s))
        return take_slot(s);
    h->current[s->cls] = NULL;
    s->listed = false;
    atomic_store(&s->state, SLAB_FULL);
    /* A remote free may have landed between the merge and the store. Its
     * bit, not the count, decides: a count raised by a free whose bit is
     * not out yet would send this loop round and round until it is, while
     * that free will see FULL and queue the slab itself. */
    uint32_t full = SLAB_FULL;
    if (slab_has_remote(s) && atomic_compare_exchange_strong(&s->state, &full, SLAB_ACTIVE)) {
        s->listed = true;
        h->current[s->cls] = s;
        slab_merge_remote(s);
        return take_slot(s);
    }
    return NULL;
}

void *heap_alloc_slow(struct heap *h, unsigned cls)
{
    for (;;) {
        struct slab *s = h->current[cls];
        if (s) {
            void *p = take_slot(s);
            if (!p)
                p = retire_current(h, s);
            if (p)
                return p;
            continue;
        }
        if (!h->partial[cls])
            drain_ready(h);
        s = h->partial[cls];
        if (s) {
            partial_unlink(h, s);
        } else {
            s = slab_new(h, cls);
            if (!s) {
                errno = ENOMEM;
                return NULL;
            }
        }
        s->listed = true;
        h->current[cls] = s;
        /* A consistent heap and no lock held: starting a thread, which
         * may allocate, is safe here. */
        arena_start_services();
    }
}

/* An owner's free made a slab empty, or freed into an unlisted slab. */
void heap_free_slow(struct heap *h, struct slab *s)
{
    if (!s->listed) {
        uint32_t full = SLAB_FULL;
        if (!atomic_compare_exchange_strong(&s->state, &full, SLAB_ACTIVE))
            return;   /* queued: drain_ready will see it */
        partial_push(h, s);
    }
    if (s->used == 0 && h->current[s->cls] != s) {
        partial_unlink(h, s);
        slab_release(s);
    }
}

void heap_fork(enum fork_phase phase)
{
    lock_fork(&heaps_lock, phase);
    /* Only the forking thread survives; every other heap is up for adoption. */
    if (phase == FORK_CHILD)
        for (struct heap *h = all_heaps; h; h = h->next_all)
            h->in_use = h == tls_heap;
}
