#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc/heap.h"
#include "alloc/pages.h"
#include "api/api.h"

/* align: a power of two. Small objects are aligned by choosing a class
 * whose size is a multiple of align (slabs start on a page, objects sit at
 * multiples of their size); larger alignments are page runs. */
void *fsm_memalign(size_t align, size_t n)
{
    if (align <= MIN_ALIGN)
        return fsm_malloc(n);
    if (unlikely(!fsm_ready) && !fsm_init()) {
        errno = ENOMEM;   /* the bootstrap area only does 16-byte alignment */
        return NULL;
    }
    if (n <= SMALL_MAX && align <= PAGE_SIZE) {
        unsigned c = size_class(n < align ? align : n);
        while (c < NCLASSES && class_table[c].size % align)
            c++;
        if (c < NCLASSES) {
            struct heap *h = fsm_thread_heap();
            if (!h) {
                errno = ENOMEM;
                return NULL;
            }
            return heap_alloc(h, c);
        }
    }
    return fsm_large_alloc(n, align, NULL);
}

static bool power_of_two(size_t x) { return x && !(x & (x - 1)); }

int fsm_posix_memalign(void **out, size_t align, size_t n)
{
    if (!power_of_two(align) || align % sizeof(void *))
        return EINVAL;
    int saved = errno;
    void *p = fsm_memalign(align, n);
    if (!p) {
        int e = errno;
        errno = saved;
        return e ? e : ENOMEM;
    }
    *out = p;
    return 0;
}

void *fsm_aligned_alloc(size_t align, size_t n)
{
    if (!power_of_two(align)) {
        errno = EINVAL;
        return NULL;
    }
    return fsm_memalign(align, n);
}

/* memalign, like glibc's, rounds a non-power-of-two alignment up. */
void *fsm_memalign_any(size_t align, size_t n)
{
    if (align > PTRDIFF_MAX / 2 + 1) {
        errno = EINVAL;
        return NULL;
    }
    if (!power_of_two(align))
        align = align <= 1 ? 1 : (size_t)1 << (64 - __builtin_clzl(align - 1));
    return fsm_memalign(align, n);
}

void *fsm_valloc(size_t n) { return fsm_memalign(PAGE_SIZE, n); }

void *fsm_pvalloc(size_t n)
{
    size_t rounded = (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (rounded < n) {
        errno = ENOMEM;
        return NULL;
    }
    return fsm_memalign(PAGE_SIZE, rounded ? rounded : PAGE_SIZE);
}

FSMEM_EXPORT_AS(posix_memalign, fsm_posix_memalign)
FSMEM_EXPORT_AS(aligned_alloc, fsm_aligned_alloc)
FSMEM_EXPORT_AS(memalign, fsm_memalign_any)
FSMEM_EXPORT_AS(valloc, fsm_valloc)
FSMEM_EXPORT_AS(pvalloc, fsm_pvalloc)
