/* realloc of large blocks: contents survive every move; a buffer grown a
 * little at a time among others that also grow (so it can rarely grow in
 * place) moves a few times per doubling, not at every page; one that
 * doubles gets exactly what it asks for; a shrink within the room keeps
 * the block where it is, a deep one gives pages back. */
#include <stdint.h>
#include <string.h>

#include "alloc/pages.h"
#include "api/api.h"
#include "check.h"

#define STRINGS 8
#define START ((size_t)40 << 10)
#define TARGET ((size_t)2 << 20)

static unsigned char byte_at(int s, size_t i) { return (unsigned char)(s * 31 + i * 7 + (i >> 12)); }

static void appended_strings(void)
{
    unsigned char *p[STRINGS];
    size_t len[STRINGS];
    unsigned moves[STRINGS] = {0};
    for (int s = 0; s < STRINGS; s++) {
        len[s] = START;
        p[s] = fsm_malloc(START);
        CHECK(p[s] != NULL);
        if (!p[s])
            return;
        for (size_t i = 0; i < START; i++)
            p[s][i] = byte_at(s, i);
    }
    uint64_t seed = 7;
    for (int done = 0; done < STRINGS;) {
        done = 0;
        for (int s = 0; s < STRINGS; s++) {
            if (len[s] >= TARGET) {
                done++;
                continue;
            }
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            size_t add = 1 + (seed >> 40) % 64;
            unsigned char *q = fsm_realloc(p[s], len[s] + add);
            CHECK(q != NULL);
            if (!q)
                return;
            moves[s] += q != p[s];
            p[s] = q;
            for (size_t i = len[s]; i < len[s] + add; i++)
                q[i] = byte_at(s, i);
            len[s] += add;
        }
    }
    for (int s = 0; s < STRINGS; s++) {
        size_t bad = 0;
        for (size_t i = 0; i < len[s]; i++)
            bad += p[s][i] != byte_at(s, i);
        CHECK(bad == 0);
        /* 40 KiB to 2 MiB is under six doublings; a move at every page
         * would be about 500. */
        if (moves[s] > 6 * 6)
            fprintf(stderr, "string %d moved %u times\n", s, moves[s]);
        CHECK(moves[s] <= 6 * 6);
        fsm_free(p[s]);
    }
}

/* Fills the pages after block p (usable bytes long), so that it cannot
 * grow in place; returns how many blocks that took (freed by the caller). */
static int wall_in(void *p, size_t usable, void **wall, int max)
{
    int n = 0;
    uintptr_t end = (uintptr_t)p + usable;
    while (n < max) {
        struct run *r = end < arena.top ? pagemap_get(end) : NULL;
        if (r && r->kind != RUN_FREE)
            break;
        wall[n] = fsm_malloc(r ? r->npages << PAGE_SHIFT : PAGE_SIZE);
        if (!wall[n])
            break;
        n++;
    }
    return n;
}

static void doubled_and_shrunk(void)
{
    /* A neighbour keeps the block from growing in place. */
    size_t n = (size_t)1 << 20;
    unsigned char *v = fsm_malloc(n);
    void *wall = fsm_malloc(n);
    CHECK(v && wall);
    if (!v || !wall)
        return;
    memset(v, 0x5a, n);
    unsigned char *w = fsm_realloc(v, 2 * n);
    CHECK(w != NULL);
    if (!w)
        return;
    CHECK(fsm_usable_size(w) == 2 * n);
    CHECK(w[0] == 0x5a && w[n - 1] == 0x5a);

    /* Growing by one page moves it with room to spare ... */
    void *walls[16];
    int nwalls = wall_in(w, 2 * n, walls, 16);
    unsigned char *x = fsm_realloc(w, 2 * n + PAGE_SIZE);
    CHECK(x != NULL && x != w);
    if (!x)
        return;
    size_t usable = fsm_usable_size(x);
    CHECK(usable > 2 * n + PAGE_SIZE);
    CHECK(x[0] == 0x5a && x[n - 1] == 0x5a);
    /* ... which the next few appends grow into without moving. */
    CHECK(fsm_realloc(x, 2 * n + 3 * PAGE_SIZE) == x);
    CHECK(fsm_realloc(x, usable) == x);
    /* A shrink within the room keeps it; a deep one gives pages back. */
    CHECK(fsm_realloc(x, usable - PAGE_SIZE) == x);
    CHECK(fsm_usable_size(x) == usable);
    unsigned char *y = fsm_realloc(x, n / 2);
    CHECK(y != NULL && fsm_usable_size(y) == n / 2);
    CHECK(y[0] == 0x5a && y[n / 2 - 1] == 0x5a);
    fsm_free(y);
    fsm_free(wall);
    for (int i = 0; i < nwalls; i++)
        fsm_free(walls[i]);
}

int main(void)
{
    CHECK(fsm_init());
    appended_strings();
    doubled_and_shrunk();
    return check_done("realloc_test");
}
