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
 * watches the cgroup's page cache: when less than a tenth of the limit
 * (8-64 MiB) of it is clean and some is dirty, it starts writeback of the
 * backing files (sync_file_range, which does not wait), so that pages
 * come clean before reclaim has to find them. It reads the cgroup's
 * memory.stat every 5 ms while the cache holds dirty pages, every 20 ms
 * otherwise. When the last read found clean pages to spare (CALM_MARGIN
 * above the floor) or nothing to write, it reads again only once the
 * process has taken a page fault: a page of ours turns dirty only through
 * a fault (writeback write-protects the pages it cleans). So a process
 * that computes on resident memory or waits costs a getrusage every
 * 20 ms, not a memory.stat every 5. A fault stuck in reclaim has not
 * counted yet; the margin is for what such faults may take, and a read
 * that finds no fault since the last one and less clean than that starts
 * writeback. Cgroup v2
 * throttles each cgroup's dirty pages itself, and a process under no v1
 * limit has the machine's dirty limits: neither gets the thread.
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
    uint64_t clean_floor;  /* start writeback when less than this is clean */
    _Atomic uint64_t kicks;
} W = {.stat_fd = -1};

void writeback_note_files(void)
{
    if (__builtin_expect(service_decided(&fsm_writeback), 1))
        return;
    char dir[1024];
    uint64_t limit = cgroup_v1_limiting_dir(dir, sizeof dir - sizeof "/memory.stat");
    bool wanted = false;
    if (limit != UINT64_MAX) {
        strcat(dir, "/memory.stat");
        W.stat_fd = open(dir, O_RDONLY | O_CLOEXEC);
        if (W.stat_fd >= 0) {
            W.clean_floor = limit / 10;
            if (W.clean_floor < 8 * MIB)
                W.clean_floor = 8 * MIB;
            if (W.clean_floor > 64 * MIB)
                W.clean_floor = 64 * MIB;
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
        uint64_t clean = known && cache > dirty + under ? cache - dirty - under : 0;
        /* No fault since the last read: the program waits, or a fault
         * of it is stuck in reclaim. Either way a good time to write
         * back until calm, which ends the reads. */
        uint64_t want = W.clean_floor + (faulted ? 0 : CALM_MARGIN);
        if (known && clean < want && dirty >= MIB)
            start_writeback();
        calm = known && (clean >= W.clean_floor + CALM_MARGIN || dirty < MIB);
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
