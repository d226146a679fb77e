/* Helpers shared by the benchmark workloads in bench/.
 *
 * Every workload is `NAME THREADS SCALE [...]`, prints exactly one line on
 * stdout (a 64-bit checksum in hex, equal for every correct allocator given
 * the same arguments) and nothing else. Phase timings, when a workload has
 * phases, are appended as "name<TAB>seconds" lines to the file named by
 * $BENCH_PHASES, so stdout stays a pure checksum. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* splitmix64: tiny, fast, good enough to drive size and slot choices. */
typedef struct { uint64_t s; } rng_t;

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline rng_t rng_seed(uint64_t a, uint64_t b)
{
    rng_t r = { a * 0x2545f4914f6cdd1dULL ^ (b + 0x51afd7ed558ccd2eULL) };
    rng_next(&r);
    return r;
}

/* Uniform in [lo, hi]. */
static inline uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi)
{
    return lo + rng_next(r) % (hi - lo + 1);
}

/* Roughly log-uniform in [lo, hi]: small values are as likely per octave
 * as large ones, which is how object sizes in real programs spread. */
static inline uint64_t rng_logrange(rng_t *r, uint64_t lo, uint64_t hi)
{
    unsigned lb = 63 - __builtin_clzll(lo), hb = 63 - __builtin_clzll(hi);
    unsigned b = lb + (unsigned)(rng_next(r) % (hb - lb + 1));
    uint64_t base = 1ULL << b;
    uint64_t v = base + rng_next(r) % base;
    if (v < lo) v = lo;
    if (v > hi) v = hi;
    return v;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void die(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(2);
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) die("malloc");
    return p;
}

/* Parses argv[i] as a positive integer, or uses the default. */
static inline long arg_long(int argc, char **argv, int i, long dflt)
{
    if (argc <= i) return dflt;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "bench: bad argument %d: '%s'\n", i, argv[i]);
        exit(2);
    }
    return v;
}

/* Appends "name<TAB>seconds" to $BENCH_PHASES (no stdio: no allocation). */
static inline void phase_report(const char *name, double secs)
{
    const char *path = getenv("BENCH_PHASES");
    if (!path || !*path) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return;
    dprintf(fd, "%s\t%.6f\n", name, secs);
    close(fd);
}

static inline void print_checksum(uint64_t sum)
{
    printf("%016llx\n", (unsigned long long)sum);
    fflush(stdout);
}

/* The end of a run: folds the per-thread checksums (a uint64_t at
 * sum_offset in each of the n jobs of job_size bytes) into one, in thread
 * order, frees the jobs and prints it. */
static inline void finish_jobs(void *jobs, int n, size_t job_size, size_t sum_offset)
{
    uint64_t sum = 0, one;
    for (int i = 0; i < n; i++) {
        memcpy(&one, (char *)jobs + (size_t)i * job_size + sum_offset, sizeof one);
        sum = sum * 1000003 + one;
    }
    free(jobs);
    print_checksum(sum);
}

/* Starts n threads running fn(arg_base + i * arg_size) and joins them. */
static inline void run_threads(int n, void *(*fn)(void *), void *arg_base,
                               size_t arg_size)
{
    pthread_t tid[256];
    if (n > 256) n = 256;
    for (int i = 0; i < n; i++) {
        errno = pthread_create(&tid[i], NULL, fn, (char *)arg_base + (size_t)i * arg_size);
        if (errno) die("pthread_create");
    }
    for (int i = 0; i < n; i++) pthread_join(tid[i], NULL);
}

/* Stamps an object so that a later read can prove it survived intact:
 * the first and (when there is room) the last word hold v. */
static inline void stamp(void *p, size_t size, uint64_t v)
{
    memcpy(p, &v, sizeof v);
    if (size >= 16) {
        uint64_t w = v ^ size;
        memcpy((char *)p + size - 8, &w, sizeof w);
    }
}

static inline uint64_t unstamp(const void *p, size_t size)
{
    uint64_t v, w = 0;
    memcpy(&v, p, sizeof v);
    if (size >= 16) {
        memcpy(&w, (const char *)p + size - 8, sizeof w);
        w ^= size;
    }
    return v * 31 + w;
}

#endif
