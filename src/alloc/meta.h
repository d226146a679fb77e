/* Metadata memory: ordinary anonymous pages, never inside the heap.
 *
 * Everything the allocator knows about the heap (page map, runs, slabs,
 * thread heaps) lives here, so freeing a block whose page is on disk
 * touches nothing on disk, and a stray write into user data cannot corrupt
 * the allocator. Memory handed out here is zeroed and never unmapped;
 * fixed-size records are recycled through pools. */
#ifndef FSMEM_ALLOC_META_H
#define FSMEM_ALLOC_META_H

#include <stddef.h>

#include "util/lock.h"

/* Zeroed, 64-byte aligned; NULL when the system is out of memory. */
void *meta_alloc(size_t size);

struct meta_pool {
    lock_t lock;
    size_t size;
    void *free;
};

#define META_POOL(type) {LOCK_INIT, sizeof(type), NULL}

/* A zeroed record from the pool, or NULL. */
void *pool_get(struct meta_pool *p);
void pool_put(struct meta_pool *p, void *rec);

void meta_fork(enum fork_phase phase);

#endif
