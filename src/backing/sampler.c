/* FSMEM_PAGING=auto: 2 MiB reads for passes, 4 KiB reads for scattered
 * access, chosen from what the program does.
 *
 * A fault on a file page reads either the aligned 2 MiB around it or the
 * page alone (paging.c). Passes want the first: 4 KiB reads run at a few
 * per cent of the disk's speed. Scattered touches want the second: a
 * 2 MiB read costs about 25 single-page reads, for one page used. What
 * tells them apart is how much of a block the program uses once it is
 * back in memory, and a 2 MiB folio mapped whole (one PMD) hides that:
 * every page looks present.
 *
 * So a few blocks are sampled: every stride-th 2 MiB block of the file
 * heap has its last page split into a mapping of its own (marked
 * MADV_DONTDUMP, which changes nothing else). The kernel maps a 2 MiB
 * folio whole only where one mapping covers all of it, so a sampled
 * block's pages are mapped one by one as the program touches them, while
 * it still reads 2 MiB at a fault like every other block. Every TICK_MS,
 * if the process took major faults since the last tick, the thread
 * counts the mapped pages of each sampled block in /proc/self/pagemap. A
 * block that went from none to some has come back from disk. It is
 * judged on the most pages it had mapped while it stayed: swept as soon
 * as DENSE_PAGES or more of its 512 are, scattered when it has gone
 * again with fewer (a random read maps 16: the fault-around). Judged a
 * tick after its return instead, a block that a program fills a little
 * at a time passed for scattered: PhyML switched to 4 KiB reads at
 * start-up for 13-16 s and took twice its major faults. Under 4 KiB
 * reads a block that is cached whole is not judged: it is a 2 MiB folio
 * that outlived the switch, which maps 16 pages a touch, so random
 * touches would pass for a sweep.
 *
 * Samples are not free. Mapped page by page, a sampled block takes a
 * write fault per page after every writeback where a block mapped whole
 * takes one, and RAxML, which rewrites its likelihood vectors as it
 * goes, ran 21% slower with one block in 16 sampled for good. So the
 * samples exist only while the program's faults look scattered
 * (update_gate): every GATE_STEP_MS the last GATE_STEPS steps (a second)
 * are judged, and they look scattered with under GATE_US of the
 * program's user time per 2 MiB read from disk. A pass works on the
 * 2 MiB each read brings (access's write pass, one word a 64-byte line:
 * 28-150 us; RAxML and PhyML far more); a random touch does next to
 * nothing before the next fault (0-11 us, whatever Linux's sampled split
 * of CPU time between user and system says). Filling fresh memory works
 * as little, but its faults land on holes of the file and read nothing,
 * which getrusage's blocks read tell apart: sampled while it filled,
 * access went on taking 15-25 times the minor faults of 2 MiB reads in
 * the passes after its fill, with the samples long gone. (A kernel
 * built without per-task I/O accounting reports no blocks read: there
 * the samples never come in, and auto reads 2 MiB throughout.) The
 * thread's own user time (reading the samples) is left out. Each thread
 * of the program is judged on its own figures too (some_task_scattered):
 * a thread touching at random beside threads that compute would
 * otherwise be hidden by their user time (1.1-1.2 ms a touch instead of
 * 0.16-0.21, measured with one and two busy threads). A window
 * that does not look scattered lets the samples go; under 4 KiB reads
 * they stay, since the verdicts that switch back come from them. A
 * program that turns to scattered touches so pays 2 MiB reads for a
 * second or so more.
 *
 * Under 2 MiB reads, the whole file heap switches to 4 KiB reads on the
 * fault trail's word (trail.c), checked every tick and whenever a
 * followed thread has taken a few more faults: a thread's last
 * TRAIL_RUN major faults in user mode all landed away from one another,
 * little run time between them, most of them reading from disk, spread
 * over more than the page cache holds. The first eight such faults put
 * 4 KiB reads on trial (follow_trail), so that random touches read
 * 2 MiB for some 8 ms, where the gate needs a second of them. Where the
 * kernel refuses perf events the gate's window switches instead; there
 * it also switches a program that read()s its input into the heap (the
 * trail does not see the kernel's faults). A window that looks
 * scattered is rare in passes, and waiting for verdicts as well cost
 * random touches half a second more of 2 MiB reads (sixteen verdicts,
 * each given when its block is evicted). Either way the switch comes
 * until a pass has undone one. A wrong switch costs a pass the tenth of
 * a second or so that watch_sweeps takes to see it. After one,
 * run_needed scattered verdicts in a row are needed too. Programs that
 * sweep arrays also touch blocks sparsely for a while (PhyML: runs of up
 * to 58 scattered blocks among 4,256, of which 43% used fewer than 17
 * pages), so that count starts at RUN_FIRST and every switch that a
 * pass undoes within SHORT_MS doubles it. Under 4 KiB reads, one swept
 * sample, or any file block (watch_sweeps) caught gaining DENSE_PAGES
 * pages between two looks, switches back at once: a pass at 4 KiB a
 * fault is the costly mistake.
 *
 * The price, while sampled: up to MAX_SAMPLES blocks whose pages fault
 * one at a time (one block in 16 in a heap of up to 8 GiB of file pages,
 * fewer beyond; one in eight sampled for good made PhyML 9-13% slower),
 * two kernel mappings each, and a pagemap read of 4 KiB per sampled
 * block per tick (and of WATCH_BLOCKS more under 4 KiB reads). Always,
 * while the process faults: a getrusage a tick and, every GATE_STEP_MS,
 * one more and a stat and an io file per thread (of up to GATE_TASKS
 * threads); per followed thread, a perf event with a two-page ring, a
 * record per major fault, and at a tick that finds records a schedstat
 * and an io file; after QUIET_TICKS without a major fault, a getrusage
 * every QUIET_TICK_MS. A program that gives paging advice of its own
 * (fsmem_advise) is taken at its word: the thread stops switching. */
