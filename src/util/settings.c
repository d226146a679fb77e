/* FSMEM_* settings. This runs inside malloc's first call in a preloaded
 * library, so it must not allocate, use stdio or touch the locale: every
 * message goes through msg.h and every string is copied into the caller's
 * struct settings. */
#include "settings.h"
#include "msg.h"

#include <errno.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <unistd.h>

/* Kernel statfs f_flags: the flags are meaningful only when this is set. */
#ifndef ST_VALID
#define ST_VALID 0x0020
#endif

const char *const settings_var[SET_COUNT] = {
    "FSMEM_DIR", "FSMEM_SIZE", "FSMEM_RAM", "FSMEM_STATS", "FSMEM_PAGING",
};

/* Identity of this reason lets the printer quote the offending suffix,
 * which the parser itself cannot do without a buffer of its own. */
static const char why_suffix[] = "unknown suffix";

/* ---- messages ---------------------------------------------------------- */

static void line_start(struct msgbuf *m, const char *label, const char *value)
{
    msg_init(m);
    msg_str(m, "fsmem: ");
    msg_str(m, label);
    msg_str(m, "=");
    msg_str(m, value);
    msg_str(m, ": ");
}

static int reject(const char *label, const char *value, const char *a, const char *b)
{
    struct msgbuf m;
    line_start(&m, label, value);
    msg_str(&m, a);
    if (b)
        msg_str(&m, b);
    msg_write(2, &m);
    return -1;
}

static int reject_bytes(const char *label, const char *value, const char *why)
{
    if (why != why_suffix)
        return reject(label, value, why, NULL);
    const char *p = value;
    while (*p >= '0' && *p <= '9')
        p++;
    struct msgbuf m;
    line_start(&m, label, value);
    msg_str(&m, "unknown suffix '");
    msg_str(&m, p);
    msg_str(&m, "' (use K, M, G or T)");
    msg_write(2, &m);
    return -1;
}

/* ---- sizes ------------------------------------------------------------- */

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

static bool same_word(const char *a, const char *lower_word)
{
    while (*a && lower(*a) == *lower_word)
        a++, lower_word++;
    return *a == 0 && *lower_word == 0;
}

int settings_parse_bytes(const char *text, uint64_t *out, const char **why)
{
    if (!text || !*text)
        return *why = "empty", -1;
    if (strchr(text, ' ') || strchr(text, '\t'))
        return *why = "spaces are not allowed", -1;
    if (*text == '-')
        return *why = "negative", -1;
    if (*text < '0' || *text > '9')
        return *why = "not a number", -1;

    uint64_t v = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return *why = "too large", -1;
        v = v * 10 + d;
    }
    if (*p == '.' || *p == ',')
        return *why = "whole numbers only (write 1536M, not 1.5G)", -1;

    unsigned shift = 0;
    const char *units = "kmgt";
    const char *u = *p ? strchr(units, lower(*p)) : NULL;
    if (u) {
        shift = 10 * (unsigned)(u - units + 1);
        p++;
        if (lower(*p) == 'i' && lower(p[1]) == 'b')
            p += 2;
        else if (lower(*p) == 'b')
            p++;
    } else if (lower(*p) == 'b') {
        p++; /* "512B": plain bytes */
    }
    if (*p)
        return *why = why_suffix, -1;
    if (shift && v > (UINT64_MAX >> shift))
        return *why = "too large", -1;
    *out = v << shift;
    return 0;
}

/* ---- directories ------------------------------------------------------- */

struct dirinfo {
    dev_t dev;
    uint64_t bytes; /* size of the filesystem holding it */
    bool ram;       /* tmpfs or ramfs: accepted, but it is memory */
};

/* Kernel interfaces, not storage: files there cannot back a heap. */
static bool pseudo_fs(uint32_t type)
{
    static const uint32_t magic[] = {
        PROC_SUPER_MAGIC, SYSFS_MAGIC, DEVPTS_SUPER_MAGIC, CGROUP_SUPER_MAGIC,
        CGROUP2_SUPER_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC, SECURITYFS_MAGIC,
        PSTOREFS_MAGIC, BPF_FS_MAGIC, EFIVARFS_MAGIC, SELINUX_MAGIC, SMACK_MAGIC,
        NSFS_MAGIC, BINFMTFS_MAGIC, HUGETLBFS_MAGIC, RDTGROUP_SUPER_MAGIC,
        0x62656570 /* configfs */, 0x19800202 /* mqueue */, 0x65735543 /* fusectl */,
    };
    for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
        if (type == magic[i])
            return true;
    return false;
}

/* 0 if dir can hold backing files; else -1 with *why set, or with *why NULL
 * and *err holding an errno value. */
