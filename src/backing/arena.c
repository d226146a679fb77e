#include "backing/arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backing/budget.h"
#include "backing/file.h"
#include "backing/layout.h"
#include "backing/prefill.h"
#include "backing/sampler.h"
#include "backing/writeback.h"
#include "util/msg.h"

struct arena arena;

/* Disk is reserved beyond the top, so that a heap growing by small slabs
 * does not make one fallocate call per slab: a sixteenth of the file heap,
 * from 2 MiB to 32 MiB, renewed when less than half is left, so that the
 * prefill thread has room above the top (prefill.c). On a disk short of
 * room, where the reservation also writes the pages (reserve_piece), the
 * least. */
#define COMMIT_AHEAD_MIN ((size_t)2 << 20)
#define COMMIT_AHEAD_MAX ((size_t)32 << 20)
/* Below this much free disk (beside the margin), freed file-backed blocks
 * are punched out at once rather than kept for reuse. */
#define DISK_TIGHT ((uint64_t)1 << 30)
/* The RAM tier's size is a multiple of this (huge-page aligned). */
#define RAM_STEP ((uint64_t)2 << 20)
/* The RAM tier grows by at least this much, or not at all. */
#define RAM_GROW_MIN ((uint64_t)CHUNK_SIZE)
/* Free disk always left beside the heap's reservations (see disk_margin). */
#define FULL_DISK_MARGIN ((uint64_t)8 << 20)
/* The first this much of the RAM tier never takes transparent huge pages
 * (see map_ram). */
#define SMALL_PAGES_HEAD ((uintptr_t)16 << 20)

struct arena_state fsm_arena_state;

static int open_file(unsigned d)
{
    if (A.fd[d] < 0) {
        int fd = file_create(A.settings->dirs[d], A.file_len[d]);
        if (fd < 0) {
            /* Said once per directory; the allocation fails with ENOMEM. */
            static bool said[SETTINGS_MAX_DIRS];
            if (!said[d]) {
                said[d] = true;
                struct msgbuf m;
                msg_init(&m);
                msg_str(&m, "fsmem: FSMEM_DIR=");
                msg_str(&m, A.settings->dirs[d]);
                msg_str(&m, ": cannot create a backing file: ");
                msg_errno(&m, -fd);
                msg_write(2, &m);
            }
            return fd;
        }
        A.fd[d] = fd;
    }
    return A.fd[d];
}

static uint64_t disk_margin(void);

static uint64_t free_bytes(int fd)
{
    struct statvfs v;
    return fstatvfs(fd, &v) == 0 ? (uint64_t)v.f_bavail * v.f_frsize : UINT64_MAX;
}

/* Chooses the directory for file chunk i: round-robin, so the heap is
 * striped evenly, but passing over a directory whose disk could not take
 * the chunk while another one can, so that every disk's space is used
 * before malloc fails. 0, or -1 when no backing file can be opened. */
static int place_chunk(size_t i)
{
    if (A.place[i].set)
        return 0;
    int fallback = -1;
    for (unsigned k = 0; k < A.ndirs; k++) {
        unsigned d = (A.next_dir + k) % A.ndirs;
        if (((uint64_t)A.slots_used[d] + 1) << CHUNK_SHIFT > A.file_len[d])
            continue;
        int fd = open_file(d);
        if (fd < 0)
            continue;
        if (fallback < 0)
            fallback = (int)d;
        if (A.ndirs == 1 || free_bytes(fd) >= CHUNK_SIZE + disk_margin()) {
            fallback = (int)d;
            break;
        }
    }
    if (fallback < 0)
        return -1;
    /* Short of room everywhere: the chunk still goes somewhere, and its
     * reservations fail (ENOMEM) when the disk is really full. */
    unsigned d = (unsigned)fallback;
    A.place[i].slot = A.slots_used[d]++;
    A.place[i].dir = (uint8_t)d;
    /* Last, and released: the sampler reads places without the page lock. */
    __atomic_store_n(&A.place[i].set, true, __ATOMIC_RELEASE);
    A.next_dir = (d + 1) % A.ndirs;
    return 0;
}

void sync_backing_files(unsigned flags)
{
    for (unsigned d = 0; d < A.ndirs; d++) {
        int fd = __atomic_load_n(&A.fd[d], __ATOMIC_RELAXED);
        if (fd >= 0)
            sync_file_range(fd, 0, 0, flags);
    }
}

