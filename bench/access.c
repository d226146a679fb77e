/* access: how fast a program reads and writes a big heap once it has it.
 *
 *   access THREADS HEAP_MIB [PASSES [TOUCHES [MAPDIR]]]
 *
 * The heap is HEAP_MIB blocks of 1 MiB from malloc (each thread allocates
 * its share). Phases, each timed on its own and separated by barriers:
 *   touch    first touch: write one word in every 64-byte line
 *   wpass    PASSES read-modify-write passes over every line (median pass)
 *   rpass    one read-only pass over every line
 *   random   TOUCHES read-modify-writes of one word on a random page,
 *            in two halves timed apart: the first half follows the
 *            passes, when an allocator that adapts its paging to the
 *            access pattern pays for the change; the second shows the
 *            cost of a touch once that is over
 *   free     free every block
 * Each thread works only on its own blocks, so the checksum (the values
 * read) does not depend on scheduling. First touch and steady state are
 * reported apart because they differ by an order of magnitude on VMs.
 *
 * With MAPDIR, the heap is not malloc's but one MAP_SHARED mapping of a
 * sparse unlinked file in MAPDIR, cut into the same 1 MiB blocks: the plain
 * file mapping that out-of-core results are compared against. */
#include "common.h"
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#define BLOCK (1UL << 20)
#define LINE  64
#define PAGE  4096

struct job {
    int id;
    long first, count;          /* blocks [first, first + count) */
    uint64_t sum;
    char pad[64];
};

static int nthreads;
static long nblocks, passes, touches;
static unsigned char **blocks;
static unsigned char *mapbase;
static pthread_barrier_t bar;
static double t_phase[8];
static double t_pass[64];

/* Thread 0 takes the time at each barrier; the others just wait. */
static void sync_point(int id, int phase)
{
    pthread_barrier_wait(&bar);
    if (id == 0) t_phase[phase] = now_s();
}

static uint64_t pass(struct job *j, int write)
{
    uint64_t s = 0;
    for (long b = j->first; b < j->first + j->count; b++) {
        unsigned char *p = blocks[b];
        for (size_t o = 0; o < BLOCK; o += LINE) {
            uint64_t *w = (uint64_t *)(p + o);
            s += *w;
            if (write) *w += 1;
        }
    }
    return s;
}

/* n read-modify-writes of one word on a random page of the job's blocks. */
static uint64_t touch_pages(struct job *j, rng_t *r, long n)
{
    const long pages = (long)(BLOCK / PAGE) - 1;    /* blocks need not be aligned */
    uint64_t s = 0;
    for (long i = 0; i < n && j->count; i++) {
        uint64_t x = rng_next(r);
        long b = j->first + (long)(x % (uint64_t)j->count);
        uint64_t *w = (uint64_t *)(blocks[b] + (size_t)((x >> 32) % (uint64_t)pages) * PAGE);
        s += *w;
        *w += 3;
    }
    return s;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    uint64_t s = 0;
    sync_point(j->id, 0);
    for (long b = j->first; b < j->first + j->count; b++) {
        unsigned char *p = mapbase ? mapbase + (size_t)b * BLOCK : malloc(BLOCK);
        if (!p) die("malloc");
        blocks[b] = p;
        for (size_t o = 0; o < BLOCK; o += LINE)
            *(uint64_t *)(p + o) = (uint64_t)b * BLOCK + o;
    }
    sync_point(j->id, 1);
    for (long i = 0; i < passes; i++) {
        double t0 = now_s();
        s += pass(j, 1);
        pthread_barrier_wait(&bar);
        if (j->id == 0) t_pass[i < 64 ? i : 63] = now_s() - t0;
    }
    sync_point(j->id, 2);
    s += pass(j, 0);
    sync_point(j->id, 3);
    rng_t r = rng_seed(0xacce55, (uint64_t)j->id);
    long mine = touches / nthreads;
    s += touch_pages(j, &r, mine / 2);
    sync_point(j->id, 4);
    s += touch_pages(j, &r, mine - mine / 2);
    sync_point(j->id, 5);
    if (!mapbase)
        for (long b = j->first; b < j->first + j->count; b++) free(blocks[b]);
    sync_point(j->id, 6);
    j->sum = s;
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    nthreads = (int)arg_long(argc, argv, 1, 1);
    nblocks = arg_long(argc, argv, 2, 1024);
    passes = arg_long(argc, argv, 3, 3);
    touches = argc > 4 ? strtol(argv[4], NULL, 10) : 0;
    if (passes > 64) passes = 64;
    if (nthreads > 256) nthreads = 256;
    if (argc > 5) {
        int fd = open(argv[5], O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
            char tmpl[4096];
            snprintf(tmpl, sizeof tmpl, "%s/access.XXXXXX", argv[5]);
            fd = mkstemp(tmpl);
            if (fd < 0) die(argv[5]);
            unlink(tmpl);
        }
        if (ftruncate(fd, (off_t)(nblocks * BLOCK))) die("ftruncate");
        mapbase = mmap(NULL, nblocks * BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (mapbase == MAP_FAILED) die("mmap");
        close(fd);
    }
    blocks = xmalloc(sizeof *blocks * (size_t)nblocks);
    struct job *jobs = xmalloc(sizeof *jobs * (size_t)nthreads);
    long per = nblocks / nthreads, extra = nblocks % nthreads, at = 0;
    for (int i = 0; i < nthreads; i++) {
        jobs[i].id = i;
        jobs[i].first = at;
        jobs[i].count = per + (i < extra);
        jobs[i].sum = 0;
        at += jobs[i].count;
    }
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads);
    run_threads(nthreads, worker, jobs, sizeof *jobs);
    uint64_t sum = 0;
    for (int i = 0; i < nthreads; i++) sum = sum * 1000003 + jobs[i].sum;

    phase_report("touch", t_phase[1] - t_phase[0]);
    qsort(t_pass, (size_t)passes, sizeof t_pass[0], cmp_d);
    phase_report("wpass", t_pass[passes / 2]);
    phase_report("rpass", t_phase[3] - t_phase[2]);
    if (touches) {
        long late = touches / nthreads - touches / nthreads / 2;
        phase_report("random", t_phase[5] - t_phase[3]);
        phase_report("random_us", (t_phase[5] - t_phase[3]) * 1e6 * nthreads / (double)touches);
        if (late > 0)
            phase_report("late_us", (t_phase[5] - t_phase[4]) * 1e6 / (double)late);
    }
    phase_report("free", t_phase[6] - t_phase[5]);
    free(jobs);
    free(blocks);
    if (mapbase) munmap(mapbase, nblocks * BLOCK);
    print_checksum(sum);
    return 0;
}
