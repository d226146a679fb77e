/* Shared by the malloc-family entry points. */
#ifndef FSMEM_API_API_H
#define FSMEM_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include "util/settings.h"

/* Entry points are defined under internal names and exported under the
 * standard ones; unit tests build without the exports (FSMEM_NO_INTERPOSE)
 * so that the sanitizers' own malloc stays in charge of the process. */
#ifdef FSMEM_NO_INTERPOSE
#define FSMEM_EXPORT_AS(name, impl)
#else
#define FSMEM_EXPORT_AS(name, impl) \
    extern __typeof(impl) name __attribute__((alias(#impl), visibility("default")));
#endif

/* The fsmem_* calls of include/fsmem.h, exported by their own names. */
#define FSMEM_API __attribute__((visibility("default")))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

extern struct settings fsm_settings;
extern bool fsm_ready;   /* set once init has completed */

/* Initialises fsmem if needed; false while init runs on this thread (the
 * caller then serves the request from the bootstrap area). Exits the
 * process on a bad setting. */
bool fsm_init(void);

void *fsm_malloc(size_t n);
void fsm_free(void *p);
void *fsm_calloc(size_t count, size_t size);
void *fsm_realloc(void *p, size_t n);
void *fsm_memalign(size_t align, size_t n);
size_t fsm_usable_size(void *p);

/* Slow paths of fsm_malloc, also used by aligned and zeroed allocation. */
void *fsm_malloc_slow(size_t n);
struct heap *fsm_thread_heap(void);
/* A page run of at least n bytes aligned to align (>= PAGE_SIZE or 1);
 * *zeroed tells whether it is known to read as zero. */
void *fsm_large_alloc(size_t n, size_t align, bool *zeroed);

/* stats.c: the FSMEM_STATS summary. Start keeps a copy of stderr (at
 * init), the other prints the summary (at exit). */
void fsm_stats_start(void);
void fsm_print_stats_at_exit(void);

/* Before init completes: a small bump area in ordinary memory. */
void *bootstrap_alloc(size_t n);
bool bootstrap_owns(const void *p);
size_t bootstrap_size(const void *p);

#endif
