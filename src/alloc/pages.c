#include "alloc/pages.h"

#include <errno.h>

#include "alloc/meta.h"
#include "util/clock.h"
#include "util/msg.h"

lock_t page_lock = LOCK_INIT;
_Atomic(uintptr_t *) *pagemap;

/* Free runs are binned by length: one bin per length up to 32 pages, then
 * four bins per doubling. A bin past the one a request maps to holds only
 * runs long enough, so a search scans at most one bin. */
#define EXACT_BINS 32
#define NBINS 192

static struct run *bins[NBINS];
static uint64_t bin_mask[NBINS / 64];
static struct meta_pool run_pool = META_POOL(struct run);
static uint64_t in_use, peak;
/* Pages of binned free runs that may hold stale data (and, in file
 * chunks, disk blocks). Kept below a limit by purging. */
static size_t dirty_pages;

static unsigned bin_of(size_t n)
{
    if (n <= EXACT_BINS)
        return (unsigned)n - 1;
    unsigned b = 63 - (unsigned)__builtin_clzl(n);
    return EXACT_BINS + (b - 5) * 4 + (unsigned)((n >> (b - 2)) & 3);
}

static void set_raw_entry(uintptr_t page, uintptr_t e)
{
    uintptr_t off = page - arena.base;
    uintptr_t *table = atomic_load_explicit(&pagemap[off >> CHUNK_SHIFT], memory_order_relaxed);
    __atomic_store_n(&table[(off >> PAGE_SHIFT) & (PAGES_PER_CHUNK - 1)], e, __ATOMIC_RELAXED);
}

static void set_entry(uintptr_t page, struct run *r)
{
    set_raw_entry(page, (uintptr_t)r);
}

static uintptr_t run_last(const struct run *r) { return r->start + ((r->npages - 1) << PAGE_SHIFT); }
static uintptr_t run_end(const struct run *r) { return r->start + (r->npages << PAGE_SHIFT); }

static void set_bounds(struct run *r)
{
    set_entry(r->start, r);
    set_entry(run_last(r), r);
}

static void bin_insert(struct run *r)
{
    unsigned b = bin_of(r->npages);
    r->kind = RUN_FREE;
    r->bin = (uint8_t)b;
    r->prev = NULL;
    r->next = bins[b];
    if (r->next)
        r->next->prev = r;
    bins[b] = r;
    bin_mask[b / 64] |= UINT64_C(1) << (b % 64);
    dirty_pages += r->dirty;
    set_bounds(r);
}

static void bin_remove(struct run *r)
{
    unsigned b = r->bin;
    if (r->prev)
        r->prev->next = r->next;
    else
        bins[b] = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (!bins[b])
        bin_mask[b / 64] &= ~(UINT64_C(1) << (b % 64));
    dirty_pages -= r->dirty;
}

static struct run *bin_take(size_t n)
{
    unsigned b = bin_of(n);
    for (struct run *r = bins[b]; r; r = r->next) {
        if (r->npages >= n) {
            bin_remove(r);
            return r;
        }
    }
    for (unsigned w = (b + 1) / 64; w < NBINS / 64; w++) {
        uint64_t m = bin_mask[w];
        if (w == (b + 1) / 64)
            m &= ~UINT64_C(0) << ((b + 1) % 64);
        if (m) {
            struct run *r = bins[w * 64 + (unsigned)__builtin_ctzl(m)];
            bin_remove(r);
            return r;
        }
    }
    return NULL;
}

static int ensure_tables(uintptr_t start, uintptr_t end)
{
    for (size_t c = (start - arena.base) >> CHUNK_SHIFT; c <= (end - 1 - arena.base) >> CHUNK_SHIFT; c++) {
        if (atomic_load_explicit(&pagemap[c], memory_order_relaxed))
            continue;
        uintptr_t *t = meta_alloc(PAGES_PER_CHUNK * sizeof *t);
        if (!t)
            return -1;
        atomic_store_explicit(&pagemap[c], t, memory_order_release);
    }
    return 0;
}

/* A free run of at least n pages made by extending the heap's top. If the
 * run just below the top is free it is extended instead, so that a heap
 * growing in steps stays in one piece. */
