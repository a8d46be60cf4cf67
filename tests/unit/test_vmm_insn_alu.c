// SPDX-License-Identifier: MIT
// Host tests of the arithmetic the VMM does for an ALU instruction on MMIO (insn_alu in
// servers/vmm/insn.c): hand-picked cases from the SDM's flag definitions, then the host CPU
// itself as the reference: the same operation run natively (inline assembly, RFLAGS read back
// with PUSHF) on edge and random operands of every size must give the same result and flags.
// Flags the SDM leaves undefined are not compared (AF of AND/OR/XOR/TEST; all but CF of BT*).
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(alu);

#define CF INSN_CF
#define PF INSN_PF
#define AF INSN_AF
#define ZF INSN_ZF
#define SF INSN_SF
#define OF INSN_OF

static uint64_t alu(unsigned op, unsigned size, uint64_t a, uint64_t b, uint64_t *flags)
{
    return insn_alu(op, size, a, b, flags);
}

Test(alu, the_sdm_flag_definitions_by_hand)
{
    uint64_t f = 0;
    cr_assert_eq(alu(INSN_ADD, 1, 0x7F, 1, &f), 0x80);
    cr_assert_eq(f, OF | SF | AF, "signed overflow, bit 3 carried, odd parity: %lx", f);
    f = 0;
    cr_assert_eq(alu(INSN_ADD, 1, 0xFF, 1, &f), 0);
    cr_assert_eq(f, CF | ZF | AF | PF);
    f = CF;
    cr_assert_eq(alu(INSN_ADC, 4, 0xFFFFFFFF, 0, &f), 0, "ADC adds CF");
    cr_assert_eq(f, CF | ZF | AF | PF);
    f = 0;
    cr_assert_eq(alu(INSN_SUB, 2, 0, 1, &f), 0xFFFF);
    cr_assert_eq(f, CF | SF | AF | PF, "a borrow: CF");
    f = 0;
    cr_assert_eq(alu(INSN_CMP, 8, 0x8000000000000000ull, 1, &f), 0x8000000000000000ull,
                 "CMP leaves the destination");
    cr_assert_eq(f, OF | AF | PF, "INT64_MIN - 1 overflows: %lx", f);
    f = CF | OF | AF;
    cr_assert_eq(alu(INSN_AND, 4, 0xF0, 0x0F, &f), 0);
    cr_assert_eq(f, ZF | PF, "logical: CF OF cleared (AF too)");
    f = 0;
    cr_assert_eq(alu(INSN_NEG, 1, 0x80, 0, &f), 0x80);
    cr_assert_eq(f, CF | OF | SF, "NEG of the minimum overflows");
    f = 0;
    alu(INSN_NEG, 4, 0, 0, &f);
    cr_assert_eq(f, ZF | PF, "NEG 0: CF clear");
    f = CF;
    cr_assert_eq(alu(INSN_INC, 2, 0xFFFF, 0, &f), 0);
    cr_assert_eq(f, CF | ZF | AF | PF, "INC keeps CF");
    f = 0;
    cr_assert_eq(alu(INSN_DEC, 4, 0, 0, &f), 0xFFFFFFFF);
    cr_assert_eq(f, SF | AF | PF, "DEC keeps CF (clear)");
    f = ZF | SF;
    cr_assert_eq(alu(INSN_NOT, 1, 0x0F, 0, &f), 0xF0);
    cr_assert_eq(f, ZF | SF, "NOT changes no flag");
    f = ZF | PF;
    cr_assert_eq(alu(INSN_BTS, 4, 0x1, 32 + 5, &f), 0x21, "bit 37 of a dword is bit 5");
    cr_assert_eq(f, ZF | PF, "the bit was clear: CF clear, the rest kept");
    cr_assert_eq(alu(INSN_BTR, 2, 0x21, 5, &f), 0x01);
    cr_assert_eq(f, ZF | PF | CF);
    cr_assert_eq(alu(INSN_BTC, 8, 0, 63, &f), 1ull << 63);
    cr_assert_eq(alu(INSN_BT, 8, 1ull << 63, 63, &f), 1ull << 63);
    cr_assert_eq(f & CF, CF);
    f = INSN_DF;
    alu(INSN_ADD, 4, 1, 1, &f);
    cr_assert_eq(f & ~INSN_ARITH_MASK, INSN_DF, "other RFLAGS bits kept");
    f = 0x12;
    cr_assert_eq(alu(INSN_ALU_COUNT, 4, 7, 1, &f), 7, "an unknown operation changes nothing");
    cr_assert_eq(f, 0x12);
}

