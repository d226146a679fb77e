/* The arena: where heap pages come from.
 *
 * At start-up one range of address space is reserved (PROT_NONE, nothing
 * committed) for the whole heap. It is carved into CHUNK-sized chunks that
 * are mapped on demand, in address order: the first ones from anonymous
 * memory when a RAM tier is configured (the chunk where it ends is RAM up
 * to ram_end, file pages after it), the rest MAP_SHARED from backing
 * files, striped round-robin over the FSMEM_DIR directories (a directory
 * whose disk is full is passed over while another one has room). A pointer is
 * ours exactly when it lies in [base, top).
 *
 * This is the only code that maps memory for the heap or touches backing
 * files. The allocator above it asks for fresh pages at the top, and gives
 * ranges back (decommit: the data is dropped and, for files, the disk
 * blocks are returned) or takes them again (commit: disk blocks are
 * reserved again). Disk blocks are always reserved with fallocate before
 * the pages are handed out, so a full disk is a failed allocation and
 * never a SIGBUS on first touch. */
#ifndef FSMEM_BACKING_ARENA_H
#define FSMEM_BACKING_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/lock.h"
#include "util/settings.h"
#include "util/thread.h"

#define CHUNK_SHIFT 26
#define CHUNK_SIZE ((size_t)1 << CHUNK_SHIFT)

struct arena {
    uintptr_t base;      /* reservation start, CHUNK-aligned */
    uintptr_t end;       /* reservation end */
    uintptr_t top;       /* pages below top have been handed out at least once */
    uintptr_t ram_end;   /* [base, ram_end) is the RAM tier */
    size_t nchunks;      /* chunks in the reservation */
};

extern struct arena arena;

static inline bool arena_contains(const void *p)
{
    return (uintptr_t)p - arena.base < arena.top - arena.base;
}

static inline bool arena_in_ram(uintptr_t p)
{
    return p < arena.ram_end;
}

/* The backing store's threads: early writeback (writeback.c), the paging
 * sampler (sampler.c) and prefill (prefill.c). Each is started once it is
 * wanted, at the next arena_start_services(), which callers make where
 * they hold no allocator lock and leave no structure half-updated
 * (pthread_create may call malloc): malloc's large path once it has its
 * run, and a thread heap's refill once the new slab is installed. One
 * load each when nothing is due. */
extern struct service fsm_writeback, fsm_sampler, fsm_prefill;
static inline void arena_start_services(void)
{
    service_poll(&fsm_writeback);
    service_poll(&fsm_sampler);
    service_poll(&fsm_prefill);
}

/* Reserves address space and opens the backing files. On failure prints
 * one line naming the setting at fault and returns -1. */
int arena_init(const struct settings *s);

/* Extends the top by len bytes (page multiple) with disk reserved for the
 * whole range; returns the old top, or NULL (errno ENOMEM) when the
 * reservation or the disk is exhausted. The new pages read as zero.
 * Caller holds the page lock. */
void *arena_grow(size_t len);

/* Reserves disk again for a range that was decommitted; 0, or -1 when the
 * disk is full. */
int arena_commit(uintptr_t start, size_t len);

/* Drops the contents of a range and returns its disk blocks. Returns true
 * when the range now reads as zero. */
bool arena_decommit(uintptr_t start, size_t len);

/* Puts the contents of [from, from+len) at [to, to+len) without the
 * process copying them, for large blocks (see backing/move.c): RAM-tier
 * pages move (the old range then reads as zero), file pages are copied
 * by the kernel. False when the caller must copy instead. Both ranges
 * are whole, page-aligned runs that only the caller uses; the old one is
 * freed next. */
bool arena_move(uintptr_t from, uintptr_t to, size_t len);
/* Around fork: a copy between files in flight finishes first. */
void arena_move_fork(enum fork_phase phase);

/* Makes a range read as zero without writing it: RAM pages are dropped,
 * file ranges zeroed by the filesystem with their disk blocks kept. Returns
 * false when some part could not be (the caller writes zeros instead).
 * Caller holds the page lock. */
bool arena_zero(uintptr_t start, size_t len);

/* True when a is file-backed and its directory's disk is short of room
 * (less than DISK_TIGHT free at its last reservation): freed blocks there
 * give their disk back at once. */
bool arena_disk_tight(uintptr_t a);

/* Before fork (allocator locked): make parent and child stop sharing
 * writable file pages. After it, in the child: files of its own. */
void arena_freeze(void);
void arena_fork_child(void);
/* Makes frozen pages shared file pages again once no other process can
 * see them (cheap to call often; checks at most every 50 ms). */
void arena_maybe_thaw(void);

enum arena_advice { ADVICE_NORMAL, ADVICE_SEQUENTIAL, ADVICE_RANDOM, ADVICE_WILLNEED, ADVICE_COLD };
/* Passes an access hint for [start, start+len) (page-aligned, below top)
 * to the kernel; 0 or an errno value. Caller holds the page lock. Advice
 * on how pages will be used (normal, sequential, random) also ends
 * FSMEM_PAGING=auto's own choices. */
int arena_advise(uintptr_t start, size_t len, enum arena_advice how);
/* Around fork: no change of paging in flight (taken after the page lock). */
void arena_paging_fork(enum fork_phase phase);

struct arena_dir_usage {
    const char *path;
    uint64_t file_bytes;      /* heap bytes mapped from this directory's file */
    uint64_t disk_bytes;      /* disk blocks that file holds */
    uint64_t free_bytes;      /* free space on the directory's filesystem */
};

struct arena_usage {
    uint64_t ram_bytes, file_bytes, disk_bytes, punched_bytes;
    uint64_t ram_budget;      /* RAM tier size in use */
    uint64_t ram_limit;       /* the limit it was derived from */
    const char *ram_source;   /* where that limit came from */
    unsigned ram_grown;       /* times the tier grew as the heap reached its end */
    unsigned files;
    unsigned ndirs;
    struct arena_dir_usage dir[SETTINGS_MAX_DIRS];
};
void arena_usage(struct arena_usage *u);

#endif
