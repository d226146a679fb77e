/* runner: runs one benchmark command and measures it.
 *
 *   runner [-o OUT] [-d DIR] [-c CGROUP] [-t SECONDS] [-i MS] [-e VAR=VALUE]...
 *          -- PROGRAM ARGS...
 *
 * Forks, sets the -e variables in the child (so no wrapper process is
 * preloaded), optionally moves the child into the cgroup v1 directory
 * CGROUP (before exec), execs PROGRAM and waits for it with wait4. While
 * it runs, a sampling thread reads /proc/PID/status every -i milliseconds
 * (default 10) and adds up the disk blocks of the files under DIR that the
 * child holds open or mapped (backing files are usually unlinked, so they
 * are found through /proc/PID/fd and /proc/PID/map_files, not the
 * directory). After -t seconds the child is killed (status "timeout").
 *
 * Writes one line of tab-separated key=value pairs to OUT (default
 * stderr):
 *   status   ok | exit:N | signal:NAME | timeout
 *   wall     seconds, fork to reaped
 *   user sys CPU seconds (rusage)
 *   rss_kb   peak resident set (rusage maxrss)
 *   disk_kb  peak disk blocks of backing files under DIR (sampled)
 *   mem_kb   peak of resident set + those disk blocks (sampled; at least
 *            rss_kb). Resident pages of a backing file count twice here.
 *   foot_kb  peak of anonymous + shmem resident memory + those disk blocks
 *            (sampled): RAM and disk in use, each page counted once.
 *   majflt minflt   page faults (rusage)
 *   in_kb out_kb    block I/O the child caused (rusage inblock/oublock x 512 B;
 *                   includes page-cache readahead and writeback it started)
 * The child's stdout and stderr are the runner's. Exit status: 0 when the
 * run was measured (whatever its status), 2 on a usage or system error. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child;
static const char *diskdir;
static size_t diskdir_len;
static double timeout_s;
static long interval_ms = 10;
static atomic_int done;
static atomic_int timed_out;
static uint64_t peak_disk_kb, peak_mem_kb, peak_foot_kb;
static double t_start;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* VmRSS, and RssAnon + RssShmem (resident memory not backed by a disk
 * file) through *priv, from /proc/PID/status. */
static uint64_t rss_kb(pid_t pid, uint64_t *priv)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strstr(buf, "\nRssAnon:"), *q = strstr(buf, "\nRssShmem:");
    *priv = (p ? strtoull(p + 9, NULL, 10) : 0) + (q ? strtoull(q + 10, NULL, 10) : 0);
    p = strstr(buf, "\nVmRSS:");
    return p ? strtoull(p + 7, NULL, 10) : 0;
}

/* Does the link at dirpath/name point to a file under diskdir? */
static int under_diskdir(const char *dirpath, const char *name)
{
    char link[PATH_MAX + 64], target[PATH_MAX];
    snprintf(link, sizeof link, "%s/%s", dirpath, name);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) return 0;
    target[n] = 0;
    return (size_t)n > diskdir_len && strncmp(target, diskdir, diskdir_len) == 0 &&
           target[diskdir_len] == '/';
}

#define MAXFILES 4096
static dev_t seen_dev[MAXFILES];
static ino_t seen_ino[MAXFILES];

/* Sums st_blocks of distinct files under diskdir held by the child: open
 * ones, or, when none is open, mapped ones. */
static uint64_t disk_kb(pid_t pid)
{
    static const char *kinds[] = { "fd", "map_files" };
    int nseen = 0;
    uint64_t kb = 0;
    for (int k = 0; k < 2; k++) {
        char dirpath[64];
        snprintf(dirpath, sizeof dirpath, "/proc/%d/%s", (int)pid, kinds[k]);
        DIR *d = opendir(dirpath);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' || !under_diskdir(dirpath, e->d_name)) continue;
            char link[PATH_MAX];
            struct stat st;
            snprintf(link, sizeof link, "%s/%s", dirpath, e->d_name);
            if (stat(link, &st) != 0) continue;
            int dup = 0;
            for (int i = 0; i < nseen; i++)
                if (seen_dev[i] == st.st_dev && seen_ino[i] == st.st_ino) { dup = 1; break; }
            if (dup) continue;
            if (nseen < MAXFILES) { seen_dev[nseen] = st.st_dev; seen_ino[nseen] = st.st_ino; nseen++; }
            kb += (uint64_t)st.st_blocks / 2;
        }
        closedir(d);
        if (nseen) break;     /* files found through fds: skip the (long) map list */
    }
    return kb;
}

