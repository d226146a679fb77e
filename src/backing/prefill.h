/* Fresh file pages filled ahead of the program from another CPU, while it
 * writes a large part of its heap in address order (prefill.c says why). */
#ifndef FSMEM_BACKING_PREFILL_H
#define FSMEM_BACKING_PREFILL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/thread.h"

/* Started, like the other services, at arena_start_services(). */
extern struct service fsm_prefill;

/* The heap has file pages: decides, once per process, whether the
 * thread is wanted (it is where the process may run on two CPUs or
 * more). Caller holds the page lock. */
void prefill_note_files(void);

/* arena_grow handed out [start, end), fresh file pages among them. Caller
 * holds the page lock; a few atomic operations, and a system call only
 * when the thread sleeps for want of work. */
void prefill_note_growth(uintptr_t start, uintptr_t end);

/* A kernel copy (copy_file_range) is about to write [.., end) of the file
 * heap, and has written it: pages that the thread must not take for the
 * program's writes. */
void prefill_copy_begin(void);
void prefill_copy_end(uintptr_t end);

/* In a fork child: the thread did not survive the fork. */
void prefill_fork_child(void);

/* Whether addr is where the program is filling fresh pages beside the
 * thread now: it faults every other block there, as the thread takes the
 * others. Any thread may ask; a few loads. */
bool prefill_filling(uintptr_t addr);

/* Bytes of fresh file pages the thread has filled so far. */
uint64_t prefill_bytes(void);

#endif
