/* The public fsmem_* calls and the FSMEM_STATS summary. */
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/pages.h"
#include "api/api.h"
#include "backing/arena.h"
#include "backing/prefill.h"
#include "backing/sampler.h"
#include "backing/trail.h"
#include "backing/writeback.h"
#include "fsmem.h"
#include "util/msg.h"

/* The public figures, from one snapshot of the arena. */
static void collect(struct fsmem_stats *out, const struct arena_usage *u)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    memset(out, 0, sizeof *out);
    out->heap_bytes = pages_in_use();
    out->heap_peak = pages_peak();
    out->ram_bytes = u->ram_bytes;
    out->file_bytes = u->file_bytes;
    out->disk_bytes = u->disk_bytes;
    out->punched_bytes = u->punched_bytes;
    out->reserve_bytes = arena.end - arena.base;
    out->major_faults = (uint64_t)ru.ru_majflt;
    out->backing_files = u->files;
    out->ram_budget = u->ram_budget;
    out->ram_limit = u->ram_limit;
    out->ram_source = u->ram_source;
    out->dirs = u->ndirs;
    for (unsigned d = 0; d < u->ndirs && d < FSMEM_MAX_DIRS; d++) {
        out->dir[d].path = u->dir[d].path;
        out->dir[d].file_bytes = u->dir[d].file_bytes;
        out->dir[d].disk_bytes = u->dir[d].disk_bytes;
        out->dir[d].free_bytes = u->dir[d].free_bytes;
    }
}

FSMEM_API int fsmem_get_stats(struct fsmem_stats *out)
{
    if (!fsm_ready)
        return -1;
    struct arena_usage u;
    arena_usage(&u);
    collect(out, &u);
    return 0;
}

FSMEM_API int fsmem_get_settings(struct fsmem_settings *out)
{
    if (!fsm_ready)
        return -1;
    static char dir_list[SETTINGS_PATH_MAX];
    size_t len = 0;
    for (unsigned d = 0; d < fsm_settings.ndirs; d++) {
        const char *s = fsm_settings.dirs[d];
        if (d && len < sizeof dir_list - 1)
            dir_list[len++] = ':';
        while (*s && len < sizeof dir_list - 1)
            dir_list[len++] = *s++;
    }
    dir_list[len] = 0;
    out->dir = dir_list;
    out->size = fsm_settings.size;
    out->ram = fsm_settings.ram_auto ? 0 : fsm_settings.ram;
    out->ram_auto = fsm_settings.ram_auto;
    out->stats = fsm_settings.stats == STATS_OFF      ? "off"
                 : fsm_settings.stats == STATS_STDERR ? "stderr"
                                                      : fsm_settings.stats_path;
    out->paging = fsm_settings.paging == PAGING_RANDOM   ? "random"
                  : fsm_settings.paging == PAGING_PASSES ? "passes"
                                                         : "auto";
    return 0;
}

static void line(int fd, const char *label, uint64_t bytes, const char *note)
{
    struct msgbuf m;
    msg_init(&m);
    msg_str(&m, "fsmem:   ");
    msg_str(&m, label);
    msg_bytes(&m, bytes);
    if (note)
        msg_str(&m, note);
    msg_write(fd, &m);
}

