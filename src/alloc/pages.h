/* Page runs: the allocator's unit of address space.
 *
 * Every page in [arena.base, arena.top) belongs to exactly one run: free,
 * a large block, or a slab of small objects. A run is described by a
 * struct run in metadata memory, found from any address through the page
 * map. Invariants (all under page_lock):
 *   - the page map entry of a run's first and last page points to it;
 *   - for a slab, every page's entry points to it;
 *   - every other entry inside the heap is NULL, so an interior pointer
 *     into a large block is recognised as not from malloc;
 *   - two free runs are never adjacent (they are coalesced on free);
 *   - a free run is in exactly one bin, by its length.
 * Free runs remember whether their pages may lack disk blocks
 * (decommitted), whether they all read as zero (zeroed), and roughly how
 * many pages still hold dead data (dirty). */
#ifndef FSMEM_ALLOC_PAGES_H
#define FSMEM_ALLOC_PAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/sizes.h"
#include "alloc/slab.h"
#include "backing/arena.h"
#include "util/lock.h"

#define PAGES_PER_CHUNK (CHUNK_SIZE / PAGE_SIZE)
/* Freed blocks at least PUNCH_MIN are given back at once: punched out of
 * their file, so the kernel never writes their dead pages back, or
 * dropped from the RAM tier. Smaller ones are kept for reuse and purged
 * in batches (below): giving a block back costs a system call, and a
 * fault per page (on files, a read-around of zeros) when it is used
 * again. When the disk is short of room, every file-backed block from
 * PUNCH_MIN_TIGHT up is punched at once, so that freed memory never
 * holds disk that the next allocation needs. */
#define PUNCH_MIN ((size_t)32 << 20)
#define PUNCH_MIN_TIGHT ((size_t)1 << 20)
/* Other dirty free pages are given back in batches, dirtiest runs of at
 * least PURGE_MIN_RUN first: those dirty for PURGE_AGE_MS once they pass
 * the soft limit (a sixteenth of the live heap, PURGE_FLOOR at least), any
 * of them once they pass it by PURGE_YOUNG. The allowance for young runs
 * is a constant, not a share of the heap, because a program that frees
 * and then goes idle makes no call that would purge them later. */
#define PURGE_FLOOR ((size_t)32 << 20)
#define PURGE_YOUNG ((size_t)96 << 20)
#define PURGE_MIN_RUN ((size_t)256 << 10)
#define PURGE_AGE_MS 500
/* In a heap that has never held more than SMALL_HEAP, the RAM pages of an
 * empty slab are given back at once. A slab is given up only when it is
 * empty and not its class's current one, so its class needed it at a
 * higher water mark than now; each class can keep a slab or two of
 * 64-512 KiB beyond what it holds, a few MiB in all, which no limit above
 * reaches. In a heap of hundreds of MiB that is noise; in one of a few
 * MiB it is a third of it, and classes that peak at different times add
 * up: with a thread passing messages of 16 B to 16 KiB to another, peak
 * RSS was 1.3x glibc's. Larger heaps keep the pages for reuse: a program
 * that frees all its objects and builds them again would fault every
 * page in again each round (a third slower in the churn benchmark). */
#define SMALL_HEAP ((uint64_t)16 << 20)

/* RUN_FREEING: a large run between free() and its return to a bin.
 * RUN_PURGING: a free run out of its bin while its pages are given back. */
enum run_kind { RUN_FREE = 1, RUN_LARGE, RUN_SLAB, RUN_FREEING, RUN_PURGING };

struct slab;

struct run {
    struct run *next, *prev;   /* bin list while free */
    uintptr_t start;
    size_t npages;
    size_t dirty;              /* free run: pages that may hold data */
    uint64_t dirtied_ms;       /* free run: when it last became dirty */
    struct slab *slab;         /* set for RUN_SLAB */
    uint8_t kind;
    uint8_t zeroed;
    uint8_t decommitted;
    uint8_t bin;
};

extern lock_t page_lock;
/* One page-map table per mapped chunk; NULL until the chunk is used. An
 * entry is a run, or, on every page of a slab, the slab itself with
 * PAGEMAP_SLAB set: free() of a small object reaches the slab without
 * going through the run record, one dependent load and often one cache
 * miss fewer. */
#define PAGEMAP_SLAB ((uintptr_t)1)
extern _Atomic(uintptr_t *) *pagemap;

/* The entry for p's page, 0 if none. p must satisfy arena_contains(). */
static inline uintptr_t pagemap_entry(uintptr_t p)
{
    uintptr_t off = p - arena.base;
    uintptr_t *table = atomic_load_explicit(&pagemap[off >> CHUNK_SHIFT], memory_order_acquire);
    if (!table)
        return 0;
    return __atomic_load_n(&table[(off >> PAGE_SHIFT) & (PAGES_PER_CHUNK - 1)],
                           __ATOMIC_RELAXED);
}

/* The run an entry stands for, or NULL. */
static inline struct run *entry_run(uintptr_t e)
{
    return e & PAGEMAP_SLAB ? ((struct slab *)(e - PAGEMAP_SLAB))->run : (struct run *)e;
}

/* The run containing p's page, or NULL. p must satisfy arena_contains(). */
static inline struct run *pagemap_get(uintptr_t p)
{
    return entry_run(pagemap_entry(p));
}

int pages_init(void);

/* A run of npages aligned to align_pages (a power of two): a slab's run
 * when slab is non-NULL, else a large block. *zeroed tells whether its
 * pages are known to read as zero. NULL with errno ENOMEM when address
 * space or disk is exhausted. Takes page_lock. */
struct run *pages_alloc(size_t npages, size_t align_pages, struct slab *slab, bool *zeroed);

/* Returns a large or slab run to the free pool (coalescing). Takes page_lock. */
void pages_free(struct run *r);

/* Aborts with a message for a pointer inside the heap that no run starts
 * at; op is "free" or "realloc". Tells a double free (p lies in free
 * pages) from a pointer malloc never returned. */
_Noreturn void pages_bad_pointer(const char *op, void *p);

/* free() of a large block: validates p (aborting on misuse) and frees it. */
void large_free(void *p, struct run *r);

/* Resizes a large run in place to npages; false when the neighbour is not
 * free or too small (the run is then unchanged). */
bool large_resize(struct run *r, size_t npages);

/* Heap accounting, in bytes (pages handed out as large runs or slabs). */
uint64_t pages_in_use(void);
uint64_t pages_peak(void);

void pages_fork(enum fork_phase phase);

#endif
