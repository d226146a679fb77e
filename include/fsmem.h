/* fsmem: a malloc whose heap lives in files on disk.
 *
 * Linking with libfsmem (or preloading libfsmem.so) replaces the whole
 * malloc family: malloc, free, calloc, realloc, reallocarray,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc and
 * malloc_usable_size. Nothing else is needed; the calls below only read
 * what fsmem is doing. Settings come from FSMEM_* environment variables
 * (see `fsmem --help`). */
#ifndef FSMEM_H
#define FSMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FSMEM_VERSION "0.1.0"

/* Most directories FSMEM_DIR may list. */
#define FSMEM_MAX_DIRS 16

struct fsmem_dir_stats {
    const char *path;         /* the directory, as given in FSMEM_DIR */
    uint64_t file_bytes;      /* heap address space mapped from it */
    uint64_t disk_bytes;      /* disk blocks its backing file holds */
    uint64_t free_bytes;      /* free space left on its filesystem */
};

struct fsmem_stats {
    uint64_t heap_bytes;      /* bytes of pages handed to the program now */
    uint64_t heap_peak;       /* largest heap_bytes seen */
    uint64_t ram_bytes;       /* heap address space served from RAM */
    uint64_t file_bytes;      /* heap address space mapped from files */
    uint64_t disk_bytes;      /* disk blocks held by the backing files */
    uint64_t punched_bytes;   /* bytes given back to the filesystem, total */
    uint64_t reserve_bytes;   /* address space reserved for the heap */
    uint64_t major_faults;    /* the process's major page faults so far */
    uint64_t ram_budget;      /* size of the RAM tier (first part of the heap) */
    uint64_t ram_limit;       /* the memory limit the budget was derived from */
    const char *ram_source;   /* "memory cgroup", "available memory",
                                 "ulimit -d" or "FSMEM_RAM" */
    unsigned backing_files;   /* open backing files */
    unsigned dirs;            /* entries used in dir[] */
    struct fsmem_dir_stats dir[FSMEM_MAX_DIRS];   /* per FSMEM_DIR directory */
};

struct fsmem_settings {
    const char *dir;          /* the FSMEM_DIR list in use (colon-separated) */
    uint64_t size;            /* file-backed heap limit in bytes */
    uint64_t ram;             /* FSMEM_RAM in bytes (0 when auto) */
    int ram_auto;             /* 1 when FSMEM_RAM=auto */
    const char *stats;        /* "off", "stderr" or the output path */
    const char *paging;       /* FSMEM_PAGING: "auto", "passes" or "random" */
};

/* Fills *out; returns 0, or -1 if fsmem is not initialised. */
int fsmem_get_stats(struct fsmem_stats *out);

/* Fills *out with the active settings; returns 0, or -1 as above. */
int fsmem_get_settings(struct fsmem_settings *out);

/* Writes the FSMEM_STATS summary to a file descriptor. */
void fsmem_print_stats(int fd);

/* How the program will use a range of its heap, for the pages that live
 * in files (the RAM tier ignores all but COLD):
 *   NORMAL      the heap's paging (FSMEM_PAGING): a page read back from
 *               disk brings the aligned 2 MiB around it (on Linux 5.18 and
 *               later; before, the kernel's read-around as large as the
 *               disk's readahead), or itself alone under
 *               FSMEM_PAGING=random and while FSMEM_PAGING=auto (the
 *               default) sees scattered faults
 *   SEQUENTIAL  read far ahead (the disk's readahead window); pages are
 *               dropped soon after use
 *   RANDOM      read only the 4 KiB page touched: best for scattered
 *               access to a range far larger than memory
 *   WILLNEED    start reading the range from disk now
 *   COLD        not needed for a while: write it out and drop it from
 *               memory now (the data stays, and is read back when touched)
 * The advice covers whole pages, so it reaches neighbouring blocks that
 * share them; it stays with the pages when blocks are freed and reused,
 * until the next fork (which resets it). Returns 0, or -1 with errno
 * EINVAL (unknown advice, or a range outside the heap). */
enum {
    FSMEM_ADVISE_NORMAL,
    FSMEM_ADVISE_SEQUENTIAL,
    FSMEM_ADVISE_RANDOM,
    FSMEM_ADVISE_WILLNEED,
    FSMEM_ADVISE_COLD
};
int fsmem_advise(void *addr, size_t len, int advice);

#ifdef __cplusplus
}
#endif
#endif
