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

/* Reads what the followed threads left since the last call, counting the
 * faults that fall in [lo, hi). True when a thread's last TRAIL_RUN
 * faults there all landed away from one another, over more than span
 * bytes, with little run time between them and most of them reading
 * from disk: random touches. */
bool trail_scattered(uintptr_t lo, uintptr_t hi, uint64_t span);

/* Sleeps up to ms, or less: true when a followed thread has taken a few
 * more faults meanwhile, which trail_scattered may want to see at once. */
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
