/* Memory for the few calls that arrive before fsmem is initialised (the
 * dynamic loader and dlsym call malloc before any constructor runs) or
 * while init itself runs. Never reused: what is freed here stays. */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "api/api.h"

#define BOOTSTRAP_SIZE (256 * 1024)
#define HEADER 16   /* keeps every block 16-byte aligned and holds its size */

static alignas(64) char area[BOOTSTRAP_SIZE];
static _Atomic size_t used;

void *bootstrap_alloc(size_t n)
{
    if (n > BOOTSTRAP_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    size_t len = HEADER + ((n + 15) & ~(size_t)15);
    size_t off = atomic_fetch_add(&used, len);
    if (off + len > BOOTSTRAP_SIZE) {
        errno = ENOMEM;
        return NULL;
    }
    *(size_t *)(area + off) = n;
    return area + off + HEADER;
}

bool bootstrap_owns(const void *p)
{
    return (uintptr_t)p - (uintptr_t)area < BOOTSTRAP_SIZE;
}

size_t bootstrap_size(const void *p)
{
    return *(const size_t *)((const char *)p - HEADER);
}