FSMEM_API void fsmem_print_stats(int fd)
{
    if (!fsm_ready)
        return;
    struct arena_usage u;
    struct fsmem_stats st;
    arena_usage(&u);
    collect(&st, &u);
    char comm[32] = "?";
    int cfd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    if (cfd >= 0) {
        ssize_t n = read(cfd, comm, sizeof comm - 1);
        close(cfd);
        comm[n > 0 ? n - (comm[n - 1] == '\n') : 0] = 0;
    }
    struct msgbuf m;
    msg_init(&m);
    msg_str(&m, "fsmem: summary for ");
    msg_str(&m, comm);
    msg_str(&m, " (pid ");
    msg_u64(&m, (uint64_t)getpid());
    msg_str(&m, ")");
    msg_write(fd, &m);
    line(fd, "peak heap       ", st.heap_peak, NULL);
    line(fd, "heap at exit    ", st.heap_bytes, NULL);
    msg_init(&m);
    msg_str(&m, "fsmem:   RAM tier        ");
    msg_bytes(&m, st.ram_budget);
    msg_str(&m, " (");
    if (strcmp(st.ram_source, "FSMEM_RAM")) {
        msg_str(&m, "half of ");
        msg_str(&m, st.ram_source);
        msg_str(&m, " ");
        msg_bytes(&m, st.ram_limit);
    } else {
        msg_str(&m, "FSMEM_RAM");
    }
    if (u.ram_grown) {
        msg_str(&m, ", grown ");
        msg_u64(&m, u.ram_grown);
        msg_str(&m, u.ram_grown == 1 ? " time" : " times");
        msg_str(&m, " as the heap reached its end");
    }
    msg_str(&m, ")");
    msg_write(fd, &m);
    line(fd, "used from RAM   ", st.ram_bytes, NULL);
    line(fd, "used from files ", st.file_bytes, NULL);
    line(fd, "disk used now   ", st.disk_bytes, NULL);
    for (unsigned d = 0; d < st.dirs; d++) {
        msg_init(&m);
        msg_str(&m, "fsmem:     ");
        msg_str(&m, st.dir[d].path);
        msg_str(&m, ": ");
        msg_bytes(&m, st.dir[d].file_bytes);
        msg_str(&m, " of heap, ");
        msg_bytes(&m, st.dir[d].disk_bytes);
        msg_str(&m, " on disk, ");
        msg_bytes(&m, st.dir[d].free_bytes);
        msg_str(&m, " free");
        msg_write(fd, &m);
    }
    line(fd, "punched (freed) ", st.punched_bytes, " given back to the filesystem");
    line(fd, "reserved        ", st.reserve_bytes, " of address space");
    msg_init(&m);
    msg_str(&m, "fsmem:   major faults    ");
    msg_u64(&m, st.major_faults);
    msg_str(&m, " (pages read back from disk)");
    msg_write(fd, &m);
    struct sampler_usage su;
    sampler_usage(&su);
    if (su.ran) {
        msg_init(&m);
        msg_str(&m, "fsmem:   paging          auto: ");
        msg_str(&m, su.page_by_page ? "4 KiB" : "2 MiB");
        msg_str(&m, " reads at exit, switched ");
        msg_u64(&m, su.switches);
        msg_str(&m, su.switches == 1 ? " time" : " times");
        msg_str(&m, " (");
        msg_u64(&m, su.undone);
        msg_str(&m, " undone by a pass within 2 s); sampled ");
        msg_u64(&m, su.splits);
        msg_str(&m, su.splits == 1 ? " time" : " times");
        msg_str(&m, ", blocks read back: ");
        msg_u64(&m, su.swept);
        msg_str(&m, " swept, ");
        msg_u64(&m, su.scattered);
        msg_str(&m, " scattered");
        msg_write(fd, &m);
        struct trail_usage tu;
        trail_usage(&tu);
        msg_init(&m);
        msg_str(&m, "fsmem:   fault trail     ");
        if (tu.refused) {
            msg_str(&m, "off: perf events refused (perf_event_paranoid), switching by user time alone");
        } else {
            msg_u64(&m, tu.runs);
            msg_str(&m, tu.runs == 1 ? " run" : " runs");
            msg_str(&m, " of random touches seen (4 KiB reads tried ");
            msg_u64(&m, su.trials);
            msg_str(&m, su.trials == 1 ? " time), up to " : " times), up to ");
            msg_u64(&m, tu.most_followed);
            msg_str(&m, tu.most_followed == 1 ? " thread followed" : " threads followed");
        }
        msg_write(fd, &m);
    }
    if (service_running(&fsm_prefill))
        line(fd, "prefill         ", prefill_bytes(), " of fresh file pages filled ahead of the program");
    if (service_running(&fsm_writeback)) {
        msg_init(&m);
        msg_str(&m, "fsmem:   early writeback ");
        msg_u64(&m, writeback_kicks());
        msg_str(&m, " times (the cgroup v1 limit left reclaim too little to take)");
        msg_write(fd, &m);
    }
}

/* A copy of stderr for the summary. Many programs close stderr on their
 * way out (coreutils' sort and ls check that it flushed), before library
 * destructors run; the copy keeps the summary from being lost. It sits
 * high, is closed on exec, and is trusted at exit only if it is still
 * the same file: a program that closes or reuses descriptors wholesale
 * gets no summary rather than one written into a file of its own. */
#define SUMMARY_FD_MIN 200
static int summary_fd = -1;
static dev_t summary_dev;
static ino_t summary_ino;

void fsm_stats_start(void)
{
    struct stat st;
    if (fsm_settings.stats != STATS_STDERR)
        return;
    int fd = fcntl(2, F_DUPFD_CLOEXEC, SUMMARY_FD_MIN);
    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return;
    }
    summary_fd = fd;
    summary_dev = st.st_dev;
    summary_ino = st.st_ino;
}

/* stderr while the program still has it open, else the copy. */
static int summary_stderr(void)
{
    struct stat st;
    if (fcntl(2, F_GETFD) != -1)
        return 2;
    if (summary_fd >= 0 && fstat(summary_fd, &st) == 0 && st.st_dev == summary_dev &&
        st.st_ino == summary_ino)
        return summary_fd;
    return -1;
}

void fsm_print_stats_at_exit(void)
{
    if (!fsm_ready || fsm_settings.stats == STATS_OFF)
        return;
    if (fsm_settings.stats == STATS_STDERR) {
        int fd = summary_stderr();
        if (fd >= 0)
            fsmem_print_stats(fd);
        return;
    }
    /* Appended: every process of a job (and its children) adds its own. */
    int fd = open(fsm_settings.stats_path,
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        msg_warn("FSMEM_STATS=", fsm_settings.stats_path, ": cannot write the summary");
        return;
    }
    fsmem_print_stats(fd);
    close(fd);
}
