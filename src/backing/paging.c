/* How file pages come back from disk: fsmem's default paging of file
 * chunks, the switch back to small folios on a disk short of room, and
 * the advice a program gives with fsmem_advise. */
#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "backing/layout.h"

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
 * Random access alone is what FSMEM_PAGING=random and RANDOM advice ask
 * for: a fault reads the page touched, right for scattered access to a
 * heap far larger than memory, about 20 times slower for passes. It needs
 * no huge pages and takes no extra disk, so it holds on every kernel and
 * disk. */
void set_paging(uintptr_t start, size_t len, enum arena_advice how)
{
    if (how == ADVICE_NORMAL && A.settings->paging == PAGING_RANDOM)
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
        madvise((void *)start, len,
                A.settings->paging == PAGING_RANDOM ? MADV_RANDOM : MADV_NORMAL);
    }
    return 0;
}

void tighten_paging(unsigned dir)
{
    if (A.paging == PAGING_HUGE)
        for_pieces(arena.ram_end, A.mapped, small_paging_piece, &dir);
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
    bool pattern = how == ADVICE_NORMAL || how == ADVICE_SEQUENTIAL || how == ADVICE_RANDOM;
    if (kind == PIECE_SHARED && pattern)
        set_paging(start, len, how);
    return 0;
}

int arena_advise(uintptr_t start, size_t len, enum arena_advice how)
{
    return for_pieces(start, start + len, advise_piece, &how);
}
