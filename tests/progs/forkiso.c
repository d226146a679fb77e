/* forkiso: fork() and the heap, for tests/check/fork_semantics.sh.
 *
 *   forkiso iso          parent and child never see each other's later
 *                        writes, both ways, for blocks from before the fork
 *                        (small, > 1 MiB, and one spanning 64 MiB chunks)
 *                        and blocks each allocates afterwards (which land at
 *                        the same addresses in both); frees, calloc and
 *                        realloc after the fork; a grandchild
 *   forkiso threads N    N forks while 4 threads allocate and free; each
 *                        child allocates, frees blocks of the other threads,
 *                        starts a thread of its own, and exits 0 (a child
 *                        that deadlocks is killed by alarm(): SIGALRM)
 *   forkiso spawn [N]    N rounds (default 10) of posix_spawn,
 *                        posix_spawnp and vfork+exec of /bin/true and of
 *                        "forkiso child", and vfork+_exit, with a heap in
 *                        place
 *   forkiso repeat N     N times: allocate, fork, the child writes and
 *                        exits; every allocation must succeed
 *   forkiso child        exec target: allocate, verify, free, exit 0
 *
 * Prints "forkiso: ok ..." and exits 0, or "forkiso: FAIL ..." and 1. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progs.h"

extern char **environ;
static const char *who = "parent";
static const char *self;

static void expect(const void *p, size_t n, uint64_t seed, const char *what, int i)
{
    size_t k = pattern_mismatch(p, n, seed);
    if (k != n)
        die("%s: block %d (%zu bytes at %p) wrong at byte %zu", what, i, n, p, k);
}

static void expect_zero(const unsigned char *p, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            die("%s: byte %zu of %zu is %#x, not 0", what, i, n, p[i]);
}

static void xwrite(int fd, const void *buf, size_t n)
{
    const char *b = buf;
    while (n) {
        ssize_t r = write(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("write to pipe: %s", strerror(errno));
        b += r;
        n -= (size_t)r;
    }
}

static void xread(int fd, void *buf, size_t n)
{
    char *b = buf;
    while (n) {
        ssize_t r = read(fd, b, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            die("the other side of the fork went away");
        if (r < 0)
            die("read from pipe: %s", strerror(errno));
        b += r;
        n -= (size_t)r;
    }
}

static void send_c(int fd, char c) { xwrite(fd, &c, 1); }
static void recv_c(int fd, char want)
{
    char c;
    xread(fd, &c, 1);
    if (c != want)
        die("protocol: got '%c', expected '%c'", c, want);
}

static void reap(pid_t pid, const char *what)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (WIFSIGNALED(st))
        die("%s: child killed by signal %d%s", what, WTERMSIG(st),
            WTERMSIG(st) == SIGALRM ? " (alarm: deadlocked?)" : "");
    if (WEXITSTATUS(st) != 0)
        die("%s: child exited with status %d", what, WEXITSTATUS(st));
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        die("malloc(%zu) failed: %s", n, strerror(errno));
    return p;
}

/* ---- iso ------------------------------------------------------------- */

#define NS 300
#define NL 6
#define NNEW 40

struct set {
    unsigned char *p[NS + NL + 1];
    size_t n[NS + NL + 1];
    int count;
};

static size_t small_size(int i) { return 1 + (size_t)(i * 97) % 4000; }
static size_t large_size(int i) { return ((size_t)3 << 19) + (size_t)i * (2u << 20); } /* 1.5..11.5 MiB */

static void set_alloc(struct set *s, int with_huge)
{
    s->count = 0;
    for (int i = 0; i < NS; i++) {
        s->n[s->count] = small_size(i);
        s->p[s->count++] = xmalloc(small_size(i));
    }
    for (int i = 0; i < NL; i++) {
        s->n[s->count] = large_size(i);
        s->p[s->count++] = xmalloc(large_size(i));
    }
    if (with_huge) {   /* spans at least two 64 MiB chunks */
        s->n[s->count] = (size_t)80 << 20;
        s->p[s->count++] = xmalloc((size_t)80 << 20);
    }
}

static void set_fill(struct set *s, uint64_t gen)
{
    for (int i = 0; i < s->count; i++)
        if (s->p[i])
            fill_pattern(s->p[i], s->n[i], gen * 1000 + (uint64_t)i);
}

