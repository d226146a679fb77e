/* forkexec: how much a big heap costs each fork+exec.
 *
 *   forkexec HEAP_MIB ROUNDS
 *
 * Allocates HEAP_MIB in 1 MiB blocks and writes every page, then times
 * ROUNDS fork+exec of /bin/true (waiting for each) and ROUNDS posix_spawn
 * of it. Prints one line: "forkexec fork_us=... spawn_us=..." with the
 * mean microseconds per round, measured inside the process. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? atol(argv[1]) : 2048, rounds = argc > 2 ? atol(argv[2]) : 50;
    char **blocks = calloc((size_t)mib, sizeof *blocks);
    for (long i = 0; i < mib; i++) {
        blocks[i] = malloc(1 << 20);
        if (!blocks[i]) {
            fprintf(stderr, "forkexec: malloc failed at %ld MiB\n", i);
            return 1;
        }
        memset(blocks[i], (int)i, 1 << 20);
    }
    char *args[] = {"true", NULL};
    double t0 = now_us();
    for (long r = 0; r < rounds; r++) {
        pid_t p = fork();
        if (p == 0) {
            execv("/bin/true", args);
            _exit(127);
        }
        waitpid(p, NULL, 0);
        blocks[r % mib][0]++;   /* the parent keeps writing its heap */
    }
    double t1 = now_us();
    for (long r = 0; r < rounds; r++) {
        pid_t p;
        if (posix_spawn(&p, "/bin/true", NULL, NULL, args, environ) != 0)
            return 1;
        waitpid(p, NULL, 0);
    }
    double t2 = now_us();
    long sum = 0;
    for (long i = 0; i < mib; i++)
        sum += blocks[i][4096];
    printf("forkexec fork_us=%.0f spawn_us=%.0f check=%ld\n", (t1 - t0) / rounds,
           (t2 - t1) / rounds, sum);
    return 0;
}