/* ---- the host as reference ---- */

/* The red zone below RSP belongs to the compiler: step over it before PUSHF/POPF. */
#define PRE  "lea -128(%%rsp), %%rsp\n push %[f]\n popf\n"
#define POST "\n pushf\n pop %[f]\n lea 128(%%rsp), %%rsp"
#define BINARY(name, mn)                                                                           \
    static uint64_t host_##name(unsigned size, uint64_t a, uint64_t b, uint64_t *fl)               \
    {                                                                                              \
        uint64_t x = a, y = b, f = *fl;                                                            \
        switch (size) {                                                                            \
        case 1:                                                                                    \
            __asm__ volatile(PRE mn "b %b[y], %b[x]" POST                                          \
                             : [x] "+q"(x), [f] "+r"(f)                                            \
                             : [y] "q"(y)                                                          \
                             : "cc", "memory");                                                    \
            break;                                                                                 \
        case 2:                                                                                    \
            __asm__ volatile(PRE mn "w %w[y], %w[x]" POST                                          \
                             : [x] "+r"(x), [f] "+r"(f)                                            \
                             : [y] "r"(y)                                                          \
                             : "cc", "memory");                                                    \
            break;                                                                                 \
        case 4:                                                                                    \
            __asm__ volatile(PRE mn "l %k[y], %k[x]" POST                                          \
                             : [x] "+r"(x), [f] "+r"(f)                                            \
                             : [y] "r"(y)                                                          \
                             : "cc", "memory");                                                    \
            break;                                                                                 \
        default:                                                                                   \
            __asm__ volatile(PRE mn "q %q[y], %q[x]" POST                                          \
                             : [x] "+r"(x), [f] "+r"(f)                                            \
                             : [y] "r"(y)                                                          \
                             : "cc", "memory");                                                    \
        }                                                                                          \
        *fl = f;                                                                                   \
        return x;                                                                                  \
    }
/* BT*: no byte form */
#define BITOP(name, mn)                                                                            \
    static uint64_t host_##name(unsigned size, uint64_t a, uint64_t b, uint64_t *fl)               \
    {                                                                                              \
        uint64_t x = a, y = b, f = *fl;                                                            \
        switch (size) {                                                                            \
        case 2:                                                                                    \
            __asm__ volatile(PRE mn "w %w[y], %w[x]" POST                                          \
                             : [x] "+r"(x), [f] "+r"(f)                                            \
                             : [y] "r"(y)                                                          \
                             : "cc", "memory");                                                    \
            break;                                                                                 \
        case 4:                                                                                    \
            __asm__ volatile(PRE mn "l %k[y], %k[x]" POST                                          \
                             : [x] "+r"(x), [f] "+r"(f)                                            \
                             : [y] "r"(y)                                                          \
                             : "cc", "memory");                                                    \
            break;                                                                                 \
        default:                                                                                   \
            __asm__ volatile(PRE mn "q %q[y], %q[x]" POST                                          \
                             : [x] "+r"(x), [f] "+r"(f)                                            \
                             : [y] "r"(y)                                                          \
                             : "cc", "memory");                                                    \
        }                                                                                          \
        *fl = f;                                                                                   \
        return x;                                                                                  \
    }
#define UNARY(name, mn)                                                                            \
    static uint64_t host_##name(unsigned size, uint64_t a, uint64_t b, uint64_t *fl)               \
    {                                                                                              \
        uint64_t x = a, f = *fl;                                                                   \
        (void)b;                                                                                   \
        switch (size) {                                                                            \
        case 1:                                                                                    \
            __asm__ volatile(PRE mn "b %b[x]" POST : [x] "+q"(x), [f] "+r"(f) : : "cc", "memory"); \
            break;                                                                                 \
        case 2:                                                                                    \
            __asm__ volatile(PRE mn "w %w[x]" POST : [x] "+r"(x), [f] "+r"(f) : : "cc", "memory"); \
            break;                                                                                 \
        case 4:                                                                                    \
            __asm__ volatile(PRE mn "l %k[x]" POST : [x] "+r"(x), [f] "+r"(f) : : "cc", "memory"); \
            break;                                                                                 \
        default:                                                                                   \
            __asm__ volatile(PRE mn "q %q[x]" POST : [x] "+r"(x), [f] "+r"(f) : : "cc", "memory"); \
        }                                                                                          \
        *fl = f;                                                                                   \
        return x;                                                                                  \
    }
