/* Filling fresh file pages ahead of the program, from another CPU.
 *
 * The first write to a file page that has never held data faults in a
 * page-cache folio of up to 2 MiB and clears it, in the writing thread.
 * On a virtual machine whose balloon hands freed memory back to its host,
 * that first touch is also where the host gives the memory back, and a
 * thread filling fresh memory runs at that rate: 1.1-1.3 GB/s on the
 * reference machine, whose disk writes at 1.9 GB/s. A program that fills
 * a large part of its heap in address order (an array it has just
 * allocated, or blocks allocated one after another at the top) leaves
 * its other CPUs idle meanwhile.
 *
 * So this thread takes half of that work. Fresh pages are holes of the
 * files that nothing reads, so the ones in the page cache (mincore) are
 * the ones written: the frontier is the end of the run of cached 2 MiB
 * blocks from the earliest growth of the heap since the thread last
 * looked. The thread write-faults every other block (MADV_POPULATE_WRITE)
 * up to `ahead` past the frontier, and the program faults the others
 * itself, so both clear pages at once. Measured with access's fill of
 * 2 GiB in a 512 MiB cgroup, each run 7 s after the one before (the host
 * has taken the memory back), medians: 1.77 s alone; 1.41 s taking turns
 * by the block, 1.45 s by 4 MiB; a thread that filled every block ahead
 * did all the clearing while the program waited for it, 1.63-1.70 s.
 *
 * The thread fills nothing until the program has written two blocks
 * since the run began, and never more than `ahead` past what it has
 * written, nor past the disk reserved (arena_grow keeps up to 32 MiB
 * reserved above the top for it): a program that allocates and does not
 * write, or writes at random, costs at most that much clearing it would
 * not have done, and the pages stay below the cgroup's limit with room
 * to spare. A frontier that has not moved for STALL_MS ends the run, for
 * good: past it, a block that is not cached may be one the program wrote
 * and the cgroup evicted since, which a fill would read back (when runs
 * were resumed after a pause, the thread filled 1.2-1.8 GiB of
 * access's 2 GiB heap out of core where the fill gave it about 0.9:
 * it had followed the write pass, reading blocks back ahead of it). The
 * next growth of the heap starts another. It works under the paging
 * lock, on shared file pages only: a fork freezes the heap under that
 * lock, and frozen views must not be written. */
#include "backing/prefill.h"

#include <linux/futex.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "backing/layout.h"
#include "util/clock.h"

#define BLOCK_SHIFT 21
#define BLOCK ((uintptr_t)1 << BLOCK_SHIFT)
#define AHEAD_MAX ((uintptr_t)32 << 20)
#define AHEAD_MIN ((uintptr_t)8 << 20)
#define AHEAD_SHARE 16              /* at most this share of the page cache */
#define NAP_NS 500000               /* the program fills 2 MiB in 1.5 ms or more */
#define STALL_MS 50

static void *fill(void *unused);
struct service fsm_prefill = SERVICE_INIT(fill, "fsmem-prefill");

static struct {
    _Atomic uint32_t grown;         /* futex word: bumped at every growth */
    _Atomic uintptr_t start;        /* where the next run starts... */
    _Atomic bool pending;           /* ...if the thread has not taken it */
    _Atomic bool asleep;            /* the thread waits on grown */
    _Atomic int copying;            /* kernel copies in flight (move.c) */
    _Atomic uint32_t copies;        /* kernel copies ended */
    _Atomic uint64_t filled;
    _Atomic uintptr_t front, ahead; /* the run followed now; 0: none */
} P;

static inline uintptr_t block_down(uintptr_t a) { return a & ~(BLOCK - 1); }
static inline bool threads_turn(uintptr_t a) { return (a >> BLOCK_SHIFT) & 1; }

/* Whether the block at a has been written: its first page is cached. */
static bool written(uintptr_t a)
{
    unsigned char v = 0;
    return mincore((void *)a, 4096, &v) == 0 && (v & 1);
}

static int fill_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    (void)ctx;
    if (kind == PIECE_SHARED && madvise((void *)start, len, MADV_POPULATE_WRITE) == 0)
        atomic_fetch_add_explicit(&P.filled, len, memory_order_relaxed);
    return 0;
}

/* Fills the block at a if it is still reserved shared file pages: a
 * fork may have frozen it, which it does holding the paging lock. */
static void fill_block(uintptr_t a)
{
    lock_acquire(&A.paging_lock);
    if (a + BLOCK <= __atomic_load_n(&A.committed, __ATOMIC_RELAXED))
        for_pieces(a, a + BLOCK, fill_piece, NULL);
    lock_release(&A.paging_lock);
}

static void nap(void)
{
    struct timespec ts = {0, NAP_NS};
    nanosleep(&ts, NULL);
}

/* Waits until the heap grows past `seen` growths. */
static void wait_growth(uint32_t seen)
{
    atomic_store(&P.asleep, true);
    if (atomic_load(&P.grown) == seen)
        syscall(SYS_futex, &P.grown, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, seen, NULL, NULL, 0);
    atomic_store(&P.asleep, false);
}

static uintptr_t ahead_for_cache(void)
{
    uint64_t room = arena_cache_room() / AHEAD_SHARE;
    return room > AHEAD_MAX ? AHEAD_MAX : (uintptr_t)room;
}

/* A run: the program writing fresh pages in address order. */
struct run {
    uint32_t copies;    /* P.copies when it started */
    uintptr_t base;     /* the blocks below were written before the run */
    uintptr_t front;    /* the blocks in [base, front) are written */
    uintptr_t next;     /* the thread's next block */
    uintptr_t ahead;
};

