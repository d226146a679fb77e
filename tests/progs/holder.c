/* holder: builds a heap and holds it until told to go, for crash tests.
 *
 *   holder MIB [DELAY_MS [spawn]]
 *
 * Prints "ready" after its first allocation, then allocates MIB MiB (4 MiB
 * blocks with small ones in between), writing every byte, and prints
 * "progress N" after every 32 MiB (N = MiB so far), sleeping DELAY_MS
 * between blocks (default 0). With "spawn" it starts `sleep 300` with
 * fork+exec half-way through (without LD_PRELOAD, so that any backing
 * file it holds could only be one of ours) and prints "spawned PID". Then it prints
 * "filled" and waits until stdin reaches end of file; then it verifies and
 * frees everything and exits 0 with "done". Stdout is unbuffered. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK ((size_t)4 << 20)

static void die(const char *what)
{
    fprintf(stderr, "holder: FAIL %s: %s\n", what, strerror(errno));
    _exit(1);
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: holder MIB [DELAY_MS [spawn]]\n");
        return 2;
    }
    size_t mib = strtoul(argv[1], NULL, 10);
    long delay = argc > 2 ? atol(argv[2]) : 0;
    int spawn = argc > 3 && strcmp(argv[3], "spawn") == 0;
    setvbuf(stdout, NULL, _IONBF, 0);

    size_t nblocks = (mib << 20) / BLOCK;
    unsigned char **big = calloc(nblocks ? nblocks : 1, sizeof *big);
    char **small = calloc(nblocks ? nblocks : 1, sizeof *small);
    if (!big || !small)
        die("calloc");
    printf("ready\n");

    size_t done_mib = 0, reported = 0;
    for (size_t i = 0; i < nblocks; i++) {
        big[i] = malloc(BLOCK);
        small[i] = malloc(100 + i % 3000);
        if (!big[i] || !small[i])
            die("malloc");
        memset(big[i], (int)(i * 7 + 1), BLOCK);
        memset(small[i], (int)i, 100 + i % 3000);
        done_mib += BLOCK >> 20;
        if (done_mib - reported >= 32) {
            printf("progress %zu\n", done_mib);
            reported = done_mib;
        }
        if (spawn && i == nblocks / 2) {
            pid_t pid = fork();
            if (pid < 0)
                die("fork");
            if (pid == 0) {
                unsetenv("LD_PRELOAD");
                execlp("sleep", "sleep", "300", (char *)NULL);
                _exit(127);
            }
            printf("spawned %d\n", (int)pid);
        }
        pause_ms(delay);
    }
    printf("filled\n");

    char buf[256];
    while (read(0, buf, sizeof buf) > 0)
        ;
    for (size_t i = 0; i < nblocks; i++) {
        for (size_t k = 0; k < BLOCK; k += 4096)
            if (big[i][k] != (unsigned char)(i * 7 + 1)) {
                fprintf(stderr, "holder: FAIL block %zu byte %zu changed\n", i, k);
                return 1;
            }
        free(big[i]);
        free(small[i]);
    }
    free(big);
    free(small);
    printf("done\n");
    return 0;
}
