/* Process start-up, threads and fork.
 *
 * Init runs at the first allocation or in the library constructor,
 * whichever comes first; it reads the settings, reserves the heap's
 * address space and opens the backing files. A bad setting ends the
 * process here, with one line, before main() runs. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "alloc/heap.h"
#include "alloc/meta.h"
#include "alloc/pages.h"
#include "alloc/slab.h"
#include "api/api.h"
#include "backing/arena.h"
#include "util/msg.h"
#include "util/thread.h"

struct settings fsm_settings;
bool fsm_ready;

static lock_t init_lock = LOCK_INIT;
static __thread bool initialising;
static pthread_key_t heap_key;

static void thread_exit(void *h) { heap_detach(h); }

bool fsm_init(void)
{
    if (initialising)
        return false;
    initialising = true;
    lock_acquire(&init_lock);
    if (!fsm_ready) {
        if (settings_from_env(&fsm_settings, true) != 0)
            _exit(1);
        sizes_init();
        if (arena_init(&fsm_settings) != 0 || pages_init() != 0)
            _exit(1);
        if (pthread_key_create(&heap_key, thread_exit) != 0)
            msg_die(1, "cannot create a thread key", NULL, NULL);
        fsm_stats_start();
        __atomic_store_n(&fsm_ready, true, __ATOMIC_RELEASE);
    }
    lock_release(&init_lock);
    initialising = false;
    return true;
}

struct heap *fsm_thread_heap(void)
{
    struct heap *h = tls_heap;
    if (h)
        return h;
    h = heap_attach();
    /* May allocate (glibc grows its key table with calloc); tls_heap is
     * already set, so that lands on this heap instead of recursing. */
    if (h)
        pthread_setspecific(heap_key, h);
    return h;
}

static void fork_all(enum fork_phase phase)
{
    if (phase == FORK_PREPARE) {
        arena_move_fork(phase);
        heap_fork(phase);
        slab_fork(phase);
        pages_fork(phase);
        arena_paging_fork(phase);
        meta_fork(phase);
        arena_freeze();
        return;
    }
    meta_fork(phase);
    arena_paging_fork(phase);
    pages_fork(phase);
    slab_fork(phase);
    heap_fork(phase);
    arena_move_fork(phase);
    if (phase == FORK_CHILD) {
        service_threads_fork_child();
        arena_fork_child();
    }
}

static void fork_prepare(void) { fork_all(FORK_PREPARE); }
static void fork_parent(void) { fork_all(FORK_PARENT); }
static void fork_child(void) { fork_all(FORK_CHILD); }


__attribute__((constructor(101))) static void fsmem_start(void)
{
    fsm_init();
    /* Registered here rather than in init: pthread_atfork may allocate. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

__attribute__((destructor(101))) static void fsmem_finish(void)
{
    fsm_print_stats_at_exit();
}

#ifndef FSMEM_NO_INTERPOSE
/* A program linked with libfsmem.a pulls in an archive member only for the
 * symbols it names; libc, though, calls the whole family (memalign,
 * malloc_usable_size...). Naming every entry point here, in the member
 * that malloc drags in, keeps the family together. */
extern void *malloc(size_t), *calloc(size_t, size_t), *realloc(void *, size_t);
extern void *reallocarray(void *, size_t, size_t), *aligned_alloc(size_t, size_t);
extern void *memalign(size_t, size_t), *valloc(size_t), *pvalloc(size_t);
extern int posix_memalign(void **, size_t, size_t);
extern size_t malloc_usable_size(void *);
extern void free(void *);
__attribute__((used)) static const void *const whole_family[] = {
    (const void *)malloc,        (const void *)free,          (const void *)calloc,
    (const void *)realloc,       (const void *)reallocarray,  (const void *)aligned_alloc,
    (const void *)memalign,      (const void *)valloc,        (const void *)pvalloc,
    (const void *)posix_memalign, (const void *)malloc_usable_size,
};
#endif
