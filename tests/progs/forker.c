/* forker: fork() and the heap.
 *
 *   forker [EXECS]       EXECS: fork+exec rounds of /bin/true (default 200)
 *
 * 1. Copy-on-write isolation: the parent fills blocks of many sizes and
 *    forks. The child verifies the parent's data, overwrites its copies,
 *    allocates, reallocs and frees; the parent meanwhile checks that its
 *    data is untouched, then overwrites it, and the child checks that it
 *    does not see the parent's new data. A grandchild repeats the check.
 * 2. fork while other threads allocate: the child must be able to malloc
 *    and free (no lock left held by a thread that does not exist in it).
 * 3. fork + exec of /bin/true, many times, with a heap in place.
 * Exits 1 with a message on any problem, 0 with "forker: ok". */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "progs.h"

static const char *who = "parent";

#define NBLK 400
static unsigned char *blk[NBLK];
static size_t bsz[NBLK];

static size_t size_of(int i)
{
    if (i % 100 == 99)
        return (size_t)(4 + i / 100) << 20;     /* a few MiB */
    if (i % 10 == 9)
        return 20000 + (size_t)i * 300;          /* tens of KiB */
    return 1 + (size_t)(i * 37) % 1500;          /* small */
}

static void fill_all(uint64_t gen)
{
    for (int i = 0; i < NBLK; i++)
        fill_pattern(blk[i], bsz[i], gen * 1000003 + (uint64_t)i);
}

static void verify_all(uint64_t gen, const char *what)
{
    for (int i = 0; i < NBLK; i++) {
        size_t bad = pattern_mismatch(blk[i], bsz[i], gen * 1000003 + (uint64_t)i);
        if (bad != bsz[i])
            die("%s: block %d (size %zu) byte %zu is wrong", what, i, bsz[i], bad);
    }
}

static void xwrite(int fd, char c)
{
    while (write(fd, &c, 1) != 1)
        if (errno != EINTR)
            die("write to pipe: %s", strerror(errno));
}

static char xread(int fd)
{
    char c;
    ssize_t r;
    while ((r = read(fd, &c, 1)) != 1) {
        if (r == 0)
            die("the other side of the fork went away");
        if (errno != EINTR)
            die("read from pipe: %s", strerror(errno));
    }
    return c;
}

/* Waits for pid and fails unless it exited 0. */
static void reap(pid_t pid, const char *what)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (WIFSIGNALED(st))
        die("%s: child killed by signal %d%s", what, WTERMSIG(st),
            WTERMSIG(st) == SIGALRM ? " (timed out: deadlock in the child?)" : "");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s: child exited with status %d", what, WEXITSTATUS(st));
}

/* Work a child does on its own heap: new blocks, reallocs of inherited
 * ones, frees. All verified. */
static void child_heap_work(uint64_t seed)
{
    void *mine[200];
    size_t msz[200];
    for (int i = 0; i < 200; i++) {
        msz[i] = 1 + (size_t)((seed + (uint64_t)i) * 131 % 70000);
        mine[i] = malloc(msz[i]);
        if (!mine[i])
            die("malloc(%zu) failed", msz[i]);
        fill_pattern(mine[i], msz[i], seed + (uint64_t)i);
    }
    for (int i = 0; i < 200; i++) {
        if (pattern_mismatch(mine[i], msz[i], seed + (uint64_t)i) != msz[i])
            die("new block %d in the child corrupted", i);
        free(mine[i]);
    }
}

static void test_cow(void)
{
    for (int i = 0; i < NBLK; i++) {
        bsz[i] = size_of(i);
        blk[i] = malloc(bsz[i]);
        if (!blk[i])
            die("malloc(%zu) failed", bsz[i]);
    }
    fill_all(1);

    int p2c[2], c2p[2];
    if (pipe(p2c) || pipe(c2p))
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        who = "child";
        alarm(60);
        close(p2c[1]);
        close(c2p[0]);
        verify_all(1, "child reading the parent's data from before fork");
        fill_all(2);                 /* child's own copies */
        verify_all(2, "child re-reading what it wrote");
        child_heap_work(77);
        xwrite(c2p[1], 'w');         /* "I have written" */
        xread(p2c[0]);               /* parent has now written generation 3 */
        verify_all(2, "child after the parent wrote new data (parent's writes leaked in?)");

        /* A grandchild sees the child's data, and its writes stay there. */
        pid_t g = fork();
        if (g < 0)
            die("fork in child: %s", strerror(errno));
        if (g == 0) {
            who = "grandchild";
            verify_all(2, "grandchild reading the child's data");
            fill_all(4);
            child_heap_work(99);
            verify_all(4, "grandchild re-reading");
            _exit(0);
        }
        reap(g, "grandchild");
        verify_all(2, "child after the grandchild wrote (grandchild's writes leaked in?)");

        /* Reallocs and frees of inherited blocks. */
        for (int i = 0; i < NBLK; i++) {
            if (i % 3 == 0) {
                unsigned char *q = realloc(blk[i], bsz[i] * 2 + 10);
                if (!q)
                    die("realloc of an inherited block failed");
                if (pattern_mismatch(q, bsz[i], 2 * 1000003 + (uint64_t)i) != bsz[i])
                    die("realloc of inherited block %d lost its contents", i);
                blk[i] = q;
            }
            free(blk[i]);
        }
        _exit(0);
    }
    close(p2c[0]);
    close(c2p[1]);
    xread(c2p[0]);
    verify_all(1, "parent after the child wrote (child's writes leaked in?)");
    child_heap_work(55);
    fill_all(3);
    xwrite(p2c[1], 'p');
    reap(pid, "copy-on-write test");
    verify_all(3, "parent after the child freed and reallocated its copies");
    for (int i = 0; i < NBLK; i++)
        free(blk[i]);
    close(p2c[1]);
    close(c2p[0]);
}

