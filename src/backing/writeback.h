/* Early writeback for a heap in a cgroup v1 memory cgroup: a thread that
 * starts writeback of the backing files before the cgroup runs out of
 * clean page cache (writeback.c says why). */
#ifndef FSMEM_BACKING_WRITEBACK_H
#define FSMEM_BACKING_WRITEBACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/thread.h"

extern struct service fsm_writeback;

/* The heap has grown past this many bytes of file pages: it decides
 * then, once per process, whether it needs the thread. Smaller file
 * heaps cannot fill a cgroup with dirty pages; waiting for this much
 * spares the thread to small programs run with FSMEM_RAM=0. */
#define WRITEBACK_MIN_FILE_HEAP ((uintptr_t)8 << 20)

/* Called with the page lock held, after the heap grew past that. */
void writeback_note_files(void);

/* The thread starts at arena_start_services() (backing/arena.h). */

/* How many times the thread has started writeback. */
uint64_t writeback_kicks(void);

#endif
