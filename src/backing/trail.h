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

/* Faults of a run after which it is suspect, if it looks random so far
 * (at least half of them after the read that first saw it): TRAIL_EARLY_RUN
 * for the first run to reach that many faults after TRAIL_QUIET_NS in
 * which none did, TRAIL_TRIAL_RUN for the others. Each fault before the
 * trial reads 2 MiB, about a millisecond on the reference machine
 * against 0.05 ms for 4 KiB; a program that starts touching its heap at
 * random after a pass pays that for every fault the trial waits. But
 * PhyML has runs of four to seven far faults with as little work, some
 * twenty a second: tried at four faults each, it made ten times the
 * trials and ran 11% longer. Those runs come less than a second apart
 * (99 in 100 within 0.41 s), so after a second without one a run is
 * tried at four. */
#define TRAIL_EARLY_RUN 4
#define TRAIL_TRIAL_RUN 8
#define TRAIL_QUIET_NS 1000000000

/* What the trail says of the followed threads' faults. */
enum trail_word {
    TRAIL_QUIET,     /* nothing that looks like random touches */
    TRAIL_SUSPECT,   /* a run that does so far, long enough for a trial */
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
