/* pattern: how much a fault reads back from disk, per access pattern.
 *
 *   pattern HEAP_MIB TOUCHES PASSES [BUSY]
 *
 * Run preloaded with FSMEM_RAM=0 in a memory cgroup well below HEAP_MIB.
 * Fills a heap of 1 MiB blocks, then:
 *   pass     sums every word in order (skipped when PASSES is 0)
 *   scatter  TOUCHES read-modify-writes of one word on a random page,
 *            while BUSY more threads (default 0) compute in memory
 *   pass     sums every word in order again (skipped when PASSES is 0)
 * and prints, per phase, over its second half (after the switch from the
 * phase before has settled; for scatter also over the whole phase, as
 * "scatter whole"): the major faults, the bytes read from disk
 * per fault, and for a pass the faults per MiB passed over (0.5 when
 * every fault reads 2 MiB, 256 when each reads 4 KiB); then fsmem's
 * FSMEM_PAGING and a checksum. Exits 0, 1 on an error, 77 when fsmem is
 * not preloaded. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "fsmem.h"

#define BLOCK (1UL << 20)
#define PAGE 4096UL
/* A pass sums every word, as a loop over an array does. Reading one
 * word a page did so little per 2 MiB read back (about 18 us of user
 * time) that, with perf events refused, the gate's user-time test took
 * the pass for random touches whenever load blurred Linux's sampled user
 * time: the switch was undone within 0.1 s, but the random touches after
 * it then waited for 32 sample verdicts. */

struct mark {
    uint64_t read_bytes;
    uint64_t faults;
};

static struct mark mark_now(void)
{
    struct mark m = {0, 0};
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "read_bytes: %lu", &m.read_bytes) == 1)
            break;
    if (f)
        fclose(f);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    m.faults = (uint64_t)ru.ru_majflt;
    return m;
}

/* mib: heap covered in the measured half, for a pass (else 0). */
static void report(const char *phase, struct mark a, struct mark b, long mib)
{
    uint64_t faults = b.faults - a.faults;
    printf("%s: %lu major faults, %lu KiB read per fault", phase, faults,
           faults ? (b.read_bytes - a.read_bytes) / faults / 1024 : 0);
    if (mib)
        printf(", %.1f faults per MiB", (double)faults / (double)mib);
    printf("\n");
}

static atomic_bool scattered_done;

/* A thread that computes without touching the heap, as a program's
 * worker threads do while another looks things up. */
static void *busy(void *unused)
{
    (void)unused;
    volatile uint64_t x = 1;
    while (!atomic_load_explicit(&scattered_done, memory_order_relaxed))
        x = x * 6364136223846793005ULL + 1;
    return NULL;
}

static uint64_t pass(unsigned char **blocks, long n, const char *name)
{
    uint64_t sum = 0;
    struct mark half = {0, 0};
    for (long b = 0; b < n; b++) {
        if (b == n / 2)
            half = mark_now();
        const uint64_t *w = (const uint64_t *)blocks[b];
        for (size_t i = 0; i < BLOCK / sizeof *w; i++)
            sum += w[i];
    }
    report(name, half, mark_now(), n - n / 2);
    return sum;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: pattern HEAP_MIB TOUCHES PASSES [BUSY]\n");
        return 1;
    }
    int (*get_settings)(struct fsmem_settings *) =
        (int (*)(struct fsmem_settings *))dlsym(RTLD_DEFAULT, "fsmem_get_settings");
    struct fsmem_settings set;
    if (!get_settings || get_settings(&set) != 0) {
        printf("pattern: fsmem is not preloaded\n");
        return 77;
    }
    long n = atol(argv[1]), touches = atol(argv[2]), passes = atol(argv[3]);
    int nbusy = argc == 5 ? atoi(argv[4]) : 0;
    pthread_t busy_threads[8];
    if (nbusy < 0 || nbusy > 8)
        return 1;
    unsigned char **blocks = malloc((size_t)n * sizeof *blocks);
    if (!blocks || n < 2 || touches < 2)
        return 1;
    for (long b = 0; b < n; b++) {
        if (!(blocks[b] = malloc(BLOCK))) {
            printf("pattern: malloc failed at block %ld\n", b);
            return 1;
        }
        for (size_t o = 0; o < BLOCK; o += PAGE)
            blocks[b][o] = (unsigned char)(b * 31 + o / PAGE);
    }
    uint64_t sum = passes ? pass(blocks, n, "pass") : 0;

    for (int i = 0; i < nbusy; i++)
        if (pthread_create(&busy_threads[i], NULL, busy, NULL) != 0)
            return 1;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    struct mark half = {0, 0}, start = mark_now();
    for (long t = 0; t < touches; t++) {
        if (t == touches / 2)
            half = mark_now();
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned char *p = blocks[x % (uint64_t)n] + (x >> 32) % (BLOCK / PAGE) * PAGE;
        sum += *p;
        *p += 1;
    }
    struct mark end = mark_now();
    report("scatter", half, end, 0);
    report("scatter whole", start, end, 0);
    atomic_store(&scattered_done, true);
    for (int i = 0; i < nbusy; i++)
        pthread_join(busy_threads[i], NULL);

    if (passes)
        sum += pass(blocks, n, "pass again");
    printf("paging %s\nchecksum %016lx\n", set.paging, sum);
    return 0;
}
