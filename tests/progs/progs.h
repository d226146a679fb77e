/* Shared by the test programs: failing loudly, and reproducible
 * contents.
 *
 * die() names the program and, in programs that fork, which process
 * failed (who: "parent", "child", ...), then ends the process at once,
 * without exit handlers that could touch a heap under suspicion. */
#ifndef FSMEM_TEST_PROGS_H
#define FSMEM_TEST_PROGS_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

static const char *who;

__attribute__((format(printf, 1, 2), noreturn, unused)) static void die(const char *fmt, ...)
{
    char line[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (who)
        fprintf(stderr, "%s: FAIL (%s) %s\n", program_invocation_short_name, who, line);
    else
        fprintf(stderr, "%s: FAIL %s\n", program_invocation_short_name, line);
    fflush(stderr);
    _exit(1);
}

/* A 64-bit finalizer (splitmix64's): equal inputs, equal outputs, and
 * nearby inputs far apart. */
__attribute__((unused)) static inline uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

#endif
