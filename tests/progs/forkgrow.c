/* forkgrow BEFORE AFTER: fork across the end of the RAM tier.
 *
 * The parent fills BEFORE blocks of 1 MiB and forks; then parent and
 * child each fill AFTER more, which takes each of them past the end of
 * the RAM tier where it started (FSMEM_RAM=auto may grow it there, in each
 * process on its own). Each checks its new blocks and the old ones; the
 * child then overwrites the first old blocks, and the parent, after the
 * child has exited, must still see its own data. Prints "forkgrow: ok", or
 * fails with a message. */
#include <stdlib.h>
#include <sys/wait.h>

#include "progs.h"

#define BLOCK ((size_t)1 << 20)
#define PAGE 4096
/* Blocks the child rewrites: each becomes a private copy of its own,
 * anonymous memory in a cgroup with no swap, so not all of them. */
#define REWRITTEN 64

static void fill(unsigned char **b, long n, uint64_t seed)
{
    for (long i = 0; i < n; i++) {
        b[i] = malloc(BLOCK);
        if (!b[i])
            die("malloc of block %ld: %s", i, strerror(errno));
        for (size_t o = 0; o < BLOCK; o += PAGE) {
            uint64_t w = pattern_word(seed + (uint64_t)i, o / PAGE);
            memcpy(b[i] + o, &w, 8);
        }
    }
}

static void check(unsigned char **b, long n, uint64_t seed, const char *what)
{
    for (long i = 0; i < n; i++)
        for (size_t o = 0; o < BLOCK; o += PAGE) {
            uint64_t w;
            memcpy(&w, b[i] + o, 8);
            if (w != pattern_word(seed + (uint64_t)i, o / PAGE))
                die("%s: block %ld, page %zu holds the wrong data", what, i, o / PAGE);
        }
}

int main(int argc, char **argv)
{
    if (argc != 3)
        die("usage: forkgrow BEFORE_MIB AFTER_MIB");
    long before = atol(argv[1]), after = atol(argv[2]);
    unsigned char **old = malloc(sizeof *old * (size_t)before);
    unsigned char **young = malloc(sizeof *young * (size_t)after);
    if (!old || !young || before <= 0 || after <= 0)
        die("bad arguments or no memory for the tables");
    fill(old, before, 1000);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        who = "child";
        fill(young, after, 3000000);
        check(old, before, 1000, "the parent's blocks, in the child");
        check(young, after, 3000000, "the child's new blocks");
        for (long i = 0; i < before && i < REWRITTEN; i++)
            memset(old[i], 0xee, BLOCK);
        _exit(0);
    }
    who = "parent";
    fill(young, after, 5000000);
    int status;
    if (waitpid(pid, &status, 0) != pid)
        die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        die("the child failed (status %d)", status);
    check(young, after, 5000000, "the parent's new blocks");
    check(old, before, 1000, "the parent's old blocks after the child rewrote its copies");
    printf("forkgrow: ok\n");
    return 0;
}
