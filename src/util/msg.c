#include "msg.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

void msg_init(struct msgbuf *m) { m->len = 0; }

void msg_str(struct msgbuf *m, const char *s)
{
    if (!s)
        s = "(null)";
    while (*s && m->len < sizeof m->buf - 1)
        m->buf[m->len++] = *s++;
}

void msg_u64(struct msgbuf *m, uint64_t v)
{
    char tmp[24];
    int i = 0;
    do {
        tmp[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i > 0 && m->len < sizeof m->buf - 1)
        m->buf[m->len++] = tmp[--i];
}

void msg_hex(struct msgbuf *m, uintptr_t v)
{
    char tmp[2 + 2 * sizeof v];
    int i = 0;
    do {
        tmp[i++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    msg_str(m, "0x");
    while (i > 0 && m->len < sizeof m->buf - 1)
        m->buf[m->len++] = tmp[--i];
}

void msg_bytes(struct msgbuf *m, uint64_t v)
{
    static const char units[] = "KMGTPE";
    if (v < 1024) {
        msg_u64(m, v);
        msg_str(m, "B");
        return;
    }
    int u = 0;
    uint64_t scale = 1024;
    while (u < 5 && v / scale >= 1024) {
        scale *= 1024;
        u++;
    }
    /* One decimal, rounded to nearest tenth. */
    uint64_t tenths = (v * 10 + scale / 2) / scale;
    if (v > UINT64_MAX / 16)
        tenths = v / (scale / 10);
    msg_u64(m, tenths / 10);
    char frac[3] = {'.', (char)('0' + tenths % 10), 0};
    msg_str(m, frac);
    char unit[2] = {units[u], 0};
    msg_str(m, unit);
}

const char *msg_errno_text(int err)
{
    /* NULL for values not in the table. */
    switch (err) {
    case EPERM: return "operation not permitted";
    case ENOENT: return "no such file or directory";
    case EIO: return "input/output error";
    case ENOMEM: return "out of memory";
    case EACCES: return "permission denied";
    case EEXIST: return "file exists";
    case ENOTDIR: return "not a directory";
    case EISDIR: return "is a directory";
    case EINVAL: return "invalid argument";
    case EMFILE: return "too many open files";
    case ENFILE: return "too many open files in system";
    case EFBIG: return "file too large";
    case ENOSPC: return "no space left on device";
    case EROFS: return "read-only filesystem";
    case ENAMETOOLONG: return "file name too long";
    case ELOOP: return "too many levels of symbolic links";
    case EOPNOTSUPP: return "operation not supported";
    case EDQUOT: return "disk quota exceeded";
    default: return NULL;
    }
}

void msg_errno(struct msgbuf *m, int err)
{
    const char *text = msg_errno_text(err);
    if (text) {
        msg_str(m, text);
    } else {
        msg_str(m, "error ");
        msg_u64(m, (uint64_t)err);
    }
}

void msg_write(int fd, struct msgbuf *m)
{
    m->buf[m->len++] = '\n';
    size_t off = 0;
    while (off < m->len) {
        ssize_t n = write(fd, m->buf + off, m->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    m->len--;
}

void msg_warn(const char *a, const char *b, const char *c)
{
    int saved = errno;
    struct msgbuf m;
    msg_init(&m);
    msg_str(&m, "fsmem: ");
    msg_str(&m, a);
    if (b)
        msg_str(&m, b);
    if (c)
        msg_str(&m, c);
    msg_write(2, &m);
    errno = saved;
}

_Noreturn void msg_fatal_ptr(const char *what, const void *p)
{
    struct msgbuf m;
    msg_init(&m);
    msg_str(&m, "fsmem: ");
    msg_str(&m, what);
    msg_str(&m, " ");
    msg_hex(&m, (uintptr_t)p);
    msg_write(2, &m);
    abort();
}

_Noreturn void msg_die(int status, const char *a, const char *b, const char *c)
{
    msg_warn(a, b, c);
    _exit(status);
}

bool msg_notice_here(void)
{
    const char *only = getenv("FSMEM_WARN_PID");
    if (!only || !*only)
        return true;
    uint64_t pid = 0;
    for (const char *c = only; *c; c++) {
        if (*c < '0' || *c > '9')
            return true;   /* not a pid: as if unset */
        pid = pid * 10 + (uint64_t)(*c - '0');
    }
    return pid == (uint64_t)getpid();
}
