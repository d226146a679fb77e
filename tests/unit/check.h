/* A minimal assertion harness for the allocator's unit tests. */
#ifndef FSMEM_TESTS_UNIT_CHECK_H
#define FSMEM_TESTS_UNIT_CHECK_H

#include <stdio.h>
#include <stdlib.h>

static int check_failures;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            if (++check_failures > 20)                                           \
                exit(1);                                                         \
        }                                                                        \
    } while (0)

static inline int check_done(const char *name)
{
    if (check_failures) {
        fprintf(stderr, "%s: %d checks failed\n", name, check_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

#endif
