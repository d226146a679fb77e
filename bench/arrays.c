/* arrays: big arrays of a size not known in advance, read in a piece at a
 * time, the way a program loads a data set.
 *
 *   arrays THREADS SCALE       SCALE = MiB per array
 *
 * Each thread fills ARRAYS arrays side by side (columns of a table, say),
 * appending a 1 MiB piece to each in turn with realloc(p, len + piece),
 * until each holds SCALE MiB; then it reads every array once and frees
 * them. Every array outgrows the neighbour that the others put after it,
 * so a realloc that cannot grow in place has to move the array: with
 * copying, that costs as much as the data, or more. The arrays are split
 * evenly between threads. */
#include "common.h"

#define ARRAYS 4
#define PIECE  ((size_t)1 << 20)

struct job {
    int id;
    size_t target;
    uint64_t sum;
    char pad[64];
};

static void *worker(void *arg)
{
    struct job *j = arg;
    unsigned char *a[ARRAYS] = {0};
    size_t len = 0;
    while (len < j->target) {
        for (int i = 0; i < ARRAYS; i++) {
            unsigned char *p = realloc(a[i], len + PIECE);
            if (!p) die("realloc");
            /* one word per 64 bytes: the cost of reading data in, lightly */
            for (size_t o = len; o < len + PIECE; o += 64) {
                uint64_t v = (uint64_t)j->id << 56 ^ (uint64_t)i << 48 ^ o;
                memcpy(p + o, &v, 8);
            }
            a[i] = p;
        }
        len += PIECE;
    }
    uint64_t sum = 0;
    for (int i = 0; i < ARRAYS; i++) {
        for (size_t o = 0; o < len; o += 64) {
            uint64_t v;
            memcpy(&v, a[i] + o, 8);
            if (v != ((uint64_t)j->id << 56 ^ (uint64_t)i << 48 ^ o)) die("array contents");
            sum += v;
        }
        free(a[i]);
    }
    j->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    int n = (int)arg_long(argc, argv, 1, 1);
    size_t mib = (size_t)arg_long(argc, argv, 2, 256);
    struct job *jobs = xmalloc(sizeof *jobs * (size_t)n);
    for (int i = 0; i < n; i++) {
        jobs[i].id = i;
        jobs[i].target = (mib << 20) / (size_t)n;
        jobs[i].sum = 0;
    }
    run_threads(n, worker, jobs, sizeof *jobs);
    finish_jobs(jobs, n, sizeof *jobs, offsetof(struct job, sum));
    return 0;
}
