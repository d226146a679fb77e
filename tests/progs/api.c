/* api: conformance of the malloc family, checked against what glibc does.
 *
 * Every allocation call goes through a volatile function pointer so the
 * compiler cannot reason about malloc's semantics (fold comparisons of two
 * results, drop unused pairs, or warn about constant huge sizes): each call
 * really reaches whichever allocator is linked or preloaded.
 *
 * Prints one line per failed expectation (the first few of each kind) and
 * exits 1 if anything failed, 0 with "api: ok" otherwise. */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *(*volatile f_malloc)(size_t) = malloc;
static void *(*volatile f_calloc)(size_t, size_t) = calloc;
static void *(*volatile f_realloc)(void *, size_t) = realloc;
static void *(*volatile f_reallocarray)(void *, size_t, size_t) = reallocarray;
static int (*volatile f_posix_memalign)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile f_aligned_alloc)(size_t, size_t) = aligned_alloc;
static void *(*volatile f_memalign)(size_t, size_t) = memalign;
static void *(*volatile f_valloc)(size_t) = valloc;
static void *(*volatile f_pvalloc)(size_t) = pvalloc;
static size_t (*volatile f_usable)(void *) = malloc_usable_size;
static void (*volatile f_free)(void *) = free;

static unsigned long failures;
static const char *section = "";

static void failf(const char *fmt, ...)
{
    failures++;
    if (failures > 60) {
        if (failures == 61)
            fprintf(stderr, "api: (more failures not shown)\n");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "api: FAIL [%s] ", section);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define CHECK(cond, ...) do { if (!(cond)) failf(__VA_ARGS__); } while (0)

static size_t page_size;

/* The pattern: byte i of a block filled with seed is byte (i % 8) of
 * word(seed, i / 8), so whole words can be written and compared at once. */
static inline uint64_t word(uint64_t seed, size_t j)
{
    uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull + (uint64_t)j * 0xBF58476D1CE4E5B9ull;
    return x ^ (x >> 29);
}

static inline unsigned char pat(uint64_t seed, size_t i)
{
    return (unsigned char)(word(seed, i >> 3) >> ((i & 7) * 8));
}

static inline void put_word(unsigned char *b, uint64_t w)
{
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)(w >> (k * 8));
}

static inline uint64_t get_word(const unsigned char *b)
{
    uint64_t w = 0;
    for (int k = 0; k < 8; k++)
        w |= (uint64_t)b[k] << (k * 8);
    return w;
}

/* Fills n bytes with the pattern. */
static void fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        put_word(b + i, word(seed, i >> 3));
    for (; i < n; i++)
        b[i] = pat(seed, i);
}

/* Returns the first offset in [0, n) that does not hold the pattern, or n. */
static size_t verify(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        if (get_word(b + i) != word(seed, i >> 3))
            break;
    for (; i < n; i++)
        if (b[i] != pat(seed, i))
            return i;
    return n;
}

/* Faster check for big blocks: every byte of the first and last 64 KiB and
 * one word in every 4 KiB elsewhere (the full fill already touched them). */
static size_t verify_sampled(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    if (n <= (256u << 10))
        return verify(p, n, seed);
    size_t head = 64u << 10;
    size_t r = verify(p, head, seed);
    if (r != head)
        return r;
    for (size_t i = head; i + 8 < n - head; i += 4096 + 8)
        for (size_t k = 0; k < 8; k++)
            if (b[i + k] != pat(seed, i + k))
                return i + k;
    for (size_t i = n - head; i < n; i++)
        if (b[i] != pat(seed, i))
            return i;
    return n;
}

static int all_zero(const void *p, size_t n, size_t *where)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) {
            *where = i;
            return 0;
        }
    return 1;
}

static int aligned(const void *p, size_t a)
{
    return ((uintptr_t)p & (a - 1)) == 0;
}

/* Allocates with malloc, checks alignment and usable size, fills the whole
 * usable size and verifies it. Returns the block (caller frees) or NULL. */
static void *malloc_checked(size_t n, uint64_t seed, int sampled)
{
    errno = 0;
    void *p = f_malloc(n);
    if (!p) {
        failf("malloc(%zu) returned NULL (errno %d)", n, errno);
        return NULL;
    }
    CHECK(aligned(p, 16), "malloc(%zu) = %p not 16-byte aligned", n, p);
    size_t u = f_usable(p);
    CHECK(u >= n, "malloc_usable_size(malloc(%zu)) = %zu < request", n, u);
    if (u < n)
        u = n;
    fill(p, u, seed);
    size_t bad = sampled ? verify_sampled(p, u, seed) : verify(p, u, seed);
    CHECK(bad == u, "malloc(%zu): byte %zu of usable %zu does not hold what was written",
          n, bad, u);
    return p;
}