/* Maps file pages shared at their fixed place, with fsmem's paging. */
int map_shared(uintptr_t start, size_t len)
{
    void *got = mmap((void *)start, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
                     A.fd[file_dir(start)], (off_t)file_offset(start));
    if (got != (void *)start)
        return -1;
    lock_acquire(&A.paging_lock);
    set_paging(start, len, ADVICE_NORMAL);
    sampler_mark(start, len);
    lock_release(&A.paging_lock);
    return 0;
}

/* Moves the end of the RAM tier, which no file page lies beyond yet (so
 * nothing is renumbered). */
static void set_ram_end(uintptr_t end)
{
    __atomic_store_n(&arena.ram_end, end, __ATOMIC_RELAXED);
    A.frozen_top = A.committed = end;
}

/* The heap has filled an auto RAM tier and has no file page yet: the tier
 * grows if memory is left (ram_budget_more). */
static void grow_ram_tier(void)
{
    if (!A.settings->ram_auto || A.ram_refused || arena.ram_end == arena.base)
        return;
    uint64_t more = ram_budget_more(&A.budget) & ~(uint64_t)(RAM_STEP - 1);
    if (more > arena.end - arena.ram_end)
        more = arena.end - arena.ram_end;
    if (more < RAM_GROW_MIN)
        return;
    set_ram_end(arena.ram_end + (uintptr_t)more);
    A.ram_grown++;
}

/* Maps [start, stop) of the RAM tier. Where the system gives every
 * anonymous mapping transparent huge pages (transparent_hugepage=always,
 * the default of Debian's and Red Hat's kernels), the first touch of a
 * 2 MiB region takes 2 MiB, and a small heap touches a few: python3
 * doing nothing grew from 5.6 MiB with glibc to 9.2 MiB, and the pages of
 * emptied slabs could not be given back. So the head of the tier keeps
 * page-sized pages; a heap that grows past it gets huge pages wherever
 * the system gives them (faster random access, no compaction stall where
 * the program did not ask for them). Kernels without THP refuse the
 * advice, which changes nothing. */
static bool map_ram(uintptr_t start, uintptr_t stop)
{
    void *got = mmap((void *)start, stop - start, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (got == MAP_FAILED)
        return false;
    uintptr_t head_end = arena.base + SMALL_PAGES_HEAD;
    if (start < head_end)
        madvise((void *)start, (stop < head_end ? stop : head_end) - start, MADV_NOHUGEPAGE);
    return true;
}

/* Maps [mapped, next chunk boundary or the end of the RAM tier): RAM or
 * shared file pages. A chunk may be RAM up to ram_end and file pages
 * after it. */
static int map_next(void)
{
    uintptr_t start = A.mapped, stop = chunk_addr(chunk_of(start) + 1);
    if (start == arena.ram_end)
        grow_ram_tier();
    if (start < arena.ram_end) {
        if (arena.ram_end < stop)
            stop = arena.ram_end;
        if (!map_ram(start, stop)) {
            /* Refused (ulimit -d, overcommit): the RAM tier ends here
             * and files take over. No file page exists yet, so moving
             * the boundary renumbers nothing. */
            set_ram_end(start);
            A.ram_refused = true;
            return map_next();
        }
    } else {
        if (place_chunk(chunk_of(start)) != 0)
            return -1;
        if (open_file(file_dir(start)) < 0 || map_shared(start, stop - start) != 0)
            return -1;
    }
    A.mapped = stop;
    return 0;
}

/* Disk left free beside every reservation. Writing through a mapping
 * into fallocated (unwritten) blocks still needs a few filesystem blocks
 * for extent bookkeeping; on a disk filled to the last block that write
 * fails, and a failed write through a mapping is a SIGBUS. So a
 * reservation that would leave less than this fails instead (ENOMEM). */
static uint64_t disk_margin(void)
{
    return FULL_DISK_MARGIN + ((arena.top - arena.base) >> 7);
}

static int reserve_with_margin(unsigned dir, uint64_t off, uint64_t len)
{
    int fd = A.fd[dir];
    uint64_t need = len + disk_margin(), avail = free_bytes(fd);
    /* The filesystem counts blocks it may need for dirty pages (extent
     * records) as taken until they are written back: on a tight disk,
     * write back before calling it full. */
    if (avail < need && atomic_load_explicit(&A.disk_tight[dir], memory_order_relaxed) &&
        fdatasync(fd) == 0)
        avail = free_bytes(fd);
    bool tight = avail < need + DISK_TIGHT;
    if (atomic_exchange_explicit(&A.disk_tight[dir], tight, memory_order_relaxed) != tight && tight)
        tighten_paging(dir);
    if (avail < need)
        return ENOSPC;
    return file_reserve(fd, off, len);
}

int for_pieces(uintptr_t start, uintptr_t end, piece_fn fn, void *ctx)
{
    while (start < end) {
        uintptr_t stop = chunk_addr(chunk_of(start) + 1);
        enum piece kind = PIECE_SHARED;
        if (start < arena.ram_end) {
            kind = PIECE_RAM;
            if (arena.ram_end < stop)
                stop = arena.ram_end;
        } else if (start < A.frozen_top) {
            kind = PIECE_FROZEN;
            if (A.frozen_top < stop)
                stop = A.frozen_top;
        }
        if (end < stop)
            stop = end;
        int err = fn(kind, start, stop - start, ctx);
        if (err)
            return err;
        start = stop;
    }
    return 0;
}

/* Private views and RAM need no disk: only shared pages are reserved.
 *
 * fallocate leaves unwritten extents, and the first write through the
 * mapping still makes the filesystem split and convert them, which can
 * need a block or two of its own. If another process has taken the last
 * free block by then, that write fault is a SIGBUS. On a disk short of
 * room the pages are therefore write-faulted now (MADV_POPULATE_WRITE),
 * where a failure is an error code and the allocation fails instead.
 * On a roomy disk this is not worth its price (the pages become dirty
 * zeros in memory, written back even if the program never uses them). */
static int reserve_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    if (kind != PIECE_SHARED)
        return 0;
    unsigned dir = file_dir(start);
    int err = reserve_with_margin(dir, file_offset(start), len);
    if (err || !atomic_load_explicit(&A.disk_tight[dir], memory_order_relaxed))
        return err;
    if (madvise((void *)start, len, MADV_POPULATE_WRITE) != 0 && errno != EINVAL) {
        file_punch(A.fd[dir], file_offset(start), len);
        return ENOSPC;
    }
    return 0;
}

