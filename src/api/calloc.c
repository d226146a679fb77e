#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/sizes.h"
#include "api/api.h"

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
    if (p && !zeroed)
        memset(p, 0, n);
    return p;
}

FSMEM_EXPORT_AS(calloc, fsm_calloc)