#include "backing/sampler.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backing/layout.h"
#include "backing/trail.h"
#include "util/clock.h"
#include "util/tasks.h"

#define BLOCK_SHIFT 21
#define BLOCK_PAGES 512
#define MIN_STRIDE_SHIFT 4       /* one block in 16 */
#define MAX_SAMPLES 256
#define TICK_MS 20
#define QUIET_TICKS 50           /* ticks without a major fault before ... */
#define QUIET_TICK_MS 200        /* ... the thread looks this seldom */
#define DENSE_PAGES 128
#define RUN_FIRST 16             /* scattered verdicts in a row, once the gate is not enough */
#define RUN_MOST 1024
#define SHORT_MS 2000            /* 4 KiB reads ended sooner: the switch was a mistake */
#define WATCH_BLOCKS 256         /* blocks read per tick under 4 KiB reads */
#define CLEAN_SPLITS 2           /* ... of which written back and split, at most */
#define UNSEEN UINT16_MAX
#define WHOLE (UINT16_MAX - 1)   /* watched: mapped whole since the switch */
#define CACHED_MISSING_MAX 16    /* pages a block cached nearly whole may lack */
#define GATE_STEP_MS 250         /* how often the gate looks back ... */
#define GATE_STEPS 4             /* ... over a window of this many steps */
#define GATE_READS 32            /* ... holding this many 2 MiB reads */
#define GATE_US 20               /* user time per read below which the samples are split */
#define GATE_TASKS 64            /* threads judged one by one, at most */

/* A program's (or one thread's) counters at one step of the gate. */
struct gate_mark {
    int64_t user_us;
    int64_t read_bytes;     /* read from disk */
};

static void *watch(void *unused);
struct service fsm_sampler = SERVICE_INIT(watch, "fsmem-sampler");

