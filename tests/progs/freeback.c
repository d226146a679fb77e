/* freeback: frees a big heap while someone watches its disk use.
 *
 *   freeback MIB BLOCK_KIB
 *
 * Allocates MIB MiB in blocks of BLOCK_KIB KiB, writes every page, prints
 * "filled" and waits for a line on stdin; then frees every block, prints
 * "freed" and waits for end of file on stdin before it exits. Stdout is
 * unbuffered. Exit status 0, or 2 when malloc fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3)
        return 3;
    size_t total = strtoull(argv[1], NULL, 10) << 20;
    size_t block = strtoull(argv[2], NULL, 10) << 10;
    if (!total || !block)
        return 3;
    size_t n = total / block;
    char **b = calloc(n, sizeof *b);
    if (!b)
        return 2;
    setvbuf(stdout, NULL, _IONBF, 0);
    for (size_t i = 0; i < n; i++) {
        if (!(b[i] = malloc(block)))
            return 2;
        for (size_t o = 0; o < block; o += 4096)
            b[i][o] = (char)(i + o);
    }
    printf("filled %zu blocks\n", n);
    char line[64];
    if (!fgets(line, sizeof line, stdin))
        return 0;
    for (size_t i = 0; i < n; i++)
        free(b[i]);
    printf("freed\n");
    while (fgets(line, sizeof line, stdin))
        ;
    free(b);
    return 0;
}
