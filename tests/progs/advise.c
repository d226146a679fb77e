/* advise: the fsmem_* calls a program makes on purpose, seen from inside.
 *
 *   advise NDIRS
 *
 * Run preloaded with FSMEM_RAM=0 and FSMEM_DIR listing NDIRS directories.
 * Checks fsmem_get_stats (the per-directory split adds up to the totals)
 * and fsmem_advise: bad advice and ranges outside the heap are EINVAL;
 * RANDOM and SEQUENTIAL reach the kernel (the mapping's VmFlags in
 * /proc/self/smaps); COLD writes a block out and drops it from memory
 * (mincore), and the data read back afterwards is intact. Prints "ok" and
 * exits 0, 1 on a failed check, 77 when fsmem is not preloaded. */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fsmem.h"

static int (*advise)(void *, size_t, int);
static int (*get_stats)(struct fsmem_stats *);
static int failures;

#define CHECK(cond, ...)                                        \
    do {                                                        \
        if (!(cond)) {                                          \
            printf("advise: FAIL line %d: ", __LINE__);         \
            printf(__VA_ARGS__);                                \
            printf("\n");                                       \
            failures++;                                         \
        }                                                       \
    } while (0)

/* The VmFlags line of the mapping that holds p. */
static int vmflags_of(const void *p, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int inside = 0, found = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            inside = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        else if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, len, "%s", line + 8);
            found = 0;
            break;
        }
    }
    fclose(f);
    return found;
}

static int has_flag(const char *flags, const char *flag)
{
    char pad[600];
    snprintf(pad, sizeof pad, " %s ", flags);
    char want[8];
    snprintf(want, sizeof want, " %s ", flag);
    for (char *c = pad; *c; c++)
        if (*c == '\n')
            *c = ' ';
    return strstr(pad, want) != NULL;
}

static size_t resident_pages(void *p, size_t n)
{
    size_t pages = n / 4096, count = 0;
    unsigned char *v = malloc(pages);
    if (!v || mincore(p, n, v) != 0) {
        free(v);
        return (size_t)-1;
    }
    for (size_t i = 0; i < pages; i++)
        count += v[i] & 1;
    free(v);
    return count;
}