static struct {
    _Atomic unsigned stride_shift;   /* samples: blocks b with b % stride == stride - 1 */
    _Atomic bool marked;             /* the samples are split now (see update_gate) */
    struct gate_mark gate[GATE_STEPS];   /* the process's counters GATE_STEP_MS apart */
    unsigned gate_at, gate_marks;        /* the oldest mark; how many are set */
    uint64_t gate_ms;                    /* when the newest was taken */
    uint64_t cache_room;                 /* arena_cache_room() at that step */
    /* The same per thread, at the same steps, while the process has
     * more than one thread besides this one. */
    int task_tid[GATE_TASKS];            /* tasks_place's table */
    struct {
        unsigned marks;
        struct gate_mark mark[GATE_STEPS];
    } task[GATE_TASKS];
    int pagemap;
    /* The thread's view of the samples, reset when the stride or the
     * first file block changes: pages mapped at the last tick and, for a
     * block that has come back, the most it has had mapped since. */
    unsigned seen_shift;
    uintptr_t seen_first;
    uint16_t last[MAX_SAMPLES * 2];     /* UNSEEN: not read since a reset */
    uint16_t peak[MAX_SAMPLES * 2];     /* most pages mapped since it came back; 0: not back */
    unsigned run;                /* scattered verdicts in a row */
    unsigned run_needed;         /* ... that switch to 4 KiB reads; RUN_FIRST: the gate's word does */
    uint64_t page_by_page_since; /* ms, when 4 KiB reads began */
    bool trying;                 /* 4 KiB reads on trial (follow_trail) */
    /* Under 4 KiB reads, every file block's mapped pages when last read
     * (mmap'd by the thread, one per block of the reservation), and where
     * the next tick's window starts. */
    uint16_t *watched;
    size_t nwatched, watch_at;
    _Atomic uint64_t switches, undone, splits, swept, scattered, trials;
    _Atomic bool ran;
} S = {.stride_shift = MIN_STRIDE_SHIFT, .pagemap = -1, .run_needed = RUN_FIRST,
       .cache_room = UINT64_MAX};

#ifdef FSMEM_SAMPLER_TRACE
#include <stdio.h>
#define TRACE(what, n) fprintf(stderr, "sampler %llu %s %d\n", (unsigned long long)monotonic_ms(), what, (int)(n))
#else
#define TRACE(what, n) ((void)0)
#endif

static uintptr_t block_of(uintptr_t a) { return (a - arena.base) >> BLOCK_SHIFT; }
static uintptr_t block_addr(uintptr_t b) { return arena.base + (b << BLOCK_SHIFT); }

/* Calls madvise(how) on the last page of every sample block of
 * [first, end) (block numbers) under the given stride. */
static void mark_range(uintptr_t first, uintptr_t end, unsigned shift, int how)
{
    uintptr_t stride = (uintptr_t)1 << shift;
    for (uintptr_t b = first | (stride - 1); b < end; b += stride)
        madvise((void *)(block_addr(b + 1) - 4096), 4096, how);
}

void sampler_mark(uintptr_t start, size_t len)
{
    if (A.settings->paging != PAGING_AUTO || A.paging != PAGING_HUGE)
        return;
    bool marked = atomic_load_explicit(&S.marked, memory_order_relaxed);
    uintptr_t first = block_of(arena.ram_end), end = block_of(start + len);
    unsigned shift = atomic_load_explicit(&S.stride_shift, memory_order_relaxed);
    while (((end - first) >> shift) > MAX_SAMPLES) {
        /* Every other sample goes: the survivors are the samples of the
         * doubled stride. */
        if (marked)
            mark_range(first, block_of(start), shift, MADV_DODUMP);
        shift++;
        if (marked)
            mark_range(first, block_of(start), shift, MADV_DONTDUMP);
        atomic_store_explicit(&S.stride_shift, shift, memory_order_relaxed);
    }
    if (marked)
        mark_range(block_of(start), end, shift, MADV_DONTDUMP);
}

void sampler_note_files(void)
{
    service_decide(&fsm_sampler, A.settings->paging == PAGING_AUTO && A.paging == PAGING_HUGE);
}