static void set_expect(struct set *s, uint64_t gen, const char *what)
{
    for (int i = 0; i < s->count; i++)
        if (s->p[i])
            expect(s->p[i], s->n[i], gen * 1000 + (uint64_t)i, what, i);
}

/* Blocks allocated after the fork; both sides use the same sizes. */
static void fresh_alloc(struct set *s)
{
    s->count = 0;
    for (int i = 0; i < NNEW; i++) {
        size_t n = i % 8 == 7 ? ((size_t)2 << 20) + (size_t)i * 4096 : 16 + (size_t)i * 211;
        s->n[s->count] = n;
        s->p[s->count++] = xmalloc(n);
    }
}

/* Frees every third inherited block, then callocs large blocks (which must
 * read as zero, wherever they come from) and reallocs others. */
static void churn_inherited(struct set *s, uint64_t gen, const char *side)
{
    char what[80];
    for (int i = 0; i < s->count; i += 3) {
        free(s->p[i]);
        s->p[i] = NULL;
    }
    for (int k = 0; k < 4; k++) {
        size_t n = large_size(k * 3 % NL);
        unsigned char *z = calloc(1, n);
        if (!z)
            die("calloc(%zu) failed", n);
        snprintf(what, sizeof what, "%s: calloc after freeing inherited blocks", side);
        expect_zero(z, n, what);
        fill_pattern(z, n, 4242);
        free(z);
    }
    for (int i = 1; i < s->count; i += 3) {
        size_t old = s->n[i], n = old * 2 + 100;
        unsigned char *q = realloc(s->p[i], n);
        if (!q)
            die("realloc(%zu) failed", n);
        snprintf(what, sizeof what, "%s: realloc of an inherited block", side);
        expect(q, old, gen * 1000 + (uint64_t)i, what, i);
        s->p[i] = q;
        s->n[i] = n;
        fill_pattern(q, n, gen * 1000 + (uint64_t)i);
    }
}

static struct set orig, mine;

static int test_iso(void)
{
    set_alloc(&orig, 1);
    set_fill(&orig, 1);
    int p2c[2], c2p[2];
    if (pipe(p2c) || pipe(c2p))
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        who = "child";
        alarm(60);
        set_expect(&orig, 1, "child reads the parent's data from before the fork");
        set_fill(&orig, 2);
        fresh_alloc(&mine);
        set_fill(&mine, 20);
        xwrite(c2p[1], mine.p, sizeof mine.p[0] * NNEW);
        send_c(c2p[1], 'w');
        recv_c(p2c[0], 'p');
        set_expect(&orig, 2, "child after the parent rewrote its blocks (parent's writes leaked in)");
        set_expect(&mine, 20, "child's new blocks after the parent wrote its own new blocks at the same addresses");
        churn_inherited(&orig, 2, "child");
        set_fill(&mine, 21);
        send_c(c2p[1], 'x');
        recv_c(p2c[0], 'q');
        set_expect(&orig, 2, "child after the parent freed, calloc'ed and realloc'ed");
        set_expect(&mine, 21, "child's new blocks after the parent's churn");

        pid_t g = fork();
        if (g < 0)
            die("fork in the child: %s", strerror(errno));
        if (g == 0) {
            who = "grandchild";
            set_expect(&orig, 2, "grandchild reads the child's data");
            set_expect(&mine, 21, "grandchild reads the child's new blocks");
            set_fill(&orig, 3);
            set_fill(&mine, 31);
            churn_inherited(&orig, 3, "grandchild");
            struct set g2;
            fresh_alloc(&g2);
            set_fill(&g2, 32);
            set_expect(&g2, 32, "grandchild's own blocks");
            _exit(0);
        }
        reap(g, "grandchild");
        set_expect(&orig, 2, "child after the grandchild wrote (its writes leaked in)");
        set_expect(&mine, 21, "child's new blocks after the grandchild wrote");
        for (int i = 0; i < orig.count; i++)
            free(orig.p[i]);
        for (int i = 0; i < mine.count; i++)
            free(mine.p[i]);
        _exit(0);
    }
    unsigned char *theirs[NNEW];
    xread(c2p[0], theirs, sizeof theirs);
    recv_c(c2p[0], 'w');
    set_expect(&orig, 1, "parent after the child rewrote its copies (child's writes leaked in)");
    fresh_alloc(&mine);
    set_fill(&mine, 10);
    int same = 0;
    for (int i = 0; i < NNEW; i++)
        same += mine.p[i] == theirs[i];
    set_fill(&orig, 5);
    send_c(p2c[1], 'p');
    recv_c(c2p[0], 'x');
    set_expect(&orig, 5, "parent after the child freed, calloc'ed and realloc'ed its copies");
    set_expect(&mine, 10, "parent's new blocks after the child wrote its new blocks");
    churn_inherited(&orig, 5, "parent");
    send_c(p2c[1], 'q');
    reap(pid, "fork isolation");
    set_expect(&orig, 5, "parent after the child and grandchild exited");
    set_expect(&mine, 10, "parent's new blocks after the child exited");
    for (int i = 0; i < orig.count; i++)
        free(orig.p[i]);
    for (int i = 0; i < mine.count; i++)
        free(mine.p[i]);
    printf("forkiso: ok: iso (%d of %d blocks allocated after the fork have the same address "
           "in parent and child)\n", same, NNEW);
    return 0;
}