static void test_small_sizes(void)
{
    section = "sizes 0..4096";
    enum { N = 4097 };
    static void *blk[N];
    static size_t use[N];
    for (size_t n = 0; n < N; n++) {
        blk[n] = malloc_checked(n, n, 0);
        use[n] = blk[n] ? f_usable(blk[n]) : 0;
    }
    /* All live at once: any overlap between blocks shows up here. */
    for (size_t n = 0; n < N; n++) {
        if (!blk[n])
            continue;
        size_t u = use[n] < n ? n : use[n];
        size_t bad = verify(blk[n], u, n);
        CHECK(bad == u, "malloc(%zu): byte %zu changed while other blocks were written "
              "(overlapping blocks?)", n, bad);
    }
    for (size_t n = 0; n < N; n += 2)
        f_free(blk[n]);
    for (size_t n = 1; n < N; n += 2) {
        size_t u = use[n] < n ? n : use[n];
        if (blk[n])
            CHECK(verify(blk[n], u, n) == u, "malloc(%zu): contents changed after freeing "
                  "neighbours", n);
        f_free(blk[n]);
    }
}

static void test_power_sizes(void)
{
    section = "powers of two";
    for (size_t p2 = 4096; p2 <= ((size_t)64 << 20); p2 <<= 1) {
        for (int d = -1; d <= 1; d++) {
            size_t n = p2 + (size_t)d;
            void *p = malloc_checked(n, n * 3 + 1, 1);
            f_free(p);
        }
    }
    /* The same sizes all live at once, then freed in reverse. */
    void *keep[80];
    size_t ksz[80];
    int k = 0;
    for (size_t p2 = 4096; p2 <= ((size_t)16 << 20); p2 <<= 1)
        for (int d = -1; d <= 1; d++) {
            ksz[k] = p2 + (size_t)d;
            keep[k] = malloc_checked(ksz[k], (uint64_t)k + 77, 1);
            k++;
        }
    for (int i = 0; i < k; i++)
        if (keep[i]) {
            size_t u = f_usable(keep[i]);
            if (u < ksz[i])
                u = ksz[i];
            CHECK(verify_sampled(keep[i], u, (uint64_t)i + 77) == u,
                  "malloc(%zu): contents changed while other big blocks were live", ksz[i]);
        }
    while (k-- > 0)
        f_free(keep[k]);

    section = "1 GiB";
    size_t gib = (size_t)1 << 30;
    void *p = malloc_checked(gib, 4242, 1);
    f_free(p);
}

static void test_zero_and_huge(void)
{
    section = "malloc(0)";
    void *a = f_malloc(0), *b = f_malloc(0), *c = f_malloc(0);
    CHECK(a && b && c, "malloc(0) returned NULL");
    CHECK(a != b && b != c && a != c, "malloc(0) returned the same pointer twice (%p %p %p)",
          a, b, c);
    CHECK(aligned(a, 16) && aligned(b, 16), "malloc(0) result not 16-byte aligned");
    f_free(a);
    f_free(b);
    f_free(c);

    section = "huge requests";
    const size_t huge[] = { SIZE_MAX, SIZE_MAX - 4096, (size_t)PTRDIFF_MAX + 1,
                            (size_t)PTRDIFF_MAX, (size_t)1 << 50 };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        errno = 0;
        void *p = f_malloc(huge[i]);
        CHECK(p == NULL, "malloc(%zu) succeeded", huge[i]);
        if (p == NULL)
            CHECK(errno == ENOMEM, "malloc(%zu): errno %d, want ENOMEM", huge[i], errno);
        f_free(p);
    }
    /* The heap still works after refusing. */
    void *p = malloc_checked(100, 5, 0);
    f_free(p);

    section = "malloc_usable_size/free(NULL)";
    CHECK(f_usable(NULL) == 0, "malloc_usable_size(NULL) = %zu", f_usable(NULL));
    f_free(NULL);
}