static struct run *grow(size_t n)
{
    struct run *last = arena.top > arena.base ? pagemap_get(arena.top - PAGE_SIZE) : NULL;
    if (last && last->kind != RUN_FREE)
        last = NULL;
    size_t need = last ? n - last->npages : n;
    uintptr_t old_top = arena.top;
    if (need > (arena.end - arena.top) >> PAGE_SHIFT)
        goto nomem;
    if (ensure_tables(old_top, old_top + (need << PAGE_SHIFT)) != 0 || !arena_grow(need << PAGE_SHIFT))
        goto nomem;
    if (last) {
        bin_remove(last);
        if (last->npages > 1)
            set_entry(run_last(last), NULL);
        last->npages += need;
        return last;
    }
    struct run *r = pool_get(&run_pool);
    if (!r)
        goto nomem;   /* the pages stay below top, unused; rare enough */
    r->start = old_top;
    r->npages = need;
    r->zeroed = 1;
    return r;
nomem:
    errno = ENOMEM;
    return NULL;
}

/* How many of a split-off part's pages count as dirty: we do not know
 * which pages are, so the part takes its share. */
static size_t share_dirty(struct run *r, size_t part)
{
    size_t d = (size_t)((unsigned __int128)r->dirty * part / r->npages);
    r->dirty -= d;
    return d;
}

/* Splits the first n pages off r; the rest becomes a free run in a bin. */
static int split_tail(struct run *r, size_t n)
{
    if (r->npages == n)
        return 0;
    struct run *t = pool_get(&run_pool);
    if (!t)
        return -1;
    t->start = r->start + (n << PAGE_SHIFT);
    t->npages = r->npages - n;
    t->zeroed = r->zeroed;
    t->decommitted = r->decommitted;
    t->dirty = share_dirty(r, t->npages);
    r->npages = n;
    bin_insert(t);
    return 0;
}

static void account(int64_t pages)
{
    in_use += (uint64_t)(pages * (int64_t)PAGE_SIZE);
    if (in_use > peak)
        peak = in_use;
}

struct run *pages_alloc(size_t npages, size_t align_pages, struct slab *slab, bool *zeroed)
{
    size_t want = npages + align_pages - 1;
    if (want < npages || want > arena.nchunks * PAGES_PER_CHUNK) {
        errno = ENOMEM;
        return NULL;
    }
    lock_acquire(&page_lock);
    arena_maybe_thaw();
    struct run *r = bin_take(want);
    if (!r)
        r = grow(want);
    if (!r) {
        lock_release(&page_lock);
        return NULL;
    }
    size_t mask = (align_pages << PAGE_SHIFT) - 1;
    size_t head = ((r->start + mask) & ~mask) - r->start;
    if (head) {
        /* Give the unaligned head back as a free run of its own. */
        struct run *h = pool_get(&run_pool);
        if (!h) {
            bin_insert(r);
            lock_release(&page_lock);
            errno = ENOMEM;
            return NULL;
        }
        *h = *r;
        h->npages = head >> PAGE_SHIFT;
        h->dirty = share_dirty(r, h->npages);
        r->start += head;
        r->npages -= h->npages;
        bin_insert(h);
    }
    if (split_tail(r, npages) != 0) {
        bin_insert(r);
        lock_release(&page_lock);
        errno = ENOMEM;
        return NULL;
    }
    r->kind = slab ? RUN_SLAB : RUN_LARGE;
    r->slab = slab;
    if (slab) {
        slab->run = r;   /* before the entries, which lead to it */
        for (uintptr_t p = r->start; p < run_end(r); p += PAGE_SIZE)
            set_raw_entry(p, (uintptr_t)slab | PAGEMAP_SLAB);
    } else
        set_bounds(r);
    *zeroed = r->zeroed;
    r->zeroed = 0;   /* from now on the owner may write to it */
    r->dirty = 0;
    bool commit = r->decommitted;
    r->decommitted = 0;
    account((int64_t)npages);
    lock_release(&page_lock);

    if (commit && arena_commit(r->start, npages << PAGE_SHIFT) != 0) {
        r->decommitted = 1;
        pages_free(r);
        errno = ENOMEM;
        return NULL;
    }
    return r;
}

/* Joins free run hi, which starts where lo ends, onto lo and recycles
 * hi's record. The two boundary pages become interior. */
