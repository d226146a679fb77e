/* The monotonic clock, in the units fsmem's timers count in. The coarse
 * one (a few milliseconds stale, no clock read) is for timers on the
 * allocator's own paths; the fine one for the background threads, which
 * time work and wake-ups. */
#ifndef FSMEM_UTIL_CLOCK_H
#define FSMEM_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static inline uint64_t monotonic_ms(void) { return monotonic_ns() / 1000000; }

static inline uint64_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