/* Pages of the block at a that are mapped; -1 if pagemap cannot say. */
static int mapped_pages(uintptr_t a)
{
    uint64_t e[BLOCK_PAGES];
    if (pread(S.pagemap, e, sizeof e, (off_t)((a >> 12) * sizeof e[0])) != (ssize_t)sizeof e)
        return -1;
    int n = 0;
    for (int i = 0; i < BLOCK_PAGES; i++)
        n += (int)(e[i] >> 63);
    return n;
}

/* Whether the block at a is in the page cache but for a few pages:
 * under 4 KiB reads, a 2 MiB folio that outlived the switch, whole or
 * split (the split keeps every page cached on Linux 6.18, and reclaim
 * may take a few), whose cached pages a touch maps 16 at a time however
 * the program touches it. */
static bool cached_nearly_whole(uintptr_t a)
{
    unsigned char v[BLOCK_PAGES];
    if (mincore((void *)a, (size_t)BLOCK_PAGES << 12, v) != 0)
        return false;
    int missing = 0;
    for (int i = 0; i < BLOCK_PAGES; i++)
        if (!(v[i] & 1) && ++missing > CACHED_MISSING_MAX)
            return false;
    return true;
}

/* The first block past the chunks placed in files so far. */
static uintptr_t file_blocks_end(void)
{
    size_t i = chunk_of(arena.ram_end);
    while (i < arena.nchunks && __atomic_load_n(&A.place[i].set, __ATOMIC_ACQUIRE))
        i++;
    return block_of(chunk_addr(i));
}

/* The next tick only takes note of what is mapped: a block mapped then
 * has not necessarily just come back. */
static void forget_samples(void)
{
    for (size_t k = 0; k < MAX_SAMPLES * 2; k++) {
        S.last[k] = UNSEEN;
        S.peak[k] = 0;
    }
    S.run = 0;
}

/* What came back under the old paging is no evidence. */
static void forget_pages(void)
{
    forget_samples();
    for (size_t b = 0; b < S.nwatched; b++)
        S.watched[b] = UNSEEN;
}

/* Ends a trial of 4 KiB reads (follow_trail) without a switch. */
static void call_off(void)
{
    TRACE("trial-off", 0);
    S.trying = false;
    paging_switch(false);
    trail_forget();
}

/* Splits the cache's folios (paging_split) from a CPU the program's
 * threads are not on. The kernel splits a folio with interrupts off on
 * its CPU; on the reference VM, whose disk interrupts one vCPU, the one
 * the program ends up on, the program's 4 KiB reads took 61-65 us from
 * issue to completion at the median while the split ran there, 37-41 us
 * with it moved away (docs/DESIGN.md). */
static void split_aside(void)
{
    struct task_counters tasks[GATE_TASKS];
    int n = tasks_read(tasks, GATE_TASKS);
    cpu_set_t busy, saved;
    CPU_ZERO(&busy);
    for (int i = 0; i < n; i++)
        if (tasks[i].cpu >= 0 && tasks[i].cpu < CPU_SETSIZE)
            CPU_SET(tasks[i].cpu, &busy);
    bool aside = n > 0 && service_step_aside(&busy, &saved);
    paging_split();
    if (aside)
        service_step_back(&saved);
}

/* Switches the paging. True when it switched; a trial of 4 KiB reads
 * becomes a switch, or is called off. */
static bool flip(bool page_by_page)
{
    TRACE(page_by_page ? "to-4k" : "to-2m", S.run_needed);
    if (S.trying && !page_by_page) {
        call_off();
        return true;
    }
    bool settles = S.trying;
    S.trying = false;
    if (!paging_switch(page_by_page) && !settles)
        return false;
    if (page_by_page)
        split_aside();
    atomic_fetch_add_explicit(&S.switches, 1, memory_order_relaxed);
    uint64_t now = monotonic_ms();
    if (page_by_page) {
        S.page_by_page_since = now;
    } else if (now - S.page_by_page_since < SHORT_MS) {
        /* Scattered touches that a pass follows so soon are part of the
         * pass's program: ask for more of them next time. */
        atomic_fetch_add_explicit(&S.undone, 1, memory_order_relaxed);
        if (S.run_needed < RUN_MOST)
            S.run_needed *= 2;
    }
    forget_pages();
    return true;
}

