/* Early writeback for a heap in a cgroup v1 memory cgroup.
 *
 * Cgroup v1 limits dirty page cache only against the whole machine's
 * memory, never per cgroup. A program that rewrites its heap's file pages
 * in a small v1 cgroup fills it with dirty pages; reclaim cannot take
 * those until they are written, so it wakes the flusher, which writes
 * them all at once. Most allocations then wait for that writeback, but
 * the filesystem also allocates for its own page-cache bookkeeping
 * (ext4's buffer heads) without the right to wait on it, and when such an
 * allocation finds nothing clean to reclaim the cgroup's OOM killer ends
 * the program. RAxML was killed so in a 124 MiB cgroup, with 61 of its
 * 63 MB of page cache under writeback.
 *
 * So once the heap has 8 MiB of file pages, under a v1 limit, a thread
 * watches the cgroup: when what reclaim could take without waiting, the
 * clean page cache plus the room still free under the limit, falls below
 * a tenth of the limit (8-64 MiB) and some cache is dirty, it starts
 * writeback of the backing files (sync_file_range, which does not wait),
 * so that pages come clean before reclaim has to find them. The free
 * room counts: a heap whose file pages all fit under the limit has
 * nothing clean once a program rewrites them, and writing them back then
 * only makes the next write to each 2 MiB folio dirty it again (a 2.8
 * GiB heap rewritten at random in a 4 GiB cgroup dirtied 62-81 GB and
 * ran 2.5-6.3x as long as in RAM).
 *
 * It reads the cgroup's memory.stat and usage every 5 ms while the cache
 * holds dirty pages, every 20 ms otherwise. When the last read found
 * CALM_MARGIN to spare above the floor, or nothing to write, it reads
 * again only once the process has taken a page fault: a page of ours
 * turns dirty only through a fault (writeback write-protects the pages
 * it cleans). So a process that computes on resident memory or waits
 * costs a getrusage every 20 ms, not a memory.stat every 5. A fault stuck
 * in reclaim has not counted yet; the margin is for what such faults may
 * take, and a read that finds no fault since the last one and less to
 * spare than that starts writeback. Cgroup v2 throttles each cgroup's
 * dirty pages itself, and a process under no v1 limit has the machine's
 * dirty limits: neither gets the thread.
 *
 * The thread is started at the first allocation that takes new pages
 * after the heap grew 8 MiB into file pages, where no allocator lock is
 * held (pthread_create may allocate), and again in a fork child, which
 * has no threads. */
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "backing/layout.h"
#include "backing/writeback.h"

#define MIB (UINT64_C(1) << 20)
#define BUSY_MS 5
#define IDLE_MS 20
#define CALM_MARGIN (16 * MIB)

static void *watch(void *unused);
struct service fsm_writeback = SERVICE_INIT(watch, "fsmem-writeback");

static struct {
    int stat_fd;           /* the limiting cgroup's memory.stat */
    int usage_fd;          /* ... and its memory.usage_in_bytes */
    uint64_t limit;
    uint64_t spare_floor;  /* start writeback when less than this is spare */
    _Atomic uint64_t kicks;
} W = {.stat_fd = -1, .usage_fd = -1};

void writeback_note_files(void)
{
    if (__builtin_expect(service_decided(&fsm_writeback), 1))
        return;
    char dir[1024], path[1024 + sizeof "/memory.usage_in_bytes"];
    uint64_t limit = cgroup_v1_limiting_dir(dir, sizeof dir);
    bool wanted = false;
    if (limit != UINT64_MAX) {
        strcat(strcpy(path, dir), "/memory.stat");
        W.stat_fd = open(path, O_RDONLY | O_CLOEXEC);
        strcat(strcpy(path, dir), "/memory.usage_in_bytes");
        W.usage_fd = open(path, O_RDONLY | O_CLOEXEC);
        W.limit = limit;
        if (W.stat_fd >= 0) {
            W.spare_floor = limit / 10;
            if (W.spare_floor < 8 * MIB)
                W.spare_floor = 8 * MIB;
            if (W.spare_floor > 64 * MIB)
                W.spare_floor = 64 * MIB;
            wanted = true;
        }
    }
    service_decide(&fsm_writeback, wanted);
}

static void start_writeback(void)
{
    sync_backing_files(SYNC_FILE_RANGE_WRITE);
    atomic_fetch_add_explicit(&W.kicks, 1, memory_order_relaxed);
}

/* The limiting cgroup's usage (page cache included), or UINT64_MAX. */
static uint64_t usage_now(void)
{
    char buf[32];
    if (W.usage_fd < 0)
        return UINT64_MAX;
    ssize_t n = pread(W.usage_fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return UINT64_MAX;
    buf[n] = 0;
    return stat_field(buf, "");
}

/* Page faults of the whole process so far, or -1. */
static long faults_so_far(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt + ru.ru_majflt : -1;
}

static void *watch(void *unused)
{
    char buf[4096];
    long seen = -1;
    bool calm = false;   /* the last read found no writeback needed soon */
    for (;;) {
        long faults = faults_so_far();
        bool faulted = faults != seen || faults < 0;
        if (calm && !faulted) {
            struct timespec ts = {0, IDLE_MS * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        seen = faults;
        ssize_t n = pread(W.stat_fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            break;   /* the cgroup is gone */
        buf[n] = 0;
        /* Hierarchical totals: the limit binds the whole subtree. */
        uint64_t cache = stat_field(buf, "\ntotal_cache ");
        uint64_t dirty = stat_field(buf, "\ntotal_dirty ");
        uint64_t under = stat_field(buf, "\ntotal_writeback ");
        bool known = cache != UINT64_MAX && dirty != UINT64_MAX && under != UINT64_MAX;
        uint64_t spare = known && cache > dirty + under ? cache - dirty - under : 0;
        uint64_t usage = usage_now();
        if (usage < W.limit)
            spare += W.limit - usage;   /* room reclaim need not make */
        /* No fault since the last read: the program waits, or a fault
         * of it is stuck in reclaim. Either way a good time to write
         * back until calm, which ends the reads. */
        uint64_t want = W.spare_floor + (faulted ? 0 : CALM_MARGIN);
        if (known && spare < want && dirty >= MIB)
            start_writeback();
        calm = known && (spare >= W.spare_floor + CALM_MARGIN || dirty < MIB);
        long ms = known && dirty + under > 0 ? BUSY_MS : IDLE_MS;
        struct timespec ts = {0, ms * 1000000L};
        nanosleep(&ts, NULL);
    }
    service_stop(&fsm_writeback);
    return NULL;
}

uint64_t writeback_kicks(void)
{
    return atomic_load_explicit(&W.kicks, memory_order_relaxed);
}