static void test_calloc(void)
{
    section = "calloc";
    const size_t sizes[] = { 1, 7, 16, 24, 100, 1000, 4096, 5000, 65536, 100000,
                             1 << 20, (4 << 20) + 100, 32 << 20 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i], where = 0;
        /* Fresh. */
        unsigned char *p = f_calloc(1, n);
        CHECK(p, "calloc(1, %zu) returned NULL", n);
        if (p) {
            CHECK(all_zero(p, n, &where), "calloc(1, %zu): byte %zu not zero", n, where);
            CHECK(aligned(p, 16), "calloc(1, %zu) not 16-byte aligned", n);
        }
        f_free(p);
        /* Reuse of dirty blocks of the same size: dirty several, free them,
         * then calloc the same number back (one of them is likely reused). */
        enum { R = 8 };
        void *d[R];
        for (int k = 0; k < R; k++) {
            d[k] = f_malloc(n);
            if (d[k])
                memset(d[k], 0xA5, f_usable(d[k]));
        }
        for (int k = 0; k < R; k++)
            f_free(d[k]);
        for (int k = 0; k < R; k++) {
            d[k] = f_calloc(n, 1);
            CHECK(d[k], "calloc(%zu, 1) after free returned NULL", n);
            if (d[k])
                CHECK(all_zero(d[k], n, &where),
                      "calloc(%zu, 1) reusing a freed dirty block: byte %zu not zero", n, where);
        }
        for (int k = 0; k < R; k++)
            f_free(d[k]);
    }
    /* Element counts and sizes that multiply. */
    int *v = f_calloc(1000, sizeof(int));
    CHECK(v, "calloc(1000, 4) returned NULL");
    if (v) {
        size_t where = 0;
        CHECK(all_zero(v, 4000, &where), "calloc(1000, 4): byte %zu not zero", where);
    }
    f_free(v);
    void *z = f_calloc(0, 10);
    CHECK(z, "calloc(0, 10) returned NULL (glibc returns a unique pointer)");
    f_free(z);

    section = "calloc overflow";
    const size_t ov[][2] = { { SIZE_MAX, 2 }, { 2, SIZE_MAX }, { (size_t)1 << 33, (size_t)1 << 33 },
                             { SIZE_MAX / 2 + 1, 2 }, { (size_t)1 << 32, ((size_t)1 << 32) + 1 } };
    for (size_t i = 0; i < sizeof ov / sizeof ov[0]; i++) {
        errno = 0;
        void *p = f_calloc(ov[i][0], ov[i][1]);
        CHECK(p == NULL, "calloc(%zu, %zu) overflows but succeeded", ov[i][0], ov[i][1]);
        if (!p)
            CHECK(errno == ENOMEM, "calloc(%zu, %zu): errno %d, want ENOMEM",
                  ov[i][0], ov[i][1], errno);
        f_free(p);
    }
}

