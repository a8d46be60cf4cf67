// SPDX-License-Identifier: MIT
// common/string.c, the kernel's and servers' memory functions, renamed so that the host's libc
// (which Criterion uses) keeps its own: memset and memcpy go word by word when aligned, and
// every alignment, length and value must still come out as the byte loop's.
#define memcpy  k_memcpy
#define memmove k_memmove
#define memset  k_memset
#define memcmp  k_memcmp
#define strlen  k_strlen
#define strcmp  k_strcmp
#define strncmp k_strncmp
#include "../../common/string.c"
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef strcmp
#undef strncmp

#include <criterion/criterion.h>
#include <stdint.h>

#define GUARD 0x5C

static _Alignas(8) unsigned char buf[4096 + 64];

Test(kstring, memset_sets_exactly_its_range_at_every_alignment_and_length)
{
    static const int values[] = {0, 0xA5, 0x1FF, -1};
    for (unsigned v = 0; v < sizeof(values) / sizeof(values[0]); v++)
        for (unsigned off = 0; off < 16; off++)
            for (unsigned len = 0; len <= 80; len++) {
                for (unsigned i = 0; i < sizeof(buf); i++) buf[i] = GUARD;
                cr_assert_eq(k_memset(buf + 8 + off, values[v], len), buf + 8 + off);
                for (unsigned i = 0; i < 8 + off + len + 16; i++) {
                    unsigned char want =
                        i >= 8 + off && i < 8 + off + len ? (unsigned char)values[v] : GUARD;
                    cr_assert_eq(buf[i], want, "value %d, offset %u, length %u: byte %u is %#x",
                                 values[v], off, len, i, buf[i]);
                }
            }
}

Test(kstring, memset_clears_a_whole_page)
{
    for (unsigned i = 0; i < sizeof(buf); i++) buf[i] = GUARD;
    k_memset(buf + 8, 0, 4096);
    cr_assert_eq(buf[7], GUARD);
    cr_assert_eq(buf[8 + 4096], GUARD);
    for (unsigned i = 8; i < 8 + 4096; i++) cr_assert_eq(buf[i], 0, "byte %u", i);
}

Test(kstring, memcpy_copies_exactly_its_range_at_every_alignment_and_length)
{
    static _Alignas(8) unsigned char src[128];
    for (unsigned i = 0; i < sizeof(src); i++) src[i] = (unsigned char)(i * 7 + 1);
    for (unsigned doff = 0; doff < 16; doff++)
        for (unsigned soff = 0; soff < 16; soff++)
            for (unsigned len = 0; len <= 80; len++) {
                for (unsigned i = 0; i < sizeof(buf); i++) buf[i] = GUARD;
                k_memcpy(buf + 8 + doff, src + soff, len);
                for (unsigned i = 0; i < 8 + doff + len + 16; i++) {
                    unsigned char want =
                        i >= 8 + doff && i < 8 + doff + len ? src[soff + i - 8 - doff] : GUARD;
                    cr_assert_eq(buf[i], want, "offsets %u/%u, length %u: byte %u", doff, soff, len,
                                 i);
                }
            }
}
