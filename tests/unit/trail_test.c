/* The fault trail on a real file mapping read back from disk, mapped as
 * fsmem maps file chunks (huge pages asked for, random access):
 *   - faults block after block (a pass) make no verdict;
 *   - faults on blocks far apart within 80 MiB make none where the page
 *     cache is taken to hold 128 MiB;
 *   - over 192 MiB, with nothing done between, they make one;
 *   - the same with 2 ms of computing before each fault make none;
 *   - read() into far-apart blocks (the kernel's faults) makes none.
 * Skips where perf events are refused, or where a fault does not read
 * 2 MiB (kernels before 5.18, filesystems without large folios). */
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backing/trail.h"
#include "check.h"

#define BLOCK ((size_t)2 << 20)
#define BLOCKS 96

static char *map;
static int fd;

/* Makes the file's pages leave the page cache, so that touches fault. */
static void drop_cache(void)
{
    CHECK(msync(map, BLOCKS * BLOCK, MS_SYNC) == 0);
    CHECK(madvise(map, BLOCKS * BLOCK, MADV_DONTNEED) == 0);
    CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
}

static long major_faults(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_majflt;
}

static void spin_ms(long ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    while ((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < ms);
}

/* Touches one page in each of the blocks first, first + step, ...
 * (count of them, modulo range), spinning ms before each; true when the
 * trail, read after every touch, gave a verdict for random touches over
 * more than 64 blocks. */
static bool touch(size_t first, size_t step, int count, long ms, size_t range)
{
    bool verdict = false;
    uintptr_t lo = (uintptr_t)map, hi = lo + BLOCKS * BLOCK;
    for (int i = 0; i < count; i++) {
        if (ms)
            spin_ms(ms);
        map[((first + (size_t)i * step) % range) * BLOCK + 4096 * 7]++;
        verdict |= trail_scattered(lo, hi, 64 * BLOCK);
    }
    return verdict;
}

int main(void)
{
    const char *dir = getenv("FSMEM_DIR");
    fd = open(dir ? dir : "/var/tmp", O_TMPFILE | O_RDWR, 0600);
    CHECK(fd >= 0);
    if (fd < 0)
        return check_done("trail");
    CHECK(ftruncate(fd, (off_t)(BLOCKS * BLOCK)) == 0);
    map = mmap(NULL, BLOCKS * BLOCK + BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(map != MAP_FAILED);
    /* 2 MiB aligned, as fsmem's chunks are */
    munmap(map, BLOCKS * BLOCK + BLOCK);
    char *want = (char *)(((uintptr_t)map + BLOCK - 1) & ~(uintptr_t)(BLOCK - 1));
    map = mmap(want, BLOCKS * BLOCK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    CHECK(map == want);
    madvise(map, BLOCKS * BLOCK, MADV_HUGEPAGE);
    madvise(map, BLOCKS * BLOCK, MADV_RANDOM);
    for (size_t o = 0; o < BLOCKS * BLOCK; o += 4096)
        map[o] = (char)o;   /* data, not holes: faults must read */
    drop_cache();

    struct task_counters self = {.tid = (int)syscall(SYS_gettid)};
    if (!trail_follow(&self, 1)) {
        struct trail_usage u;
        trail_usage(&u);
        CHECK(u.refused);   /* the only reason a live thread is not followed */
        printf("trail: skipped (perf events refused here)\n");
        return check_done("trail");
    }
    long f0 = major_faults();
    CHECK(!touch(0, 1, 48, 0, BLOCKS));   /* a pass */
    long faults = major_faults() - f0;
    if (faults > 60) {
        printf("trail: skipped (%ld faults for 48 blocks: no 2 MiB reads here)\n", faults);
        trail_stop();
        return check_done("trail");
    }
    drop_cache();
    CHECK(!touch(0, 3, 48, 0, 40));   /* far apart, but within 40 blocks */
    drop_cache();
    CHECK(touch(40, 7, 48, 0, BLOCKS));   /* blocks 7 apart, nothing done between */
    struct trail_usage u;
    trail_usage(&u);
    uint64_t runs = u.runs;
    CHECK(!u.refused && u.most_followed == 1 && runs >= 1);
    drop_cache();
    CHECK(!touch(40, 7, 48, 2, BLOCKS));   /* the same, computing 2 ms before each */

    /* read() filling far-apart blocks: the faults are the kernel's */
    drop_cache();
    int src = open("/proc/self/exe", O_RDONLY);
    CHECK(src >= 0);
    for (int i = 0; i < 48; i++)
        CHECK(pread(src, map + ((40 + (size_t)i * 7) % BLOCKS) * BLOCK + 8192, 4096, 0) == 4096);
    close(src);
    CHECK(!trail_scattered((uintptr_t)map, (uintptr_t)map + BLOCKS * BLOCK, 0));
    trail_usage(&u);
    CHECK(u.runs == runs);

    trail_stop();
    munmap(map, BLOCKS * BLOCK);
    close(fd);
    return check_done("trail");
}
