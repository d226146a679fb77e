#include "backing/budget.h"

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Reads a small file into buf (NUL-terminated); length or -1. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return n;
}

static uint64_t parse_u64(const char *s)
{
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return UINT64_MAX;   /* "max" in cgroup v2 */
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    return v;
}

uint64_t file_u64(const char *path)
{
    char buf[64];
    return slurp(path, buf, sizeof buf) > 0 ? parse_u64(buf) : UINT64_MAX;
}

uint64_t stat_field(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    if (!p)
        return UINT64_MAX;
    for (p += strlen(name); *p == ' '; p++)
        ;
    return parse_u64(p);
}

/* The smallest value of file `name` in the cgroup directory `dir` and its
 * ancestors up to `root`; where is set to the directory holding it (when
 * not NULL and a value was found). */
static uint64_t cgroup_min(const char *root, const char *rel, const char *name,
                           char *where, size_t wherelen)
{
    char path[1024];
    size_t rlen = strlen(root), len = strlen(rel);
    if (rlen + len + strlen(name) + 3 > sizeof path)
        return UINT64_MAX;
    uint64_t best = UINT64_MAX;
    for (;;) {
        memcpy(path, root, rlen);
        memcpy(path + rlen, rel, len);
        path[rlen + len] = '/';
        strcpy(path + rlen + len + 1, name);
        uint64_t v = file_u64(path);
        if (v < best) {
            best = v;
            if (where && rlen + len < wherelen) {
                memcpy(where, path, rlen + len);
                where[rlen + len] = 0;
            }
        }
        if (len == 0)
            break;
        while (len > 0 && rel[len - 1] != '/')
            len--;
        if (len > 0)
            len--;   /* drop the slash too; "" is the root */
    }
    return best;
}

/* The cgroup path for a controller from /proc/self/cgroup ("" for v2's
 * unified line when want is NULL). */
static int cgroup_path(const char *want, char *out, size_t outlen)
{
    char buf[4096];
    if (slurp("/proc/self/cgroup", buf, sizeof buf) <= 0)
        return -1;
    for (char *line = buf; *line;) {
        char *end = strchr(line, '\n');
        if (end)
            *end = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c2) {
            *c2 = 0;
            const char *ctrls = c1 + 1, *path = c2 + 1;
            bool match = want ? strstr(ctrls, want) != NULL : (line[0] == '0' && !*ctrls);
            if (match && strlen(path) < outlen) {
                strcpy(out, strcmp(path, "/") ? path : "");
                return 0;
            }
        }
        if (!end)
            break;
        line = end + 1;
    }
    return -1;
}

/* v1 reports "no limit" as a huge page-rounded number. */
static uint64_t real_limit(uint64_t v)
{
    return v >= (UINT64_C(1) << 62) ? UINT64_MAX : v;
}

uint64_t cgroup_v1_limiting_dir(char *where, size_t wherelen)
{
    char rel[2048];
    if (cgroup_path("memory", rel, sizeof rel) != 0)
        return UINT64_MAX;
    return real_limit(cgroup_min("/sys/fs/cgroup/memory", rel, "memory.limit_in_bytes",
                                 where, wherelen));
}

static uint64_t cgroup_v2_limiting_dir(char *where, size_t wherelen)
{
    char rel[2048];
    if (cgroup_path(NULL, rel, sizeof rel) != 0)
        return UINT64_MAX;
    return real_limit(cgroup_min("/sys/fs/cgroup", rel, "memory.max", where, wherelen));
}

static uint64_t cgroup_limit(void)
{
    uint64_t v1 = cgroup_v1_limiting_dir(NULL, 0), v2 = cgroup_v2_limiting_dir(NULL, 0);
    return v1 < v2 ? v1 : v2;
}

