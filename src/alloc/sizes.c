#include "alloc/sizes.h"

struct class_info class_table[NCLASSES];

/* (n + 15) / 16 -> class, for n <= 1024: avoids the bit scan on the
 * commonest sizes. Filled to match size_class()'s arithmetic above 128. */
const uint8_t class_of_small[(1024 >> 4) + 1] = {
    0, 0, 1, 2, 3, 4, 5, 6, 7,                 /* 0..128 by 16 */
    8, 8, 9, 9, 10, 10, 11, 11,                /* 144..256 */
    12, 12, 12, 12, 13, 13, 13, 13,            /* 272..512 */
    14, 14, 14, 14, 15, 15, 15, 15,
    16, 16, 16, 16, 16, 16, 16, 16,            /* 528..1024 */
    17, 17, 17, 17, 17, 17, 17, 17,
    18, 18, 18, 18, 18, 18, 18, 18,
    19, 19, 19, 19, 19, 19, 19, 19,
};

static uint32_t class_size(unsigned c)
{
    if (c < 8)
        return 16 * (c + 1);
    unsigned k = (c - 8) / 4, sub = (c - 8) % 4;
    return (128u << k) + (sub + 1) * (32u << k);
}

/* Slab length: at least 16 pages and 8 objects, at most SLAB_MAX_SLOTS
 * objects; among the candidates take the one that wastes the smallest
 * fraction of the slab on its tail. */
static uint32_t slab_pages(uint32_t size)
{
    uint32_t best = 0;
    uint64_t best_waste = UINT64_MAX, best_len = 1;
    for (uint32_t pages = 16; pages <= 128; pages++) {
        uint64_t len = (uint64_t)pages * PAGE_SIZE;
        uint64_t slots = len / size;
        if (slots < 8)
            continue;
        if (slots > SLAB_MAX_SLOTS)
            break;
        uint64_t waste = len - slots * size;
        /* waste/len < best_waste/best_len, without division */
        if (best == 0 || waste * best_len < best_waste * len) {
            best = pages;
            best_waste = waste;
            best_len = len;
        }
        if (waste == 0)
            break;
    }
    return best;
}

void sizes_init(void)
{
    for (unsigned c = 0; c < NCLASSES; c++) {
        struct class_info *ci = &class_table[c];
        ci->size = class_size(c);
        ci->pages = slab_pages(ci->size);
        ci->slots = (uint32_t)(((uint64_t)ci->pages * PAGE_SIZE) / ci->size);
        ci->extend = ci->size < SLAB_EXTEND_BYTES ? (uint32_t)(SLAB_EXTEND_BYTES / ci->size) : 1;
        ci->recip = ((UINT64_C(1) << 40) + ci->size - 1) / ci->size;
    }
}