/* ---- threads ---------------------------------------------------------- */

#define NSLOT 256
static _Atomic(uintptr_t) slots[NSLOT];   /* blocks in flight: (pointer | 0) with size in sizes[] */
static _Atomic size_t slot_size[NSLOT];
static atomic_int stop;

static void *busy(void *arg)
{
    uint64_t r = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int k = (int)(r % NSLOT);
        size_t n = r % 64 == 0 ? ((size_t)1 << 20) + r % (2u << 20) : 1 + (r >> 20) % 3000;
        unsigned char *p = malloc(n);
        if (!p)
            die("busy thread: malloc(%zu) failed", n);
        memset(p, (int)(n & 0xff), n < 4096 ? n : 4096);
        uintptr_t old = atomic_exchange(&slots[k], (uintptr_t)0);
        if (old)
            free((void *)old);
        atomic_store(&slot_size[k], n);
        atomic_store(&slots[k], (uintptr_t)p);
    }
    return NULL;
}

static void *child_thread(void *arg)
{
    for (int i = 0; i < 200; i++) {
        size_t n = 1 + (size_t)i * 37 % 5000;
        char *p = xmalloc(n);
        memset(p, i, n);
        free(p);
    }
    return arg;
}

static int test_threads(int rounds)
{
    enum { T = 4 };
    pthread_t t[T];
    for (int i = 0; i < T; i++)
        if (pthread_create(&t[i], NULL, busy, (void *)(uintptr_t)(i + 1)))
            die("pthread_create failed");
    for (int r = 0; r < rounds; r++) {
        size_t bn = 1000 + (size_t)r * 10;
        unsigned char *before = xmalloc(bn);
        fill_pattern(before, bn, (uint64_t)r);
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            who = "child of a multithreaded parent";
            alarm(20);
            expect(before, bn, (uint64_t)r, "block allocated just before fork", 0);
            /* Blocks of the threads that do not exist here. */
            for (int k = 0; k < NSLOT; k += 2) {
                uintptr_t p = atomic_exchange(&slots[k], (uintptr_t)0);
                if (p)
                    free((void *)p);
            }
            for (int k = 0; k < 300; k++) {
                size_t n = k % 30 == 0 ? ((size_t)1 << 20) + (size_t)k * 4096 : 1 + (size_t)k * 53 % 6000;
                unsigned char *p = calloc(1, n);
                if (!p)
                    die("calloc(%zu) failed", n);
                expect_zero(p, n < 65536 ? n : 65536, "calloc in the child");
                fill_pattern(p, n, (uint64_t)k);
                unsigned char *q = realloc(p, n + 5000);
                if (!q)
                    die("realloc failed");
                expect(q, n, (uint64_t)k, "realloc in the child", k);
                free(q);
            }
            pthread_t ct;
            if (pthread_create(&ct, NULL, child_thread, NULL) != 0)
                die("pthread_create in the child failed");
            pthread_join(ct, NULL);
            free(before);
            _exit(0);
        }
        reap(pid, "fork from a multithreaded parent");
        expect(before, bn, (uint64_t)r, "parent's block after the child freed it", 0);
        free(before);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < T; i++)
        pthread_join(t[i], NULL);
    for (int k = 0; k < NSLOT; k++)
        free((void *)atomic_load(&slots[k]));
    printf("forkiso: ok: %d forks from a multithreaded parent\n", rounds);
    return 0;
}