int main(int argc, char **argv)
{
    unsigned ndirs = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    advise = (int (*)(void *, size_t, int))dlsym(RTLD_DEFAULT, "fsmem_advise");
    get_stats = (int (*)(struct fsmem_stats *))dlsym(RTLD_DEFAULT, "fsmem_get_stats");
    if (!advise || !get_stats) {
        printf("advise: fsmem is not preloaded\n");
        return 77;
    }

    /* Bad requests. */
    int local;
    errno = 0;
    CHECK(advise(&local, sizeof local, FSMEM_ADVISE_RANDOM) == -1 && errno == EINVAL,
          "advice on a stack address: want -1/EINVAL, errno %d", errno);
    size_t n = (size_t)16 << 20;
    unsigned char *p = malloc(n);
    CHECK(p != NULL, "malloc(16 MiB)");
    if (!p)
        return 1;
    errno = 0;
    CHECK(advise(p, n, 42) == -1 && errno == EINVAL, "unknown advice 42: want -1/EINVAL");
    errno = 0;
    CHECK(advise(p, SIZE_MAX, FSMEM_ADVISE_NORMAL) == -1 && errno == EINVAL,
          "range that wraps around: want -1/EINVAL");
    CHECK(advise(p, 0, FSMEM_ADVISE_RANDOM) == 0, "empty range: want 0");

    for (size_t i = 0; i < n; i += 8)
        *(uint64_t *)(p + i) = i * 0x9E3779B97F4A7C15ull;

    /* The kernel's flags for the mapping (VmFlags in smaps): fsmem's own
     * paging is huge pages + random (hg rr: 2 MiB read per fault) where
     * the kernel supports it, else the kernel's default; RANDOM is rr
     * without hg (one page per fault), SEQUENTIAL is sr, NORMAL goes back
     * to fsmem's default. */
    char flags[512], dflags[512];
    unsigned char *mid = p + n / 2;
    CHECK(vmflags_of(mid, dflags, sizeof dflags) == 0, "no smaps entry for the block");
    int def_hg = has_flag(dflags, "hg"), def_rr = has_flag(dflags, "rr");
    CHECK(def_hg == def_rr && !has_flag(dflags, "sr"),
          "file-backed heap mapped with VmFlags '%s' (want hg and rr together, or neither)", dflags);
    printf("advise: fsmem's paging on this kernel: %s\n",
           def_hg ? "huge pages + random (2 MiB reads)" : "the kernel's read-around");
    CHECK(advise(p, n, FSMEM_ADVISE_RANDOM) == 0, "RANDOM: errno %d", errno);
    CHECK(vmflags_of(mid, flags, sizeof flags) == 0 && has_flag(flags, "rr") &&
              !has_flag(flags, "sr") && !has_flag(flags, "hg"),
          "after RANDOM the mapping's VmFlags are '%s' (want rr, no hg)", flags);
    CHECK(advise(p, n, FSMEM_ADVISE_SEQUENTIAL) == 0, "SEQUENTIAL: errno %d", errno);
    CHECK(vmflags_of(mid, flags, sizeof flags) == 0 && has_flag(flags, "sr") && !has_flag(flags, "rr"),
          "after SEQUENTIAL the mapping's VmFlags are '%s' (want sr)", flags);
    CHECK(advise(p, n, FSMEM_ADVISE_NORMAL) == 0, "NORMAL: errno %d", errno);
    CHECK(vmflags_of(mid, flags, sizeof flags) == 0 && !has_flag(flags, "sr") &&
              has_flag(flags, "rr") == def_rr && has_flag(flags, "hg") == def_hg,
          "after NORMAL the mapping's VmFlags are '%s' (want those it started with: '%s')", flags, dflags);

    /* COLD: out of memory now, intact when read again. The block's first
     * and last pages may share pages with other blocks: look inside. */
    unsigned char *in = (unsigned char *)(((uintptr_t)p + 4095) & ~(uintptr_t)4095);
    size_t in_len = (n - (size_t)(in - p)) & ~(size_t)4095;
    size_t before = resident_pages(in, in_len);
    CHECK(advise(p, n, FSMEM_ADVISE_COLD) == 0, "COLD: errno %d", errno);
    size_t after = resident_pages(in, in_len);
    CHECK(after != (size_t)-1 && after * 10 < in_len / 4096,
          "after COLD %zu of %zu pages still resident (%zu before)", after, in_len / 4096, before);
    struct fsmem_stats st0, st1;
    get_stats(&st0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i += 8)
        bad += *(uint64_t *)(p + i) != i * 0x9E3779B97F4A7C15ull;
    get_stats(&st1);
    CHECK(bad == 0, "%zu words wrong after COLD", bad);
    CHECK(st1.major_faults > st0.major_faults, "reading a COLD block back took no major fault");
    CHECK(advise(p, n, FSMEM_ADVISE_WILLNEED) == 0, "WILLNEED: errno %d", errno);
    printf("advise: COLD dropped %zu of %zu resident pages; reading back: %llu major faults\n",
           before - after, before, (unsigned long long)(st1.major_faults - st0.major_faults));

    /* Per-directory statistics add up. */
    struct fsmem_stats st;
    CHECK(get_stats(&st) == 0, "fsmem_get_stats");
    CHECK(st.dirs == ndirs, "%u directories in the stats, %u in FSMEM_DIR", st.dirs, ndirs);
    uint64_t file = 0, disk = 0;
    for (unsigned d = 0; d < st.dirs && d < FSMEM_MAX_DIRS; d++) {
        file += st.dir[d].file_bytes;
        disk += st.dir[d].disk_bytes;
        CHECK(st.dir[d].path && st.dir[d].path[0] == '/', "directory %u has no path", d);
        CHECK(st.dir[d].free_bytes > 0, "directory %u (%s) reports no free space", d, st.dir[d].path);
        printf("advise: %s: %llu heap bytes, %llu on disk, %llu free\n", st.dir[d].path,
               (unsigned long long)st.dir[d].file_bytes, (unsigned long long)st.dir[d].disk_bytes,
               (unsigned long long)st.dir[d].free_bytes);
    }
    CHECK(file == st.file_bytes, "directories hold %llu heap bytes, the total says %llu",
          (unsigned long long)file, (unsigned long long)st.file_bytes);
    CHECK(disk == st.disk_bytes, "directories hold %llu disk bytes, the total says %llu",
          (unsigned long long)disk, (unsigned long long)st.disk_bytes);
    CHECK(st.file_bytes >= n, "file_bytes %llu < the 16 MiB block", (unsigned long long)st.file_bytes);
    free(p);
    if (failures)
        return 1;
    printf("ok\n");
    return 0;
}
