#include "util/tasks.h"

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Reads a small /proc file into buf (NUL-terminated); false on failure. */
static bool read_small(int dir, const char *name, char *buf, size_t size)
{
    int fd = openat(dir, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return true;
}

/* Copies s (with its NUL) to path + at; returns where the NUL went. */
static size_t put(char *path, size_t at, const char *s)
{
    while ((path[at] = *s++))
        at++;
    return at;
}

static uint64_t parse_u64(const char **s)
{
    uint64_t v = 0;
    while (**s >= '0' && **s <= '9')
        v = v * 10 + (uint64_t)(*(*s)++ - '0');
    return v;
}

/* Whether the command in stat ("tid (name) ...") names one of fsmem's
 * service threads. */
static bool is_fsmem_thread(const char *stat)
{
    static const char prefix[] = "(fsmem-";
    const char *p = stat;
    while (*p && *p != '(')
        p++;
    for (size_t i = 0; prefix[i]; i++)
        if (p[i] != prefix[i])
            return false;
    return true;
}

/* Field n (counted from 1) of a thread's stat line. The 2nd, the
 * command, may hold spaces and parentheses, so counting starts after its
 * last ')'. NULL when the line is shorter or the field is no number. */
static const char *thread_stat_field(const char *stat, int n)
{
    const char *s = NULL;
    for (const char *p = stat; *p; p++)
        if (*p == ')')
            s = p + 1;
    if (!s)
        return NULL;
    for (int field = 2; field < n; field++) {
        while (*s == ' ')
            s++;
        if (field < n - 1) {
            while (*s && *s != ' ')
                s++;
            if (!*s)
                return NULL;
        }
    }
    return *s >= '0' && *s <= '9' ? s : NULL;
}

static bool parse_read_bytes(const char *io, uint64_t *bytes)
{
    static const char key[] = "read_bytes: ";
    for (const char *p = io; *p; p++) {
        if ((p == io || p[-1] == '\n')) {
            size_t i = 0;
            while (key[i] && p[i] == key[i])
                i++;
            if (!key[i]) {
                const char *s = p + i;
                *bytes = parse_u64(&s);
                return true;
            }
        }
    }
    return false;
}

int tasks_read(struct task_counters *out, int max)
{
    static long tick_us;
    if (!tick_us) {
        long hz = sysconf(_SC_CLK_TCK);
        tick_us = hz > 0 ? 1000000 / hz : 10000;
    }
    int dir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -1;
    int count = 0;
    char ents[2048];
    long n;
    while (count < max && (n = syscall(SYS_getdents64, dir, ents, sizeof ents)) > 0) {
        for (long off = 0; off < n && count < max;) {
            struct dirent64 *d = (struct dirent64 *)(ents + off);
            off += d->d_reclen;
            const char *name = d->d_name;
            if (*name < '1' || *name > '9')
                continue;
            const char *s = name;
            int tid = (int)parse_u64(&s);
            if (*s || s - name > 10)
                continue;   /* not a thread id */
            /* "<tid>/stat" and "<tid>/io", relative to the task directory */
            char path[32], text[1024];
            size_t len = put(path, 0, name);
            struct task_counters *t = &out[count];
            t->tid = tid;
            put(path, len, "/stat");
            if (!read_small(dir, path, text, sizeof text) || is_fsmem_thread(text))
                continue;   /* fsmem's, or the thread has gone */
            const char *utime = thread_stat_field(text, 14), *cpu = thread_stat_field(text, 39);
            if (!utime)
                continue;
            uint64_t ticks = parse_u64(&utime);
            t->cpu = cpu ? (int)parse_u64(&cpu) : -1;
            put(path, len, "/io");
            if (!read_small(dir, path, text, sizeof text) || !parse_read_bytes(text, &t->read_bytes))
                continue;
            t->user_us = ticks * (uint64_t)tick_us;
            count++;
        }
    }
    close(dir);
    return count;
}

bool task_work_read(int tid, struct task_work *w)
{
    /* "/proc/self/task/<tid>/" then "schedstat" and "io" */
    char path[64], digits[12], text[1024];
    size_t n = 0;
    for (unsigned v = (unsigned)tid; v || !n; v /= 10)
        digits[n++] = (char)('0' + v % 10);
    size_t len = put(path, 0, "/proc/self/task/");
    while (n)
        path[len++] = digits[--n];
    put(path, len, "/schedstat");
    if (!read_small(AT_FDCWD, path, text, sizeof text) || text[0] < '0' || text[0] > '9')
        return false;
    const char *s = text;
    w->run_ns = (int64_t)parse_u64(&s);
    put(path, len, "/io");
    uint64_t bytes;
    if (!read_small(AT_FDCWD, path, text, sizeof text) || !parse_read_bytes(text, &bytes))
        return false;
    w->read_bytes = (int64_t)bytes;
    return true;
}

void tasks_place(const struct task_counters *now, int n, int *tid, int nslots, int *slot,
                 unsigned char *change)
{
    for (int i = 0; i < nslots; i++)
        change[i] = tid[i] ? SLOT_LEFT : 0;
    for (int k = 0; k < n; k++) {
        slot[k] = -1;
        for (int i = 0; i < nslots && slot[k] < 0; i++)
            if (tid[i] && tid[i] == now[k].tid) {
                slot[k] = i;
                change[i] = 0;
            }
    }
    for (int i = 0; i < nslots; i++)
        if (change[i] & SLOT_LEFT)
            tid[i] = 0;
    int free_slot = 0;
    for (int k = 0; k < n; k++) {
        if (slot[k] >= 0)
            continue;
        while (free_slot < nslots && tid[free_slot])
            free_slot++;
        if (free_slot == nslots)
            break;
        slot[k] = free_slot;
        tid[free_slot] = now[k].tid;
        change[free_slot] |= SLOT_TAKEN;
    }
}