/* A file of the cgroup directory dir, read into buf; its length or -1. */
static ssize_t slurp_in(const char *dir, const char *name, char *buf, size_t len)
{
    char path[1100];
    size_t dlen = strlen(dir), nlen = strlen(name);
    if (dlen + nlen + 2 > sizeof path)
        return -1;
    memcpy(path, dir, dlen);
    path[dlen] = '/';
    memcpy(path + dlen + 1, name, nlen + 1);
    return slurp(path, buf, len);
}

/* What a cgroup limited to limit has left: the limit less its usage, its
 * file cache counted as free, since reclaim can take it. */
static uint64_t cgroup_left(const char *dir, uint64_t limit, const char *usage_name,
                            const char *active_file, const char *inactive_file)
{
    char buf[4096];
    if (slurp_in(dir, usage_name, buf, sizeof buf) <= 0)
        return UINT64_MAX;
    uint64_t usage = parse_u64(buf);
    if (slurp_in(dir, "memory.stat", buf, sizeof buf) <= 0)
        return UINT64_MAX;
    uint64_t act = stat_field(buf, active_file), inact = stat_field(buf, inactive_file);
    if (usage == UINT64_MAX || act == UINT64_MAX || inact == UINT64_MAX)
        return UINT64_MAX;
    uint64_t used = usage > act + inact ? usage - act - inact : 0;
    return limit > used ? limit - used : 0;
}

static uint64_t available_memory(void)
{
    char buf[4096];
    if (slurp("/proc/meminfo", buf, sizeof buf) <= 0)
        return UINT64_MAX;
    uint64_t kb = stat_field(buf, "MemAvailable:");
    return kb == UINT64_MAX ? kb : kb * 1024;
}

void ram_budget_auto(struct ram_budget *b)
{
    b->limit = available_memory();
    b->source = "available memory";
    uint64_t cg = cgroup_limit();
    if (cg < b->limit) {
        b->limit = cg;
        b->source = "memory cgroup";
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < b->limit) {
        b->limit = rl.rlim_cur;
        b->source = "ulimit -d";
    }
    b->bytes = b->limit == UINT64_MAX ? 0 : b->limit / 2;
}

/* RLIMIT_DATA less the process's data (private writable mappings, the
 * RAM tier's among them), or UINT64_MAX. Its own frame: called under the
 * page lock from malloc, on whatever stack the program gave the thread. */
static __attribute__((noinline)) uint64_t data_left(void)
{
    struct rlimit rl;
    char buf[4096];
    if (getrlimit(RLIMIT_DATA, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        slurp("/proc/self/status", buf, sizeof buf) <= 0)
        return UINT64_MAX;
    uint64_t kb = stat_field(buf, "\nVmData:\t");
    uint64_t data = kb == UINT64_MAX ? rl.rlim_cur : kb * 1024;
    return rl.rlim_cur > data ? rl.rlim_cur - data : 0;
}

/* Memory the tightest limit still leaves the process. */
static uint64_t memory_left(void)
{
    uint64_t left = available_memory();
    char dir[1024];
    uint64_t limit = cgroup_v1_limiting_dir(dir, sizeof dir), v;
    if (limit != UINT64_MAX &&
        (v = cgroup_left(dir, limit, "memory.usage_in_bytes", "\ntotal_active_file ",
                         "\ntotal_inactive_file ")) < left)
        left = v;
    limit = cgroup_v2_limiting_dir(dir, sizeof dir);
    if (limit != UINT64_MAX &&
        (v = cgroup_left(dir, limit, "memory.current", "\nactive_file ", "\ninactive_file ")) < left)
        left = v;
    if ((v = data_left()) < left)
        left = v;
    return left;
}

uint64_t ram_budget_more(const struct ram_budget *b)
{
    if (b->limit == UINT64_MAX)
        return 0;
    uint64_t floor = b->limit / 4 > RAM_FLOOR_MIN ? b->limit / 4 : RAM_FLOOR_MIN;
    uint64_t left = memory_left();
    return left != UINT64_MAX && left > floor ? (left - floor) / 2 : 0;
}
