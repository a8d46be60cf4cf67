// SPDX-License-Identifier: MIT
// The few C string and memory functions that freestanding code (and GCC itself) needs.
#include "kstring.h"
#include <stdint.h>

typedef uint64_t __attribute__((may_alias)) mem_word_t;

/* Word by word when both ends are 8-byte aligned (register images, IPC buffers, pages): the byte
 * loop cost 5 instructions a byte. The attribute keeps GCC from turning the loop into a call to
 * memcpy itself. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *memcpy(void *restrict d,
                                                                           const void *restrict s,
                                                                           size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (!(((uintptr_t)dp | (uintptr_t)sp) & 7))
        for (; n >= 8; n -= 8, dp += 8, sp += 8) *(mem_word_t *)dp = *(const mem_word_t *)sp;
    while (n--) *dp++ = *sp++;
    return d;
}

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp < sp)
        while (n--) *dp++ = *sp++;
    else
        while (n--) dp[n] = sp[n];
    return d;
}

/* Word by word when d is 8-byte aligned, as memcpy: a page table's 4 KiB cleared when its cap is
 * deleted cost 17,150 instructions a byte at a time. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *memset(void *d, int c, size_t n)
{
    unsigned char *dp = d;
    if (!((uintptr_t)dp & 7)) {
        mem_word_t w = (unsigned char)c * 0x0101010101010101ull;
        for (; n >= 8; n -= 8, dp += 8) *(mem_word_t *)dp = w;
    }
    while (n--) *dp++ = (unsigned char)c;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y) return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b) a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b || !*a) return (unsigned char)*a - (unsigned char)*b;
    }
    return 0;
}