BINARY(add, "add")
BINARY(or, "or")
BINARY(adc, "adc")
BINARY(sbb, "sbb")
BINARY(and, "and")
BINARY(sub, "sub")
BINARY(xor, "xor")
BINARY(cmp, "cmp")
BINARY(test, "test")
BITOP(bt, "bt")
BITOP(bts, "bts")
BITOP(btr, "btr")
BITOP(btc, "btc")
UNARY(not, "not")
UNARY(neg, "neg")
UNARY(inc, "inc")
UNARY(dec, "dec")

typedef uint64_t (*host_fn)(unsigned, uint64_t, uint64_t, uint64_t *);
static const host_fn host[INSN_ALU_COUNT] = {
    [INSN_ADD] = host_add,   [INSN_OR] = host_or,   [INSN_ADC] = host_adc, [INSN_SBB] = host_sbb,
    [INSN_AND] = host_and,   [INSN_SUB] = host_sub, [INSN_XOR] = host_xor, [INSN_CMP] = host_cmp,
    [INSN_TEST] = host_test, [INSN_NOT] = host_not, [INSN_NEG] = host_neg, [INSN_INC] = host_inc,
    [INSN_DEC] = host_dec,   [INSN_BT] = host_bt,   [INSN_BTS] = host_bts, [INSN_BTR] = host_btr,
    [INSN_BTC] = host_btc};

/* The flags the SDM defines for op (the others are compared only for being kept). */
static uint64_t defined(unsigned op)
{
    if (op == INSN_AND || op == INSN_OR || op == INSN_XOR || op == INSN_TEST)
        return INSN_ARITH_MASK & ~INSN_AF;
    if (op >= INSN_BT) return INSN_CF;
    return op == INSN_NOT ? 0 : INSN_ARITH_MASK;
}

static uint64_t rnd(uint64_t *s) // xorshift64
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    return *s ^= *s << 17;
}

static uint64_t operand(uint64_t *s, unsigned size)
{
    static const uint64_t edge[] = {0,
                                    1,
                                    2,
                                    0x0F,
                                    0x10,
                                    0x7F,
                                    0x80,
                                    0xFF,
                                    0x7FFF,
                                    0x8000,
                                    0xFFFF,
                                    0x7FFFFFFF,
                                    0x80000000,
                                    0xFFFFFFFF,
                                    0x7FFFFFFFFFFFFFFF,
                                    0x8000000000000000,
                                    ~0ull};
    uint64_t r = rnd(s);
    uint64_t v = r % 3 ? rnd(s) : edge[rnd(s) % (sizeof(edge) / 8)] + (r >> 60) % 3 - 1;
    return size == 8 ? v : v & ((1ull << (8 * size)) - 1);
}

Test(alu, every_operation_and_size_matches_the_host_cpu)
{
    static const unsigned sizes[4] = {1, 2, 4, 8};
    uint64_t s = 0xA1B2C3D4E5F60718ull;
    unsigned compared = 0;
    for (unsigned op = 0; op < INSN_ALU_COUNT; op++)
        for (unsigned k = 0; k < 4; k++) {
            unsigned size = sizes[k];
            if (op >= INSN_BT && size == 1) continue; // no byte form
            for (unsigned it = 0; it < 20000; it++) {
                uint64_t a = operand(&s, size), b = operand(&s, size);
                uint64_t in = rnd(&s) & INSN_ARITH_MASK, mine = in | 2, theirs = in | 2;
                uint64_t rm = alu(op, size, a, b, &mine), rh = host[op](size, a, b, &theirs);
                uint64_t m = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
                cr_assert_eq(rm & m, rh & m, "op %u size %u a %lx b %lx: %lx, the host %lx", op,
                             size, a, b, rm, rh);
                cr_assert_eq(mine & defined(op), theirs & defined(op),
                             "op %u size %u a %lx b %lx flags in %lx: %lx, the host %lx", op, size,
                             a, b, in, mine, theirs);
                cr_assert_eq(mine & ~defined(op) & ~INSN_AF, (in | 2) & ~defined(op) & ~INSN_AF,
                             "undefined flags other than AF are kept");
                compared++;
            }
        }
    cr_log_info("%u operations compared with the host", compared);
}
