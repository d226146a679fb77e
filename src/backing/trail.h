/* The fault trail: where each thread of the program takes its major
 * faults, told by the kernel's software perf events (trail.c). The
 * sampler's thread alone calls these. */
#ifndef FSMEM_BACKING_TRAIL_H
#define FSMEM_BACKING_TRAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/tasks.h"

/* Follows the threads in tasks[0..n) (tasks_read) and lets go of the
 * others. False unless every one of them is followed; when the kernel
 * refuses outright (perf events not allowed, or not built) the trail is
 * off for good. */
bool trail_follow(const struct task_counters *tasks, int n);

/* Run time per fault below which a run is random touches. The fault's
 * own kernel time is in it: a 2 MiB read took 0.15-0.2 ms of CPU on the
 * reference machine. */
#define TRAIL_NS 500000

/* What the trail says of the followed threads' faults. */
enum trail_word {
    TRAIL_QUIET,     /* nothing that looks like random touches */
    TRAIL_SUSPECT,   /* a run that does so far, of TRAIL_TRIAL_RUN faults or more */
    TRAIL_RANDOM,    /* a run of TRAIL_RUN: random touches (said once a run) */
};

/* Reads what the followed threads left since the last call, counting the
 * faults that fall in [lo, hi), and says the most of what it finds. A
 * run of a thread is faults in a row that landed away from one another;
 * it looks like random touches with little run time between its faults,
 * each reading from disk, over more than span bytes. */
enum trail_word trail_read(uintptr_t lo, uintptr_t hi, uint64_t span);

/* Forgets the threads' runs. */
void trail_forget(void);

/* Sleeps up to ms, or less: true when a followed thread has taken a few
 * more faults meanwhile, which trail_read may want to see at once. */
bool trail_wait(long ms);

/* Stops recording (4 KiB reads: faults are many and say nothing the
 * sampler needs) or starts again, with the trail forgotten. */
void trail_pause(bool paused);

struct trail_usage {
    bool refused;            /* the kernel would not follow a thread */
    unsigned most_followed;  /* threads followed at once, at most */
    uint64_t runs;           /* runs of random touches seen */
};
/* May be called from any thread. */
void trail_usage(struct trail_usage *u);

/* Lets go of every thread; in a fork child, of what the parent left. */
void trail_stop(void);

#endif
