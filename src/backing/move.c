/* Moving a block's contents without the CPU copying them through the
 * process.
 *
 * A large block that must move to grow (realloc with its neighbours
 * taken) used to be copied whole, which for blocks of hundreds of MiB
 * costs more than everything else a program does with them: two arrays
 * grown in turn to 2 GiB spent 10 of 12.5 s in realloc.
 *
 * Within the RAM tier, private anonymous memory, the kernel moves the
 * pages instead: mremap hands their page-table entries to the new address
 * and copies no data. MREMAP_DONTUNMAP (Linux 5.7) leaves the old range
 * mapped, reading as zero, so the heap's reservation never has a hole
 * that another mmap could take. A move leaves its ranges as mappings of
 * their own in the kernel (moved pages keep their old page offsets, and
 * the emptied range loses its commit accounting), so neither merges with
 * its neighbours again. The count levels off as later moves cover earlier
 * boundaries (a few hundred in tests/progs/regrow after thousands of
 * moves), but nothing bounds it for certain, and a process at
 * vm.max_map_count can no longer map anything. So every CHECK_EVERY moves
 * the mappings are counted, and once they pass half of that limit blocks
 * are copied again.
 *
 * File pages cannot move: their address fixes their place in the file.
 * There copy_file_range copies from file to file inside the kernel,
 * page cache to page cache, where copying through the mapping would fault
 * every destination page in (reserving its blocks, zeroing 2 MiB folios)
 * and every evicted source page. Only between shared file pages: a view
 * frozen at a fork is private, and the file under it must not change, so
 * a fork waits for a copy in flight (move_lock) before it freezes. */
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backing/arena.h"
#include "backing/budget.h"
#include "backing/layout.h"
#include "backing/prefill.h"
#include "util/lock.h"
#include "util/msg.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* Below this a copy costs about what the system call does. */
#define MOVE_MIN ((size_t)1 << 20)
#define CHECK_EVERY 64
#define DEFAULT_MAX_MAPS 65530

static _Atomic unsigned moves;
static _Atomic bool copy_only;

/* Lines of /proc/self/maps, counted up to stop; -1 if unreadable. */
static long mappings(long stop)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[4096];
    long n = 0;
    ssize_t got;
    while (n < stop && (got = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    close(fd);
    return n;
}

static bool room_for_mappings(void)
{
    uint64_t max = file_u64("/proc/sys/vm/max_map_count");
    if (max == UINT64_MAX || max < 1024)
        max = DEFAULT_MAX_MAPS;
    long n = mappings((long)(max / 2));
    return n >= 0 && n < (long)(max / 2);
}

static bool move_ram(uintptr_t from, uintptr_t to, size_t len)
{
    if (atomic_load_explicit(&copy_only, memory_order_relaxed))
        return false;
    if (atomic_fetch_add_explicit(&moves, 1, memory_order_relaxed) % CHECK_EVERY == 0 &&
        !room_for_mappings()) {
        atomic_store_explicit(&copy_only, true, memory_order_relaxed);
        return false;
    }
    if (mremap((void *)from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
               (void *)to) != MAP_FAILED)
        return true;
    /* A kernel before 5.7, or out of mappings or memory: copy from now
     * on. The kernel clears the destination before some of its checks,
     * so it may be unmapped now; the block is about to be copied there. */
    atomic_store_explicit(&copy_only, true, memory_order_relaxed);
    if (mmap((void *)to, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
             0) == MAP_FAILED)
        msg_die(1, "a failed mremap left part of the heap unmapped", NULL, NULL);
    return false;
}

static lock_t move_lock = LOCK_INIT;

/* Bytes from a to the end of its chunk, where its file placement ends. */
static size_t chunk_left(uintptr_t a)
{
    return chunk_addr(chunk_of(a) + 1) - a;
}

static bool copy_files(uintptr_t from, uintptr_t to, size_t len)
{
    lock_acquire(&move_lock);
    /* Read under move_lock: only a fork raises frozen_top, and it waits. */
    bool ok = from >= A.frozen_top && to >= A.frozen_top;
    prefill_copy_begin();
    for (size_t done = 0; ok && done < len;) {
        uintptr_t s = from + done, d = to + done;
        size_t step = len - done;
        if (step > chunk_left(s))
            step = chunk_left(s);
        if (step > chunk_left(d))
            step = chunk_left(d);
        off_t soff = (off_t)file_offset(s), doff = (off_t)file_offset(d);
        ssize_t n = copy_file_range(A.fd[file_dir(s)], &soff, A.fd[file_dir(d)], &doff, step, 0);
        if (n <= 0)
            ok = false;   /* not supported here, or the disk is full: copy instead */
        else
            done += (size_t)n;
    }
    prefill_copy_end(to + len);
    lock_release(&move_lock);
    return ok;
}

bool arena_move(uintptr_t from, uintptr_t to, size_t len)
{
    if (len < MOVE_MIN)
        return false;
    bool from_ram = arena_in_ram(from), to_ram = arena_in_ram(to);
    if (from_ram && to_ram && arena_in_ram(from + len - 1) && arena_in_ram(to + len - 1))
        return move_ram(from, to, len);
    if (!from_ram && !to_ram)
        return copy_files(from, to, len);
    return false;
}

void arena_move_fork(enum fork_phase phase)
{
    lock_fork(&move_lock, phase);
}