static void join(struct run *lo, struct run *hi)
{
    set_entry(run_last(lo), NULL);
    set_entry(hi->start, NULL);
    lo->npages += hi->npages;
    lo->dirty += hi->dirty;
    if (hi->dirtied_ms > lo->dirtied_ms)
        lo->dirtied_ms = hi->dirtied_ms;
    lo->decommitted |= hi->decommitted;
    lo->zeroed &= hi->zeroed;
    pool_put(&run_pool, hi);
}

/* Puts a free run in a bin, merging it with free neighbours first (a run
 * being purged is not RUN_FREE, so nobody merges into it). Under page_lock. */
static void insert_coalesced(struct run *r)
{
    r->kind = RUN_FREE;
    struct run *left = r->start > arena.base ? pagemap_get(r->start - PAGE_SIZE) : NULL;
    if (left && left->kind == RUN_FREE) {
        bin_remove(left);
        join(left, r);
        r = left;
    }
    struct run *right = run_end(r) < arena.top ? pagemap_get(run_end(r)) : NULL;
    if (right && right->kind == RUN_FREE) {
        bin_remove(right);
        join(r, right);
    }
    bin_insert(r);
}

/* A large or slab run comes back; dirty says how many of its pages may
 * hold data. Under page_lock. */
static void free_locked(struct run *r, size_t dirty)
{
    account(-(int64_t)r->npages);
    if (r->kind == RUN_SLAB)
        for (uintptr_t p = r->start; p < run_end(r); p += PAGE_SIZE)
            set_entry(p, NULL);
    r->slab = NULL;
    r->dirty = dirty;
    if (dirty)
        r->dirtied_ms = coarse_ms();
    insert_coalesced(r);
}

/* Gives a run's pages back (punched out of their file, dropped from RAM)
 * and remembers it; a system call, so on a run out of every bin and
 * outside the lock. Its caller counts it clean. */
static void give_back(struct run *r)
{
    r->zeroed = arena_decommit(r->start, r->npages << PAGE_SHIFT);
    r->decommitted = 1;
}

/* The soft limit on dirty free pages: a sixteenth of the live heap, at
 * least PURGE_FLOOR. Purging goes down to half of it, so that a heap
 * that shrinks and grows again does not purge on every free. */
static size_t purge_limit(void)
{
    size_t live = (size_t)(in_use >> PAGE_SHIFT) / 16, floor = PURGE_FLOOR >> PAGE_SHIFT;
    return live > floor ? live : floor;
}

/* The binned free run with the most dirty pages among the long ones
 * dirtied before `before` (ms). */
static struct run *dirtiest(uint64_t before)
{
    struct run *best = NULL;
    for (int b = NBINS - 1; b >= (int)bin_of(PURGE_MIN_RUN >> PAGE_SHIFT); b--)
        for (struct run *r = bins[b]; r; r = r->next)
            if (r->dirty >= PURGE_MIN_RUN >> PAGE_SHIFT && r->dirtied_ms <= before &&
                (!best || r->dirty > best->dirty))
                best = r;
    return best;
}

/* Gives dirty free pages back (punched out of files, dropped from RAM),
 * largest runs first, outside the lock. */
static void purge_excess(void)
{
    static uint64_t quiet_until;   /* no eligible run was found before this */
    size_t dirty = __atomic_load_n(&dirty_pages, __ATOMIC_RELAXED), limit = purge_limit();
    size_t young = PURGE_YOUNG >> PAGE_SHIFT;
    if (dirty <= limit || (dirty <= limit + young && coarse_ms() < quiet_until))
        return;
    lock_acquire(&page_lock);
    while (dirty_pages > purge_limit() / 2) {
        uint64_t now = coarse_ms();
        bool hard = dirty_pages > purge_limit() + young;
        struct run *r = dirtiest(hard ? UINT64_MAX : now - PURGE_AGE_MS);
        if (!r) {
            quiet_until = now + PURGE_AGE_MS / 4;
            break;
        }
        bin_remove(r);
        r->kind = RUN_PURGING;
        lock_release(&page_lock);
        give_back(r);
        lock_acquire(&page_lock);
        r->dirty = 0;
        insert_coalesced(r);
    }
    lock_release(&page_lock);
}

void pages_free(struct run *r)
{
    size_t dirty = r->npages;
    if (r->kind == RUN_SLAB && run_end(r) <= arena.ram_end &&
        __atomic_load_n(&peak, __ATOMIC_RELAXED) < SMALL_HEAP) {
        give_back(r);
        dirty = 0;
    }
    lock_acquire(&page_lock);
    free_locked(r, dirty);
    lock_release(&page_lock);
    purge_excess();
}

