/* How file pages come back from disk: fsmem's paging of file chunks
 * (2 MiB or 4 KiB reads; sampler.c picks under FSMEM_PAGING=auto), the
 * switch back to small folios on a disk short of room, and the advice a
 * program gives with fsmem_advise. Every change of a mapping's paging
 * happens under the paging lock, so that a chunk mapped while the
 * sampler switches ends up like all the others. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "backing/layout.h"
#include "util/thread.h"

/* "6.18.44-..." -> 6, 18. No stdio here: this runs inside malloc. */
static bool parse_version(const char *s, unsigned *major, unsigned *minor)
{
    unsigned *out[2] = {major, minor};
    for (int i = 0; i < 2; i++) {
        if (*s < '0' || *s > '9')
            return false;
        for (*out[i] = 0; *s >= '0' && *s <= '9'; s++)
            *out[i] = *out[i] * 10 + (unsigned)(*s - '0');
        if (i == 0 && *s++ != '.')
            return false;
    }
    return true;
}

/* Advice on how pages will be used, as against what to do with them. */
static bool is_pattern(enum arena_advice how)
{
    return how == ADVICE_NORMAL || how == ADVICE_SEQUENTIAL || how == ADVICE_RANDOM;
}

/* Whether file chunks without advice of their own read single pages. */
static bool page_by_page(void)
{
    return A.settings->paging == PAGING_RANDOM ||
           (A.settings->paging == PAGING_AUTO &&
            atomic_load_explicit(&A.scattered, memory_order_relaxed));
}

/* How file pages are read back from disk (docs/DESIGN.md, "Paging").
 * The kernel's default, a read-around as large as the disk's readahead
 * (8 MiB on some disks) centred on each fault, thrashes a heap larger
 * than memory: most of what it reads is not wanted. Asking for huge pages
 * and random access instead makes each fault read the aligned 2 MiB
 * around it (a large folio where the filesystem has them) and nothing
 * else. Kernels before 5.18 ignore the huge-page hint for file reads, and
 * random access alone would read one page per fault, so there the
 * default stays. So does a directory whose disk is short of room: a
 * large folio written through the mapping takes disk blocks for all of
 * its 2 MiB, also where fsmem reserved none (see tighten_paging).
 *
 * Random access alone is what FSMEM_PAGING=random, RANDOM advice and the
 * sampler's verdict "scattered" ask for: a fault reads the page touched,
 * right for scattered access to a heap far larger than memory, about 20
 * times slower for passes. It needs no huge pages and takes no extra
 * disk, so it holds on every kernel and disk. */
void set_paging(uintptr_t start, size_t len, enum arena_advice how)
{
    if (how == ADVICE_NORMAL && page_by_page())
        how = ADVICE_RANDOM;
    if (how == ADVICE_RANDOM) {
        madvise((void *)start, len, MADV_NOHUGEPAGE);
        madvise((void *)start, len, MADV_RANDOM);
        return;
    }
    if (A.paging == PAGING_KERNEL ||
        atomic_load_explicit(&A.disk_tight[file_dir(start)], memory_order_relaxed))
        return;
    if (A.paging == PAGING_UNKNOWN) {
        struct utsname u;
        unsigned major = 0, minor = 0;
        bool new_enough = uname(&u) == 0 && parse_version(u.release, &major, &minor) &&
                          (major > 5 || (major == 5 && minor >= 18));
        if (!new_enough || madvise((void *)start, len, MADV_HUGEPAGE) != 0) {
            A.paging = PAGING_KERNEL;
            return;
        }
        A.paging = PAGING_HUGE;
    }
    madvise((void *)start, len, MADV_HUGEPAGE);
    madvise((void *)start, len, how == ADVICE_SEQUENTIAL ? MADV_SEQUENTIAL : MADV_RANDOM);
}

/* A directory's disk has just become short of room: its chunks go back
 * to the kernel's page-sized folios, so that no write takes disk blocks
 * beyond what was reserved (still page by page under FSMEM_PAGING=random). */
static int small_paging_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    if (kind == PIECE_SHARED && file_dir(start) == *(unsigned *)ctx) {
        madvise((void *)start, len, MADV_NOHUGEPAGE);
        madvise((void *)start, len, page_by_page() ? MADV_RANDOM : MADV_NORMAL);
    }
    return 0;
}

void tighten_paging(unsigned dir)
{
    if (A.paging != PAGING_HUGE)
        return;
    lock_acquire(&A.paging_lock);
    for_pieces(arena.ram_end, A.mapped, small_paging_piece, &dir);
    lock_release(&A.paging_lock);
}

/* Calls fn on the file part of every chunk placed in a file so far (a
 * place, once set, never changes), frozen views included. */
static void each_file_chunk(void (*fn)(uintptr_t start, size_t len))
{
    for (size_t i = chunk_of(arena.ram_end); i < arena.nchunks; i++) {
        if (!__atomic_load_n(&A.place[i].set, __ATOMIC_ACQUIRE))
            break;
        uintptr_t start = chunk_addr(i) > arena.ram_end ? chunk_addr(i) : arena.ram_end;
        fn(start, chunk_addr(i + 1) - start);
    }
}

static void repage(uintptr_t start, size_t len) { set_paging(start, len, ADVICE_NORMAL); }