static void test_realloc(void)
{
    section = "realloc";
    /* Walk up and down across small, medium, large and huge sizes. */
    const size_t walk[] = { 1, 8, 16, 17, 100, 512, 1000, 4095, 4096, 4097, 16384, 65536,
                            65537, 131072, 300000, 1 << 20, (1 << 20) + 1, 4 << 20, 40 << 20,
                            (40 << 20) + 12345, 3 << 20, 200000, 70000, 5000, 4096, 100, 24,
                            1, 64 << 20, 33, 2 << 20, 3000, 0 };
    size_t nwalk = sizeof walk / sizeof walk[0];
    unsigned char *p = f_realloc(NULL, walk[0]);
    CHECK(p, "realloc(NULL, %zu) returned NULL", walk[0]);
    if (!p)
        return;
    uint64_t seed = 1000;
    fill(p, walk[0], seed);
    for (size_t i = 1; i + 1 < nwalk; i++) {
        size_t old = walk[i - 1], n = walk[i];
        unsigned char *q = f_realloc(p, n);
        CHECK(q, "realloc(%zu -> %zu) returned NULL", old, n);
        if (!q) {
            f_free(p);
            return;
        }
        CHECK(aligned(q, 16), "realloc(%zu -> %zu) = %p not 16-byte aligned", old, n, q);
        CHECK(f_usable(q) >= n, "realloc(%zu -> %zu): usable %zu", old, n, f_usable(q));
        size_t keep = old < n ? old : n;
        size_t bad = verify_sampled(q, keep, seed);
        CHECK(bad == keep, "realloc(%zu -> %zu): byte %zu of the kept %zu changed",
              old, n, bad, keep);
        p = q;
        seed++;
        fill(p, n, seed);
    }
    /* realloc(p, 0) frees and returns NULL, as glibc does. */
    errno = 0;
    void *r = f_realloc(p, 0);
    CHECK(r == NULL, "realloc(p, 0) returned %p; glibc frees and returns NULL", r);
    if (r)
        f_free(r);

    /* realloc(NULL, n) is malloc(n). */
    p = f_realloc(NULL, 5000);
    CHECK(p && f_usable(p) >= 5000, "realloc(NULL, 5000) did not allocate");
    if (p) {
        fill(p, 5000, 9);
        /* A failing realloc leaves the block alone. */
        errno = 0;
        void *q = f_realloc(p, SIZE_MAX - 100);
        CHECK(q == NULL, "realloc(p, SIZE_MAX-100) succeeded");
        if (!q) {
            CHECK(errno == ENOMEM, "realloc to a huge size: errno %d, want ENOMEM", errno);
            CHECK(verify(p, 5000, 9) == 5000, "failed realloc changed the old block");
        }
        q = f_realloc(p, (size_t)PTRDIFF_MAX + 1);
        CHECK(q == NULL, "realloc(p, PTRDIFF_MAX+1) succeeded");
        f_free(p);
    }

    /* Many blocks growing in turn (interleaved, so in-place growth is not
     * always possible), then shrinking. */
    enum { K = 64 };
    unsigned char *b[K];
    size_t sz[K];
    for (int i = 0; i < K; i++) {
        sz[i] = 8 + (size_t)i * 3;
        b[i] = f_malloc(sz[i]);
        if (!b[i]) {
            failf("malloc(%zu) returned NULL", sz[i]);
            return;
        }
        fill(b[i], sz[i], (uint64_t)i);
    }
    for (int round = 0; round < 12; round++)
        for (int i = 0; i < K; i++) {
            size_t n = round < 9 ? sz[i] * 2 + (size_t)round : sz[i] / 3 + 1;
            unsigned char *q = f_realloc(b[i], n);
            if (!q) {
                failf("realloc(%zu -> %zu) returned NULL", sz[i], n);
                continue;
            }
            size_t keep = sz[i] < n ? sz[i] : n;
            size_t bad = verify_sampled(q, keep, (uint64_t)i + (uint64_t)round * K);
            CHECK(bad == keep, "interleaved realloc(%zu -> %zu): byte %zu changed",
                  sz[i], n, bad);
            b[i] = q;
            sz[i] = n;
            fill(q, n, (uint64_t)i + (uint64_t)(round + 1) * K);
        }
    for (int i = 0; i < K; i++)
        f_free(b[i]);

    section = "reallocarray";
    int *a = f_reallocarray(NULL, 100, sizeof(int));
    CHECK(a, "reallocarray(NULL, 100, 4) returned NULL");
    if (a) {
        for (int i = 0; i < 100; i++)
            a[i] = i * 7;
        int *na = f_reallocarray(a, 100000, sizeof(int));
        CHECK(na, "reallocarray(a, 100000, 4) returned NULL");
        if (na) {
            a = na;
            int ok = 1;
            for (int i = 0; i < 100; i++)
                ok &= a[i] == i * 7;
            CHECK(ok, "reallocarray lost contents when growing");
        }
        errno = 0;
        void *q = f_reallocarray(a, SIZE_MAX / 2, 3);
        CHECK(q == NULL, "reallocarray(a, SIZE_MAX/2, 3) overflows but succeeded");
        if (!q) {
            CHECK(errno == ENOMEM, "reallocarray overflow: errno %d, want ENOMEM", errno);
            int ok = 1;
            for (int i = 0; i < 100; i++)
                ok &= a[i] == i * 7;
            CHECK(ok, "failed reallocarray changed the old block");
        }
        f_free(a);
    }
    errno = 0;
    void *q = f_reallocarray(NULL, (size_t)1 << 40, (size_t)1 << 40);
    CHECK(q == NULL, "reallocarray(NULL, 2^40, 2^40) succeeded");
    if (!q)
        CHECK(errno == ENOMEM, "reallocarray(NULL, 2^40, 2^40): errno %d, want ENOMEM", errno);
}

enum { AL_FUNCS = 3 };
static const char *const al_name[AL_FUNCS] = { "posix_memalign", "aligned_alloc", "memalign" };

static void *al_call(int f, size_t a, size_t n, int *ret)
{
    void *p = NULL;
    *ret = 0;
    switch (f) {
    case 0:
        *ret = f_posix_memalign(&p, a, n);
        if (*ret)
            p = NULL;
        break;
    case 1:
        p = f_aligned_alloc(a, n);
        break;
    default:
        p = f_memalign(a, n);
        break;
    }
    return p;
}

