/* fsmem: run a program with its malloc heap in files on disk.
 *
 * The launcher only checks settings, puts them in the environment and
 * preloads libfsmem.so; it then becomes the program (exec), so signals,
 * the pid and the exit status are the program's own. Settings are checked
 * here, before the exec, so a typo costs nothing and never reaches a job
 * that has been queued for hours. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsmem.h"
#include "util/msg.h"
#include "util/settings.h"

static const char *const opt_name[SET_COUNT] = {"--dir", "--size", "--ram", "--stats",
                                                "--paging"};

static const char help_text[] =
    "Usage: fsmem [options] [--] program [args...]\n"
    "\n"
    "Runs a program with its malloc heap in files on disk, so it can use more\n"
    "memory than the machine (or its job's memory limit) has, without root.\n"
    "libfsmem.so is preloaded into the program and every program it starts.\n"
    "Options stop at the first argument that is not an option, or at '--'.\n"
    "\n"
    "Options (each overrides the variable shown; also --opt=value):\n"
    "  --dir DIRS        FSMEM_DIR    directory for the backing files; a list\n"
    "                    a:b:c stripes the heap across them. Default: $TMPDIR if\n"
    "                    it is on disk, else /var/tmp. tmpfs is RAM: fsmem warns.\n"
    "  --size BYTES      FSMEM_SIZE   most the file-backed heap may grow to.\n"
    "                    Default: 1T, or the disks' size if smaller. Sparse: disk\n"
    "                    is used only as memory is touched.\n"
    "  --ram BYTES|auto  FSMEM_RAM    how much of the heap (the first part) is\n"
    "                    ordinary RAM before files take over; 0 = all on files.\n"
    "                    Default: auto = half of the tightest of the memory\n"
    "                    cgroup limit, available memory and ulimit -d, grown\n"
    "                    while the heap fits, keeping a quarter of that limit\n"
    "                    (at least 1 GiB) free.\n"
    "  --stats[=PATH]    FSMEM_STATS  summary at exit: peak heap, RAM/file split,\n"
    "                    disk used, major faults, early writebacks (cgroup v1);\n"
    "                    to stderr, or to PATH if given.\n"
    "                    Default: off.\n"
    "  --paging MODE     FSMEM_PAGING how heap pages on disk come back:\n"
    "                    auto = the 2 MiB around each fault while the program\n"
    "                    goes through its data, the 4 KiB page touched while\n"
    "                    its faults look scattered (default); passes = always\n"
    "                    2 MiB; random = always 4 KiB, for scattered access to\n"
    "                    a heap far larger than memory (passes then run about\n"
    "                    20x slower).\n"
    "  -h, --help        this text\n"
    "  -V, --version     print the version\n"
    "BYTES: a number with an optional K, M, G or T suffix (binary: 1K = 1024).\n"
    "\n"
    "Environment:\n"
    "  FSMEM_DIR, FSMEM_SIZE, FSMEM_RAM, FSMEM_PAGING  as above\n"
    "  FSMEM_STATS   1 or stderr prints the summary to stderr at exit; a path\n"
    "                writes it there; unset, empty or 0: off\n"
    "  TMPDIR        the default directory, unless it is on tmpfs\n"
    "  LD_PRELOAD    kept; fsmem puts libfsmem.so first\n"
    "  FSMEM_WARN_PID  set by fsmem to the program's pid: warnings every\n"
    "                process would repeat (tmpfs, ulimit) come from it alone\n"
    "Without the launcher: LD_PRELOAD=/path/to/libfsmem.so program [args...]\n"
    "\n"
    "Examples:\n"
    "  fsmem --dir /scratch -- ./assemble big.fa\n"
    "  fsmem --dir /nvme0/me:/nvme1/me --stats phyml -i big.phy\n"
    "  srun --mem=8G fsmem --dir /local/scratch/$USER -- raxml-ng --msa big.fa\n"
    "\n"
    "Exit status: the program's own; 1 if a setting is bad or libfsmem.so is\n"
    "missing; 2 on a usage error; 126 if the program cannot be run; 127 if it\n"
    "is not found.\n";

__attribute__((format(printf, 1, 2)))
static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fsmem: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (try 'fsmem --help')\n", stderr);
    va_end(ap);
    exit(2);
}

static _Noreturn void fail(const char *a, const char *b)
{
    fprintf(stderr, "fsmem: %s%s\n", a, b ? b : "");
    exit(1);
}

static const char *errtext(int err)
{
    const char *t = msg_errno_text(err);
    return t ? t : strerror(err);
}

/* Returns the setting an option names and sets *value to its inline
 * "=value" part (NULL when the value is the next argument); -1 if unknown. */