/* The kernel splits a clean large folio when asked to page out part of
 * it: paging out the first page of a 2 MiB block leaves its pages in the
 * cache as page-sized folios (unmapped: the next touch maps them again
 * from the cache, 16 at a time; on Linux 6.18 the first page stays too,
 * as the split unmapped it before it could be paged out). 50-69 us a
 * folio, whatever the call, mapped or not: the time is the kernel's
 * split itself. A dirty folio cannot be split (its buffers are in use),
 * and the call leaves it as it is. */
void paging_split_block(uintptr_t block)
{
    madvise((void *)block, (size_t)sysconf(_SC_PAGESIZE), MADV_PAGEOUT);
}

/* A dirty 2 MiB folio that outlived the switch stays whole until
 * writeback cleans it, and random writes dirty it again, whole, before
 * the sampler comes back to find it clean: it was written back 2 MiB at
 * a time all along (out of core, 20,000 random touches wrote 150 MB
 * more than with 4 KiB reads from the start, and took a fifth to a half
 * longer). So the sampler, finding such a block still whole, writes it
 * back itself, waits, and splits it at once: one more write of 2 MiB,
 * and no more. */
void paging_clean_split_block(uintptr_t block)
{
    int fd = __atomic_load_n(&A.fd[file_dir(block)], __ATOMIC_RELAXED);
    if (fd >= 0)
        sync_file_range(fd, (off_t)file_offset(block), (off_t)1 << 21,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                            SYNC_FILE_RANGE_WAIT_AFTER);
    paging_split_block(block);
}

static uint64_t split_since;   /* service_give_way's clock for paging_split */

static void split_folios(uintptr_t start, size_t len)
{
    const uintptr_t block = (uintptr_t)1 << 21;
    for (uintptr_t b = (start + block - 1) & ~(block - 1); b + block <= start + len; b += block) {
        service_give_way(&split_since);
        paging_split_block(b);
    }
}

/* Runs on the sampler's thread, without the page lock. Frozen views get
 * the hint too, where it is as good. A chunk placed but not yet mapped
 * gets it on its reservation, then its own when map_shared maps it,
 * after this. Only the hint changes: the next faults read the other way,
 * and the cache stays as it is. */
bool paging_switch(bool scattered)
{
    lock_acquire(&A.paging_lock);
    bool change = !atomic_load_explicit(&A.advised, memory_order_relaxed) &&
                  atomic_load_explicit(&A.scattered, memory_order_relaxed) != scattered;
    if (change) {
        atomic_store_explicit(&A.scattered, scattered, memory_order_relaxed);
        each_file_chunk(repage);
    }
    lock_release(&A.paging_lock);
    return change;
}

/* Once single pages are there for good, the clean 2 MiB folios in the
 * page cache are split into pages. Left whole, they would outlive the
 * switch for as long as it takes 4 KiB reads to refill the cache, and
 * one that the program keeps touching at random is dirtied, and written
 * back, 2 MiB at a time (5.4 GB written for 20,000 touches where 0.1 GB
 * was needed). Dropped instead, as they once were, they took with them
 * the pages that random touches would have found: a cache that 4 KiB
 * reads refill holds few for a long time (0.012 ms more a touch over
 * 5,000, against FSMEM_PAGING=random). The dirty ones stay whole until
 * writeback has cleaned them; the sampler splits them then (it finds
 * them mapped whole). Writing them first, as the switch once did, wrote
 * every dirty page of the heap (43 MB after the benchmark's passes) in
 * front of the program's first single-page reads, which waited 11-22 ms
 * for it. The sampler's thread splits some 250 cached folios in 15 ms or
 * so, giving way to the program as it goes (service_give_way). */
void paging_split(void)
{
    split_since = 0;
    each_file_chunk(split_folios);
}

static int advise_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    static const int on_file[] = {
        [ADVICE_NORMAL] = MADV_NORMAL, [ADVICE_SEQUENTIAL] = MADV_SEQUENTIAL,
        [ADVICE_RANDOM] = MADV_RANDOM, [ADVICE_WILLNEED] = MADV_WILLNEED,
        [ADVICE_COLD] = MADV_PAGEOUT,
    };
    enum arena_advice how = *(enum arena_advice *)ctx;
    /* Anonymous memory has no swap to read ahead from or write out to
     * here; COLD still lets reclaim take it first. */
    if (kind == PIECE_RAM)
        return how == ADVICE_COLD && madvise((void *)start, len, MADV_COLD) != 0 ? errno : 0;
    /* Reclaim on behalf of a process drops clean file pages only: write
     * the dirty ones first. */
    if (how == ADVICE_COLD && kind == PIECE_SHARED && msync((void *)start, len, MS_SYNC) != 0)
        return errno;
    if (madvise((void *)start, len, on_file[how]) != 0)
        return errno;
    if (kind == PIECE_SHARED && is_pattern(how))
        set_paging(start, len, how);
    return 0;
}

int arena_advise(uintptr_t start, size_t len, enum arena_advice how)
{
    lock_acquire(&A.paging_lock);
    if (is_pattern(how))
        atomic_store_explicit(&A.advised, true, memory_order_relaxed);
    int err = for_pieces(start, start + len, advise_piece, &how);
    lock_release(&A.paging_lock);
    return err;
}

void arena_paging_fork(enum fork_phase phase)
{
    lock_fork(&A.paging_lock, phase);
}
