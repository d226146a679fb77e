/* FSMEM_PAGING=auto: a thread that watches how the program uses the file
 * blocks it reads back, and switches the heap's file pages between 2 MiB
 * and 4 KiB reads (sampler.c says how). */
#ifndef FSMEM_BACKING_SAMPLER_H
#define FSMEM_BACKING_SAMPLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/thread.h"

/* Started, like early writeback, at arena_start_services(). */
extern struct service fsm_sampler;

/* Marks the sampled blocks of a range just mapped shared (and, when the
 * heap has outgrown the sample count, lets half of the older ones go).
 * Caller holds the page and paging locks. */
void sampler_mark(uintptr_t start, size_t len);

/* The heap has 8 MiB of file pages: decides, once per process, whether
 * the thread is wanted. Caller holds the page lock. */
void sampler_note_files(void);

/* In a fork child: the thread did not survive the fork. */
void sampler_fork_child(void);

struct sampler_usage {
    bool ran;               /* the thread has run in this process */
    bool page_by_page;      /* 4 KiB reads now */
    uint64_t switches;
    uint64_t undone;        /* switches to 4 KiB reads that a pass undid within 2 s */
    uint64_t splits;        /* times the samples were split (update_gate) */
    uint64_t swept, scattered;   /* sampled blocks judged each way */
    uint64_t trials;        /* runs that put 4 KiB reads on trial */
};
void sampler_usage(struct sampler_usage *u);

#endif
