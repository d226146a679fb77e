/* Size classes: the lookup table agrees with the arithmetic, classes are
 * ordered and 16-byte multiples, every request fits its class, slabs are
 * within their limits, and division by reciprocal is exact for every
 * offset in every slab. */
#include "alloc/sizes.h"
#include "check.h"

int main(void)
{
    sizes_init();
    for (size_t n = 0; n <= SMALL_MAX; n++) {
        unsigned c = size_class(n);
        CHECK(c < NCLASSES);
        CHECK(class_table[c].size >= n);
        if (c > 0)
            CHECK(class_table[c - 1].size < n || n == 0);
        if (n > 128)   /* above 128, classes waste at most a quarter */
            CHECK(class_table[c].size - n < class_table[c].size / 4 + 1);
    }
    for (unsigned c = 0; c < NCLASSES; c++) {
        const struct class_info *ci = &class_table[c];
        CHECK(ci->size % MIN_ALIGN == 0);
        if (c)
            CHECK(ci->size > class_table[c - 1].size);
        CHECK(ci->slots >= 8 && ci->slots <= SLAB_MAX_SLOTS);
        CHECK((size_t)ci->slots * ci->size <= (size_t)ci->pages * PAGE_SIZE);
        for (uint64_t slot = 0; slot < ci->slots; slot++) {
            uint64_t off = slot * ci->size;
            CHECK(slot_of(off, ci->recip) == slot);
            CHECK(slot_of(off + ci->size - 1, ci->recip) == slot);
            if (slot_of(off, ci->recip) != slot)
                break;
        }
    }
    CHECK(class_table[NCLASSES - 1].size == SMALL_MAX);
    return check_done("sizes");
}