/* Moves the frontier over the blocks written since; true if it moved. */
static bool advance(struct run *r, uintptr_t end)
{
    uintptr_t f = r->front;
    while (f < end && written(f))
        f += BLOCK;
    bool moved = f != r->front;
    r->front = f;
    return moved;
}

static void run_at(struct run *r, uintptr_t start)
{
    r->copies = atomic_load(&P.copies);
    r->front = block_down(start);
    advance(r, __atomic_load_n(&A.committed, __ATOMIC_RELAXED));
    r->base = r->next = r->front;
    r->ahead = ahead_for_cache();
}

/* Fills the thread's blocks ahead of the program's frontier while it
 * moves; returns once it has stood still for STALL_MS. Nothing is filled
 * until the program has written two blocks since the run started (the
 * first may hold older objects, or one page of a small one). Pages that a
 * kernel copy writes (realloc moving a block, move.c) are not the
 * program's writes: a copy ends the run, and the next one starts where
 * the copy ended. */
static void follow(struct run *r)
{
    uint64_t moved_ms = monotonic_ms();
    for (;;) {
        if (atomic_load(&P.copying) || atomic_load(&P.copies) != r->copies)
            return;
        uintptr_t end = __atomic_load_n(&A.committed, __ATOMIC_RELAXED);
        if (advance(r, end)) {
            moved_ms = monotonic_ms();
            atomic_store_explicit(&P.front, r->front, memory_order_relaxed);
        }
        if (r->next < r->front)
            r->next = r->front;
        uintptr_t limit = r->front >= r->base + 2 * BLOCK ? r->front + r->ahead : r->front;
        if (limit > end)
            limit = end;
        while (r->next < limit && (!threads_turn(r->next) || written(r->next)))
            r->next += BLOCK;
        if (r->next < limit) {
            fill_block(r->next);
            r->next += BLOCK;
        } else if (monotonic_ms() - moved_ms < STALL_MS) {
            nap();
        } else {
            return;
        }
    }
}

/* A run that follows a fill takes in the growths behind it: the first
 * growth after the run began is still the pending start when it stalls,
 * and taken as a new run it started below the frontier, where the next
 * pass over the heap was reading blocks back, and filled every other
 * block ahead of that pass (reading it from disk, and dirtying it). The
 * pass then faulted every other block, which the fault trail took for
 * random touches. A start in the block where the frontier stands, or
 * past it, is a growth the run did not cover. A kernel copy that ends
 * meanwhile sets a start of its own, which stays. */
static void drop_covered_start(const struct run *r)
{
    uintptr_t start = atomic_load(&P.start);
    if (start + BLOCK > r->front || !atomic_exchange(&P.pending, false))
        return;
    if (atomic_load(&P.start) != start)
        atomic_store(&P.pending, true);
}

static void *fill(void *unused)
{
    (void)unused;
    struct run r;
    for (;;) {
        uint32_t g = atomic_load(&P.grown);
        if (atomic_exchange(&P.pending, false)) {
            run_at(&r, atomic_load(&P.start));
            atomic_store_explicit(&P.ahead, r.ahead, memory_order_relaxed);
            atomic_store_explicit(&P.front, r.front, memory_order_relaxed);
            follow(&r);
            atomic_store_explicit(&P.front, 0, memory_order_relaxed);
            drop_covered_start(&r);
        } else {
            wait_growth(g);
        }
    }
    return NULL;
}

void prefill_note_files(void)
{
    if (__builtin_expect(service_decided(&fsm_prefill), 1))
        return;
    cpu_set_t cpus;
    bool several = sched_getaffinity(0, sizeof cpus, &cpus) == 0 && CPU_COUNT(&cpus) > 1;
    service_decide(&fsm_prefill, several && ahead_for_cache() >= AHEAD_MIN);
}

static void wake(void)
{
    atomic_fetch_add(&P.grown, 1);
    if (atomic_load(&P.asleep))
        syscall(SYS_futex, &P.grown, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL, 0);
}

/* The earliest growth since the thread last took a start is the next
 * start: a large block the program is about to write is often followed
 * by small growths (slabs for small objects) before the thread looks. */
void prefill_note_growth(uintptr_t start, uintptr_t end)
{
    if (end <= arena.ram_end)
        return;
    if (!atomic_load(&P.pending)) {
        atomic_store(&P.start, start > arena.ram_end ? start : arena.ram_end);
        atomic_store(&P.pending, true);
    }
    wake();
}

void prefill_copy_begin(void)
{
    atomic_fetch_add(&P.copying, 1);
}

void prefill_copy_end(uintptr_t end)
{
    atomic_fetch_add(&P.copies, 1);
    atomic_store(&P.start, end);
    atomic_store(&P.pending, true);
    atomic_fetch_sub(&P.copying, 1);
    wake();
}

void prefill_fork_child(void)
{
    atomic_store(&P.asleep, false);
    service_fork_child(&fsm_prefill);
}

/* The program's faults come at the frontier or just past it, and the
 * fault trail reads them up to a tick late: the 32 MiB behind the
 * frontier are in the window too (the program fills 2 MiB in 1.5 ms or
 * more). Random touches land in it for at most STALL_MS after a fill. */
bool prefill_filling(uintptr_t addr)
{
    uintptr_t front = atomic_load_explicit(&P.front, memory_order_relaxed);
    return front && addr + AHEAD_MAX >= front &&
           addr < front + atomic_load_explicit(&P.ahead, memory_order_relaxed) + BLOCK;
}

uint64_t prefill_bytes(void)
{
    return atomic_load_explicit(&P.filled, memory_order_relaxed);
}