/* Dirty pages of a freed block: big ones are punched out (outside the
 * lock: it is a system call) so that disk use follows the live heap. */
static void release_large(struct run *r)
{
    size_t dirty = r->npages;
    size_t min = arena_disk_tight(r->start) ? PUNCH_MIN_TIGHT : PUNCH_MIN;
    if ((r->npages << PAGE_SHIFT) >= min) {
        give_back(r);
        dirty = 0;
    } else {
        r->zeroed = 0;
    }
    lock_acquire(&page_lock);
    free_locked(r, dirty);
    lock_release(&page_lock);
    purge_excess();
}

_Noreturn void pages_bad_pointer(const char *op, void *p)
{
    /* Find the run around p: walk back to the nearest page-map entry. */
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)(PAGE_SIZE - 1);
    struct run *r = NULL;
    for (size_t n = 0; a >= arena.base && n < ((size_t)1 << 24); a -= PAGE_SIZE, n++)
        if ((r = pagemap_get(a)) != NULL)
            break;
    bool in_free = r && (uintptr_t)p < run_end(r) && r->kind != RUN_LARGE && r->kind != RUN_SLAB;
    if (in_free)
        msg_fatal_ptr(op[0] == 'f' ? "double free of" : "realloc of freed memory at", p);
    msg_fatal_ptr(op[0] == 'f' ? "free of a pointer malloc never returned:"
                               : "realloc of a pointer malloc never returned:", p);
}

void large_free(void *p, struct run *r)
{
    lock_acquire(&page_lock);
    if (r->kind != RUN_LARGE || r->start != (uintptr_t)p) {
        bool dbl = r->start == (uintptr_t)p && (r->kind == RUN_FREE || r->kind == RUN_FREEING);
        lock_release(&page_lock);
        msg_fatal_ptr(dbl ? "double free of" : "free of a pointer malloc never returned:", p);
    }
    r->kind = RUN_FREEING;
    lock_release(&page_lock);
    release_large(r);
}

bool large_resize(struct run *r, size_t npages)
{
    lock_acquire(&page_lock);
    if (npages < r->npages) {
        struct run *t = pool_get(&run_pool);
        if (!t) {
            lock_release(&page_lock);
            return false;
        }
        t->start = r->start + (npages << PAGE_SHIFT);
        t->npages = r->npages - npages;
        t->kind = RUN_FREEING;
        if (r->npages > 1)
            set_entry(run_last(r), NULL);
        r->npages = npages;
        set_bounds(r);
        set_bounds(t);
        lock_release(&page_lock);
        release_large(t);
        return true;
    }
    size_t extra = npages - r->npages;
    uintptr_t end = run_end(r);
    struct run *right = end < arena.top ? pagemap_get(end) : NULL;
    bool ok = false;
    if (right && right->kind == RUN_FREE && right->npages >= extra) {
        bin_remove(right);
        if (split_tail(right, extra) == 0 &&
            (!right->decommitted || arena_commit(right->start, extra << PAGE_SHIFT) == 0)) {
            set_entry(right->start, NULL);
            set_entry(run_last(right), NULL);
            pool_put(&run_pool, right);
            ok = true;
        } else {
            bin_insert(right);
        }
    } else if (end == arena.top) {
        ok = ensure_tables(end, end + (extra << PAGE_SHIFT)) == 0 &&
             extra <= (arena.end - end) >> PAGE_SHIFT && arena_grow(extra << PAGE_SHIFT);
    }
    if (ok) {
        if (r->npages > 1)
            set_entry(run_last(r), NULL);
        r->npages = npages;
        set_bounds(r);
        account((int64_t)extra);
    }
    lock_release(&page_lock);
    return ok;
}

int pages_init(void)
{
    pagemap = meta_alloc(arena.nchunks * sizeof *pagemap);
    return pagemap ? 0 : -1;
}

uint64_t pages_in_use(void) { return in_use; }
uint64_t pages_peak(void) { return peak; }

void pages_fork(enum fork_phase phase)
{
    if (phase == FORK_PREPARE) {
        lock_fork(&page_lock, phase);
        lock_fork(&run_pool.lock, phase);
        return;
    }
    lock_fork(&run_pool.lock, phase);
    lock_fork(&page_lock, phase);
}
