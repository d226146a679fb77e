#include "util/thread.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include "util/clock.h"

#define GIVE_WAY_US 100

static _Atomic int running;

static void *run_counted(void *service)
{
    struct service *s = service;
    atomic_fetch_add_explicit(&running, 1, memory_order_acq_rel);
    void *r = s->run(NULL);
    atomic_fetch_sub_explicit(&running, 1, memory_order_acq_rel);
    return r;
}

int service_threads(void)
{
    return atomic_load_explicit(&running, memory_order_acquire);
}

void service_threads_fork_child(void)
{
    atomic_store_explicit(&running, 0, memory_order_relaxed);
}

void service_give_way(uint64_t *since)
{
    uint64_t now = monotonic_ns() / 1000;
    if (*since == 0) {
        *since = now;
    } else if (now - *since >= GIVE_WAY_US) {
        sched_yield();
        *since = monotonic_ns() / 1000;
    }
}

bool service_step_aside(const cpu_set_t *busy, cpu_set_t *saved)
{
    cpu_set_t away;
    if (sched_getaffinity(0, sizeof *saved, saved) != 0)
        return false;
    CPU_XOR(&away, saved, busy);      /* allowed and not busy: */
    CPU_AND(&away, &away, saved);     /* glibc has no "and not" */
    return CPU_COUNT(&away) > 0 && sched_setaffinity(0, sizeof away, &away) == 0;
}

void service_step_back(const cpu_set_t *saved)
{
    sched_setaffinity(0, sizeof *saved, saved);
}

void service_decide(struct service *s, bool wanted)
{
    int undecided = SERVICE_UNDECIDED;
    atomic_compare_exchange_strong(&s->state, &undecided,
                                   wanted ? SERVICE_WANTED : SERVICE_OFF);
}

bool service_decided(const struct service *s)
{
    return atomic_load_explicit(&s->state, memory_order_relaxed) != SERVICE_UNDECIDED;
}

static bool start_thread(struct service *s)
{
    pthread_attr_t attr;
    pthread_t t;
    sigset_t all, old;
    sigfillset(&all);
    /* The thread inherits the mask: it takes no signal meant for the
     * program, whose handlers may not expect to run on it. */
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = pthread_attr_init(&attr) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        ok = pthread_create(&t, &attr, run_counted, s) == 0;
        pthread_attr_destroy(&attr);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ok)
        pthread_setname_np(t, s->name);
    return ok;
}

void service_start(struct service *s)
{
    int want = SERVICE_WANTED;
    if (atomic_compare_exchange_strong(&s->state, &want, SERVICE_RUNNING) && !start_thread(s))
        service_stop(s);
}

void service_stop(struct service *s)
{
    atomic_store_explicit(&s->state, SERVICE_OFF, memory_order_relaxed);
}

void service_fork_child(struct service *s)
{
    int running_state = SERVICE_RUNNING;
    atomic_compare_exchange_strong(&s->state, &running_state, SERVICE_WANTED);
}
