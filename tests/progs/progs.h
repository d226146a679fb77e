/* Shared by the test programs: failing loudly, and reproducible
 * contents that show whether a block survived intact.
 *
 * die() names the program and, in programs that fork, which process
 * failed (who: "parent", "child", ...), then ends the process at once,
 * without exit handlers that could touch a heap under suspicion. */
#ifndef FSMEM_TEST_PROGS_H
#define FSMEM_TEST_PROGS_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

/* Contents that tell one block from another and survive only intact:
 * word j of the block filled with seed. */
__attribute__((unused)) static inline uint64_t pattern_word(uint64_t seed, size_t j)
{
    return mix((seed + 0x9E3779B97F4A7C15ull) ^ ((uint64_t)j * 0xD6E8FEB86659FD93ull));
}

__attribute__((unused)) static void fill_pattern(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w = pattern_word(seed, i >> 3);
        memcpy(b + i, &w, 8);
    }
    for (; i < n; i++)
        b[i] = (unsigned char)(pattern_word(seed, i >> 3) >> (8 * (i & 7)));
}

/* The offset of the first byte that fill_pattern did not leave there,
 * or n. */
__attribute__((unused)) static size_t pattern_mismatch(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != pattern_word(seed, i >> 3))
            break;
    }
    for (; i < n; i++)
        if (b[i] != (unsigned char)(pattern_word(seed, i >> 3) >> (8 * (i & 7))))
            return i;
    return n;
}

#endif
