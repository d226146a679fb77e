/* Internal to src/backing: the arena's private state and the helpers that
 * arena.c (layout, placement, reservations), paging.c (how file pages
 * are read back) and freeze.c (fork) share. Nothing outside src/backing
 * includes this. */
#ifndef FSMEM_BACKING_LAYOUT_H
#define FSMEM_BACKING_LAYOUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backing/arena.h"
#include "backing/budget.h"
#include "util/lock.h"
#include "util/settings.h"

/* The address space, from base up:
 *   [base, ram_end)         RAM tier, anonymous memory
 *   [ram_end, frozen_top)   file pages frozen at a fork: private views
 *   [frozen_top, mapped)    file pages, MAP_SHARED from the current files
 *   [mapped, end)           reserved only (PROT_NONE)
 * with top <= mapped, and ram_end <= frozen_top when files are in use. */

/* Where a file chunk lives: which directory's file, and which chunk-sized
 * slot of it. Set when the chunk is first mapped and never changed, so a
 * frozen view, a thaw and a fork child all agree on it. */
struct place {
    uint32_t slot;
    uint8_t dir;
    bool set;
};

struct arena_state {
    const struct settings *settings;
    unsigned ndirs;
    int fd[SETTINGS_MAX_DIRS];  /* -1 until opened (a fork child reopens) */
    uint64_t file_len[SETTINGS_MAX_DIRS];   /* length of each backing file */
    uint32_t slots_used[SETTINGS_MAX_DIRS]; /* chunks placed in each file */
    unsigned next_dir;          /* round-robin cursor */
    _Atomic bool disk_tight[SETTINGS_MAX_DIRS];   /* see arena_disk_tight */
    enum { PAGING_UNKNOWN, PAGING_HUGE, PAGING_KERNEL } paging;   /* see set_paging */
    lock_t paging_lock;         /* one change of paging at a time (paging.c) */
    _Atomic bool scattered;     /* FSMEM_PAGING=auto reads single pages now (sampler.c) */
    _Atomic bool advised;       /* the program gave paging advice: auto stops */
    struct place *place;        /* one per chunk of the reservation */
    struct ram_budget budget;
    unsigned ram_grown;         /* times the auto RAM tier grew (grow_ram_tier) */
    bool ram_refused;           /* the kernel refused a RAM chunk: the tier ends for good */
    uintptr_t mapped;
    uintptr_t frozen_top;
    uintptr_t committed;        /* disk is reserved for every shared file page below this */
    _Atomic uint64_t punched;
};
extern struct arena_state fsm_arena_state;
#define A fsm_arena_state   /* short, as every line of src/backing uses it */

static inline size_t chunk_of(uintptr_t a) { return (a - arena.base) >> CHUNK_SHIFT; }
static inline uintptr_t chunk_addr(size_t i) { return arena.base + (i << CHUNK_SHIFT); }
static inline unsigned file_dir(uintptr_t a) { return A.place[chunk_of(a)].dir; }
static inline uint64_t file_offset(uintptr_t a)
{
    size_t i = chunk_of(a);
    return ((uint64_t)A.place[i].slot << CHUNK_SHIFT) + (a - chunk_addr(i));
}

enum piece { PIECE_RAM, PIECE_FROZEN, PIECE_SHARED };

/* Calls fn for the pieces of [start, end): split at chunk boundaries and
 * where the kind of mapping changes. Stops at the first non-zero result. */
typedef int (*piece_fn)(enum piece kind, uintptr_t start, size_t len, void *ctx);
int for_pieces(uintptr_t start, uintptr_t end, piece_fn fn, void *ctx);

/* sync_file_range(flags) on every backing file opened so far; safe
 * without the page lock (a descriptor, once open, stays so). */
void sync_backing_files(unsigned flags);

/* Maps file pages shared at their fixed place, with fsmem's paging;
 * 0 or -1. */
int map_shared(uintptr_t start, size_t len);

/* Roughly how much of the file heap the page cache can hold: the memory
 * limit that FSMEM_RAM=auto goes by, less the RAM tier in use. Reads
 * /proc and cgroup files: not for a path the program waits on. */
uint64_t arena_cache_room(void);

/* paging.c: applies fsmem's paging (or the advice) to a file mapping.
 * Caller holds the paging lock. */
void set_paging(uintptr_t start, size_t len, enum arena_advice how);
/* paging.c: dir's disk has just become short of room. */
void tighten_paging(unsigned dir);
/* paging.c: FSMEM_PAGING=auto switches every file chunk to 4 KiB reads
 * (or back); false when it did not (already so, or advice was given).
 * paging_split then makes the cache's clean 2 MiB folios single pages,
 * paging_split_block the one at a block (if clean) later, and
 * paging_clean_split_block the one at a block, written back first. */
bool paging_switch(bool page_by_page);
void paging_split(void);
void paging_split_block(uintptr_t block);
void paging_clean_split_block(uintptr_t block);

#endif
