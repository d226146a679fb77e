#include "backing/file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int create_named(const char *dir)
{
    /* dir + "/.fsmem-" + 16 hex digits */
    char path[4096 + 32];
    size_t n = strlen(dir);
    if (n + 26 > sizeof path)
        return -ENAMETOOLONG;
    for (int attempt = 0; attempt < 16; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
            r ^= (uint64_t)(uintptr_t)&r ^ ((uint64_t)getpid() << 32) ^ (uint64_t)attempt;
        memcpy(path, dir, n);
        memcpy(path + n, "/.fsmem-", 8);
        for (int i = 0; i < 16; i++)
            path[n + 8 + i] = "0123456789abcdef"[(r >> (4 * i)) & 15];
        path[n + 24] = 0;
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            unlink(path);
            return fd;
        }
        if (errno != EEXIST)
            return -errno;
    }
    return -EEXIST;
}

int file_create(const char *dir, uint64_t len)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return -errno;
        fd = create_named(dir);
        if (fd < 0)
            return fd;
    }
    /* The mode is already 0600 minus umask; make it exactly owner-only. */
    if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int file_reserve(int fd, uint64_t off, uint64_t len)
{
    while (fallocate(fd, 0, (off_t)off, (off_t)len) != 0) {
        if (errno == EINTR)
            continue;
        /* Filesystems without fallocate cannot promise blocks ahead; the
         * mapping still works, so proceed as the kernel would. */
        if (errno == EOPNOTSUPP)
            return 0;
        return errno;
    }
    return 0;
}

int file_punch(int fd, uint64_t off, uint64_t len)
{
    while (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

int file_zero(int fd, uint64_t off, uint64_t len)
{
    while (fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) != 0) {
        if (errno != EINTR)
            return errno;
    }
    return 0;
}

uint64_t file_disk_bytes(int fd)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return 0;
    return (uint64_t)st.st_blocks * 512;
}
