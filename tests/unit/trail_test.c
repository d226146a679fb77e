/* The fault trail on a real file mapping read back from disk, mapped as
 * fsmem maps file chunks (huge pages asked for, random access):
 *   - faults block after block (a pass) make no verdict;
 *   - faults on blocks far apart within 80 MiB make none where the page
 *     cache is taken to hold 128 MiB;
 *   - over 192 MiB, with nothing done between, they make one;
 *   - the same with 2 ms of computing before each fault make none;
 *   - read() into far-apart blocks (the kernel's faults) makes none;
 *   - twenty far faults make none, but are suspect from the eighth on,
 *     or from the fourth after a second in which no run got that far;
 *     one fault next to a recent one does not end that, a pass does
 *     within a few faults;
 *   - trail_wait wakes early once the thread has faulted a few times,
 *     and sleeps its whole time otherwise.
 * Skips where perf events are refused, where a fault does not read
 * 2 MiB (kernels before 5.18), or where a fault alone takes most of the
 * run time a random touch may have (an emulated CPU: 2.1-2.3 ms under
 * qemu without KVM, against 0.18 ms on the machines the tests were
 * written on), so that no run can look random. */
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

/* What the trail said after each touch of the last touch() */
static enum trail_word said[64];

/* Touches one page in each of the blocks first, first + step, ...
 * (count of them, at most 64, modulo range), spinning ms before each;
 * true when the trail, read after every touch, gave a verdict for
 * random touches where the page cache is taken to hold 128 MiB. */
static bool touch(size_t first, size_t step, int count, long ms, size_t range)
{
    bool verdict = false;
    uintptr_t lo = (uintptr_t)map, hi = lo + BLOCKS * BLOCK;
    for (int i = 0; i < count; i++) {
        if (ms)
            spin_ms(ms);
        map[((first + (size_t)i * step) % range) * BLOCK + 4096 * 7]++;
        said[i] = trail_read(lo, hi, 64 * BLOCK);
        verdict |= said[i] == TRAIL_RANDOM;
    }
    return verdict;
}

/* The touches (from..to] of the last touch() were all said to be w. */
static bool all_said(int from, int to, enum trail_word w)
{
    for (int i = from; i < to; i++)
        if (said[i] != w)
            return false;
    return true;
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
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
    struct timespec c0, c1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
    CHECK(!touch(0, 1, 48, 0, BLOCKS));   /* a pass */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
    long faults = major_faults() - f0;
    if (faults > 60) {
        printf("trail: skipped (%ld faults for 48 blocks: no 2 MiB reads here)\n", faults);
        trail_stop();
        return check_done("trail");
    }
    long fault_ns = ((c1.tv_sec - c0.tv_sec) * 1000000000L + (c1.tv_nsec - c0.tv_nsec)) /
                    (faults > 0 ? faults : 1);
    if (fault_ns > TRAIL_NS * 3 / 4) {
        printf("trail: skipped (a 2 MiB fault took %ld us of CPU here, too close to the"
               " trail's bound of %d us a fault for random touches)\n",
               fault_ns / 1000, TRAIL_NS / 1000);
        trail_stop();
        return check_done("trail");
    }
    drop_cache();
    CHECK(!touch(0, 3, 48, 0, 40));   /* far apart, but within 40 blocks */
    /* Blocks 7 apart, nothing done between. A few blocks in a row first
     * end the run that the faults above left open: carried over, it
     * counted drop_cache's work (writing back and evicting 96 MiB) as
     * run time between faults, up to 0.5 ms a fault, and now and then
     * these touches did not look random. */
    drop_cache();
    CHECK(!touch(92, 1, 4, 0, BLOCKS));
    CHECK(touch(40, 7, 48, 0, BLOCKS));
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
    CHECK(trail_read((uintptr_t)map, (uintptr_t)map + BLOCKS * BLOCK, 0) == TRAIL_QUIET);
    trail_usage(&u);
    CHECK(u.runs == runs);

    /* Twenty far faults spread over more than the cache from the second
     * on, just after another run reached TRAIL_EARLY_RUN faults (five
     * far ones within 26 MiB, which do not look random, broken by a
     * near one): suspect from the TRAIL_TRIAL_RUN-th on, the run's work
     * counted from the read after its first fault. Eight blocks in a
     * row first end any run and fill the recent blocks. */
    drop_cache();
    CHECK(!touch(88, 1, 8, 0, BLOCKS));
    CHECK(!touch(0, 3, 5, 0, BLOCKS) && all_said(0, 5, TRAIL_QUIET));
    CHECK(!touch(13, 1, 1, 0, BLOCKS));
    CHECK(!touch(23, 63, 20, 0, BLOCKS));
    CHECK(all_said(0, TRAIL_TRIAL_RUN - 1, TRAIL_QUIET) &&
          all_said(TRAIL_TRIAL_RUN - 1, 20, TRAIL_SUSPECT));
    /* The same after a quiet spell: suspect from the
     * TRAIL_EARLY_RUN-th on. The run above is forgotten first, as the
     * sampler forgets runs when it calls a trial off: carried on, its
     * fault-free second would make it look all the more random (run time
     * is time on the CPU), and a near fault would leave it suspect for a
     * few faults more. */
    trail_forget();
    struct timespec quiet = {TRAIL_QUIET_NS / 1000000000 + 1, 0};
    nanosleep(&quiet, NULL);
    drop_cache();
    CHECK(!touch(88, 1, 8, 0, BLOCKS));
    CHECK(!touch(10, 70, 20, 0, BLOCKS));
    CHECK(all_said(0, TRAIL_EARLY_RUN - 1, TRAIL_QUIET) &&
          all_said(TRAIL_EARLY_RUN - 1, 20, TRAIL_SUSPECT));
    /* One fault next to a recent block (4), then far ones again: still
     * suspect throughout. */
    CHECK(!touch(3, 1, 1, 0, BLOCKS) && all_said(0, 1, TRAIL_SUSPECT));
    CHECK(!touch(0, 13, 19, 0, BLOCKS) && all_said(0, 19, TRAIL_SUSPECT));
    /* A pass: quiet within a few faults. */
    drop_cache();
    CHECK(!touch(0, 1, 20, 0, BLOCKS));
    CHECK(all_said(17, 20, TRAIL_QUIET));

    /* Faults not yet read wake trail_wait at once; none let it sleep. */
    drop_cache();
    trail_read((uintptr_t)map, (uintptr_t)map + BLOCKS * BLOCK, 0);
    trail_wait(1);   /* a wake-up left by the faults before */
    for (int i = 0; i < 16; i++)
        map[(size_t)((i * 7) % BLOCKS) * BLOCK]++;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(trail_wait(5000));
    CHECK(elapsed_ms(&t0) < 2500);
    trail_read((uintptr_t)map, (uintptr_t)map + BLOCKS * BLOCK, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(!trail_wait(100));
    CHECK(elapsed_ms(&t0) >= 99);

    trail_stop();
    munmap(map, BLOCKS * BLOCK);
    close(fd);
    return check_done("trail");
}
