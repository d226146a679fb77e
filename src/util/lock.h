/* A small futex mutex for the allocator's slow paths.
 *
 * pthread_mutex would do, but it is not async-signal-safe to reinitialise
 * and it drags in nothing we need. States: 0 free, 1 held, 2 held with
 * waiters. Uncontended lock and unlock are one atomic each and make no
 * system call; waiters sleep in the kernel instead of spinning, which
 * matters on a 2-core machine where the holder may be preempted. */
#ifndef FSMEM_UTIL_LOCK_H
#define FSMEM_UTIL_LOCK_H

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() atomic_signal_fence(memory_order_seq_cst)
#endif

typedef struct {
    _Atomic int state;
} lock_t;

#define LOCK_INIT {0}

static inline void lock_futex(lock_t *l, int op, int val)
{
    syscall(SYS_futex, &l->state, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static inline void lock_acquire(lock_t *l)
{
    int c = 0;
    if (atomic_compare_exchange_strong_explicit(&l->state, &c, 1, memory_order_acquire,
                                                memory_order_relaxed))
        return;
    for (int spin = 0; spin < 100; spin++) {
        cpu_relax();
        c = 0;
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->state, &c, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
        lock_futex(l, FUTEX_WAIT, 2);
}

static inline void lock_release(lock_t *l)
{
    if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
        lock_futex(l, FUTEX_WAKE, 1);
}

/* In a fork child only one thread exists; whatever the parent's threads
 * held is meaningless there. */
static inline void lock_reset(lock_t *l)
{
    atomic_store_explicit(&l->state, 0, memory_order_relaxed);
}

/* Around fork every lock is taken, so the child inherits data that no
 * thread was halfway through changing, then released (parent) or reset
 * (child, where the holder's wake-ups would go nowhere). */
enum fork_phase { FORK_PREPARE, FORK_PARENT, FORK_CHILD };

static inline void lock_fork(lock_t *l, enum fork_phase phase)
{
    if (phase == FORK_PREPARE)
        lock_acquire(l);
    else if (phase == FORK_PARENT)
        lock_release(l);
    else
        lock_reset(l);
}

#endif
