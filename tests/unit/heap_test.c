/* Thread heaps and slabs: every class allocates distinct, aligned,
 * non-overlapping objects; freeing and reallocating reuses slots; frees
 * from another thread come back to the owner; a double free, a free of
 * an interior pointer and a free of a slot never handed out abort
 * (checked in child processes). */
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/heap.h"
#include "alloc/pages.h"
#include "api/api.h"
#include "check.h"

#define COUNT 3000

static void *objs[COUNT];

static void *free_all(void *arg)
{
    (void)arg;
    for (int i = 0; i < COUNT; i++)
        fsm_free(objs[i]);
    return NULL;
}

static int dies_with_abort(void (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = dup2(open("/dev/null", 1), 2);
        (void)devnull;
        fn();
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void double_free(void) { void *p = fsm_malloc(40); fsm_free(p); fsm_free(p); }
static void interior_free(void) { char *p = fsm_malloc(100); fsm_free(p + 16); }
static void large_double_free(void) { void *p = fsm_malloc(1 << 20); fsm_free(p); fsm_free(p); }
static void large_interior(void) { char *p = fsm_malloc(1 << 20); fsm_free(p + 8192); }
static void stack_free(void) { int x; fsm_free(&x); }
/* A slot past those a fresh slab has handed out (a new thread's heap has
 * no slab yet, and a slab of 16-byte objects hands out a page's worth). */
static void *free_unused_slot(void *arg)
{
    (void)arg;
    char *p = fsm_malloc(16);
    fsm_free(p + 16 * (PAGE_SIZE / 16));
    return NULL;
}
static void unused_slot_free(void)
{
    pthread_t t;
    pthread_create(&t, NULL, free_unused_slot, NULL);
    pthread_join(t, NULL);
}

int main(void)
{
    CHECK(fsm_init());
    for (unsigned c = 0; c < NCLASSES; c++) {
        size_t size = class_table[c].size;
        int n = size < 4096 ? COUNT : 64;
        for (int i = 0; i < n; i++) {
            objs[i] = fsm_malloc(size);
            CHECK(objs[i] != NULL);
            CHECK((uintptr_t)objs[i] % MIN_ALIGN == 0);
            CHECK(fsm_usable_size(objs[i]) == size);
            memset(objs[i], i & 0xff, size);
        }
        for (int i = 0; i < n; i++)
            CHECK(((unsigned char *)objs[i])[size - 1] == (i & 0xff));
        for (int i = 0; i < n; i += 2)
            fsm_free(objs[i]);
        for (int i = 0; i < n; i += 2)
            objs[i] = fsm_malloc(size);
        for (int i = 0; i < n; i++)
            fsm_free(objs[i]);
    }
    uint64_t before = pages_in_use();
    /* Remote frees: another thread frees everything this one allocated. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < COUNT; i++)
            objs[i] = fsm_malloc(24 + (size_t)(i % 7) * 16);
        pthread_t t;
        pthread_create(&t, NULL, free_all, NULL);
        pthread_join(t, NULL);
    }
    /* The owner folds them back in: allocating again does not grow. */
    for (int i = 0; i < COUNT; i++)
        objs[i] = fsm_malloc(24 + (size_t)(i % 7) * 16);
    CHECK(pages_in_use() <= before + 16 * 65536);
    for (int i = 0; i < COUNT; i++)
        fsm_free(objs[i]);

    CHECK(dies_with_abort(double_free));
    CHECK(dies_with_abort(interior_free));
    CHECK(dies_with_abort(large_double_free));
    CHECK(dies_with_abort(large_interior));
    CHECK(dies_with_abort(stack_free));
    CHECK(dies_with_abort(unused_slot_free));
    return check_done("heap");
}