static int match_option(const char *arg, const char **value)
{
    for (int id = 0; id < SET_COUNT; id++) {
        size_t n = strlen(opt_name[id]);
        if (strncmp(arg, opt_name[id], n) != 0)
            continue;
        if (arg[n] == 0) {
            *value = NULL;
            return id;
        }
        if (arg[n] == '=') {
            *value = arg + n + 1;
            return id;
        }
    }
    return -1;
}

/* A child that changes directory before it execs must still find the same
 * files, so relative paths are exported as absolute ones. */
static char *absolute(const char *path)
{
    static char cwd[PATH_MAX];
    if (path[0] == '/' || (!cwd[0] && !getcwd(cwd, sizeof cwd)))
        return strdup(path);
    char *out = malloc(strlen(cwd) + strlen(path) + 2);
    if (!out)
        fail("out of memory", NULL);
    sprintf(out, "%s/%s", cwd, path);
    return out;
}

static char *absolute_dirs(const struct settings *s)
{
    size_t cap = 1;
    char *parts[SETTINGS_MAX_DIRS];
    for (unsigned i = 0; i < s->ndirs; i++) {
        parts[i] = absolute(s->dirs[i]);
        if (parts[i] && strchr(parts[i], ':')) { /* a cwd with ':' cannot be listed */
            free(parts[i]);
            parts[i] = strdup(s->dirs[i]);
        }
        if (!parts[i])
            fail("out of memory", NULL);
        cap += strlen(parts[i]) + 1;
    }
    char *out = malloc(cap);
    if (!out)
        fail("out of memory", NULL);
    out[0] = 0;
    for (unsigned i = 0; i < s->ndirs; i++) {
        if (i)
            strcat(out, ":");
        strcat(out, parts[i]);
        free(parts[i]);
    }
    return out;
}

static void set_var(const char *var, const char *value)
{
    if (setenv(var, value, 1) != 0)
        fail("cannot set ", var);
}

/* libfsmem.so beside the launcher (build tree), else in an installed
 * layout: prefix/bin/fsmem with prefix/lib/fsmem/ or prefix/lib/. */
static void find_library(char out[PATH_MAX])
{
    static const char *const where[] = {"", "/../lib/fsmem", "/../lib"};
    char exe[PATH_MAX], try[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        fail("cannot find its own executable in /proc/self/exe: ", errtext(errno));
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++) {
        snprintf(try, sizeof try, "%s%s/libfsmem.so", exe, where[i]);
        if (access(try, R_OK) == 0 && realpath(try, out))
            return;
    }
    fprintf(stderr, "fsmem: libfsmem.so not found in %s, %s/../lib/fsmem or %s/../lib\n",
            exe, exe, exe);
    exit(1);
}

/* Ours goes first so it wins over any other malloc; the rest is kept in
 * order, minus an earlier copy of ours (nested fsmem runs). */
static void preload(const char *lib)
{
    if (strpbrk(lib, " :"))
        fail("LD_PRELOAD cannot hold a path with a space or colon: ", lib);
    const char *old = getenv("LD_PRELOAD");
    size_t len = strlen(lib);
    char *list = malloc(len + (old ? strlen(old) : 0) + 2);
    if (!list)
        fail("out of memory", NULL);
    strcpy(list, lib);
    for (const char *p = old; p && *p;) {
        size_t n = strcspn(p, " :");
        if (n && !(n == len && strncmp(p, lib, n) == 0)) {
            strcat(list, ":");
            strncat(list, p, n);
        }
        p += n + (p[n] != 0);
    }
    set_var("LD_PRELOAD", list);
    free(list);
}

