/* The fault trail: where each thread of the program takes its major
 * faults, for the sampler's gate (sampler.c).
 *
 * Linux counts page faults as software perf events: no hardware counter
 * is needed, and an unprivileged process may sample its own threads
 * under perf_event_paranoid 2, the kernel's default. (Kernels patched
 * as Debian's are refuse at 3, and so does a seccomp filter; the gate
 * then goes by user time alone.) Each followed
 * thread gets an event that writes the address of every major fault it
 * takes in user mode into a ring of one page, which this thread reads.
 * A fault taken inside a system call, such as read() filling the heap,
 * is the kernel's and leaves nothing: a program that loads its input is
 * not seen faulting at random.
 *
 * Per thread the trail keeps the 2 MiB blocks of its last TRAIL_RECENT
 * faults and a run: how many faults in a row landed more than a block
 * away from all of those. A pass faults next to where it faulted last,
 * and so do up to TRAIL_RECENT passes interleaved (c[i] = a[i] + b[i]);
 * random touches land anywhere. A fill of fresh pages faults every other
 * block, as the prefill thread takes the others (prefill.c): its faults
 * are near ones, as they are a pass's. (A fill's fault reads next to
 * nothing, but now and then it waits on the file's extents: taken for
 * far faults, those made runs of 64 KiB a fault that switched a 1 GiB
 * fill to 4 KiB reads now and then. Taking two blocks away as near for
 * every fault delayed the trial of random touches over a 1 GiB heap:
 * 19-78 KiB read a fault over 4,000 touches, against 12.) A run is the
 * gate's evidence if the thread also ran little between those faults (a
 * program that works through scattered blocks, a tree of vectors as in
 * PhyML, mostly computes between its faults and wants its blocks whole),
 * if most of
 * them read from disk, and if they spread over more than the page cache
 * can hold. A run must be TRAIL_RUN faults long, however wide: PhyML
 * has runs of up to 19 faults with little work over 100-176 MiB of its
 * heap, against 113 MiB of cache in its cgroup (runs of 16 let them
 * switch it, undone within 0.4 s), and runs of up to 15 over 430-700
 * MiB (runs of 8 over four times the cache's room switched it).
 *
 * A run of TRAIL_TRIAL_RUN that looks random so far is suspect, or of
 * TRAIL_EARLY_RUN when no run got that far for a while (trail.h): the
 * sampler then tries 4 KiB reads, which make the run's later faults
 * cheap to wait on. Random touches land next to a recent block now and
 * then, so a suspect run that breaks stays suspect for a few faults,
 * the time a new run needs to become suspect itself. The kernel wakes
 * trail_wait every TRAIL_WAKE records, so that a run is judged as it
 * grows: at the sampler's ticks alone, the first 20 ms of random
 * touches went by before a run was even seen.
 *
 * A followed thread costs two locked pages (the ring) and a descriptor.
 * Once the heap has switched to 4 KiB reads (not while they are on
 * trial) the events are paused: such faults are many, and the gate does
 * not look at them. */
#include "backing/trail.h"

#include <errno.h>
#include <stdatomic.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backing/prefill.h"
#include "util/clock.h"

#define TRAIL_THREADS 64
#define TRAIL_RECENT 8
#define TRAIL_RUN 32
#define TRAIL_WAKE 2             /* faults of a thread that wake trail_wait */
#define BLOCK_SHIFT 21

#ifdef FSMEM_SAMPLER_TRACE
#include <stdio.h>
#endif

struct followed {
    int fd;
    struct perf_event_mmap_page *ring;
    uint64_t recent[TRAIL_RECENT];
    unsigned nrecent, at;
    unsigned run;                /* faults in a row away from the recent ones */
    uint64_t run_lo, run_hi;     /* the lowest and highest block of the run */
    bool run_new;                /* the run began in the records being read */
    unsigned run_base;           /* faults of the run before run_from */
    struct task_work run_from;   /* the thread's work after the read where the run began */
    bool run_known;              /* run_from could be read */
    enum trail_word word;        /* what the run says so far (not RANDOM) */
    unsigned grace;              /* faults for which a broken long run still counts */
    unsigned trial_run;          /* the run's faults for a trial (trail.h) */
};

