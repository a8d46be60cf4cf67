// SPDX-License-Identifier: MIT
// Device memory at boot: the gaps of the memory map below 4 GiB (pure: tested on the host).
#include "devmem.h"

int devmem_ranges(const struct devmem_range *excl, int n_excl, uint64_t lo, uint64_t hi,
                  struct devmem_range *out, int max)
{
    lo = (lo + 0xFFF) & ~0xFFFull;
    hi &= ~0xFFFull;
    int n = 0;
    uint64_t cur = lo;
    // Walk upwards: the next gap starts at cur and ends at the lowest exclusion start above it;
    // an exclusion covering cur moves cur past its end. Each round either emits a gap or moves
    // cur strictly up, and there are at most n_excl exclusions to move past: it terminates.
    while (cur < hi && n < max) {
        uint64_t next = hi;
        int covered = 0;
        for (int i = 0; i < n_excl; i++) {
            if (excl[i].end <= excl[i].base) continue;
            if (excl[i].base <= cur && excl[i].end > cur) {
                // round the end of an exclusion up: a page it touches is not device memory
                uint64_t e = (excl[i].end + 0xFFF) & ~0xFFFull;
                if (e < excl[i].end) e = UINT64_MAX & ~0xFFFull; // wraps: covers the rest
                cur = e;
                covered = 1;
                break;
            }
            if (excl[i].base > cur && excl[i].base < next) next = excl[i].base;
        }
        if (covered) continue;
        uint64_t end = next & ~0xFFFull; // round down: the exclusion's first page is not ours
        if (end > cur) out[n++] = (struct devmem_range){cur, end};
        cur = next;
    }
    return n;
}
