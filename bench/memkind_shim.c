/* memkind_shim: the seed's design as one would build it today, for
 * comparison only: a proven allocator (the jemalloc inside memkind) carving
 * up one file-backed heap (memkind's PMEM kind: a temporary file in a
 * directory, mapped MAP_SHARED). Preload it:
 *
 *   LD_PRELOAD=build/bench/libmemkind_shim.so MEMKIND_SHIM_DIR=/var/tmp prog
 *
 *   MEMKIND_SHIM_DIR   directory for the file (default $TMPDIR, else /var/tmp)
 *   MEMKIND_SHIM_SIZE  size limit in MiB (default 0: memkind's "no limit",
 *                      only the file system's capacity)
 *
 * Bootstrap: the libraries memkind depends on (libnuma, hwloc, ...) call
 * malloc from their constructors, before memkind itself is initialised, and
 * memkind may call malloc while it creates the kind. Until our constructor
 * has created the kind, and on any thread that is inside kind creation,
 * allocations are carved from a static buffer. Those blocks are never
 * freed (they are few and small); realloc moves them into the kind. */
#define _GNU_SOURCE
#include <errno.h>
#include <memkind.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

static memkind_t kind;
static atomic_int state;             /* 0 not yet, 1 creating, 2 ready, 3 failed */
static __thread int in_create __attribute__((tls_model("initial-exec")));

/* The bootstrap heap: a bump allocator over a static buffer. Each block is
 * preceded by a 16-byte header holding its size. */
#define BOOT_SIZE (8u << 20)
static _Alignas(64) unsigned char boot[BOOT_SIZE];
static atomic_size_t boot_used;

static int is_boot(const void *p)
{
    return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + BOOT_SIZE;
}

static void say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void *boot_alloc(size_t size, size_t align)
{
    if (align < 16) align = 16;
    if (size > BOOT_SIZE) return NULL;
    uintptr_t base = (uintptr_t)boot;
    size_t old = atomic_load(&boot_used), start, end;
    do {                             /* align the address, not the offset */
        start = (size_t)(((base + old + 16 + align - 1) & ~(uintptr_t)(align - 1)) - base);
        end = start + size;
        if (end > BOOT_SIZE) return NULL;
    } while (!atomic_compare_exchange_weak(&boot_used, &old, end));
    memcpy(boot + start - 16, &size, sizeof size);
    return boot + start;             /* static storage: already zero */
}

static size_t boot_size(const void *p)
{
    size_t s;
    memcpy(&s, (const unsigned char *)p - 16, sizeof s);
    return s;
}

static unsigned long env_ulong(const char *name)
{
    const char *s = getenv(name);
    unsigned long v = 0;
    if (!s) return 0;
    for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (unsigned long)(*s - '0');
    return v;
}

/* memkind's library destructor finalizes every PMEM kind: it destroys the
 * arena and unmaps the heap. But the heap is the whole process's malloc
 * here, and the dynamic linker's exit code (_dl_fini) and later destructors
 * still use blocks in it (link maps of dlopen'ed objects, for one): the
 * process would crash on its way out. The kernel frees everything at exit
 * anyway, so the PMEM destroy hook in memkind's (exported, writable) ops
 * table is replaced by one that refuses: memkind_finalize() then stops
 * without touching the kind. We never call memkind_destroy_kind(). */
extern struct memkind_ops MEMKIND_PMEM_OPS;
extern int memkind_pmem_destroy(memkind_t kind);

static int keep_kind(memkind_t k)
{
    (void)k;
    return MEMKIND_ERROR_OPERATION_FAILED;
}

static void keep_heap_at_exit(void)
{
    void **slot = (void **)&MEMKIND_PMEM_OPS;
    void *hook = (void *)memkind_pmem_destroy;
    int found = 0;
    for (int i = 0; i < 24; i++)      /* sizeof(struct memkind_ops) in 1.14: 24 pointers */
        if (slot[i] == hook) { slot[i] = (void *)keep_kind; found++; }
    if (!found) say("memkind_shim: warning: PMEM destroy hook not found; exit may crash\n");
}