static int check_dir(const char *dir, struct dirinfo *di, const char **why, int *err)
{
    struct stat st;
    struct statfs fs;
    *why = NULL;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT)
            *why = "no such directory";
        *err = errno;
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return *why = "not a directory", -1;
    if (statfs(dir, &fs) != 0)
        return *err = errno, -1;
    if (pseudo_fs((uint32_t)fs.f_type))
        return *why = "not a disk filesystem", -1;
    if ((fs.f_flags & ST_VALID) && (fs.f_flags & ST_RDONLY))
        return *why = "read-only filesystem", -1;
    if (access(dir, W_OK | X_OK) != 0) {
        if (errno == EACCES || errno == EPERM)
            *why = "not writable by this user";
        *err = errno;
        return -1;
    }
    uint64_t unit = fs.f_frsize ? (uint64_t)fs.f_frsize : (uint64_t)fs.f_bsize;
    uint64_t blocks = (uint64_t)fs.f_blocks;
    di->dev = st.st_dev;
    di->bytes = unit && blocks > UINT64_MAX / unit ? UINT64_MAX : blocks * unit;
    di->ram = (uint32_t)fs.f_type == TMPFS_MAGIC || (uint32_t)fs.f_type == RAMFS_MAGIC;
    return 0;
}

/* Why check_dir refused a directory: its own words, or the system's. */
static void add_reason(struct msgbuf *m, const char *why, int err)
{
    if (why)
        msg_str(m, why);
    else
        msg_errno(m, err);
}

static int reject_dir(const char *label, const char *value, const char *dir,
                      const char *why, int err)
{
    struct msgbuf m;
    line_start(&m, label, value);
    msg_str(&m, dir);
    msg_str(&m, ": ");
    add_reason(&m, why, err);
    msg_write(2, &m);
    return -1;
}

/* The default must never be a surprise: $TMPDIR only when it is a usable
 * disk directory, else /var/tmp, which is then checked like a given value. */
static int default_dir(struct settings *s, struct dirinfo *di, const char *label)
{
    const char *why;
    int err;
    const char *tmp = getenv("TMPDIR");
    if (tmp && *tmp && strlen(tmp) < sizeof s->dir_storage &&
        check_dir(tmp, di, &why, &err) == 0 && !di->ram) {
        strcpy(s->dir_storage, tmp);
    } else {
        strcpy(s->dir_storage, "/var/tmp");
        if (check_dir(s->dir_storage, di, &why, &err) != 0) {
            struct msgbuf m;
            msg_init(&m);
            msg_str(&m, "fsmem: ");
            msg_str(&m, label);
            msg_str(&m, " is not set and the default /var/tmp is unusable: ");
            add_reason(&m, why, err);
            msg_write(2, &m);
            return -1;
        }
    }
    s->ndirs = 1;
    s->dirs[0] = s->dir_storage;
    return 0;
}

static int parse_dirs(struct settings *s, const char *value, const char *label,
                      struct dirinfo di[SETTINGS_MAX_DIRS])
{
    if (!value)
        return default_dir(s, &di[0], label);
    s->dir_given = true;
    size_t len = strlen(value);
    if (len == 0)
        return reject(label, value, "empty", NULL);
    if (len >= sizeof s->dir_storage)
        return reject(label, "...", "too long", NULL);
    memcpy(s->dir_storage, value, len + 1);

    /* Split the whole list before touching the filesystem, so a typo in
     * the list is reported as such rather than as a missing directory. */
    char *p = s->dir_storage;
    for (;;) {
        char *colon = strchr(p, ':');
        if (colon)
            *colon = 0;
        if (!*p)
            return reject(label, value, "empty entry in the list", NULL);
        if (s->ndirs == SETTINGS_MAX_DIRS)
            return reject(label, value, "too many directories (at most 16)", NULL);
        s->dirs[s->ndirs++] = p;
        if (!colon)
            break;
        p = colon + 1;
    }
    for (unsigned i = 0; i < s->ndirs; i++) {
        const char *why;
        int err;
        if (check_dir(s->dirs[i], &di[i], &why, &err) != 0)
            return reject_dir(label, value, s->dirs[i], why, err);
    }
    return 0;
}

/* Total size of the filesystems holding the dirs, each counted once. */
static uint64_t disk_total(const struct dirinfo *di, unsigned n)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        bool seen = false;
        for (unsigned j = 0; j < i; j++)
            seen |= di[j].dev == di[i].dev;
        if (!seen)
            total = total + di[i].bytes < total ? UINT64_MAX : total + di[i].bytes;
    }
    return total;
}

static void warn_ram_dirs(const struct settings *s, const struct dirinfo *di,
                          const char *label, const char *value)
{
    if (!msg_notice_here())
        return;
    for (unsigned i = 0; i < s->ndirs; i++) {
        if (!di[i].ram)
            continue;
        struct msgbuf m;
        msg_init(&m);
        msg_str(&m, "fsmem: warning: ");
        msg_str(&m, label);
        if (value) {
            msg_str(&m, "=");
            msg_str(&m, value);
        } else {
            msg_str(&m, " (default)");
        }
        msg_str(&m, ": ");
        msg_str(&m, s->dirs[i]);
        msg_str(&m, " is on tmpfs, which is RAM: it will not extend memory");
        msg_write(2, &m);
    }
}

/* ---- the rest ---------------------------------------------------------- */