/* execvp reports EACCES when some PATH entry could not be searched, even
 * if the program is in none of them; a shell calls that "not found". */
static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char file[PATH_MAX];
    struct stat st;
    for (const char *p = path ? path : "/bin:/usr/bin"; p;) {
        size_t n = strcspn(p, ":");
        snprintf(file, sizeof file, "%.*s/%s", n ? (int)n : 1, n ? p : ".", prog);
        if (stat(file, &st) == 0 && !S_ISDIR(st.st_mode))
            return true;
        p = p[n] ? p + n + 1 : NULL;
    }
    return false;
}

static _Noreturn void run(char **argv)
{
    const char *prog = argv[0];
    execvp(prog, argv);
    int err = errno;
    struct stat st;
    if (!strchr(prog, '/') && (err == ENOENT || !on_path(prog))) {
        fprintf(stderr, "fsmem: %s: command not found\n", prog);
        exit(127);
    }
    if (err == ENOENT && stat(prog, &st) != 0) {
        fprintf(stderr, "fsmem: %s: no such file or directory\n", prog);
        exit(127);
    }
    /* ENOENT for a file that exists: its #! interpreter or loader is missing. */
    fprintf(stderr, "fsmem: %s: %s\n", prog,
            err == ENOENT ? "cannot run it: its interpreter is missing" : errtext(err));
    exit(126);
}

int main(int argc, char **argv)
{
    const char *given[SET_COUNT] = {NULL};
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i], *value;
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == 0)
            break;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(help_text, stdout);
            return 0;
        }
        if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
            puts("fsmem " FSMEM_VERSION);
            return 0;
        }
        int id = match_option(arg, &value);
        if (id < 0)
            usage_error("unknown option '%s'", arg);
        if (!value && id == SET_STATS)
            value = "1"; /* its value is optional, so only --stats=PATH */
        else if (!value && ++i < argc)
            value = argv[i];
        else if (!value)
            usage_error("option '%s' needs a value", opt_name[id]);
        given[id] = value;
    }
    if (i >= argc)
        usage_error("no program to run");

    const char *values[SET_COUNT], *labels[SET_COUNT];
    for (int id = 0; id < SET_COUNT; id++) {
        values[id] = given[id] ? given[id] : getenv(settings_var[id]);
        labels[id] = given[id] ? opt_name[id] : NULL;
    }
    /* Quiet: the library repeats these checks in the program and warns there. */
    static struct settings s;
    if (settings_parse(&s, values, labels, false) != 0)
        return 1;

    char lib[PATH_MAX];
    find_library(lib);

    if (s.dir_given) {
        char *dirs = absolute_dirs(&s);
        set_var(settings_var[SET_DIR], dirs);
        free(dirs);
    }
    if (given[SET_SIZE])
        set_var(settings_var[SET_SIZE], given[SET_SIZE]);
    if (given[SET_RAM])
        set_var(settings_var[SET_RAM], given[SET_RAM]);
    if (given[SET_PAGING])
        set_var(settings_var[SET_PAGING], given[SET_PAGING]);
    if (s.stats == STATS_FILE) {
        char *path = absolute(s.stats_path);
        if (!path)
            fail("out of memory", NULL);
        set_var(settings_var[SET_STATS], path);
        free(path);
    } else if (given[SET_STATS]) {
        set_var(settings_var[SET_STATS], given[SET_STATS]);
    }
    preload(lib);
    /* The program keeps this process's pid across exec: the warnings every
     * process of the job would repeat are printed by it alone. */
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    set_var("FSMEM_WARN_PID", pid);
    run(argv + i);
}
