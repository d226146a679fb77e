#include "backing/arena.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backing/budget.h"
#include "backing/file.h"
#include "util/msg.h"

struct arena arena;

/* CHUNK_FROZEN: file pages mapped copy-on-write since a fork (see arena_freeze). */
enum chunk_kind { CHUNK_UNMAPPED, CHUNK_RAM, CHUNK_FILE, CHUNK_FROZEN };

/* Disk is reserved this far beyond the top at a time, so that a heap
 * growing by small slabs does not make one fallocate call per slab. */
#define COMMIT_AHEAD ((size_t)2 << 20)

static struct {
    const struct settings *settings;
    unsigned ndirs;
    int fd[SETTINGS_MAX_DIRS];  /* -1 until opened (after fork: reopened lazily) */
    uint64_t file_len;          /* length of every backing file */
    size_t ram_chunks;          /* chunks [0, ram_chunks) are anonymous memory */
    struct ram_budget budget;
    size_t mapped;              /* chunks [0, mapped) are mapped */
    uintptr_t committed;        /* disk is reserved for every file page below this */
    uint8_t *kind;              /* enum chunk_kind per chunk */
    _Atomic uint64_t punched;
    uint64_t frozen_disk;       /* disk held by files closed at a fork */
} A;

static uintptr_t chunk_addr(size_t i) { return arena.base + (i << CHUNK_SHIFT); }

/* Where file chunk i lives: striped round-robin over the directories. */
static unsigned chunk_file(size_t i) { return (unsigned)((i - A.ram_chunks) % A.ndirs); }
static uint64_t chunk_offset(size_t i)
{
    return (uint64_t)((i - A.ram_chunks) / A.ndirs) << CHUNK_SHIFT;
}

static int open_file(unsigned d)
{
    if (A.fd[d] < 0) {
        int fd = file_create(A.settings->dirs[d], A.file_len);
        if (fd < 0)
            return fd;
        A.fd[d] = fd;
    }
    return A.fd[d];
}

