/* Frees from another thread are reused before fresh memory, and empty
 * slabs of a small heap give their pages back.
 *
 * First, step by step: a thread fills a slab, starts a second one, and
 * another thread frees a page's worth of objects in the first; the next
 * allocation must take one of those, not a slot of the second slab that
 * was never used. Then a pipeline: one thread allocates, another frees
 * in the same order, in bursts, holding at most WINDOW objects; for each
 * size, the heap pages it makes resident (mincore) may exceed what the
 * window holds by half again and half a slab. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/heap.h"
#include "alloc/pages.h"
#include "api/api.h"
#include "check.h"

#define WINDOW 48
#define MESSAGES 20000

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void *slot[WINDOW];
    unsigned long head, tail;   /* produced, consumed */
    size_t size;
} pipe_ = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *consumer(void *arg)
{
    (void)arg;
    unsigned burst = 0;
    for (unsigned long n = 0; n < MESSAGES; n++) {
        pthread_mutex_lock(&pipe_.lock);
        /* Like a pipeline's consumer, in bursts: once WINDOW are live,
         * free the older half of them. */
        while (!burst && pipe_.head - pipe_.tail < WINDOW && pipe_.head < MESSAGES)
            pthread_cond_wait(&pipe_.cond, &pipe_.lock);
        if (!burst)
            burst = WINDOW / 2;
        burst--;
        void *m = pipe_.slot[pipe_.tail % WINDOW];
        pipe_.tail++;
        pthread_cond_broadcast(&pipe_.cond);
        pthread_mutex_unlock(&pipe_.lock);
        CHECK(((unsigned char *)m)[pipe_.size - 1] == (unsigned char)n);
        fsm_free(m);
    }
    return NULL;
}

/* Bytes of the heap in memory: in the RAM tier, with no swap, the pages
 * the allocator has touched. */
static uint64_t heap_resident(void)
{
    static unsigned char vec[1 << 16];
    size_t pages = (arena.top - arena.base) / PAGE_SIZE, n = 0;
    CHECK(pages <= sizeof vec);
    if (pages > sizeof vec || mincore((void *)arena.base, pages * PAGE_SIZE, vec))
        return 0;
    for (size_t i = 0; i < pages; i++)
        n += vec[i] & 1;
    return n * PAGE_SIZE;
}

static void run_pipeline(size_t size)
{
    pipe_.head = pipe_.tail = 0;
    pipe_.size = size;
    pthread_t t;
    CHECK(pthread_create(&t, NULL, consumer, NULL) == 0);
    for (unsigned long n = 0; n < MESSAGES; n++) {
        unsigned char *m = fsm_malloc(size);
        CHECK(m != NULL);
        memset(m, (int)(n & 0xff), size);
        pthread_mutex_lock(&pipe_.lock);
        while (pipe_.head - pipe_.tail >= WINDOW)
            pthread_cond_wait(&pipe_.cond, &pipe_.lock);
        pipe_.slot[pipe_.head % WINDOW] = m;
        pipe_.head++;
        pthread_cond_broadcast(&pipe_.cond);
        pthread_mutex_unlock(&pipe_.lock);
    }
    pthread_join(t, NULL);
}

/* One pipeline: the pages it touches against the objects it holds. */
static void pipeline_footprint(size_t size)
{
    uint64_t base = heap_resident();
    const struct class_info *ci = &class_table[size_class(size)];
    run_pipeline(size);
    uint64_t touched = heap_resident() - base;
    /* Half again what the window holds, and half a slab. */
    uint64_t live = WINDOW * (uint64_t)ci->size;
    uint64_t bound = live + live / 2 + (uint64_t)ci->pages * PAGE_SIZE / 2;
    if (getenv("PIPELINE_SHOW") || touched > bound)
        fprintf(stderr, "size %zu: %lu KiB touched for %lu KiB live (bound %lu KiB)\n",
                size, (unsigned long)(touched >> 10), (unsigned long)(live >> 10),
                (unsigned long)(bound >> 10));
    CHECK(touched <= bound);
}

/* Runs check(size) in a child process, with a heap of its own: pages
 * earlier runs left resident do not hide the ones this one touches, and
 * no earlier slab stands in for the ones it needs. */