void *arena_grow(size_t len)
{
    uintptr_t old = arena.top, top = old + len;
    if (len > arena.end - old) {
        errno = ENOMEM;
        return NULL;
    }
    while (A.mapped < top) {
        if (map_next() != 0) {
            errno = ENOMEM;
            return NULL;
        }
    }
    size_t margin = top > arena.ram_end ? (top - arena.ram_end) / 16 : 0;
    if (margin > COMMIT_AHEAD_MAX)
        margin = COMMIT_AHEAD_MAX;
    if (margin < COMMIT_AHEAD_MIN || arena_disk_tight(top - 1))
        margin = COMMIT_AHEAD_MIN;
    margin &= ~(size_t)(COMMIT_AHEAD_MIN - 1);
    if (top + margin / 2 > A.committed) {
        uintptr_t ahead = top + margin < A.mapped ? top + margin : A.mapped;
        if (ahead > A.committed && for_pieces(A.committed, ahead, reserve_piece, NULL) == 0) {
            __atomic_store_n(&A.committed, ahead, __ATOMIC_RELAXED);
        } else if (top > A.committed) {
            /* Short of room for all of it: the pages handed out will do. */
            if (for_pieces(A.committed, top, reserve_piece, NULL) != 0) {
                errno = ENOMEM;
                return NULL;
            }
            __atomic_store_n(&A.committed, top, __ATOMIC_RELAXED);
        }
    }
    arena.top = top;
    if (top > arena.ram_end + WRITEBACK_MIN_FILE_HEAP) {
        writeback_note_files();
        sampler_note_files();
        prefill_note_files();
    }
    prefill_note_growth(old, top);
    return (void *)old;
}

uint64_t arena_cache_room(void)
{
    struct ram_budget b;
    ram_budget_auto(&b);
    uintptr_t ram_top = arena.top < arena.ram_end ? arena.top : arena.ram_end;
    uint64_t ram = ram_top - arena.base;
    return b.limit > ram ? b.limit - ram : 0;
}

bool arena_disk_tight(uintptr_t a)
{
    return a >= arena.ram_end && A.place[chunk_of(a)].set &&
           atomic_load_explicit(&A.disk_tight[file_dir(a)], memory_order_relaxed);
}

