#include <malloc.h>
#include <stdint.h>

#include "alloc/heap.h"
#include "alloc/pages.h"
#include "api/api.h"

size_t fsm_usable_size(void *p)
{
    if (arena_contains(p)) {
        struct run *r = pagemap_get((uintptr_t)p);
        if (!r)
            return 0;
        if (r->slab)
            return r->slab->size;
        return r->kind == RUN_LARGE ? r->npages << PAGE_SHIFT : 0;
    }
    if (p && bootstrap_owns(p))
        return bootstrap_size(p);
    return 0;
}

FSMEM_EXPORT_AS(malloc_usable_size, fsm_usable_size)
