/* fsmem's own background threads (early writeback, the paging sampler):
 * detached, small, named, deaf to the program's signals, and started
 * only once the heap shows it needs them. */
#ifndef FSMEM_UTIL_THREAD_H
#define FSMEM_UTIL_THREAD_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* One such thread. A service is decided once per process (wanted or
 * off), started at the next point where no allocator lock is held
 * (pthread_create may call malloc), and started again in a fork child,
 * which has no threads. */
enum { SERVICE_UNDECIDED, SERVICE_WANTED, SERVICE_RUNNING, SERVICE_OFF };
struct service {
    _Atomic int state;
    void *(*run)(void *);   /* the thread's body, given NULL */
    const char *name;
};
#define SERVICE_INIT(fn, label) {SERVICE_UNDECIDED, fn, label}

/* The first call decides; later ones do nothing. */
void service_decide(struct service *s, bool wanted);
bool service_decided(const struct service *s);

void service_start(struct service *s);

/* At the points where the thread may start: one load when nothing is due. */
static inline void service_poll(struct service *s)
{
    if (__builtin_expect(atomic_load_explicit(&s->state, memory_order_relaxed) ==
                             SERVICE_WANTED, 0))
        service_start(s);
}

static inline bool service_running(const struct service *s)
{
    return atomic_load_explicit(&s->state, memory_order_relaxed) == SERVICE_RUNNING;
}

/* The thread gives up for good (its body calls this before returning). */
void service_stop(struct service *s);

/* In a fork child: a running service is wanted again. */
void service_fork_child(struct service *s);

/* How many service threads are inside their body now. A thread counts
 * itself only there, so every counted thread exists: a process whose
 * thread count is this plus one has no thread but the caller that can
 * touch the heap (freeze.c's thaw relies on it). */
int service_threads(void);

/* In a fork child, before the services: none of the threads survived. */
void service_threads_fork_child(void);

/* Called between the items of a long stretch of work on a service
 * thread (reading page tables, splitting folios), with *since set to 0
 * before the first. Linux lets a running thread go on for up to a few
 * milliseconds before a thread woken on the same CPU may take it, and
 * the thread woken is often the program's, back from a page read: while
 * the sampler split the page cache's folios at a switch, reads that take
 * 50 us took 2-4 ms. So once GIVE_WAY_US of work have gone by, the
 * thread yields; with nothing else to run on its CPU, that is a system
 * call and nothing more. */
void service_give_way(uint64_t *since);

/* Moves the calling service thread off the CPUs in busy for a stretch of
 * kernel work that runs with interrupts off (splitting folios), and back
 * with service_step_back(saved). The CPU a thread of the program runs on
 * is where its page reads complete, on a disk with one interrupt vector
 * (whose completions wake the program there) as on one with a queue per
 * CPU; while that CPU has interrupts off, the program's reads wait.
 * False, and nothing changed, when no allowed CPU would be left. */
bool service_step_aside(const cpu_set_t *busy, cpu_set_t *saved);
void service_step_back(const cpu_set_t *saved);

#endif
