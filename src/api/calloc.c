#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/pages.h"
#include "alloc/sizes.h"
#include "api/api.h"

/* Zeroing a big recycled block by dropping its pages beats writing zeros:
 * nothing is touched that the program does not touch itself, and dirty
 * file pages are not written back for nothing. For smaller RAM blocks,
 * memset is cheaper than a page fault per page when the program then
 * writes them all (the usual case), so RAM uses the threshold at which
 * freed blocks are given back; a file range is zeroed by the filesystem
 * from ZERO_MIN_FILE up, since its dirty pages would be written back. */
#define ZERO_MIN_FILE ((size_t)1 << 20)

static bool zero_by_dropping(void *p, size_t n)
{
    if (n < (arena_in_ram((uintptr_t)p) ? PUNCH_MIN : ZERO_MIN_FILE))
        return false;
    size_t len = (n + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    lock_acquire(&page_lock);
    bool done = arena_zero((uintptr_t)p, len);
    lock_release(&page_lock);
    return done;
}

void *fsm_calloc(size_t count, size_t size)
{
    size_t n;
    if (__builtin_mul_overflow(count, size, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    if (n <= SMALL_MAX || !fsm_ready) {
        void *p = fsm_malloc(n);
        if (p)
            memset(p, 0, n);
        return p;
    }
    /* Fresh or punched pages already read as zero: writing zeros would
     * only make the kernel allocate and later write back pages for nothing. */
    bool zeroed;
    void *p = fsm_large_alloc(n, 1, &zeroed);
    if (p && !zeroed && !zero_by_dropping(p, n))
        memset(p, 0, n);
    return p;
}

FSMEM_EXPORT_AS(calloc, fsm_calloc)
