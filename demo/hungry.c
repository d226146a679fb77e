/* hungry: an ordinary program that needs a lot of memory.
 *
 *   hungry MIB
 *
 * It keeps MIB MiB of data in memory at once, as rows of one MiB each
 * allocated with plain malloc, fills them, then reads all of them back and
 * prints a checksum. Nothing in it knows about fsmem. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define ROW_BYTES (1u << 20)
#define ROW_WORDS (ROW_BYTES / sizeof(uint64_t))

int main(int argc, char **argv)
{
    long rows = argc > 1 ? atol(argv[1]) : 0;
    if (rows <= 0) {
        fprintf(stderr, "usage: hungry MIB\n");
        return 2;
    }
    uint64_t **table = malloc((size_t)rows * sizeof *table);
    if (!table) {
        fprintf(stderr, "hungry: out of memory\n");
        return 1;
    }

    /* Fill every row with a pseudo-random sequence. */
    uint64_t x = 88172645463325252ull;
    for (long r = 0; r < rows; r++) {
        table[r] = malloc(ROW_BYTES);
        if (!table[r]) {
            fprintf(stderr, "hungry: malloc failed after %ld MiB\n", r);
            return 1;
        }
        for (size_t i = 0; i < ROW_WORDS; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            table[r][i] = x;
        }
    }

    /* Read everything back while all of it is still live. */
    uint64_t sum = 0;
    for (long r = 0; r < rows; r++)
        for (size_t i = 0; i < ROW_WORDS; i++)
            sum = (sum ^ table[r][i]) * 0x100000001B3ull;

    for (long r = 0; r < rows; r++)
        free(table[r]);
    free(table);
    printf("hungry: %ld MiB in use at once, checksum %016llx\n", rows,
           (unsigned long long)sum);
    return 0;
}