/* ---- spawn ------------------------------------------------------------ */

static int test_spawn(int rounds)
{
    size_t big = (size_t)100 << 20;
    unsigned char *heap = xmalloc(big);
    fill_pattern(heap, big, 77);
    char *small = xmalloc(500);
    fill_pattern(small, 500, 78);
    char *true_argv[] = { "true", NULL };
    char *child_argv[] = { (char *)self, "child", NULL };
    int runs = 0;
    for (int r = 0; r < rounds; r++) {
        pid_t pid;
        int e = posix_spawn(&pid, "/bin/true", NULL, NULL, true_argv, environ);
        if (e)
            die("posix_spawn /bin/true: %s", strerror(e));
        reap(pid, "posix_spawn /bin/true");
        e = posix_spawnp(&pid, self, NULL, NULL, child_argv, environ);
        if (e)
            die("posix_spawnp %s: %s", self, strerror(e));
        reap(pid, "posix_spawnp forkiso child");
        pid = vfork();
        if (pid < 0)
            die("vfork: %s", strerror(errno));
        if (pid == 0) {
            execve(self, child_argv, environ);
            _exit(127);
        }
        reap(pid, "vfork+exec forkiso child");
        pid = vfork();
        if (pid < 0)
            die("vfork: %s", strerror(errno));
        if (pid == 0)
            _exit(0);
        reap(pid, "vfork+_exit");
        runs += 4;
        /* The parent goes on allocating between spawns. */
        char *more = xmalloc(3000 + (size_t)r);
        fill_pattern(more, 3000 + (size_t)r, (uint64_t)r);
        expect(more, 3000 + (size_t)r, (uint64_t)r, "allocation between spawns", r);
        free(more);
    }
    expect(heap, big, 77, "parent's heap after spawning", 0);
    expect(small, 500, 78, "parent's small block after spawning", 1);
    free(heap);
    free(small);
    printf("forkiso: ok: %d posix_spawn/vfork runs\n", runs);
    return 0;
}

static int child_main(void)
{
    who = "exec'ed child";
    struct set s;
    set_alloc(&s, 0);
    set_fill(&s, 9);
    set_expect(&s, 9, "exec'ed child's own heap");
    for (int i = 0; i < s.count; i++)
        free(s.p[i]);
    return 0;
}

/* ---- repeat ----------------------------------------------------------- */

static int test_repeat(int rounds)
{
    unsigned char **keep = calloc((size_t)rounds, sizeof *keep);
    if (!keep)
        die("calloc failed");
    for (int r = 0; r < rounds; r++) {
        size_t n = ((size_t)1 << 20) + (size_t)r * 4096;
        keep[r] = malloc(n);
        if (!keep[r])
            die("round %d: malloc(%zu) failed after %d forks (%s)", r, n, r, strerror(errno));
        fill_pattern(keep[r], n, (uint64_t)r);
        char *s = malloc(100);
        if (!s)
            die("round %d: malloc(100) failed after %d forks", r, r);
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            who = "child";
            expect(keep[r], n, (uint64_t)r, "child reads the newest block", r);
            fill_pattern(keep[r], n, 999);
            _exit(0);
        }
        reap(pid, "repeat");
        free(s);
    }
    for (int r = 0; r < rounds; r++) {
        expect(keep[r], ((size_t)1 << 20) + (size_t)r * 4096, (uint64_t)r, "parent's blocks after all forks", r);
        free(keep[r]);
    }
    free(keep);
    printf("forkiso: ok: %d rounds of allocate and fork\n", rounds);
    return 0;
}

int main(int argc, char **argv)
{
    self = argv[0];
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "iso"))
        return test_iso();
    if (argc >= 2 && !strcmp(argv[1], "threads"))
        return test_threads(argc > 2 ? atoi(argv[2]) : 50);
    if (argc >= 2 && !strcmp(argv[1], "spawn"))
        return test_spawn(argc > 2 ? atoi(argv[2]) : 10);
    if (argc >= 2 && !strcmp(argv[1], "repeat"))
        return test_repeat(argc > 2 ? atoi(argv[2]) : 100);
    if (argc >= 2 && !strcmp(argv[1], "child"))
        return child_main();
    fprintf(stderr, "usage: forkiso iso | threads N | spawn [N] | repeat N | child\n");
    return 2;
}
