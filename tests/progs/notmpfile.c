/* notmpfile: fsmem's fallback for filesystems without O_TMPFILE, with an
 * attacker who guessed the name.
 *
 *   notmpfile MIB          (statically linked with libfsmem.a)
 *
 * This program defines open() and getrandom() itself, so that the copies
 * linked into fsmem are these: open() refuses O_TMPFILE with EOPNOTSUPP
 * (as on a filesystem without it), and getrandom() returns 0, 1, 2, ...
 * (a name an attacker can predict: fsmem's first try is
 * DIR/.fsmem-0000000000000000). It then allocates and writes MIB MiB,
 * prints "filled tmpfile_refused=N getrandom_calls=N", waits for end of
 * file on stdin, verifies, frees and exits 0 with "done". */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int tmpfile_refused, random_calls;

static int real_open(const char *path, int flags, va_list ap)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | __O_TMPFILE))
        mode = (mode_t)va_arg(ap, int);
    if ((flags & __O_TMPFILE) == __O_TMPFILE) {
        tmpfile_refused++;
        errno = EOPNOTSUPP;
        return -1;
    }
    return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int fd = real_open(path, flags, ap);
    va_end(ap);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    int fd = real_open(path, flags, ap);
    va_end(ap);
    return fd;
}

ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    uint64_t v = (uint64_t)random_calls++;
    unsigned char *b = buf;
    for (size_t i = 0; i < len; i++)
        b[i] = i < 8 ? (unsigned char)(v >> (8 * i)) : 0;
    (void)flags;
    return (ssize_t)len;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 100;
    size_t n = mib << 20;
    setvbuf(stdout, NULL, _IONBF, 0);
    unsigned char *p = malloc(n);
    char *s = malloc(1000);
    if (!p || !s) {
        fprintf(stderr, "notmpfile: FAIL malloc: %s\n", strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 13 + (i >> 12));
    memset(s, 5, 1000);
    printf("filled tmpfile_refused=%d getrandom_calls=%d\n", tmpfile_refused, random_calls);
    char buf[64];
    while (read(0, buf, sizeof buf) > 0)
        ;
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(i * 13 + (i >> 12))) {
            fprintf(stderr, "notmpfile: FAIL byte %zu changed\n", i);
            return 1;
        }
    free(p);
    free(s);
    printf("done\n");
    return 0;
}
