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
};

struct fsmem_settings {
    const char *dir;          /* the FSMEM_DIR list in use (colon-separated) */
    uint64_t size;            /* file-backed heap limit in bytes */
    uint64_t ram;             /* FSMEM_RAM in bytes (0 when auto) */
    int ram_auto;             /* 1 when FSMEM_RAM=auto */
    const char *stats;        /* "off", "stderr" or the output path */
};

/* Fills *out; returns 0, or -1 if fsmem is not initialised. */
int fsmem_get_stats(struct fsmem_stats *out);

/* Fills *out with the active settings; returns 0, or -1 as above. */
int fsmem_get_settings(struct fsmem_settings *out);

/* Writes the FSMEM_STATS summary to a file descriptor. */
void fsmem_print_stats(int fd);

#ifdef __cplusplus
}
#endif
#endif