int arena_commit(uintptr_t start, size_t len)
{
    if (for_pieces(start, start + len, reserve_piece, NULL) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

static int decommit_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    bool *zero = ctx;
    if (kind == PIECE_SHARED &&
        file_punch(A.fd[file_dir(start)], file_offset(start), len) == 0) {
        atomic_fetch_add_explicit(&A.punched, len, memory_order_relaxed);
        return 0;
    }
    /* RAM pages come back as zero; a frozen view falls back to the file's
     * old contents; a failed punch keeps the data. */
    madvise((void *)start, len, MADV_DONTNEED);
    if (kind != PIECE_RAM)
        *zero = false;
    return 0;
}

bool arena_decommit(uintptr_t start, size_t len)
{
    bool zero = true;
    for_pieces(start, start + len, decommit_piece, &zero);
    return zero;
}


static int zero_piece(enum piece kind, uintptr_t start, size_t len, void *ctx)
{
    if (kind == PIECE_RAM)
        return madvise((void *)start, len, MADV_DONTNEED) != 0;
    if (kind == PIECE_SHARED)
        return file_zero(A.fd[file_dir(start)], file_offset(start), len) != 0;
    return 1;   /* a frozen view would fall back to the file's old data */
}

bool arena_zero(uintptr_t start, size_t len)
{
    return for_pieces(start, start + len, zero_piece, NULL) == 0;
}


void arena_usage(struct arena_usage *u)
{
    u->ram_bytes = (arena.top < arena.ram_end ? arena.top : arena.ram_end) - arena.base;
    u->file_bytes = arena.top > arena.ram_end ? arena.top - arena.ram_end : 0;
    u->disk_bytes = 0;
    u->files = 0;
    u->ndirs = A.ndirs;
    for (unsigned d = 0; d < A.ndirs; d++) {
        struct arena_dir_usage *du = &u->dir[d];
        du->path = A.settings->dirs[d];
        du->file_bytes = du->disk_bytes = 0;
        struct statvfs v;
        du->free_bytes = statvfs(du->path, &v) == 0 ? (uint64_t)v.f_bavail * v.f_frsize : 0;
        if (A.fd[d] >= 0) {
            du->disk_bytes = file_disk_bytes(A.fd[d]);
            u->disk_bytes += du->disk_bytes;
            u->files++;
        }
    }
    for (uintptr_t a = arena.ram_end; a < arena.top; a = chunk_addr(chunk_of(a) + 1)) {
        uintptr_t stop = chunk_addr(chunk_of(a) + 1);
        if (A.place[chunk_of(a)].set)
            u->dir[file_dir(a)].file_bytes += (stop < arena.top ? stop : arena.top) - a;
    }
    u->punched_bytes = atomic_load_explicit(&A.punched, memory_order_relaxed);
    u->ram_budget = arena.ram_end - arena.base;
    u->ram_limit = A.budget.limit;
    u->ram_source = A.budget.source;
    u->ram_grown = A.ram_grown;
}

/* Address space we may still take under RLIMIT_AS, or SIZE_MAX. */
static size_t address_space_left(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    size_t used = 0;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[64];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t k = 0; k < n && buf[k] >= '0' && buf[k] <= '9'; k++)
            used = used * 10 + (size_t)(buf[k] - '0');
        used *= (size_t)sysconf(_SC_PAGESIZE);
    }
    return rl.rlim_cur > used ? rl.rlim_cur - used : 0;
}