/* A verdict on a sampled block that came back; true when it switched
 * the paging. */
static bool judge(int pages)
{
    bool swept = pages >= DENSE_PAGES;
    TRACE(swept ? "swept" : "scattered", pages);
    atomic_fetch_add_explicit(swept ? &S.swept : &S.scattered, 1, memory_order_relaxed);
    bool page_by_page = atomic_load_explicit(&A.scattered, memory_order_relaxed);
    if (swept) {
        S.run = 0;
        return page_by_page && flip(false);
    }
    return !page_by_page && ++S.run >= S.run_needed && flip(true);
}

/* The samples: every stride-th block of the file heap. True when a
 * verdict switched the paging (which reset what the samples showed). */
static bool scan_samples(void)
{
    unsigned shift = atomic_load_explicit(&S.stride_shift, memory_order_relaxed);
    uintptr_t first = block_of(arena.ram_end), stride = (uintptr_t)1 << shift;
    if (shift != S.seen_shift || first != S.seen_first) {
        S.seen_shift = shift;
        S.seen_first = first;
        forget_samples();
    }
    bool page_by_page = atomic_load_explicit(&A.scattered, memory_order_relaxed);
    uintptr_t end = file_blocks_end();
    size_t k = 0;
    uint64_t since = 0;
    for (uintptr_t b = first | (stride - 1); b < end && k < MAX_SAMPLES * 2; b += stride, k++) {
        service_give_way(&since);
        int n = mapped_pages(block_addr(b));
        if (n < 0)
            return false;
        if (S.last[k] == UNSEEN) {
            /* first look since a reset: when the block came back is unknown */
        } else if (S.peak[k]) {
            /* Back since an earlier tick: judged once it is swept, or
             * when it has gone again, on the most it had mapped. */
            if (n > S.peak[k])
                S.peak[k] = (uint16_t)n;
            if (S.peak[k] >= DENSE_PAGES || n == 0) {
                int most = S.peak[k];
                S.peak[k] = 0;
                if (!(page_by_page && cached_nearly_whole(block_addr(b))) && judge(most))
                    return true;
            }
        } else if (S.last[k] == 0 && n > 0) {
            S.peak[k] = (uint16_t)n;
        }
        S.last[k] = (uint16_t)n;
    }
    return false;
}

/* Under 4 KiB reads every block's pages are mapped one by one, so any
 * block shows a sweep, not only the samples: a window of WATCH_BLOCKS
 * blocks per tick, round the file heap, switches back to 2 MiB reads
 * when one of them gained DENSE_PAGES pages since it was last read. A
 * pass at 4 KiB a fault would otherwise run for as long as it takes to
 * reach a sample. A sweep at 4 KiB a fault takes several ticks and is
 * caught halfway; a block mapped whole is no sweep. At the first look
 * after the switch, that is a 2 MiB folio that outlived it (dirty then,
 * so not split), still mapped by one entry whatever MADV_NOHUGEPAGE
 * says: it is split, as left whole it would be dirtied and written back
 * whole again; found whole at a later look (still dirty, or dirtied
 * again since writeback cleaned it), it is written back by this thread
 * and split at once (paging_clean_split_block), CLEAN_SPLITS a tick at
 * most, since the thread waits for each write. (Later, a block mapped
 * whole is one that 4 KiB faults filled. During a trial every block the
 * passes brought back is mapped whole, and none is split: most trials
 * are called off. A block seen partly mapped, then mapped whole, is not
 * split either: Linux 6.18 maps an unmapped large folio whole at a
 * touch, so that is most likely a dirty folio that reclaim had
 * unmapped, but it looks the same as a block that 4 KiB faults filled.
 * It stays whole, as do the dirty folios of sampled blocks, never
 * mapped whole; taking the first kind as well made no difference
 * measurable, docs/DESIGN.md.) Nor is a block cached whole but
 * mapped in part a sweep, as the samples' verdicts already hold: random
 * touches on a leftover 2 MiB folio, or on the pages a split left in the
 * cache, map 16 pages each, and a handful between two looks add up to a
 * "sweep" that reads nothing. */