/* ---- fork while other threads allocate ---- */

static atomic_int stop_threads;

static void *busy(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg;
    void *keep[64] = { 0 };
    size_t ksz[64] = { 0 };
    uint64_t n = 0;
    while (!atomic_load_explicit(&stop_threads, memory_order_relaxed)) {
        int k = (int)(n % 64);
        if (keep[k]) {
            if (pattern_mismatch(keep[k], ksz[k], seed + n - 64) != ksz[k])
                die("busy thread: block corrupted");
            free(keep[k]);
        }
        ksz[k] = 1 + (size_t)((n * 2654435761u) % (n % 50 == 0 ? 300000 : 2000));
        keep[k] = malloc(ksz[k]);
        if (!keep[k])
            die("busy thread: malloc failed");
        fill_pattern(keep[k], ksz[k], seed + n);
        n++;
    }
    for (int k = 0; k < 64; k++)
        free(keep[k]);
    return NULL;
}

static void test_threads_fork(int rounds)
{
    enum { T = 4 };
    pthread_t t[T];
    atomic_store(&stop_threads, 0);
    for (int i = 0; i < T; i++)
        if (pthread_create(&t[i], NULL, busy, (void *)(uintptr_t)(i * 1000000007u + 1)))
            die("pthread_create failed");
    for (int r = 0; r < rounds; r++) {
        void *before = malloc(1000 + (size_t)r);
        if (!before)
            die("malloc before fork failed");
        fill_pattern(before, 1000 + (size_t)r, (uint64_t)r);
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            who = "child of a multithreaded parent";
            alarm(20);   /* a deadlocked malloc shows up as SIGALRM */
            if (pattern_mismatch(before, 1000 + (size_t)r, (uint64_t)r) != 1000 + (size_t)r)
                die("block allocated just before fork is wrong in the child");
            for (int k = 0; k < 500; k++) {
                size_t n = 1 + (size_t)(k * 7919) % (k % 25 == 0 ? 500000 : 3000);
                void *p = malloc(n);
                if (!p)
                    die("malloc(%zu) failed", n);
                memset(p, k, n);
                void *q = realloc(p, n + 100);
                if (!q)
                    die("realloc failed");
                free(q);
            }
            free(before);
            _exit(0);
        }
        free(before);
        reap(pid, "fork from a multithreaded parent");
    }
    atomic_store(&stop_threads, 1);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
}

/* ---- fork + exec ---- */

static void test_exec(int rounds)
{
    /* A heap of some size in place, so fork has something to copy. */
    size_t big = 64u << 20;
    unsigned char *heap = malloc(big);
    if (!heap)
        die("malloc(%zu) failed", big);
    fill_pattern(heap, big, 4242);
    for (int r = 0; r < rounds; r++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            char *argv[] = { "true", NULL };
            execv("/bin/true", argv);
            fprintf(stderr, "forker: exec /bin/true: %s\n", strerror(errno));
            _exit(127);
        }
        reap(pid, "fork+exec of /bin/true");
    }
    if (pattern_mismatch(heap, big, 4242) != big)
        die("parent heap changed across fork+exec rounds");
    free(heap);
}

int main(int argc, char **argv)
{
    int execs = argc > 1 ? atoi(argv[1]) : 200;
    setvbuf(stderr, NULL, _IONBF, 0);
    test_cow();
    test_threads_fork(50);
    test_exec(execs);
    test_cow();     /* again, after everything else */
    printf("forker: ok\n");
    return 0;
}