static void in_child(void (*check)(size_t), size_t size)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        check_failures = 0;
        check(size);
        _exit(check_failures != 0);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void *freed[8];

static void *free_them(void *arg)
{
    (void)arg;
    for (int i = 0; i < 8; i++)
        fsm_free(freed[i]);
    return NULL;
}

/* The step-by-step check (top of the file), for objects of this size. */
static void reuse_before_extend(size_t size)
{
    const struct class_info *ci = &class_table[size_class(size)];
    CHECK(ci->extend <= 8 && ci->slots > 2 * ci->extend);
    void *first[SLAB_MAX_SLOTS];
    for (uint32_t i = 0; i < ci->slots; i++)   /* the first slab, full */
        first[i] = fsm_malloc(size);
    for (uint32_t i = 0; i < ci->extend; i++)  /* the second: its first page */
        CHECK(fsm_malloc(size) != NULL);
    for (int i = 0; i < 8; i++)
        freed[i] = first[i * 3];
    pthread_t t;
    CHECK(pthread_create(&t, NULL, free_them, NULL) == 0);
    pthread_join(t, NULL);
    void *p = fsm_malloc(size);
    int reused = 0;
    for (int i = 0; i < 8; i++)
        reused |= p == freed[i];
    if (!reused)
        fprintf(stderr, "a slot never used was taken while 8 freed ones waited\n");
    CHECK(reused);
}

/* Touches n objects of this size, then frees them all; returns the heap's
 * resident bytes with them all live, and sets *after to what stays. */
static uint64_t fill_and_free(size_t size, size_t n, uint64_t *after)
{
    void **objs = fsm_malloc(n * sizeof *objs);
    CHECK(objs != NULL);
    for (size_t i = 0; i < n; i++) {
        objs[i] = fsm_malloc(size);
        CHECK(objs[i] != NULL);
        memset(objs[i], 1, size);
    }
    uint64_t full = heap_resident();
    for (size_t i = 0; i < n; i++)
        fsm_free(objs[i]);
    fsm_free(objs);
    *after = heap_resident();
    return full;
}

/* A heap that never held SMALL_HEAP: the pages of slabs its class no
 * longer needs leave memory when they empty (but the current slab's). */
static void small_heap_gives_back(size_t size)
{
    const struct class_info *ci = &class_table[size_class(size)];
    uint64_t slab = (uint64_t)ci->pages * PAGE_SIZE, base = heap_resident(), after;
    uint64_t full = fill_and_free(size, 4 * (size_t)ci->slots, &after) - base;
    CHECK(full >= 3 * slab);
    if (after - base > slab + PAGE_SIZE)
        fprintf(stderr, "size %zu: %lu KiB stayed of %lu KiB\n", size,
                (unsigned long)((after - base) >> 10), (unsigned long)(full >> 10));
    CHECK(after - base <= slab + PAGE_SIZE);
}

/* A heap past SMALL_HEAP keeps them for reuse (pages.h). */
static void big_heap_keeps(size_t size)
{
    uint64_t base = heap_resident(), after;
    uint64_t full = fill_and_free(size, (SMALL_HEAP + (4 << 20)) / size, &after) - base;
    CHECK(full > SMALL_HEAP);
    CHECK(after - base >= full - full / 8);
}

int main(int argc, char **argv)
{
    /* In the RAM tier a resident page is one the allocator touched; a
     * file page may be resident because a neighbour's fault read it.
     * The library reads its settings before main, hence the exec. */
    const char *ram = getenv("FSMEM_RAM");
    if (argc == 1 && (!ram || strcmp(ram, "256M") != 0)) {
        setenv("FSMEM_RAM", "256M", 1);
        execv("/proc/self/exe", (char *[]){argv[0], "again", NULL});
        perror("pipeline_test: exec");
        return 1;
    }
    CHECK(fsm_init());
    CHECK(arena.ram_end - arena.base >= ((size_t)256 << 20));
    in_child(reuse_before_extend, 1024);
    in_child(small_heap_gives_back, 1024);
    in_child(small_heap_gives_back, 16384);
    in_child(big_heap_keeps, 1024);
    static const size_t sizes[] = {48, 320, 1024, 3000, 6000, 16384, 30000};
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        in_child(pipeline_footprint, sizes[i]);
    return check_done("pipeline");
}