static void test_aligned(void)
{
    section = "aligned allocation";
    uint64_t seed = 5000;
    for (int f = 0; f < AL_FUNCS; f++) {
        for (size_t a = sizeof(void *); a <= ((size_t)4 << 20); a <<= 1) {
            const size_t sizes[] = { 1, 8, 100, a - 1, a, a + 1, 3 * a + 5, 70000 };
            void *live[8];
            size_t lsz[8];
            for (int i = 0; i < 8; i++) {
                size_t n = sizes[i];
                int ret;
                void *p = al_call(f, a, n, &ret);
                live[i] = p;
                lsz[i] = n;
                if (!p) {
                    failf("%s(align %zu, size %zu) failed (ret %d, errno %d)", al_name[f], a, n,
                          ret, errno);
                    continue;
                }
                CHECK(aligned(p, a), "%s(align %zu, size %zu) = %p is not aligned",
                      al_name[f], a, n, p);
                size_t u = f_usable(p);
                CHECK(u >= n, "%s(align %zu, size %zu): usable %zu", al_name[f], a, n, u);
                if (u < n)
                    u = n;
                fill(p, u, seed + (uint64_t)i);
            }
            for (int i = 0; i < 8; i++) {
                if (!live[i])
                    continue;
                size_t u = f_usable(live[i]);
                if (u < lsz[i])
                    u = lsz[i];
                size_t bad = verify_sampled(live[i], u, seed + (uint64_t)i);
                CHECK(bad == u, "%s(align %zu, size %zu): byte %zu changed while others "
                      "were live", al_name[f], a, lsz[i], bad);
            }
            /* Free in a different order than allocated. */
            for (int i = 1; i < 8; i += 2)
                f_free(live[i]);
            for (int i = 0; i < 8; i += 2)
                f_free(live[i]);
            seed += 8;
        }
    }

    section = "posix_memalign errors";
    const size_t bad_align[] = { 0, 1, 2, 3, 4, 12, 24, 40, 100, 4097, sizeof(void *) / 2,
                                 ((size_t)1 << 20) + 8 };
    for (size_t i = 0; i < sizeof bad_align / sizeof bad_align[0]; i++) {
        void *sentinel = &failures;
        void *p = sentinel;
        int ret = f_posix_memalign(&p, bad_align[i], 64);
        CHECK(ret == EINVAL, "posix_memalign(align %zu) returned %d, want EINVAL (%d)",
              bad_align[i], ret, EINVAL);
        CHECK(p == sentinel, "posix_memalign(align %zu) failed but changed *memptr",
              bad_align[i]);
        if (ret == 0 && p != sentinel)
            f_free(p);
    }
    void *sentinel = &failures;
    void *p = sentinel;
    int ret = f_posix_memalign(&p, 64, SIZE_MAX - 1000);
    CHECK(ret == ENOMEM, "posix_memalign(64, SIZE_MAX-1000) returned %d, want ENOMEM", ret);
    CHECK(p == sentinel, "posix_memalign failing with ENOMEM changed *memptr");
    if (ret == 0 && p != sentinel)
        f_free(p);
    p = NULL;
    ret = f_posix_memalign(&p, 256, 0);
    CHECK(ret == 0, "posix_memalign(256, 0) returned %d (glibc succeeds)", ret);
    if (ret == 0) {
        CHECK(aligned(p, 256), "posix_memalign(256, 0) = %p not aligned", p);
        f_free(p);
    }
    errno = 0;
    p = f_aligned_alloc(4096, SIZE_MAX - 10000);
    CHECK(p == NULL, "aligned_alloc(4096, SIZE_MAX-10000) succeeded");
    if (!p)
        CHECK(errno == ENOMEM, "aligned_alloc(4096, huge): errno %d, want ENOMEM", errno);

    section = "valloc/pvalloc";
    const size_t vs[] = { 1, 100, 4095, 4096, 4097, 10000, 1 << 20, (1 << 20) + 1 };
    for (size_t i = 0; i < sizeof vs / sizeof vs[0]; i++) {
        size_t n = vs[i];
        void *v = f_valloc(n);
        CHECK(v, "valloc(%zu) returned NULL", n);
        if (v) {
            CHECK(aligned(v, page_size), "valloc(%zu) = %p not page-aligned", n, v);
            CHECK(f_usable(v) >= n, "valloc(%zu): usable %zu", n, f_usable(v));
            fill(v, n, n);
            CHECK(verify(v, n, n) == n, "valloc(%zu): contents not kept", n);
        }
        void *pv = f_pvalloc(n);
        CHECK(pv, "pvalloc(%zu) returned NULL", n);
        if (pv) {
            size_t want = (n + page_size - 1) / page_size * page_size;
            CHECK(aligned(pv, page_size), "pvalloc(%zu) = %p not page-aligned", n, pv);
            CHECK(f_usable(pv) >= want, "pvalloc(%zu): usable %zu, want >= %zu (rounded "
                  "up to a page)", n, f_usable(pv), want);
            if (f_usable(pv) >= want) {
                fill(pv, want, n + 1);
                CHECK(verify(pv, want, n + 1) == want, "pvalloc(%zu): rounded-up size not "
                      "writable", n);
            }
        }
        if (v && pv)
            CHECK(verify(v, n, n) == n, "valloc(%zu) block changed by pvalloc block", n);
        f_free(v);
        f_free(pv);
    }
    errno = 0;
    p = f_pvalloc(SIZE_MAX - 10);
    CHECK(p == NULL, "pvalloc(SIZE_MAX-10) succeeded");
    if (!p)
        CHECK(errno == ENOMEM, "pvalloc(SIZE_MAX-10): errno %d, want ENOMEM", errno);
}