int arena_init(const struct settings *s)
{
    A.settings = s;
    A.ndirs = s->ndirs;
    for (unsigned d = 0; d < A.ndirs; d++)
        A.fd[d] = -1;
    if (s->ram_auto) {
        ram_budget_auto(&A.budget);
    } else {
        A.budget.bytes = s->ram;
        A.budget.limit = s->ram;
        A.budget.source = "FSMEM_RAM";
    }
    /* A budget is a ceiling: round it down to RAM_STEP. Its last chunk
     * may be part RAM, part file pages. */
    uint64_t ram_bytes = A.budget.bytes & ~(uint64_t)(RAM_STEP - 1);
    size_t ram_chunks = (size_t)((ram_bytes + CHUNK_SIZE - 1) >> CHUNK_SHIFT);
    size_t file_chunks = (size_t)(s->size >> CHUNK_SHIFT);
    if (file_chunks == 0)
        file_chunks = 1;

    /* Limits bound the whole reservation. Leave a quarter of what
     * ulimit -v allows to the rest of the program; and since a refused RAM
     * chunk turns into a file chunk, every chunk must fit in a file under
     * ulimit -f. */
    size_t fit = SIZE_MAX;
    const char *limit = NULL;
    size_t as_left = address_space_left();
    if (as_left != SIZE_MAX) {
        fit = (as_left / 4 * 3) >> CHUNK_SHIFT;
        fit = fit > 1 ? fit - 1 : 0;   /* one chunk goes to alignment */
        limit = "ulimit -v";
    }
    struct rlimit fl;
    if (getrlimit(RLIMIT_FSIZE, &fl) == 0 && fl.rlim_cur != RLIM_INFINITY &&
        (size_t)(fl.rlim_cur >> CHUNK_SHIFT) * A.ndirs < fit) {
        fit = (size_t)(fl.rlim_cur >> CHUNK_SHIFT) * A.ndirs;
        limit = "ulimit -f";
    }
    if (ram_chunks + file_chunks > fit) {
        if (fit == 0) {
            msg_warn(limit, " leaves no room for the heap (it needs at least 64M)", NULL);
            return -1;
        }
        if (ram_chunks >= fit) {
            ram_chunks = fit / 2;
            ram_bytes = (uint64_t)ram_chunks << CHUNK_SHIFT;
        }
        file_chunks = fit - ram_chunks;
        if (msg_notice_here()) {
            struct msgbuf m;
            msg_init(&m);
            msg_str(&m, "fsmem: FSMEM_SIZE is more than ");
            msg_str(&m, limit);
            msg_str(&m, " allows; the heap is limited to ");
            msg_bytes(&m, (uint64_t)fit << CHUNK_SHIFT);
            msg_write(2, &m);
        }
    }
    arena.nchunks = ram_chunks + file_chunks;
    /* Each file may hold as many chunks as its filesystem (so a large disk
     * can take over from a full one), within the heap and ulimit -f. */
    for (unsigned d = 0; d < A.ndirs; d++) {
        uint64_t chunks = arena.nchunks;
        struct statvfs v;
        if (statvfs(s->dirs[d], &v) == 0) {
            uint64_t fs = ((uint64_t)v.f_blocks * v.f_frsize + CHUNK_SIZE - 1) >> CHUNK_SHIFT;
            if (fs < chunks)
                chunks = fs;
        }
        if (getrlimit(RLIMIT_FSIZE, &fl) == 0 && fl.rlim_cur != RLIM_INFINITY &&
            (fl.rlim_cur >> CHUNK_SHIFT) < chunks)
            chunks = fl.rlim_cur >> CHUNK_SHIFT;
        A.file_len[d] = (chunks ? chunks : 1) << CHUNK_SHIFT;
    }
    A.place = mmap(NULL, arena.nchunks * sizeof *A.place, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (A.place == MAP_FAILED) {
        msg_warn("cannot allocate the heap's chunk table", NULL, NULL);
        return -1;
    }

    size_t len = arena.nchunks << CHUNK_SHIFT;
    char *p = mmap(NULL, len + CHUNK_SIZE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        /* Seen under tools that cap the address space themselves (valgrind):
         * say how much was asked and which setting lowers it. */
        struct msgbuf m;
        msg_init(&m);
        msg_str(&m, "fsmem: cannot reserve ");
        msg_bytes(&m, (uint64_t)len);
        msg_str(&m, " of address space for the heap");
        if (limit) {
            msg_str(&m, " under ");
            msg_str(&m, limit);
        }
        msg_str(&m, ": lower FSMEM_SIZE (its file part) or FSMEM_RAM");
        msg_write(2, &m);
        return -1;
    }
    uintptr_t base = ((uintptr_t)p + CHUNK_SIZE - 1) & ~(uintptr_t)(CHUNK_SIZE - 1);
    if (base > (uintptr_t)p)
        munmap(p, base - (uintptr_t)p);
    if ((uintptr_t)p + CHUNK_SIZE > base)
        munmap((void *)(base + len), (uintptr_t)p + CHUNK_SIZE - base);
    arena.base = arena.top = base;
    arena.end = base + len;
    arena.ram_end = base + (uintptr_t)ram_bytes;
    A.mapped = A.committed = base;
    A.frozen_top = arena.ram_end;

    /* Backing files are created when the heap first needs one: a program
     * that stays within the RAM tier never touches the disk. The settings
     * check has already vetted the directories. */
    return 0;
}