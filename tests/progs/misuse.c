/* misuse: one heap error per run, for tests/check/misuse.sh.
 *
 *   misuse CASE
 *
 * Prints "addr 0x..." (the pointer it is about to misuse) on stdout,
 * flushed, then commits the error. Under fsmem every case but "ok" must
 * die of SIGABRT after one "fsmem: ..." line on stderr naming the error
 * and the address. If the program survives the error it prints
 * "survived" and exits 3. Cases:
 *
 *   ok                     normal use of everything below; exits 0
 *   double_free_small      free(p); free(p) for a 100-byte block
 *   double_free_large      the same for a 1 MiB block whose neighbours are live
 *   double_free_large_merged  a 1 MiB block freed twice after it merged
 *                          with a free neighbour
 *   double_free_thread     a small block freed twice by another thread
 *   double_free_released   a small block freed twice after its whole slab
 *                          was freed (and given back to the page allocator)
 *   interior_small         free(p + 16) for a 100-byte block
 *   interior_large         free(p + 4096) for a 1 MiB block
 *   interior_large_head    free(p + 16) for a 1 MiB block
 *   stack                  free() of a local variable's address
 *   mmap                   free() of a page from mmap
 *   realloc_freed_small    realloc(p, same size) after free(p), small
 *   realloc_freed_large    realloc(p, 2 MiB) after free(p), 1 MiB block
 *   realloc_interior       realloc(p + 16, 200) for a 100-byte block */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Pointers go through a volatile integer, so the compiler cannot see (and
 * warn about or fold away) the misuse. */
static volatile uintptr_t hidden;
#define HIDE(p) (hidden = (uintptr_t)(p))
#define SEEN() ((void *)hidden)
static void *volatile sink;

static void announce(const void *p)
{
    printf("addr %p\n", p);
    fflush(stdout);
}

static void survived(void)
{
    printf("survived\n");
    fflush(stdout);
    _exit(3);
}

static void *thread_free(void *p)
{
    free(p);
    return NULL;
}

static void free_in_thread(void *p)
{
    pthread_t t;
    if (pthread_create(&t, NULL, thread_free, p) != 0) {
        fprintf(stderr, "misuse: pthread_create failed\n");
        _exit(2);
    }
    pthread_join(t, NULL);
}

static int ok(void)
{
    char *s = malloc(100), *l = malloc(1 << 20), *l2 = malloc(1 << 20);
    if (!s || !l || !l2)
        return 1;
    memset(s, 1, 100);
    memset(l, 2, 1 << 20);
    memset(l2, 3, 1 << 20);
    free(l);
    free(l2);
    char *t = malloc(50);
    free_in_thread(t);
    s = realloc(s, 200);
    if (!s || s[99] != 1)
        return 1;
    char *big = realloc(NULL, 3 << 20);
    if (!big)
        return 1;
    big = realloc(big, 1 << 20);
    free(big);
    free(s);
    free(NULL);
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 1;
    munmap(m, 4096);
    printf("misuse: ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: misuse CASE\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "ok"))
        return ok();

    if (!strcmp(c, "double_free_small")) {
        char *p = calloc(1, 100), *keep = calloc(1, 100);   /* keep: the slab stays in use */
        sink = keep;
        HIDE(p);
        announce(p);
        free(p);
        free(SEEN());
    } else if (!strcmp(c, "double_free_large")) {
        char *a = calloc(1, 1 << 20), *p = calloc(1, 1 << 20), *b = calloc(1, 1 << 20);
        sink = a, sink = b;
        HIDE(p);
        announce(p);
        free(p);
        free(SEEN());
    } else if (!strcmp(c, "double_free_large_merged")) {
        char *x = calloc(1, 1 << 20), *y = calloc(1, 1 << 20), *z = calloc(1, 1 << 20);
        sink = z;   /* keeps the top away */
        char *lo = x < y ? x : y;
        HIDE(x < y ? y : x);
        announce(SEEN());
        free(lo);
        free(SEEN());   /* merges into lo's free run */
        free(SEEN());
    } else if (!strcmp(c, "double_free_thread")) {
        char *p = calloc(1, 100), *keep = calloc(1, 100);
        sink = keep;
        HIDE(p);
        announce(p);
        free_in_thread(p);
        free_in_thread(SEEN());
    } else if (!strcmp(c, "double_free_released")) {
        enum { N = 4000 };
        static char *v[N];
        for (int i = 0; i < N; i++)
            v[i] = calloc(1, 100);
        char *lowest = v[0];
        for (int i = 1; i < N; i++)
            if (v[i] < lowest)
                lowest = v[i];
        HIDE(lowest);
        announce(lowest);
        for (int i = 0; i < N - 1; i++)   /* the newest stays: its slab is the current one */
            if (v[i] != v[N - 1])
                free(v[i]);
        free(SEEN());
    } else if (!strcmp(c, "interior_small")) {
        char *p = calloc(1, 100);
        HIDE(p + 16);
        announce(SEEN());
        free(SEEN());
    } else if (!strcmp(c, "interior_large")) {
        char *p = calloc(1, 1 << 20);
        HIDE(p + 4096);
        announce(SEEN());
        free(SEEN());
    } else if (!strcmp(c, "interior_large_head")) {
        char *p = calloc(1, 1 << 20);
        HIDE(p + 16);
        announce(SEEN());
        free(SEEN());
    } else if (!strcmp(c, "stack")) {
        char local[64];
        memset(local, 0, sizeof local);
        sink = local;
        HIDE(local);
        announce(SEEN());
        free(SEEN());
    } else if (!strcmp(c, "mmap")) {
        void *m = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return 2;
        HIDE(m);
        announce(m);
        free(SEEN());
    } else if (!strcmp(c, "realloc_freed_small")) {
        char *p = calloc(1, 100), *keep = calloc(1, 100);
        sink = keep;
        HIDE(p);
        announce(p);
        free(p);
        sink = realloc(SEEN(), 100);
    } else if (!strcmp(c, "realloc_freed_large")) {
        char *a = calloc(1, 1 << 20), *p = calloc(1, 1 << 20), *b = calloc(1, 1 << 20);
        sink = a, sink = b;
        HIDE(p);
        announce(p);
        free(p);
        sink = realloc(SEEN(), 2 << 20);
    } else if (!strcmp(c, "realloc_interior")) {
        char *p = calloc(1, 100);
        HIDE(p + 16);
        announce(SEEN());
        sink = realloc(SEEN(), 200);
    } else {
        fprintf(stderr, "misuse: unknown case %s\n", c);
        return 2;
    }
    survived();
}
