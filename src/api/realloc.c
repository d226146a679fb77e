#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/heap.h"
#include "alloc/pages.h"
#include "api/api.h"

static void *move(void *p, size_t old, size_t n)
{
    void *q = fsm_malloc(n);
    if (q) {
        /* A growing large block's pages can change address instead of
         * being copied (old is then its whole run, and q a run as long). */
        if (n < old || old <= SMALL_MAX || !arena_move((uintptr_t)p, (uintptr_t)q, old))
            memcpy(q, p, old < n ? old : n);
        fsm_free(p);
    }
    return q;
}

/* A small block stays where it is while the new size still maps to a
 * class no more than twice too big. */
static void *realloc_small(struct slab *s, void *p, size_t n)
{
    uintptr_t off = (uintptr_t)p - s->start;
    uint32_t slot = slot_of(off, s->recip);
    if ((uintptr_t)slot * s->size != off || !slab_slot_known(s, slot))
        msg_fatal_ptr("realloc of a pointer malloc never returned:", p);
    if (slab_slot_free(s, slot))
        msg_fatal_ptr("realloc of freed memory at", p);
    if (n <= s->size && (s->size <= 64 || n > s->size / 2))
        return p;
    return move(p, s->size, n);
}

/* Room a large block that has to move, growing by less than a quarter, is
 * given to grow in: a quarter of its new size. So a buffer grown a little
 * at a time (a string appended to, one realloc per append) is copied a
 * few times per doubling instead of at every page, while one that grows
 * by doubling, and would not use the room before its next move, gets
 * exactly what it asks for. */
static size_t growth_room(size_t pages)
{
    size_t room = pages / 4;
    size_t cap = (size_t)1 << (30 - PAGE_SHIFT);
    return room < cap ? room : cap;
}

static void *realloc_large(struct run *r, void *p, size_t n)
{
    if (r->kind != RUN_LARGE || r->start != (uintptr_t)p)
        msg_fatal_ptr(r->start == (uintptr_t)p ? "realloc of freed memory at"
                                               : "realloc of a pointer malloc never returned:",
                      p);
    size_t old = r->npages << PAGE_SHIFT;
    if (n <= SMALL_MAX)
        return move(p, old, n);
    if (n > PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    size_t pages = pages_for(n), room = growth_room(pages);
    /* A block that already spans the new size keeps its room (a shrink
     * by less than the room a move would give), the rest grows or
     * shrinks in place where its neighbour allows. */
    if ((pages <= r->npages && r->npages - pages <= room) || large_resize(r, pages))
        return p;
    /* With room if there is address space for it, else exactly. */
    if (pages > r->npages && pages - r->npages < room) {
        void *q = move(p, old, (pages + room) << PAGE_SHIFT);
        if (q)
            return q;
    }
    return move(p, old, n);
}

void *fsm_realloc(void *p, size_t n)
{
    if (!p)
        return fsm_malloc(n);
    if (n == 0) {
        fsm_free(p);
        return NULL;
    }
    if (arena_contains(p)) {
        struct run *r = pagemap_get((uintptr_t)p);
        if (!r)
            pages_bad_pointer("realloc", p);
        return r->slab ? realloc_small(r->slab, p, n) : realloc_large(r, p, n);
    }
    if (bootstrap_owns(p)) {
        void *q = fsm_malloc(n);
        size_t old = bootstrap_size(p);
        if (q)
            memcpy(q, p, old < n ? old : n);
        return q;
    }
    msg_fatal_ptr("realloc of a pointer malloc never returned:", p);
}

void *fsm_reallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return fsm_realloc(p, n);
}

FSMEM_EXPORT_AS(realloc, fsm_realloc)
FSMEM_EXPORT_AS(reallocarray, fsm_reallocarray)
