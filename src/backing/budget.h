/* The RAM tier's budget for FSMEM_RAM=auto.
 *
 * Memory that the kernel cannot reclaim is the scarce thing: anonymous
 * pages (the RAM tier) stay resident, file pages (the rest of the heap)
 * can be written back and dropped. The budget is therefore half of the
 * tightest of: the memory cgroup's limit (v1 or v2, the smallest along the
 * path to the root), the machine's available memory, and RLIMIT_DATA
 * (which counts the RAM tier's private mappings). The other half is left
 * to the program's own mappings and to the page cache through which the
 * file tier works; while the heap has no file page it may take more
 * (ram_budget_more). */
#ifndef FSMEM_BACKING_BUDGET_H
#define FSMEM_BACKING_BUDGET_H

#include <stddef.h>
#include <stdint.h>

struct ram_budget {
    uint64_t bytes;
    uint64_t limit;        /* the tightest limit found */
    const char *source;    /* "memory cgroup", "available memory", "ulimit -d" */
};

void ram_budget_auto(struct ram_budget *b);

/* How much more RAM tier an auto budget may take now that the heap has
 * filled it and has no file page yet. Until then the half left for the
 * page cache serves nothing of the heap's, and a heap rewritten at random
 * on files that fit in memory is written back under the program, 2 MiB
 * folio by folio, once its dirty pages pass the kernel's thresholds. So
 * the tier grows by half of what the tightest limit still leaves above a
 * floor (a quarter of the limit, at least RAM_FLOOR_MIN) kept for the
 * page cache, the program's other memory and other processes: a heap
 * that turns out to fit stays in RAM, one that goes on growing finds its
 * page cache still there. 0 when nothing is left above the floor. */
#define RAM_FLOOR_MIN ((uint64_t)1 << 30)
uint64_t ram_budget_more(const struct ram_budget *b);

/* The limit of the cgroup v1 memory cgroup that binds this process (the
 * smallest along its path to the root), with its directory in dir; or
 * UINT64_MAX when there is none (no v1 memory controller, or no limit). */
uint64_t cgroup_v1_limiting_dir(char *dir, size_t len);

/* The number a small file (/proc/sys/...) starts with, or UINT64_MAX. */
uint64_t file_u64(const char *path);

/* The number after `name` (and any spaces) in a /proc or cgroup stat
 * text, or UINT64_MAX when name is missing or no number follows. */
uint64_t stat_field(const char *text, const char *name);

#endif