static void watch_sweeps(void)
{
    uintptr_t first = block_of(arena.ram_end), end = file_blocks_end();
    if (!S.watched || end <= first)
        return;
    size_t n = (size_t)(end - first);
    if (n > S.nwatched)
        n = S.nwatched;
    uint64_t since = 0;
    unsigned cleaned = 0;
    for (size_t i = 0; i < WATCH_BLOCKS && i < n; i++) {
        service_give_way(&since);
        size_t b = S.watch_at++ % n;
        int pages = mapped_pages(block_addr(first + b));
        if (pages < 0)
            return;
        if (pages == BLOCK_PAGES && !S.trying && (S.watched[b] == UNSEEN || S.watched[b] == WHOLE)) {
            /* Whole again after a split: dirty, or dirtied again since
             * writeback cleaned it. */
            if (S.watched[b] == WHOLE && cleaned < CLEAN_SPLITS) {
                paging_clean_split_block(block_addr(first + b));
                cleaned++;
            } else {
                paging_split_block(block_addr(first + b));
            }
            S.watched[b] = WHOLE;
            continue;
        }
        if (S.watched[b] != UNSEEN && pages >= S.watched[b] + DENSE_PAGES &&
            pages < BLOCK_PAGES && !cached_nearly_whole(block_addr(first + b))) {
            TRACE("watched-sweep", pages - S.watched[b]);
            atomic_fetch_add_explicit(&S.swept, 1, memory_order_relaxed);
            flip(false);
            return;
        }
        S.watched[b] = (uint16_t)pages;
    }
}

/* Splits the samples of the file heap (or joins them again); what they
 * showed before is no evidence after. Under the paging lock, so that a
 * chunk mapped meanwhile (sampler_mark) is marked like the rest. */
static void set_marked(bool marked)
{
    if (atomic_load_explicit(&S.marked, memory_order_relaxed) == marked)
        return;
    TRACE(marked ? "gate-open" : "gate-shut", 0);
    lock_acquire(&A.paging_lock);
    unsigned shift = atomic_load_explicit(&S.stride_shift, memory_order_relaxed);
    mark_range(block_of(arena.ram_end), file_blocks_end(), shift,
               marked ? MADV_DONTDUMP : MADV_DODUMP);
    atomic_store_explicit(&S.marked, marked, memory_order_relaxed);
    lock_release(&A.paging_lock);
    if (marked)
        atomic_fetch_add_explicit(&S.splits, 1, memory_order_relaxed);
    forget_samples();
}

/* 2 MiB reads between two marks. */
static long reads_between(const struct gate_mark *from, const struct gate_mark *to)
{
    return (long)((to->read_bytes - from->read_bytes) >> BLOCK_SHIFT);
}

/* Whether a window looks scattered: at least GATE_READS 2 MiB reads,
 * with under GATE_US of user time each. */
static bool looks_scattered(const struct gate_mark *from, const struct gate_mark *to)
{
    long reads = reads_between(from, to);
    return reads >= GATE_READS && to->user_us - from->user_us < (int64_t)reads * GATE_US;
}

/* Notes every thread's counters at this step (slot S.gate_at) and tells
 * whether one of them has looked scattered over the window. The
 * process's totals miss such a thread when others compute. */
