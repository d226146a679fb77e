/* The process's threads as /proc/self/task shows them: user time,
 * bytes read from disk and the CPU last run on, per thread. The sampler
 * judges a thread that faults at random beside threads that compute,
 * which the process's totals would mix, and keeps its own heavy kernel
 * work off the CPUs the program runs on. No allocation and no stdio: the
 * caller may be any thread of fsmem's. */
#ifndef FSMEM_UTIL_TASKS_H
#define FSMEM_UTIL_TASKS_H

#include <stdbool.h>
#include <stdint.h>

struct task_counters {
    int tid;
    uint64_t user_us;       /* in steps of a clock tick (10 ms on Linux) */
    uint64_t read_bytes;    /* what the thread caused to be read from disk */
    int cpu;                /* the CPU it last ran on; -1 when not known */
};

/* Fills out[0..max) with the program's threads, fsmem's own (named
 * "fsmem-...") left out, and returns how many it filled; -1 when /proc
 * cannot be read. Threads beyond max are left out. */
int tasks_read(struct task_counters *out, int max);

/* A table that keeps per-thread state in slots: tid[i] is the thread in
 * slot i, 0 for a free slot. tasks_place() fits the listed threads
 * now[0..n) to it: a thread already in a slot keeps it, slots of threads
 * no longer listed are freed, and a new thread takes a free slot.
 * slot[k] is now[k]'s slot, -1 when none was left; change[i] says what
 * happened to slot i, so that the caller can drop the old thread's state
 * and set up the new one's. */
enum { SLOT_LEFT = 1, SLOT_TAKEN = 2 };
void tasks_place(const struct task_counters *now, int n, int *tid, int nslots, int *slot,
                 unsigned char *change);

/* What one thread has done so far: the time it has run, in user and
 * system mode together (schedstat: exact, where /proc's user time comes
 * in clock ticks), and the bytes it caused to be read from disk. */
struct task_work {
    int64_t run_ns;
    int64_t read_bytes;
};

/* Fills *w for thread tid; false when it cannot be read (gone). */
bool task_work_read(int tid, struct task_work *w);

#endif