static void *sampler(void *arg)
{
    (void)arg;
    struct timespec ts = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
    while (!atomic_load(&done)) {
        uint64_t priv = 0, r = rss_kb(child, &priv);
        uint64_t dk = diskdir ? disk_kb(child) : 0;
        if (dk > peak_disk_kb) peak_disk_kb = dk;
        if (r + dk > peak_mem_kb) peak_mem_kb = r + dk;
        if (priv + dk > peak_foot_kb) peak_foot_kb = priv + dk;
        if (timeout_s > 0 && now_s() - t_start > timeout_s && !atomic_load(&timed_out)) {
            atomic_store(&timed_out, 1);
            kill(child, SIGKILL);
        }
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: runner [-o OUT] [-d DIR] [-c CGROUP] [-t SECONDS] [-i MS] "
                    "[-e VAR=VALUE]... -- PROGRAM ARGS...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *cgroup = NULL;
    char *envs[64];
    int nenv = 0, opt;
    while ((opt = getopt(argc, argv, "+o:d:c:t:i:e:")) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 'd': diskdir = optarg; break;
        case 'c': cgroup = optarg; break;
        case 't': timeout_s = atof(optarg); break;
        case 'i': interval_ms = atol(optarg) > 0 ? atol(optarg) : 10; break;
        case 'e':
            if (nenv == 64 || !strchr(optarg, '=')) usage();
            envs[nenv++] = optarg;
            break;
        default: usage();
        }
    }
    if (optind >= argc) usage();
    static char realdir[PATH_MAX];
    if (diskdir) {
        if (!realpath(diskdir, realdir)) { perror(diskdir); return 2; }
        diskdir = realdir;
        diskdir_len = strlen(realdir);
        while (diskdir_len > 1 && realdir[diskdir_len - 1] == '/') realdir[--diskdir_len] = 0;
    }
    FILE *o = out ? fopen(out, "w") : stderr;
    if (!o) { perror(out); return 2; }

    int gate[2];                      /* the child waits until we have started timing */
    if (pipe2(gate, O_CLOEXEC)) { perror("pipe"); return 2; }
    t_start = now_s();
    child = fork();
    if (child < 0) { perror("fork"); return 2; }
    if (child == 0) {
        char c;
        close(gate[1]);
        if (read(gate[0], &c, 1) != 1) _exit(126);
        for (int i = 0; i < nenv; i++) putenv(envs[i]);
        if (cgroup) {
            char path[PATH_MAX], pid[32];
            snprintf(path, sizeof path, "%s/cgroup.procs", cgroup);
            int fd = open(path, O_WRONLY);
            int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
            if (fd < 0 || write(fd, pid, (size_t)n) != n) {
                fprintf(stderr, "runner: cannot join %s: %s\n", cgroup, strerror(errno));
                _exit(126);
            }
            close(fd);
        }
        execvp(argv[optind], argv + optind);
        fprintf(stderr, "runner: %s: %s\n", argv[optind], strerror(errno));
        _exit(127);
    }
    close(gate[0]);
    pthread_t th;
    if (pthread_create(&th, NULL, sampler, NULL)) { perror("pthread_create"); return 2; }
    t_start = now_s();
    if (write(gate[1], "g", 1) != 1) { perror("write"); return 2; }
    close(gate[1]);

    int st;
    struct rusage ru;
    pid_t r;
    while ((r = wait4(child, &st, 0, &ru)) < 0 && errno == EINTR)
        ;
    double wall = now_s() - t_start;
    atomic_store(&done, 1);
    pthread_join(th, NULL);
    if (r < 0) { perror("wait4"); return 2; }

    char status[64];
    if (atomic_load(&timed_out)) snprintf(status, sizeof status, "timeout");
    else if (WIFEXITED(st)) {
        if (WEXITSTATUS(st) == 0) snprintf(status, sizeof status, "ok");
        else snprintf(status, sizeof status, "exit:%d", WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(st));
        snprintf(status, sizeof status, "signal:%s", abbrev ? abbrev : "?");
    } else snprintf(status, sizeof status, "unknown");

    uint64_t rss = (uint64_t)ru.ru_maxrss;
    uint64_t mem = peak_mem_kb > rss ? peak_mem_kb : rss;
    if (!diskdir) mem = rss;
    fprintf(o, "status=%s\twall=%.4f\tuser=%.3f\tsys=%.3f\trss_kb=%llu\tdisk_kb=%llu\t"
               "mem_kb=%llu\tfoot_kb=%llu\tmajflt=%ld\tminflt=%ld\tin_kb=%ld\tout_kb=%ld\n",
            status, wall, (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6,
            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6,
            (unsigned long long)rss, (unsigned long long)peak_disk_kb,
            (unsigned long long)mem, (unsigned long long)peak_foot_kb, ru.ru_majflt, ru.ru_minflt,
            ru.ru_inblock / 2, ru.ru_oublock / 2);
    if (o != stderr) fclose(o);
    return 0;
}