static void create_kind(void)
{
    int expect = 0;
    if (!atomic_compare_exchange_strong(&state, &expect, 1)) {
        while (atomic_load(&state) == 1 && !in_create)
            ;                          /* another thread is creating it */
        return;
    }
    in_create = 1;
    const char *dir = getenv("MEMKIND_SHIM_DIR");
    if (!dir || !*dir) dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/var/tmp";
    size_t max = (size_t)env_ulong("MEMKIND_SHIM_SIZE") << 20;
    if (max && max < MEMKIND_PMEM_MIN_SIZE) max = MEMKIND_PMEM_MIN_SIZE;
    memkind_t k;
    int err = memkind_create_pmem(dir, max, &k);
    in_create = 0;
    if (err) {
        char msg[256];
        memkind_error_message(err, msg, sizeof msg);
        say("memkind_shim: memkind_create_pmem failed: ");
        say(msg);
        say("\n");
        atomic_store(&state, 3);
        _exit(127);
    }
    keep_heap_at_exit();
    kind = k;
    atomic_store(&state, 2);
}

__attribute__((constructor)) static void shim_init(void)
{
    create_kind();
}

/* Nonzero when calls must go to the bootstrap heap. */
static inline int booting(void)
{
    return atomic_load_explicit(&state, memory_order_acquire) != 2 || in_create;
}

/* Bootstrap allocation; if the buffer runs out before our constructor,
 * create the kind early (memkind initialises itself lazily). */
static void *early_alloc(size_t size, size_t align)
{
    void *p = boot_alloc(size, align);
    if (p || in_create) {
        if (!p) { say("memkind_shim: bootstrap buffer exhausted\n"); errno = ENOMEM; }
        return p;
    }
    create_kind();
    if (atomic_load(&state) != 2) { errno = ENOMEM; return NULL; }
    if (memkind_posix_memalign(kind, &p, align < 16 ? 16 : align, size ? size : 1)) {
        errno = ENOMEM;
        return NULL;
    }
    return p;
}

EXPORT void *malloc(size_t size)
{
    if (booting()) return early_alloc(size, 16);
    void *p = memkind_malloc(kind, size ? size : 1);
    if (!p) errno = ENOMEM;
    return p;
}

EXPORT void free(void *p)
{
    if (!p || is_boot(p)) return;
    memkind_free(kind, p);
}

EXPORT void *calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    if (booting()) {
        void *p = early_alloc(total, 16);
        if (p && !is_boot(p)) memset(p, 0, total);     /* static storage is zero already */
        return p;
    }
    void *p = memkind_calloc(kind, 1, total ? total : 1);
    if (!p) errno = ENOMEM;
    return p;
}

EXPORT void *realloc(void *p, size_t size)
{
    if (!p) return malloc(size);
    if (is_boot(p) || booting()) {
        if (size == 0 && !is_boot(p)) { free(p); return NULL; }
        void *q = malloc(size ? size : 1);
        if (!q) return NULL;
        size_t old = is_boot(p) ? boot_size(p) : memkind_malloc_usable_size(kind, p);
        memcpy(q, p, old < size ? old : size);
        if (!is_boot(p)) free(p);
        return q;
    }
    if (size == 0) { memkind_free(kind, p); return NULL; }
    void *q = memkind_realloc(kind, p, size);
    if (!q) errno = ENOMEM;
    return q;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) { errno = ENOMEM; return NULL; }
    return realloc(p, total);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
    if (align < sizeof(void *) || (align & (align - 1))) return EINVAL;
    if (booting()) {
        void *p = early_alloc(size, align);
        if (!p) return ENOMEM;
        *out = p;
        return 0;
    }
    return memkind_posix_memalign(kind, out, align, size ? size : 1);
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
    void *p;
    if (align < sizeof(void *)) align = sizeof(void *);
    int err = posix_memalign(&p, align, size);
    if (err) { errno = err; return NULL; }
    return p;
}

EXPORT void *memalign(size_t align, size_t size)
{
    return aligned_alloc(align, size);
}

EXPORT void *valloc(size_t size)
{
    return aligned_alloc((size_t)sysconf(_SC_PAGESIZE), size);
}

EXPORT void *pvalloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return aligned_alloc(page, (size + page - 1) & ~(page - 1));
}

EXPORT size_t malloc_usable_size(void *p)
{
    if (!p) return 0;
    if (is_boot(p)) return boot_size(p);
    return memkind_malloc_usable_size(kind, p);
}
