/* fsmem_advise: a program that knows how it will use part of its heap
 * says so, and the kernel's paging of the backing files follows. */
#include <errno.h>
#include <stdint.h>

#include "alloc/pages.h"
#include "api/api.h"
#include "fsmem.h"

FSMEM_API int fsmem_advise(void *addr, size_t len, int advice)
{
    enum arena_advice how;
    switch (advice) {
    case FSMEM_ADVISE_NORMAL: how = ADVICE_NORMAL; break;
    case FSMEM_ADVISE_SEQUENTIAL: how = ADVICE_SEQUENTIAL; break;
    case FSMEM_ADVISE_RANDOM: how = ADVICE_RANDOM; break;
    case FSMEM_ADVISE_WILLNEED: how = ADVICE_WILLNEED; break;
    case FSMEM_ADVISE_COLD: how = ADVICE_COLD; break;
    default: errno = EINVAL; return -1;
    }
    if (!fsm_ready) {
        errno = ENODEV;
        return -1;
    }
    uintptr_t start = (uintptr_t)addr, end = start + len;
    if (end < start) {
        errno = EINVAL;
        return -1;
    }
    if (len == 0)
        return 0;
    start &= ~(uintptr_t)(PAGE_SIZE - 1);
    end = (end + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
    /* The page lock keeps the arena's layout (which pieces are RAM, frozen
     * or shared) still while the advice is applied. */
    lock_acquire(&page_lock);
    if (start < arena.base)
        start = arena.base;
    if (end > arena.top)
        end = arena.top;
    int err = start < end ? arena_advise(start, end - start, how) : EINVAL;
    lock_release(&page_lock);
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
