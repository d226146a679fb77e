/* Page runs: random allocation and freeing against a model, checking the
 * page-map invariants after every step: runs are disjoint, tile the heap,
 * free neighbours are always merged, and only the documented entries of
 * the page map are set. */
#include <stdint.h>
#include <string.h>

#include "alloc/pages.h"
#include "api/api.h"
#include "check.h"

#define LIVE 64

static void check_tiling(void)
{
    uintptr_t p = arena.base;
    int prev_free = 0;
    while (p < arena.top) {
        struct run *r = pagemap_get(p);
        if (!r) {   /* pages skipped at a fork: none here */
            CHECK(r != NULL);
            return;
        }
        CHECK(r->start == p);
        CHECK(r->npages > 0);
        uintptr_t end = r->start + (r->npages << PAGE_SHIFT);
        CHECK(pagemap_get(end - PAGE_SIZE) == r);
        if (r->kind == RUN_LARGE || r->kind == RUN_FREE)
            for (uintptr_t q = r->start + PAGE_SIZE; q + PAGE_SIZE < end; q += PAGE_SIZE)
                CHECK(pagemap_get(q) == NULL);
        int is_free = r->kind == RUN_FREE;
        CHECK(!(is_free && prev_free));
        prev_free = is_free;
        p = end;
    }
    CHECK(p == arena.top);
}

int main(void)
{
    CHECK(fsm_init());
    struct run *live[LIVE] = {0};
    uint64_t seed = 42;
    for (int step = 0; step < 4000; step++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        int k = (int)((seed >> 33) % LIVE);
        if (live[k]) {
            struct run *r = live[k];
            CHECK(((unsigned char *)r->start)[0] == (unsigned char)k);
            large_free((void *)r->start, r);
            live[k] = NULL;
        } else {
            size_t pages = 1 + (seed >> 40) % ((seed & 1) ? 8 : 700);
            size_t align = (seed & 6) == 6 ? (size_t)1 << ((seed >> 20) % 9) : 1;
            bool zeroed;
            struct run *r = pages_alloc(pages, align, NULL, &zeroed);
            CHECK(r != NULL);
            if (!r)
                break;
            CHECK(r->npages == pages);
            CHECK(r->start % (align * PAGE_SIZE) == 0);
            if (zeroed)
                CHECK(((unsigned char *)r->start)[pages * PAGE_SIZE - 1] == 0);
            memset((void *)r->start, k, pages * PAGE_SIZE);
            live[k] = r;
        }
        if (step % 50 == 0)
            check_tiling();
    }
    check_tiling();
    /* In-place growth and shrinking keep the contents. */
    bool z;
    struct run *r = pages_alloc(10, 1, NULL, &z);
    memset((void *)r->start, 7, 10 * PAGE_SIZE);
    if (large_resize(r, 20))
        CHECK(r->npages == 20);
    CHECK(large_resize(r, 3));
    CHECK(r->npages == 3);
    CHECK(((unsigned char *)r->start)[3 * PAGE_SIZE - 1] == 7);
    check_tiling();
    return check_done("pages");
}
