/* Size classes and page geometry.
 *
 * Small requests (up to SMALL_MAX) are rounded up to one of NCLASSES
 * classes: multiples of 16 up to 128, then four classes per doubling, so
 * internal waste stays under 25% and every class keeps malloc's 16-byte
 * alignment. Larger requests are whole pages. */
#ifndef FSMEM_ALLOC_SIZES_H
#define FSMEM_ALLOC_SIZES_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE ((size_t)1 << PAGE_SHIFT)
#define MIN_ALIGN 16
#define SMALL_MAX ((size_t)32768)
#define NCLASSES 40
/* A slab never holds more objects than its bitmap has bits. */
#define SLAB_MAX_SLOTS 4096
#define SLAB_WORDS (SLAB_MAX_SLOTS / 64)
/* A slab hands out slots it has never used a page at a time, so that
 * the pages a class touches follow what it holds, not its slab length. */
#define SLAB_EXTEND_BYTES PAGE_SIZE

struct class_info {
    uint32_t size;    /* object size in bytes */
    uint32_t pages;   /* pages in one slab of this class */
    uint32_t slots;   /* objects in one slab */
    uint32_t extend;  /* slots a slab hands out at a time (see slab.h) */
    uint64_t recip;   /* ceil(2^40 / size): offset * recip >> 40 == offset / size */
};

extern struct class_info class_table[NCLASSES];
extern const uint8_t class_of_small[(1024 >> 4) + 1];

void sizes_init(void);

static inline unsigned size_class(size_t n)
{
    if (n <= 1024)
        return class_of_small[(n + 15) >> 4];
    size_t m = n - 1;
    unsigned b = 63 - (unsigned)__builtin_clzl(m);   /* 2^b <= m < 2^(b+1) */
    return 8 + (b - 7) * 4 + (unsigned)((m >> (b - 2)) & 3);
}

static inline uint32_t slot_of(uint64_t offset, uint64_t recip)
{
    return (uint32_t)((offset * recip) >> 40);
}

static inline size_t pages_for(size_t n)
{
    return (n + PAGE_SIZE - 1) >> PAGE_SHIFT;
}

#endif