static int map_chunk(size_t i)
{
    void *want = (void *)chunk_addr(i), *got;
    if (i < A.ram_chunks) {
        got = mmap(want, CHUNK_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        A.kind[i] = CHUNK_RAM;
        if (got != want) {
            /* Refused (ulimit -d, overcommit): the RAM tier ends here and
             * files take over. No file chunk exists yet, so moving the
             * boundary renumbers nothing. */
            A.ram_chunks = i;
            mmap(want, CHUNK_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
            return map_chunk(i);
        }
    } else {
        int fd = open_file(chunk_file(i));
        if (fd < 0)
            return -1;
        got = mmap(want, CHUNK_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                   (off_t)chunk_offset(i));
        A.kind[i] = CHUNK_FILE;
    }
    if (got != want) {
        A.kind[i] = CHUNK_UNMAPPED;
        return -1;
    }
    return 0;
}

/* Applies op to the file-backed part of [start, end), one chunk at a time. */
typedef int (*range_op)(int fd, uint64_t off, uint64_t len);

static int for_file_range(uintptr_t start, uintptr_t end, range_op op)
{
    while (start < end) {
        size_t i = (start - arena.base) >> CHUNK_SHIFT;
        uintptr_t stop = chunk_addr(i + 1) < end ? chunk_addr(i + 1) : end;
        if (A.kind[i] == CHUNK_FILE) {
            int err = op(A.fd[chunk_file(i)], chunk_offset(i) + (start - chunk_addr(i)),
                         stop - start);
            if (err)
                return err;
        }
        start = stop;
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
    while (chunk_addr(A.mapped) < top) {
        if (map_chunk(A.mapped) != 0) {
            errno = ENOMEM;
            return NULL;
        }
        A.mapped++;
    }
    if (top > A.committed) {
        uintptr_t limit = chunk_addr(A.mapped);
        uintptr_t ahead = top + COMMIT_AHEAD < limit ? top + COMMIT_AHEAD : limit;
        if (for_file_range(A.committed, ahead, file_reserve) == 0)
            A.committed = ahead;
        else if (for_file_range(A.committed, top, file_reserve) == 0)
            A.committed = top;
        else {
            errno = ENOMEM;
            return NULL;
        }
    }
    arena.top = top;
    return (void *)old;
}

int arena_commit(uintptr_t start, size_t len)
{
    if (for_file_range(start, start + len, file_reserve) != 0) {
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

bool arena_decommit(uintptr_t start, size_t len)
{
    bool zero = true;
    uintptr_t end = start + len;
    while (start < end) {
        size_t i = (start - arena.base) >> CHUNK_SHIFT;
        uintptr_t stop = chunk_addr(i + 1) < end ? chunk_addr(i + 1) : end;
        if (A.kind[i] == CHUNK_FILE &&
            file_punch(A.fd[chunk_file(i)], chunk_offset(i) + (start - chunk_addr(i)),
                       stop - start) == 0) {
            atomic_fetch_add_explicit(&A.punched, stop - start, memory_order_relaxed);
        } else {
            /* RAM pages come back as zero; a frozen view falls back to the
             * file's old contents; a failed punch keeps the data. */
            madvise((void *)start, stop - start, MADV_DONTNEED);
            if (A.kind[i] != CHUNK_RAM)
                zero = false;
        }
        start = stop;
    }
    return zero;
}

/* Called before fork, with the allocator locked. A MAP_SHARED page seen by
 * two processes would carry each one's later writes into the other, so
 * the file pages mapped so far are frozen: remapped copy-on-write
 * (MAP_PRIVATE) from the same files, which nobody writes again. Parent
 * and child then inherit identical private views, exactly as fork
 * promises, and the child needs no work at all. Both continue their heaps
 * at the next chunk boundary, in backing files of their own opened on
 * demand. Cost: one mmap per run of contiguous chunks, however much of
 * the heap is resident; the price is that pages rewritten after the fork
 * are anonymous memory from then on. */
void arena_freeze(void)
{
    size_t i = A.ram_chunks;
    while (i < A.mapped) {
        size_t j = i + 1;
        if (A.kind[i] == CHUNK_FILE) {
            /* With one directory, consecutive chunks are consecutive in
             * one file: a single call covers them. */
            while (A.ndirs == 1 && j < A.mapped && A.kind[j] == CHUNK_FILE)
                j++;
            void *want = (void *)chunk_addr(i);
            void *got = mmap(want, (j - i) << CHUNK_SHIFT, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_FIXED, A.fd[chunk_file(i)],
                             (off_t)chunk_offset(i));
            if (got != want)
                msg_die(127, "cannot remap the heap for fork", NULL, NULL);
            for (size_t k = i; k < j; k++)
                A.kind[k] = CHUNK_FROZEN;
        }
        i = j;
    }
    for (unsigned d = 0; d < A.ndirs; d++) {
        if (A.fd[d] >= 0) {
            A.frozen_disk += file_disk_bytes(A.fd[d]);
            close(A.fd[d]);
        }
        A.fd[d] = -1;
    }
    arena.top = chunk_addr(A.mapped);
    A.committed = arena.top;
}

void arena_usage(struct arena_usage *u)
{
    uintptr_t ram_end = chunk_addr(A.ram_chunks);
    u->ram_bytes = arena.top < ram_end ? arena.top - arena.base : ram_end - arena.base;
    u->file_bytes = arena.top > ram_end ? arena.top - ram_end : 0;
    u->disk_bytes = A.frozen_disk;
    u->files = 0;
    for (unsigned d = 0; d < A.ndirs; d++) {
        if (A.fd[d] >= 0) {
            u->disk_bytes += file_disk_bytes(A.fd[d]);
            u->files++;
        }
    }
    u->punched_bytes = atomic_load_explicit(&A.punched, memory_order_relaxed);
    u->ram_budget = (uint64_t)A.ram_chunks << CHUNK_SHIFT;
    u->ram_limit = A.budget.limit;
    u->ram_source = A.budget.source;
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
    /* Whole chunks only: a budget is a ceiling, so round down. */
    A.ram_chunks = (size_t)(A.budget.bytes >> CHUNK_SHIFT);
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
        fit = ((as_left / 4 * 3) >> CHUNK_SHIFT) - 1;
        limit = "ulimit -v";
    }
    struct rlimit fl;
    if (getrlimit(RLIMIT_FSIZE, &fl) == 0 && fl.rlim_cur != RLIM_INFINITY &&
        (size_t)(fl.rlim_cur >> CHUNK_SHIFT) * A.ndirs < fit) {
        fit = (size_t)(fl.rlim_cur >> CHUNK_SHIFT) * A.ndirs;
        limit = "ulimit -f";
    }
    if (A.ram_chunks + file_chunks > fit) {
        if (fit == 0 || fit > (size_t)PTRDIFF_MAX) {
            msg_warn(limit, " leaves no room for the heap (it needs at least 64M)", NULL);
            return -1;
        }
        if (A.ram_chunks >= fit)
            A.ram_chunks = fit / 2;
        file_chunks = fit - A.ram_chunks;
        struct msgbuf m;
        msg_init(&m);
        msg_str(&m, "fsmem: FSMEM_SIZE is more than ");
        msg_str(&m, limit);
        msg_str(&m, " allows; the heap is limited to ");
        msg_bytes(&m, (uint64_t)fit << CHUNK_SHIFT);
        msg_write(2, &m);
    }
    arena.nchunks = A.ram_chunks + file_chunks;
    A.file_len = (uint64_t)((arena.nchunks + A.ndirs - 1) / A.ndirs) << CHUNK_SHIFT;

    size_t len = arena.nchunks << CHUNK_SHIFT;
    char *p = mmap(NULL, len + CHUNK_SIZE, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        msg_warn("cannot reserve address space for the heap (FSMEM_SIZE too large?)", NULL,
                 NULL);
        return -1;
    }
    uintptr_t base = ((uintptr_t)p + CHUNK_SIZE - 1) & ~(uintptr_t)(CHUNK_SIZE - 1);
    if (base > (uintptr_t)p)
        munmap(p, base - (uintptr_t)p);
    if ((uintptr_t)p + CHUNK_SIZE > base)
        munmap((void *)(base + len), (uintptr_t)p + CHUNK_SIZE - base);
    arena.base = arena.top = base;
    arena.end = base + len;
    A.committed = base;

    A.kind = mmap(NULL, arena.nchunks, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                  -1, 0);
    if (A.kind == MAP_FAILED)
        return -1;

    /* Open every backing file now: a directory we cannot write is a
     * setting error at start-up, not an allocation failure later. */
    for (unsigned d = 0; d < A.ndirs && file_chunks > 0; d++) {
        int fd = open_file(d);
        if (fd < 0) {
            struct msgbuf m;
            msg_init(&m);
            msg_str(&m, "fsmem: FSMEM_DIR=");
            msg_str(&m, s->dirs[d]);
            msg_str(&m, ": cannot create a backing file: ");
            msg_errno(&m, -fd);
            msg_write(2, &m);
            return -1;
        }
    }
    return 0;
}
