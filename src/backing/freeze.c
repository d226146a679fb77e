/* fork: freezing the heap's file pages before a fork, thawing them once
 * no other process can see them, and a fork child's own files. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backing/file.h"
#include "backing/layout.h"
#include "backing/prefill.h"
#include "backing/sampler.h"
#include "backing/writeback.h"
#include "util/clock.h"
#include "util/msg.h"

/* Bits of /proc/self/pagemap entries, and the thaw state (see
 * arena_maybe_thaw). */
#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_SWAPPED (UINT64_C(1) << 62)
#define PM_FILE (UINT64_C(1) << 61)
#define PM_EXCLUSIVE (UINT64_C(1) << 56)
#define THAW_CHECK_MS 50

static struct {
    volatile char *canary;
    bool forbidden;           /* a fork child: its frozen views are not its own */
    uint64_t next_check_ms;
    int pagemap;              /* /proc/self/pagemap while thawing */
} T = {.pagemap = -1};

static int freeze_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    if (kind != PIECE_SHARED)
        return 0;
    void *got = mmap((void *)start, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                     A.fd[file_dir(start)], (off_t)file_offset(start));
    if (got != (void *)start)
        msg_die(127, "cannot remap the heap for fork", NULL, NULL);
    return 0;
}

static int punch_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    if (kind == PIECE_SHARED)
        file_punch(A.fd[file_dir(start)], file_offset(start), len);
    return 0;
}

/* Two processes must never share a writable file page: each would see
 * the other's later writes. Before fork (allocator locked) the shared
 * file pages below the top are frozen: remapped copy-on-write from the
 * same files, at offsets that nobody writes again, so parent and child
 * inherit identical private views, as fork promises. Shared pages above
 * the top are unmapped, so that each process maps its own when it grows:
 * the parent in its files, at offsets past the frozen ones; the child in
 * files of its own (arena_fork_child). Cost: a few system calls,
 * whatever the size of the heap. The price: frozen pages rewritten later
 * are anonymous memory, which the kernel cannot write to the files. */
void arena_freeze(void)
{
    uintptr_t top = arena.top;
    if (top <= arena.ram_end || top <= A.frozen_top)
        return;
    if (!T.canary && !T.forbidden) {
        void *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (c != MAP_FAILED) {
            T.canary = c;
            T.canary[0] = 1;   /* present, and never written again */
        }
    }
    for_pieces(A.frozen_top, top, freeze_piece, NULL);
    if (A.mapped > top) {
        for_pieces(top, A.committed, punch_piece, NULL);   /* reserved ahead, unused */
        mmap((void *)top, A.mapped - top, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
        A.mapped = top;
    }
    A.frozen_top = top;
    A.committed = top;
}

/* Thawing: once no other process can see the frozen views, the parent
 * writes the frozen pages it has rewritten since back into its files and
 * maps them shared again, so its heap is file-backed (and reclaimable)
 * once more.
 *
 * Who can see them is told by a canary: a private anonymous page written
 * once before the first freeze and never again. fork shares it
 * copy-on-write with every child, grandchild and so on, and exec or exit
 * drops their reference; when the kernel reports it exclusively ours
 * (/proc/self/pagemap bit 56), no process holds a frozen view any more.
 * Only the process that froze its own files thaws (a fork child's frozen
 * views are of its parent's files), and only while it has a single
 * thread: the write-back must not race with a write to a page already
 * copied. Signals are blocked meanwhile for the same reason. */
static uint64_t pagemap_entry(uintptr_t addr)
{
    uint64_t e = 0;
    if (pread(T.pagemap, &e, sizeof e, (off_t)((addr >> 12) * sizeof e)) != sizeof e)
        return 0;
    return e;
}

static bool thaw_safe(void)
{
    /* nlink is 2 + the number of threads; fsmem's own (early writeback,
     * the paging sampler) never touch the heap. */
    struct stat st;
    if (stat("/proc/self/task", &st) != 0 ||
        st.st_nlink != 3 + (nlink_t)service_threads())
        return false;
    return (pagemap_entry((uintptr_t)T.canary) & (PM_PRESENT | PM_EXCLUSIVE)) ==
           (PM_PRESENT | PM_EXCLUSIVE);
}

/* Writes back the pages of one frozen piece that are no longer the file's
 * (anonymous copies), then maps the piece shared again. */
static int thaw_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    if (kind != PIECE_FROZEN)
        return 0;
    int fd = A.fd[file_dir(start)];
    uint64_t e[512];
    uintptr_t run = 0;   /* start of a run of rewritten pages, or 0 */
    for (uintptr_t a = start; a < start + len; a += sizeof e / sizeof e[0] * 4096) {
        size_t n = (start + len - a) >> 12;
        if (n > sizeof e / sizeof e[0])
            n = sizeof e / sizeof e[0];
        if (pread(T.pagemap, e, n * sizeof e[0], (off_t)((a >> 12) * sizeof e[0])) !=
            (ssize_t)(n * sizeof e[0]))
            return -1;
        for (size_t k = 0; k <= n; k++) {
            uintptr_t page = a + (k << 12);
            bool copied = k < n && (e[k] & (PM_PRESENT | PM_SWAPPED)) && !(e[k] & PM_FILE);
            if (copied && !run)
                run = page;
            if (!copied && run && (k < n || page == start + len)) {
                if (pwrite(fd, (void *)run, page - run, (off_t)file_offset(run)) !=
                    (ssize_t)(page - run))
                    return -1;
                run = 0;
            }
        }
    }
    return map_shared(start, len);
}

void arena_maybe_thaw(void)
{
    if (!T.canary || T.forbidden || A.frozen_top <= arena.ram_end)
        return;
    uint64_t now = coarse_ms();
    if (now < T.next_check_ms)
        return;
    T.next_check_ms = now + THAW_CHECK_MS;
    T.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (T.pagemap < 0)
        return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (thaw_safe()) {
        if (for_pieces(arena.ram_end, A.frozen_top, thaw_piece, NULL) != 0)
            msg_die(127, "cannot write the heap back to its files after fork", NULL, NULL);
        A.frozen_top = arena.ram_end;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(T.pagemap);
    T.pagemap = -1;
}

void arena_fork_child(void)
{
    T.forbidden = true;
    for (unsigned d = 0; d < A.ndirs; d++) {
        if (A.fd[d] >= 0)
            close(A.fd[d]);
        A.fd[d] = -1;
    }
    atomic_store_explicit(&A.punched, 0, memory_order_relaxed);
    service_fork_child(&fsm_writeback);
    sampler_fork_child();
    prefill_fork_child();
}