/* xorshift64*: deterministic sizes and choices. */
static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t random_size(void)
{
    uint64_t r = rnd() % 1000;
    if (r < 800)
        return (size_t)(rnd() % 256);
    if (r < 960)
        return 256 + (size_t)(rnd() % 8000);
    if (r < 999)
        return 8192 + (size_t)(rnd() % 60000);
    return 65536 + (size_t)(rnd() % (2u << 20));
}

static void test_many_live(void)
{
    section = "many live objects";
    enum { N = 100000 };
    unsigned char **blk = calloc(N, sizeof *blk);
    size_t *sz = calloc(N, sizeof *sz);
    uint64_t *sd = calloc(N, sizeof *sd);
    if (!blk || !sz || !sd) {
        failf("cannot allocate the bookkeeping arrays");
        return;
    }
    uint64_t seq = 1;
    for (int i = 0; i < N; i++) {
        sz[i] = random_size();
        sd[i] = seq++;
        blk[i] = f_malloc(sz[i]);
        if (!blk[i]) {
            failf("malloc(%zu) returned NULL with %d blocks live", sz[i], i);
            continue;
        }
        CHECK(aligned(blk[i], 16), "malloc(%zu) = %p not 16-byte aligned", sz[i], blk[i]);
        fill(blk[i], sz[i], sd[i]);
    }
    for (int round = 0; round < 4; round++) {
        /* Free a random share, replace some, then verify everything live. */
        for (int i = 0; i < N; i++) {
            if (rnd() % 3)
                continue;
            if (blk[i]) {
                size_t bad = verify(blk[i], sz[i], sd[i]);
                CHECK(bad == sz[i], "block %d (size %zu): byte %zu corrupted before free",
                      i, sz[i], bad);
            }
            f_free(blk[i]);
            blk[i] = NULL;
            if (rnd() % 2) {
                sz[i] = random_size();
                sd[i] = seq++;
                blk[i] = f_malloc(sz[i]);
                if (!blk[i]) {
                    failf("malloc(%zu) returned NULL in round %d", sz[i], round);
                    continue;
                }
                CHECK(aligned(blk[i], 16), "malloc(%zu) = %p not 16-byte aligned", sz[i],
                      blk[i]);
                fill(blk[i], sz[i], sd[i]);
            }
        }
        for (int i = 0; i < N; i++)
            if (blk[i]) {
                size_t bad = verify(blk[i], sz[i], sd[i]);
                CHECK(bad == sz[i], "round %d: block %d (size %zu) byte %zu corrupted", round,
                      i, sz[i], bad);
            }
    }
    for (int i = 0; i < N; i++)
        f_free(blk[i]);
    free(blk);
    free(sz);
    free(sd);
}

int main(void)
{
    setvbuf(stderr, NULL, _IONBF, 0);
    page_size = (size_t)sysconf(_SC_PAGESIZE);

    test_zero_and_huge();
    test_small_sizes();
    test_power_sizes();
    test_calloc();
    test_realloc();
    test_aligned();
    test_many_live();

    if (failures) {
        printf("api: %lu failure(s)\n", failures);
        return 1;
    }
    printf("api: ok\n");
    return 0;
}
