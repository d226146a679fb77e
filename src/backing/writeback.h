/* Early writeback for a heap in a cgroup v1 memory cgroup: a thread that
 * starts writeback of the backing files before the cgroup runs out of
 * clean page cache (writeback.c says why). */
#ifndef FSMEM_BACKING_WRITEBACK_H
#define FSMEM_BACKING_WRITEBACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum { WRITEBACK_UNKNOWN, WRITEBACK_WANTED, WRITEBACK_RUNNING, WRITEBACK_OFF };
extern _Atomic int fsm_writeback_state;

/* The heap has grown past this many bytes of file pages: it decides
 * then, once per process, whether it needs the thread. Smaller file
 * heaps cannot fill a cgroup with dirty pages; waiting for this much
 * spares the thread to small programs run with FSMEM_RAM=0. */
#define WRITEBACK_MIN_FILE_HEAP ((uintptr_t)8 << 20)

/* Called with the page lock held, after the heap grew past that. */
void writeback_note_files(void);

/* Starts the thread if it is wanted and not running. pthread_create may
 * call malloc, so callers hold no allocator lock and leave no structure
 * half-updated: malloc's large path once it has its run, and a thread
 * heap's refill once the new slab is installed. */
void writeback_start(void);

/* The check at those points: one load when nothing is due. */
static inline void writeback_poll(void)
{
    if (__builtin_expect(atomic_load_explicit(&fsm_writeback_state, memory_order_relaxed) ==
                             WRITEBACK_WANTED, 0))
        writeback_start();
}

/* In a fork child: the thread did not survive the fork. */
void writeback_fork_child(void);

/* How many times the thread has started writeback. */
uint64_t writeback_kicks(void);

#endif
