/* prefill: fresh heap memory written in address order, or not.
 *
 *   prefill MODE MIB
 *
 *   blocks  MIB blocks of 1 MiB, each allocated and written in turn
 *   pass    the same, read back at once (no pause between), as a program
 *           that fills its arrays and then works through them does
 *   one     one block of MIB MiB, written from start to end
 *   idle    one block of MIB MiB, not written at all
 *   random  one block of MIB MiB, one word written on 64 random pages
 *
 * Every written page gets a value of its own (page number, mixed), and
 * all of them are read back at the end: pages faulted in by another
 * thread meanwhile must not lose a write. Each mode but pass pauses for
 * 300 ms before reading back, so that a thread that would fill pages
 * ahead of a program that stopped has the time to do it; pass pauses
 * after. Prints "ok" and exits 0. */
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "progs.h"

#define MIB ((size_t)1 << 20)
#define PAGE 4096

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void write_pages(unsigned char *p, size_t len, uint64_t first)
{
    for (size_t o = 0; o < len; o += PAGE)
        *(uint64_t *)(p + o) = mix(first + o / PAGE);
}

static void check_pages(const unsigned char *p, size_t len, uint64_t first)
{
    for (size_t o = 0; o < len; o += PAGE)
        if (*(const uint64_t *)(p + o) != mix(first + o / PAGE))
            die("page %zu of %zu lost its value", (size_t)(first + o / PAGE), len / PAGE);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        die("usage: prefill blocks|one|idle|random MIB");
    const char *mode = argv[1];
    size_t n = strtoul(argv[2], NULL, 10);
    if (n == 0)
        die("MIB must be a positive number");
    bool pass = strcmp(mode, "pass") == 0;
    if (pass || strcmp(mode, "blocks") == 0) {
        unsigned char **b = malloc(n * sizeof *b);
        if (!b)
            die("malloc of the block table");
        for (size_t i = 0; i < n; i++) {
            if (!(b[i] = malloc(MIB)))
                die("malloc of block %zu", i);
            write_pages(b[i], MIB, i * (MIB / PAGE));
        }
        if (!pass)
            pause_ms(300);
        for (size_t i = 0; i < n; i++)
            check_pages(b[i], MIB, i * (MIB / PAGE));
        if (pass)
            pause_ms(300);
    } else {
        unsigned char *p = malloc(n * MIB);
        if (!p)
            die("malloc of %zu MiB", n);
        if (strcmp(mode, "one") == 0) {
            write_pages(p, n * MIB, 0);
            pause_ms(300);
            check_pages(p, n * MIB, 0);
        } else if (strcmp(mode, "random") == 0) {
            uint64_t x = 42;
            for (int i = 0; i < 64; i++) {
                x = mix(x);
                size_t page = (size_t)(x % (n * MIB / PAGE));
                *(uint64_t *)(p + page * PAGE) = mix(page);
            }
            pause_ms(300);
            x = 42;
            for (int i = 0; i < 64; i++) {
                x = mix(x);
                size_t page = (size_t)(x % (n * MIB / PAGE));
                check_pages(p + page * PAGE, PAGE, page);
            }
        } else if (strcmp(mode, "idle") == 0) {
            pause_ms(300);
        } else {
            die("unknown mode %s", mode);
        }
    }
    puts("ok");
    return 0;
}