static struct {
    bool off;                    /* the kernel refused: never again */
    bool paused;
    size_t page;
    int tid[TRAIL_THREADS];      /* tasks_place's table: slot i follows tid[i] */
    struct followed f[TRAIL_THREADS];
    /* for trail_usage, read by other threads */
    _Atomic bool refused;
    _Atomic unsigned most_followed;
    _Atomic uint64_t runs;
    uint64_t early_ns;           /* when a run last reached TRAIL_EARLY_RUN faults */
} T;

static size_t ring_bytes(void) { return 2 * T.page; }   /* header page + one page of records */

static int open_event(int tid)
{
    struct perf_event_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_SOFTWARE;
    a.config = PERF_COUNT_SW_PAGE_FAULTS_MAJ;
    a.sample_period = 1;
    a.sample_type = PERF_SAMPLE_ADDR;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    a.disabled = T.paused;
    /* trail_wait is woken every TRAIL_WAKE faults, so that a run is
     * judged as soon as it can be, not at the next tick. */
    a.wakeup_events = TRAIL_WAKE;
    return (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

/* Follows thread tid in slot f; false if it cannot be, with T.off set
 * when no thread ever could be (no perf events, or not allowed). */
static bool start(struct followed *f, int tid)
{
    int fd = open_event(tid);
    if (fd < 0) {
        T.off = errno == EACCES || errno == EPERM || errno == ENOSYS || errno == ENOENT ||
                errno == EOPNOTSUPP || errno == EINVAL;
        if (T.off)
            atomic_store_explicit(&T.refused, true, memory_order_relaxed);
        return false;
    }
    void *ring = mmap(NULL, ring_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ring == MAP_FAILED) {
        close(fd);
        return false;
    }
    memset(f, 0, sizeof *f);
    f->fd = fd;
    f->ring = ring;
    return true;
}

/* In a fork child the descriptor is the parent's event, which closing
 * leaves alone, and the ring was not copied (perf maps it VM_DONTCOPY):
 * the munmap then finds nothing to undo. */
static void let_go(struct followed *f)
{
    munmap(f->ring, ring_bytes());
    close(f->fd);
}

bool trail_follow(const struct task_counters *tasks, int n)
{
    if (T.off)
        return false;
    if (!T.page)
        T.page = (size_t)sysconf(_SC_PAGESIZE);
    int slot[TRAIL_THREADS];
    unsigned char change[TRAIL_THREADS];
    tasks_place(tasks, n, T.tid, TRAIL_THREADS, slot, change);
    for (int i = 0; i < TRAIL_THREADS; i++)
        if (change[i] & SLOT_LEFT)
            let_go(&T.f[i]);
    for (int i = 0; i < TRAIL_THREADS; i++) {
        if (!(change[i] & SLOT_TAKEN) || start(&T.f[i], T.tid[i]))
            continue;
        T.tid[i] = 0;   /* tried again at the next step */
        if (T.off) {
            for (int j = i + 1; j < TRAIL_THREADS; j++)
                if (change[j] & SLOT_TAKEN)
                    T.tid[j] = 0;   /* not started */
            trail_stop();
            return false;
        }
    }
    unsigned followed = 0;
    for (int k = 0; k < n; k++)
        followed += slot[k] >= 0 && T.tid[slot[k]] != 0;
    if (followed > atomic_load_explicit(&T.most_followed, memory_order_relaxed))
        atomic_store_explicit(&T.most_followed, followed, memory_order_relaxed);
    /* A thread left out (no slot, no descriptor, or no locked memory
     * left for its ring) is for the gate to judge. */
    return n > 0 && followed == (unsigned)n;
}

static void copy_out(const char *data, size_t size, uint64_t at, void *to, size_t len)
{
    for (size_t i = 0; i < len; i++)
        ((char *)to)[i] = data[(at + i) & (size - 1)];
}

/* One fault at addr of thread f. */
static void note(struct followed *f, uint64_t addr, uintptr_t lo, uintptr_t hi)
{
    if (addr < lo || addr >= hi)
        return;
    uint64_t b = addr >> BLOCK_SHIFT;
    bool near = false;
    for (unsigned i = 0; i < f->nrecent; i++)
        near |= b + 1 >= f->recent[i] && b <= f->recent[i] + 1;
    near |= prefill_filling((uintptr_t)addr);
    f->recent[f->at++ % TRAIL_RECENT] = b;
    if (f->nrecent < TRAIL_RECENT)
        f->nrecent++;
    if (f->grace)
        f->grace--;
    if (near) {
        /* Random touches over a heap of 500 blocks land next to one of
         * the last eight one time in twenty: a suspect run so broken
         * still counts until a new one has had the faults to become
         * suspect itself, while a pass goes on faulting near. */
        if (f->trial_run && f->run >= f->trial_run && f->word == TRAIL_SUSPECT)
            f->grace = 2 * TRAIL_TRIAL_RUN;
        f->run = 0;
        f->run_new = false;
    } else if (f->run++ == 0) {
        f->run_new = true;
        f->trial_run = 0;
        f->run_lo = f->run_hi = b;
    } else {
        f->run_lo = b < f->run_lo ? b : f->run_lo;
        f->run_hi = b > f->run_hi ? b : f->run_hi;
    }
}

/* What thread f's run says, its records just read. A read comes after
 * the faults it finds, so the run's work is counted from the end of the
 * read where the run began, over the faults after it: counted from the
 * read before, a pass's last tick (20 ms of its work) made the first run
 * of random touches look busy. */
static enum trail_word judge(struct followed *f, int tid, uint64_t span)
{
    if (f->run == 0)
        return TRAIL_QUIET;
    struct task_work now;
    bool known = task_work_read(tid, &now);
    if (f->run_new) {
        f->run_new = false;
        f->run_from = now;
        f->run_known = known;
        f->run_base = f->run;
        return TRAIL_QUIET;
    }
    unsigned n = f->run - f->run_base;
    if (f->run >= TRAIL_EARLY_RUN && !f->trial_run) {
        /* The first run to get this far after a quiet spell may be tried
         * early; whichever thread's it is, it makes the next one wait. */
        uint64_t at = monotonic_ns();
        f->trial_run = at - T.early_ns >= TRAIL_QUIET_NS ? TRAIL_EARLY_RUN : TRAIL_TRIAL_RUN;
        T.early_ns = at;
    }
    if (!f->trial_run || f->run < f->trial_run || n < f->trial_run / 2)
        return TRAIL_QUIET;
    /* Random touches: little time run, most faults reading from disk (a
     * fault on a page the heap never wrote reads nothing: a program that
     * first writes its arrays out of order is no random reader; half a
     * page a fault, as the run's later faults may read single pages),
     * and over more than span: touches within what the page cache holds
     * stop faulting once their blocks are in, and 2 MiB reads bring them
     * in sooner. */
    int64_t ns = now.run_ns - f->run_from.run_ns;
    int64_t read = now.read_bytes - f->run_from.read_bytes;
    uint64_t spread = (f->run_hi - f->run_lo + 1) << BLOCK_SHIFT;
    bool random = known && f->run_known && ns < (int64_t)n * TRAIL_NS &&
                  read >= (int64_t)(n * T.page / 2) && spread >= span;
    if (f->run < TRAIL_RUN || n < TRAIL_RUN / 2)
        return random ? TRAIL_SUSPECT : TRAIL_QUIET;
#ifdef FSMEM_SAMPLER_TRACE
    fprintf(stderr, "trail %d run %u us-a-fault %lld KiB-a-fault %lld spread-MiB %llu of %llu\n",
            tid, f->run, (long long)ns / 1000 / n, (long long)read / 1024 / n,
            (unsigned long long)spread >> 20, (unsigned long long)span >> 20);
#endif
    f->run = 0;
    if (random)
        atomic_fetch_add_explicit(&T.runs, 1, memory_order_relaxed);
    return random ? TRAIL_RANDOM : TRAIL_QUIET;
}

/* Reads thread f's ring and says what its run looks like. */
static enum trail_word drain(struct followed *f, int tid, uintptr_t lo, uintptr_t hi,
                             uint64_t span)
{
    struct perf_event_mmap_page *ring = f->ring;
    uint64_t head = __atomic_load_n(&ring->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = ring->data_tail;
    if (tail == head)
        return f->word;
    const char *data = (const char *)ring + T.page;
    while (tail + sizeof(struct perf_event_header) <= head) {
        struct perf_event_header h;
        copy_out(data, T.page, tail, &h, sizeof h);
        if (h.size < sizeof h)
            break;
        if (h.type == PERF_RECORD_SAMPLE && h.size >= sizeof h + sizeof(uint64_t)) {
            uint64_t addr;
            copy_out(data, T.page, tail + sizeof h, &addr, sizeof addr);
            note(f, addr, lo, hi);
        }
        tail += h.size;
    }
    __atomic_store_n(&ring->data_tail, head, __ATOMIC_RELEASE);
    enum trail_word word = judge(f, tid, span);
    if (word == TRAIL_RANDOM) {
        f->word = TRAIL_QUIET;
        return word;
    }
    f->word = word == TRAIL_QUIET && f->grace ? TRAIL_SUSPECT : word;
    return f->word;
}

bool trail_wait(long ms)
{
    struct pollfd fds[TRAIL_THREADS];
    nfds_t n = 0;
    if (!T.off && !T.paused)
        for (int i = 0; i < TRAIL_THREADS; i++)
            if (T.tid[i])
                fds[n++] = (struct pollfd){.fd = T.f[i].fd, .events = POLLIN};
    int64_t due = (int64_t)monotonic_ns() + (int64_t)ms * 1000000;
    for (;;) {
        int64_t ns = due - (int64_t)monotonic_ns();
        if (ns <= 0)
            return false;
        struct timespec left = {ns / 1000000000, ns % 1000000000};
        int got = ppoll(fds, n, &left, NULL);
        if (got < 0 && errno != EINTR)
            nanosleep(&left, NULL);   /* cannot wait on the events: a tick as before */
        if (got <= 0)
            return false;
        /* The event of a thread that has exited hangs up until the next
         * tick lets go of it: not a reason to wake. */
        bool woken = false;
        for (nfds_t i = 0; i < n; i++) {
            woken |= (fds[i].revents & POLLIN) != 0;
            if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL))
                fds[i].fd = -1;
        }
        if (woken)
            return true;
    }
}

enum trail_word trail_read(uintptr_t lo, uintptr_t hi, uint64_t span)
{
    if (T.off || T.paused)
        return TRAIL_QUIET;
    enum trail_word most = TRAIL_QUIET;
    for (int i = 0; i < TRAIL_THREADS; i++)
        if (T.tid[i]) {
            enum trail_word w = drain(&T.f[i], T.tid[i], lo, hi, span);
            most = w > most ? w : most;
        }
    return most;
}

/* What was recorded so far says nothing of what comes. */
static void forget(struct followed *f)
{
    f->ring->data_tail = __atomic_load_n(&f->ring->data_head, __ATOMIC_ACQUIRE);
    f->nrecent = f->at = f->run = f->grace = 0;
    f->run_new = false;
    f->word = TRAIL_QUIET;
}

void trail_forget(void)
{
    for (int i = 0; i < TRAIL_THREADS; i++)
        if (T.tid[i])
            forget(&T.f[i]);
}

void trail_pause(bool paused)
{
    if (T.off || T.paused == paused)
        return;
    T.paused = paused;
    for (int i = 0; i < TRAIL_THREADS; i++) {
        struct followed *f = &T.f[i];
        if (!T.tid[i])
            continue;
        ioctl(f->fd, paused ? PERF_EVENT_IOC_DISABLE : PERF_EVENT_IOC_ENABLE, 0);
        forget(f);   /* what was recorded is about the other paging */
    }
}

void trail_usage(struct trail_usage *u)
{
    u->refused = atomic_load_explicit(&T.refused, memory_order_relaxed);
    u->most_followed = atomic_load_explicit(&T.most_followed, memory_order_relaxed);
    u->runs = atomic_load_explicit(&T.runs, memory_order_relaxed);
}

void trail_stop(void)
{
    for (int i = 0; i < TRAIL_THREADS; i++)
        if (T.tid[i]) {
            let_go(&T.f[i]);
            T.tid[i] = 0;
        }
    T.paused = false;
}
