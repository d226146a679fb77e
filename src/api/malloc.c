#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc/heap.h"
#include "alloc/pages.h"
#include "api/api.h"
#include "backing/arena.h"

void *fsm_malloc(size_t n)
{
    struct heap *h = tls_heap;
    if (likely(h != NULL && n <= SMALL_MAX))
        return heap_alloc(h, size_class(n));
    return fsm_malloc_slow(n);
}

void *fsm_malloc_slow(size_t n)
{
    if (unlikely(!fsm_ready) && !fsm_init())
        return bootstrap_alloc(n);
    if (n <= SMALL_MAX) {
        struct heap *h = fsm_thread_heap();
        if (!h) {
            errno = ENOMEM;
            return NULL;
        }
        return heap_alloc(h, size_class(n));
    }
    return fsm_large_alloc(n, 1, NULL);
}

void *fsm_large_alloc(size_t n, size_t align, bool *zeroed)
{
    if (n > PTRDIFF_MAX || align > PTRDIFF_MAX / 2) {
        errno = ENOMEM;
        return NULL;
    }
    size_t align_pages = align > PAGE_SIZE ? align >> PAGE_SHIFT : 1;
    bool z;
    struct run *r = pages_alloc(n ? pages_for(n) : 1, align_pages, NULL, &z);
    if (!r)
        return NULL;
    arena_start_services();   /* no lock held: see backing/arena.h */
    if (zeroed)
        *zeroed = z;
    return (void *)r->start;
}

void fsm_free(void *p)
{
    if (likely(arena_contains(p))) {
        uintptr_t e = pagemap_entry((uintptr_t)p);
        if (likely(e & PAGEMAP_SLAB)) {
            heap_free((struct slab *)(e - PAGEMAP_SLAB), p);
            return;
        }
        if (!e)
            pages_bad_pointer("free", p);
        large_free(p, (struct run *)e);
        return;
    }
    if (!p || bootstrap_owns(p))
        return;
    msg_fatal_ptr("free of a pointer malloc never returned:", p);
}

FSMEM_EXPORT_AS(malloc, fsm_malloc)
FSMEM_EXPORT_AS(free, fsm_free)