static bool some_task_scattered(const struct task_counters *now, int n)
{
    if (n <= 1) {
        /* One thread: the process's totals are its own. */
        for (int i = 0; i < GATE_TASKS; i++)
            S.task_tid[i] = 0;
        return false;
    }
    int slot[GATE_TASKS];
    unsigned char change[GATE_TASKS];
    tasks_place(now, n, S.task_tid, GATE_TASKS, slot, change);
    bool scattered = false;
    for (int k = 0; k < n; k++) {
        if (slot[k] < 0)
            continue;
        unsigned *count = &S.task[slot[k]].marks;
        if (change[slot[k]] & SLOT_TAKEN)
            *count = 0;
        struct gate_mark mark = {(int64_t)now[k].user_us, (int64_t)now[k].read_bytes};
        struct gate_mark *marks = S.task[slot[k]].mark;
        if (*count == GATE_STEPS && looks_scattered(&marks[S.gate_at], &mark))
            scattered = true;
        marks[S.gate_at] = mark;
        if (*count < GATE_STEPS)
            (*count)++;
    }
    return scattered;
}

static int64_t user_us(const struct rusage *ru)
{
    return (int64_t)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec;
}

/* Under 2 MiB reads, goes by the fault trail's word. A run that looks
 * like random touches so far puts 4 KiB reads on trial: only the hint
 * changes, so that the run's next faults read a page each, at the cost
 * of a few single-page faults to a program whose run turns out to be
 * short. A run of TRAIL_RUN makes the switch; one that ends or stops
 * looking random first calls it off, and so does a sweep seen meanwhile
 * (another thread's pass, while the run's thread has stopped faulting). */
static void follow_trail(void)
{
    if (atomic_load_explicit(&A.scattered, memory_order_relaxed) && !S.trying)
        return;
    enum trail_word word = trail_read(arena.ram_end, arena.end, S.cache_room);
    if (word == TRAIL_RANDOM) {
        TRACE("trail-scattered", S.run_needed);
        set_marked(true);
        if (S.run_needed == RUN_FIRST) {
            flip(true);
            return;
        }
    }
    if (S.trying) {
        if (word != TRAIL_SUSPECT)
            call_off();
    } else if (word == TRAIL_SUSPECT && S.run_needed == RUN_FIRST && paging_switch(true)) {
        TRACE("trial", 0);
        S.trying = true;
        forget_pages();
        atomic_fetch_add_explicit(&S.trials, 1, memory_order_relaxed);
    }
}

/* Splits the samples while the program's faults look scattered, joins
 * them again once they do not, and switches to 4 KiB reads on its own
 * while no switch has been undone (see the top of this file). Every
 * GATE_STEP_MS the window of the last GATE_STEPS steps is judged. */
static void update_gate(const struct rusage *ru)
{
    if (atomic_load_explicit(&A.scattered, memory_order_relaxed) && !S.trying) {
        /* 4 KiB reads: the samples stay, and faults of 4 KiB say nothing */
        trail_pause(true);
        set_marked(true);
        S.gate_marks = 0;
        for (int i = 0; i < GATE_TASKS; i++)
            S.task[i].marks = 0;
        return;
    }
    trail_pause(false);
    follow_trail();
    if (atomic_load_explicit(&A.scattered, memory_order_relaxed))
        return;
    uint64_t ms = monotonic_ms();
    if (S.gate_marks && ms - S.gate_ms < GATE_STEP_MS)
        return;
    /* Both user times are estimates that Linux keeps monotonic; their
     * difference is not, and a window's may come out below zero. */
    struct rusage mine;
    int64_t own = getrusage(RUSAGE_THREAD, &mine) == 0 ? user_us(&mine) : 0;
    struct gate_mark now = {user_us(ru) - own, (int64_t)ru->ru_inblock * 512};
    const struct gate_mark *oldest = &S.gate[S.gate_at];
    long reads = reads_between(oldest, &now);
    struct task_counters tasks[GATE_TASKS];
    int ntasks = tasks_read(tasks, GATE_TASKS);
    S.cache_room = arena_cache_room();
    bool trail = trail_follow(tasks, ntasks);
    bool task_scattered = some_task_scattered(tasks, ntasks);
    if (S.gate_marks == GATE_STEPS && reads >= GATE_READS) {
        bool scattered = looks_scattered(oldest, &now) || task_scattered;
        TRACE("window-us-a-read", (now.user_us - oldest->user_us) / reads);
        set_marked(scattered);
        /* With every thread on the trail, user time only splits the
         * samples: a program reading its input into the heap looks
         * scattered by it, and the trail tells random touches apart
         * at once. */
        if (scattered && S.run_needed == RUN_FIRST && !trail)
            flip(true);
    }
    S.gate[S.gate_at] = now;
    S.gate_ms = ms;
    S.gate_at = (S.gate_at + 1) % GATE_STEPS;
    if (S.gate_marks < GATE_STEPS)
        S.gate_marks++;
}

