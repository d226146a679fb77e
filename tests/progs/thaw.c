/* thaw: after fork, rewritten heap pages are private copies; once no
 * child can see the old ones, fsmem makes them file pages again.
 *
 *   thaw MIB
 *
 * 1. A live child keeps its fork-time view while the parent rewrites the
 *    heap and keeps allocating (nothing may thaw under it).
 * 2. After a child has exec'd, the parent's rewritten pages stop being
 *    anonymous memory (RssAnon falls back) and hold the parent's data.
 * Prints "thaw: ok" and exits 0, or "thaw: FAIL ..." and exits 1. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Read with open/read into the stack: stdio would allocate, and an
 * allocation is exactly what may trigger the change being measured. */
static long rss_anon_kib(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    const char *p = strstr(buf, "RssAnon:");
    return p ? atol(p + 8) : -1;
}

/* Large allocations go through the page allocator, where the check runs. */
static void churn(void)
{
    for (int i = 0; i < 50; i++) {
        char *volatile q = malloc(200000);
        q[0] = 1;
        free(q);
    }
}

static int fail(const char *what, long a, long b)
{
    printf("thaw: FAIL %s (%ld, %ld)\n", what, a, b);
    return 1;
}

int main(int argc, char **argv)
{
    size_t n = (size_t)(argc > 1 ? atol(argv[1]) : 256) << 20;
    char *big = malloc(n);
    if (!big)
        return fail("malloc", 0, 0);
    memset(big, 1, n);

    /* 1: a child that stays alive must keep seeing 1s. */
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return fail("pipe", 0, 0);
    pid_t child = fork();
    if (child == 0) {
        char c;
        close(pipefd[1]);
        if (read(pipefd[0], &c, 1) != 1)
            _exit(2);
        for (size_t i = 0; i < n; i += 4096)
            if (big[i] != 1)
                _exit(3);
        _exit(0);
    }
    close(pipefd[0]);
    memset(big, 2, n);
    for (int i = 0; i < 4; i++) {
        churn();
        usleep(60000);
    }
    churn();
    if (write(pipefd[1], "x", 1) != 1)
        return fail("write", 0, 0);
    int st;
    waitpid(child, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return fail("the live child saw the parent's later writes (status)", st, 0);

    /* 2: after a fork+exec child is gone, the rewritten pages thaw. */
    child = fork();
    if (child == 0) {
        execlp("true", "true", (char *)NULL);
        _exit(1);
    }
    waitpid(child, &st, 0);
    memset(big, 3, n);
    long before = rss_anon_kib();
    for (int i = 0; i < 4; i++) {
        usleep(60000);
        churn();
    }
    long after = rss_anon_kib();
    for (size_t i = 0; i < n; i += 4096)
        if (big[i] != 3)
            return fail("the parent lost its data at offset", (long)i, big[i]);
    if (before < (long)(n >> 10) / 2 || after > (long)(n >> 10) / 8)
        return fail("RssAnon (KiB) did not fall after the child exec'd", before, after);
    printf("thaw: ok: rewritten pages %ld KiB anonymous, then %ld KiB after thawing\n", before, after);
    return 0;
}
