/* Per-thread counters from /proc/self/task: every thread of the program
 * is listed with its own user time and CPU, however odd its name; fsmem's
 * service threads (named "fsmem-...") are not. And tasks_place's slots,
 * and a service thread stepping off the program's CPUs. */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "util/tasks.h"
#include "util/thread.h"

static atomic_int stop;
static atomic_int spinner_tid, service_tid;

static void *spin(void *unused)
{
    (void)unused;
    atomic_store(&spinner_tid, (int)syscall(SYS_gettid));
    volatile unsigned long x = 0;
    while (!atomic_load(&stop))
        x++;
    return NULL;
}

static void *idle(void *unused)
{
    (void)unused;
    atomic_store(&service_tid, (int)syscall(SYS_gettid));
    while (!atomic_load(&stop))
        usleep(1000);
    return NULL;
}

static const struct task_counters *find(const struct task_counters *t, int n, int tid)
{
    for (int i = 0; i < n; i++)
        if (t[i].tid == tid)
            return &t[i];
    return NULL;
}

/* tasks_place keeps threads in their slots, frees the slots of those
 * gone and gives new ones the free slots, as far as there are any. */
static void check_place(void)
{
    int tid[3] = {0, 0, 0}, slot[4];
    unsigned char change[3];
    struct task_counters a[2] = {{.tid = 5}, {.tid = 6}};
    tasks_place(a, 2, tid, 3, slot, change);
    CHECK(slot[0] == 0 && slot[1] == 1 && tid[0] == 5 && tid[1] == 6 && tid[2] == 0);
    CHECK(change[0] == SLOT_TAKEN && change[1] == SLOT_TAKEN && change[2] == 0);

    struct task_counters b[2] = {{.tid = 7}, {.tid = 6}};   /* 5 gone, 7 new */
    tasks_place(b, 2, tid, 3, slot, change);
    CHECK(slot[0] == 0 && slot[1] == 1 && tid[0] == 7 && tid[1] == 6);
    CHECK(change[0] == (SLOT_LEFT | SLOT_TAKEN) && change[1] == 0 && change[2] == 0);

    struct task_counters c[4] = {{.tid = 6}, {.tid = 8}, {.tid = 9}, {.tid = 10}};
    tasks_place(c, 4, tid, 3, slot, change);   /* 7 gone; room for two of three */
    CHECK(slot[0] == 1 && slot[1] == 0 && slot[2] == 2 && slot[3] == -1);
    CHECK(tid[0] == 8 && tid[1] == 6 && tid[2] == 9);
    CHECK(change[0] == (SLOT_LEFT | SLOT_TAKEN) && change[1] == 0 && change[2] == SLOT_TAKEN);

    tasks_place(c, 0, tid, 3, slot, change);   /* everyone gone */
    CHECK(tid[0] == 0 && tid[1] == 0 && tid[2] == 0);
    CHECK(change[0] == SLOT_LEFT && change[1] == SLOT_LEFT && change[2] == SLOT_LEFT);
}

/* Off the CPU it runs on, and back to where it was allowed before. */
static void check_step_aside(void)
{
    cpu_set_t allowed, busy, saved, now;
    CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    int here = sched_getcpu();
    CHECK(here >= 0);
    CPU_ZERO(&busy);
    CPU_SET(here, &busy);
    bool aside = service_step_aside(&busy, &saved);
    CHECK(CPU_EQUAL(&saved, &allowed));
    CHECK(aside == (CPU_COUNT(&allowed) > 1));
    CHECK(sched_getaffinity(0, sizeof now, &now) == 0);
    if (aside) {
        CHECK(!CPU_ISSET(here, &now) && CPU_COUNT(&now) == CPU_COUNT(&allowed) - 1);
        CHECK(sched_getcpu() != here);
        service_step_back(&saved);
        CHECK(sched_getaffinity(0, sizeof now, &now) == 0);
    }
    CHECK(CPU_EQUAL(&now, &allowed));
    CPU_ZERO(&busy);   /* every allowed CPU busy: nowhere to go */
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            CPU_SET(c, &busy);
    CHECK(!service_step_aside(&busy, &saved));
    CHECK(sched_getaffinity(0, sizeof now, &now) == 0 && CPU_EQUAL(&now, &allowed));
}

int main(void)
{
    check_place();
    check_step_aside();
    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, spin, NULL) == 0);
    CHECK(pthread_create(&b, NULL, idle, NULL) == 0);
    pthread_setname_np(a, "odd) (name 1 2");
    pthread_setname_np(b, "fsmem-service");
    while (!atomic_load(&spinner_tid) || !atomic_load(&service_tid))
        usleep(1000);

    struct task_counters before[8], after[8];
    int n0 = tasks_read(before, 8);
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    int n1 = tasks_read(after, 8);
    CHECK(n0 == 2 && n1 == 2);   /* main and the spinner */
    int self = (int)syscall(SYS_gettid);
    CHECK(find(after, n1, self) != NULL);
    CHECK(find(after, n1, atomic_load(&service_tid)) == NULL);
    const struct task_counters *s0 = find(before, n0, atomic_load(&spinner_tid));
    const struct task_counters *s1 = find(after, n1, atomic_load(&spinner_tid));
    CHECK(s0 && s1);
    if (s0 && s1)   /* 300 ms spinning: at least 100 ms of user time */
        CHECK(s1->user_us >= s0->user_us + 100000);
    CHECK(tasks_read(after, 1) == 1);   /* no more than asked for */

    /* The spinner, held to one CPU, is seen there. */
    cpu_set_t allowed, one;
    CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            last = c;
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    CHECK(pthread_setaffinity_np(a, sizeof one, &one) == 0);
    nanosleep(&ts, NULL);
    n1 = tasks_read(after, 8);
    s1 = find(after, n1, atomic_load(&spinner_tid));
    CHECK(s1 && s1->cpu == last);
    CHECK(find(after, n1, self) && find(after, n1, self)->cpu >= 0);

    atomic_store(&stop, 1);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return check_done("tasks");
}