static void *watch(void *unused)
{
    (void)unused;
    S.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (S.pagemap < 0) {
        service_stop(&fsm_sampler);
        return NULL;
    }
    if (!S.watched) {
        size_t n = (size_t)((arena.end - arena.ram_end) >> BLOCK_SHIFT);
        void *p = mmap(NULL, n * sizeof *S.watched, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            S.watched = p;
            S.nwatched = n;
            for (size_t b = 0; b < n; b++)
                S.watched[b] = UNSEEN;
        }
    }
    atomic_store_explicit(&S.ran, true, memory_order_relaxed);
    long faults = -1;
    unsigned quiet = 0;   /* ticks in a row without a major fault */
    while (!atomic_load_explicit(&A.advised, memory_order_relaxed)) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_majflt != faults) {
            faults = ru.ru_majflt;
            quiet = 0;
            update_gate(&ru);
            bool sampled = atomic_load_explicit(&S.marked, memory_order_relaxed);
            if (!(sampled && scan_samples()) && atomic_load_explicit(&A.scattered, memory_order_relaxed))
                watch_sweeps();
        } else if (quiet < QUIET_TICKS) {
            quiet++;
        }
        /* A program that computes on what it has, or sleeps, should not
         * be woken 50 times a second for nothing. Between ticks, the
         * trail's runs are judged as the faults come. */
        uint64_t due = monotonic_ms() + (quiet < QUIET_TICKS ? TICK_MS : QUIET_TICK_MS);
        for (uint64_t ms = monotonic_ms(); ms < due; ms = monotonic_ms()) {
            if (!trail_wait((long)(due - ms)))
                continue;
            follow_trail();
            if (quiet == QUIET_TICKS)
                break;   /* faulting again */
        }
    }
    trail_stop();
    close(S.pagemap);
    S.pagemap = -1;
    service_stop(&fsm_sampler);
    return NULL;
}

void sampler_fork_child(void)
{
    /* The descriptor reads the parent's page tables. */
    if (S.pagemap >= 0)
        close(S.pagemap);
    S.pagemap = -1;
    trail_stop();
    S.seen_shift = 0;   /* the first tick resets the samples */
    S.gate_marks = 0;   /* the child's counters start from zero */
    for (int i = 0; i < GATE_TASKS; i++)
        S.task_tid[i] = 0;
    service_fork_child(&fsm_sampler);
}

void sampler_usage(struct sampler_usage *u)
{
    u->ran = atomic_load_explicit(&S.ran, memory_order_relaxed);
    u->page_by_page = atomic_load_explicit(&A.scattered, memory_order_relaxed);
    u->switches = atomic_load_explicit(&S.switches, memory_order_relaxed);
    u->undone = atomic_load_explicit(&S.undone, memory_order_relaxed);
    u->splits = atomic_load_explicit(&S.splits, memory_order_relaxed);
    u->swept = atomic_load_explicit(&S.swept, memory_order_relaxed);
    u->scattered = atomic_load_explicit(&S.scattered, memory_order_relaxed);
    u->trials = atomic_load_explicit(&S.trials, memory_order_relaxed);
}
