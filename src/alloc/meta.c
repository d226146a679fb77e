#include "alloc/meta.h"

#include <string.h>
#include <sys/mman.h>

#define META_BLOCK ((size_t)4 << 20)

static lock_t meta_lock = LOCK_INIT;
static char *cursor, *limit;

void *meta_alloc(size_t size)
{
    size = (size + 63) & ~(size_t)63;
    if (size >= META_BLOCK / 4) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    lock_acquire(&meta_lock);
    if ((size_t)(limit - cursor) < size) {
        void *p = mmap(NULL, META_BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                       -1, 0);
        if (p == MAP_FAILED) {
            lock_release(&meta_lock);
            return NULL;
        }
        cursor = p;
        limit = cursor + META_BLOCK;
    }
    void *r = cursor;
    cursor += size;
    lock_release(&meta_lock);
    return r;
}

void *pool_get(struct meta_pool *p)
{
    lock_acquire(&p->lock);
    void *r = p->free;
    if (r)
        p->free = *(void **)r;
    lock_release(&p->lock);
    if (!r)
        return meta_alloc(p->size);
    memset(r, 0, p->size);
    return r;
}

void pool_put(struct meta_pool *p, void *rec)
{
    lock_acquire(&p->lock);
    *(void **)rec = p->free;
    p->free = rec;
    lock_release(&p->lock);
}

void meta_fork(enum fork_phase phase)
{
    lock_fork(&meta_lock, phase);
}