static int parse_stats(struct settings *s, const char *value, const char *label)
{
    if (!value || !*value || strcmp(value, "0") == 0) {
        s->stats = STATS_OFF;
        return 0;
    }
    /* "stderr" is what fsmem_get_settings() reports for 1: taking it as a
     * file name would leave a file called stderr in the working directory. */
    if (strcmp(value, "1") == 0 || strcmp(value, "stderr") == 0) {
        s->stats = STATS_STDERR;
        return 0;
    }
    size_t len = strlen(value);
    if (len >= sizeof s->stats_path)
        return reject(label, "...", "too long", NULL);
    memcpy(s->stats_path, value, len + 1);
    s->stats = STATS_FILE;

    struct stat st;
    if (stat(value, &st) == 0 && S_ISDIR(st.st_mode))
        return reject(label, value, "is a directory (give a file name)", NULL);

    /* The summary is written at exit, far too late to report a typo. */
    char dir[SETTINGS_PATH_MAX];
    const char *slash = strrchr(value, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == value)
        strcpy(dir, "/");
    else {
        memcpy(dir, value, (size_t)(slash - value));
        dir[slash - value] = 0;
    }
    if (stat(dir, &st) != 0)
        return reject_dir(label, value, dir, errno == ENOENT ? "no such directory" : NULL,
                          errno);
    if (!S_ISDIR(st.st_mode))
        return reject_dir(label, value, dir, "not a directory", 0);
    return 0;
}

static int parse_paging(struct settings *s, const char *value, const char *label)
{
    if (!value || !*value || strcmp(value, "auto") == 0)
        s->paging = PAGING_AUTO;
    else if (strcmp(value, "passes") == 0)
        s->paging = PAGING_PASSES;
    else if (strcmp(value, "random") == 0)
        s->paging = PAGING_RANDOM;
    else
        return reject(label, value, "unknown (auto, passes or random)", NULL);
    return 0;
}

static int parse_ram(struct settings *s, const char *value, const char *label)
{
    if (!value || same_word(value, "auto")) {
        s->ram_auto = true;
        return 0;
    }
    const char *why;
    if (settings_parse_bytes(value, &s->ram, &why) != 0) {
        if (strcmp(why, "not a number") == 0)
            why = "expected auto or a size such as 4G";
        return reject_bytes(label, value, why);
    }
    return 0;
}

int settings_parse(struct settings *s, const char *const values[SET_COUNT],
                   const char *const labels[SET_COUNT], bool warn)
{
    const char *label[SET_COUNT];
    for (int i = 0; i < SET_COUNT; i++)
        label[i] = labels && labels[i] ? labels[i] : settings_var[i];
    memset(s, 0, sizeof *s);

    /* Typos first: they are cheaper to report than filesystem checks. */
    const char *size = values[SET_SIZE], *why;
    s->size = SETTINGS_DEFAULT_SIZE;
    if (size) {
        s->size_given = true;
        if (settings_parse_bytes(size, &s->size, &why) != 0)
            return reject_bytes(label[SET_SIZE], size, why);
        if (s->size == 0)
            return reject(label[SET_SIZE], size, "zero (the heap needs at least 64M)", NULL);
        if (s->size < SETTINGS_MIN_SIZE)
            return reject(label[SET_SIZE], size, "too small (at least 64M)", NULL);
    }
    if (parse_ram(s, values[SET_RAM], label[SET_RAM]) != 0)
        return -1;
    if (parse_stats(s, values[SET_STATS], label[SET_STATS]) != 0)
        return -1;
    if (parse_paging(s, values[SET_PAGING], label[SET_PAGING]) != 0)
        return -1;

    struct dirinfo di[SETTINGS_MAX_DIRS];
    if (parse_dirs(s, values[SET_DIR], label[SET_DIR], di) != 0)
        return -1;

    uint64_t total = disk_total(di, s->ndirs);
    if (s->size > total) {
        if (s->size_given) {
            struct msgbuf m;
            line_start(&m, label[SET_SIZE], size);
            if (s->dir_given) {
                msg_str(&m, "larger than the disks in ");
                msg_str(&m, label[SET_DIR]);
            } else {
                msg_str(&m, "larger than the disk holding ");
                msg_str(&m, s->dirs[0]);
            }
            msg_str(&m, " (");
            msg_bytes(&m, total);
            msg_str(&m, ")");
            msg_write(2, &m);
            return -1;
        }
        /* Tiny filesystems still get one chunk; the disk filling up is then
         * an ordinary allocation failure. */
        s->size = total < SETTINGS_MIN_SIZE ? SETTINGS_MIN_SIZE : total;
    }

    if (warn)
        warn_ram_dirs(s, di, label[SET_DIR], values[SET_DIR]);
    return 0;
}

int settings_from_env(struct settings *s, bool warn)
{
    const char *values[SET_COUNT];
    for (int i = 0; i < SET_COUNT; i++)
        values[i] = getenv(settings_var[i]);
    return settings_parse(s, values, NULL, warn);
}
