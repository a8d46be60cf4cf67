// SPDX-License-Identifier: MIT
// A seeded fuzz of MMIO emulation and string port I/O (servers/vmm/mmio.c, pio.c, insn.c):
// random instruction bytes (mostly the forms the decoder knows, with random prefixes, ModRM,
// SIB, displacements), random registers (near the device, page ends, the end of RAM, or
// anything; RCX small or huge), random code modes and page tables. Under ASan and UBSan the
// emulation must never crash or touch memory beyond the guest's RAM (one heap block of exactly
// its size), every device and port access must have a valid size, their number per exit must
// stay within the REP bound, and the reply must be well formed. VMM_FUZZ_SEED picks the seed.
#include <criterion/criterion.h>
#include "pio.h"
#include "vmm_exit_fake.h"

#define ITERATIONS 150000
#define DEV        0x20000000ull

static uint64_t rng;
static unsigned dev_calls, port_calls;
static unsigned long emulated, strings, faults;

static uint64_t next(void) // xorshift64
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    return rng ^= rng << 17;
}
static uint64_t pick(const uint64_t *v, unsigned n) { return v[next() % n]; }

static void dev(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    (void)ctx, (void)gpa;
    cr_assert(size >= 1 && size <= 8, "size %u", size);
    dev_calls++;
    if (!write) *value = next();
}

static void port(void *ctx, uint16_t p, unsigned size, bool in, uint32_t *value)
{
    (void)ctx, (void)p;
    cr_assert(size == 1 || size == 2 || size == 4, "size %u", size);
    port_calls++;
    if (in) *value = (uint32_t)next();
}

static uint64_t address(void)
{
    static const uint64_t near[] = {
        0,          0x1000,         FAKE_RAM_SIZE,         DEV,  DEV + 0x1000,
        0xFFFFFFFF, 0x100000000ull, 0xFFFF800000000000ull, ~0ull};
    uint64_t a = pick(near, sizeof(near) / 8) + next() % 64 - 32;
    return next() % 4 ? a : next();
}

/* Instruction bytes: mostly prefixes, a REX, an opcode the decoder knows and a ModRM. */
static void instruction(uint8_t *b)
{
    static const uint64_t prefix[] = {0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x26, 0x2E, 0x64, 0x65};
    static const uint64_t op[] = {0x00, 0x01, 0x02, 0x03, 0x08, 0x11, 0x1A, 0x23, 0x29, 0x31, 0x39,
                                  0x3B, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A,
                                  0x8B, 0xC6, 0xC7, 0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xAA, 0xAB,
                                  0xAC, 0xAD, 0xF6, 0xF7, 0xFE, 0xFF, 0x6C, 0x6E, 0x0F};
    static const uint64_t op2[] = {0xA3, 0xAB, 0xB3, 0xBB, 0xBA, 0xB6, 0xB7, 0xBE, 0xBF, 0x0B};
    for (unsigned i = 0; i < 16; i++) b[i] = (uint8_t)next();
    if (next() % 8 == 0) return;
    unsigned i = 0;
    while (next() % 3 == 0 && i < 4) b[i++] = (uint8_t)pick(prefix, sizeof(prefix) / 8);
    if (next() % 2) b[i++] = (uint8_t)(0x40 | (next() & 15));
    b[i] = (uint8_t)pick(op, sizeof(op) / 8);
    if (b[i++] == 0x0F) b[i++] = (uint8_t)pick(op2, sizeof(op2) / 8);
    b[i] = (uint8_t)(next() % 0xC0); // mod 0..2: a memory operand
}

static void guest(void)
{
    static const uint64_t attrib[] = {0xC9B, 0xA9B, 0x09B, 0xCFB};
    memset(fake_ram, 0, 0x10000);
    fake_state = (rs_vcpu_state_t){.cr0 = 0x11, .cs = {0x08, 0, 0xFFFFFFFF, pick(attrib, 4)}};
    fake_state.ss.attrib = next() % 4 ? 0xC93 : 0xCF3;
    fake_state.ds.base = next() % 2 ? 0 : address();
    fake_state.es.base = next() % 2 ? 0 : address();
    fake_state.fs.base = next() % 2 ? 0 : address();
    switch (next() % 4) {
    case 0: break; // no paging
    case 1:        // long mode, 1 GiB identity page
    case 2: {
        uint64_t pml4e = 0x2007, pdpte = 0x87;
        memcpy(fake_ram + 0x1000, &pml4e, 8);
        memcpy(fake_ram + 0x2000, &pdpte, 8);
        fake_state.cr0 = 0x80010011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20;
        fake_state.efer = 0x500, fake_state.cs.attrib = next() % 2 ? 0xA9B : 0xC9B;
        break;
    }
    default: // random tables
        fake_state.cr0 = 0x80000011, fake_state.cr3 = (next() % FAKE_RAM_SIZE) & ~0xFFFull;
        fake_state.cr4 = next() % 2 ? 0x20 : 0x10, fake_state.efer = next() % 2 ? 0x500 : 0;
        for (unsigned i = 0; i < 64; i++) {
            uint64_t at = (fake_state.cr3 + (next() % 512) * 8) % (FAKE_RAM_SIZE - 8);
            uint64_t e = next() % 2 ? ((next() % FAKE_RAM_SIZE) & ~0xFFFull) | (next() & 0x87) | 1
                                    : address() | 1;
            memcpy(fake_ram + at, &e, 8);
        }
    }
}

static void registers(void)
{
    for (unsigned i = 0; i < RS_GPR_COUNT; i++) w[RS_EXIT_MR_GPR + i] = address();
    w[RS_EXIT_MR_RCX] = next() % 2 ? next() % 600 : address();
    w[RS_EXIT_MR_RFLAGS] = next() & 0xFD7;
    w[RS_EXIT_MR_RIP] = next() % 8 ? 0x100000 : address();
    w[RS_EXIT_MR_GPA] = next() % 2 ? DEV + next() % 0x2000 : address();
    uint64_t at = (uint32_t)(fake_state.cs.base + w[RS_EXIT_MR_RIP]);
    if (at + 16 <= FAKE_RAM_SIZE) instruction(fake_ram + at);
}

static void check_reply(uint64_t seed, unsigned it)
{
    cr_assert(r.label <= 1, "seed %lx iteration %u", seed, it);
    cr_assert(r.len >= 1 && r.len <= RS_REPLY_MR_COUNT, "seed %lx iteration %u", seed, it);
    cr_assert(fake_st.out.len <= VMM_OUT_MAX && fake_st.once.n <= VMM_ONCE_MAX);
    if (r.w[RS_REPLY_MR_FLAGS] & RS_REPLY_SET_RIP)
        cr_assert_leq(r.w[RS_REPLY_MR_RIP] - w[RS_EXIT_MR_RIP] - 1, 14, "seed %lx iteration %u",
                      seed, it);
    if (r.w[RS_REPLY_MR_FLAGS] & RS_REPLY_INJECT) faults++;
}

static void fuzz(uint64_t seed)
{
    rng = seed;
    for (unsigned it = 0; it < ITERATIONS; it++) {
        if (it % 32 == 0) guest();
        fake_st.out.len = 0;
        bool io = next() % 4 == 0;
        exit_of(io ? RS_EXIT_IO : RS_EXIT_GUEST_FAULT, 0);
        registers();
        dev_calls = port_calls = 0;
        memset(&r, 0xCC, sizeof(r));
        if (io) {
            w[RS_EXIT_MR_QUAL] =
                rs_io_qual((uint16_t)next(), (unsigned)pick((const uint64_t[]){1, 2, 4, 3, 0}, 5),
                           next() % 2, true, next() % 4);
            w[RS_EXIT_MR_INSN_LEN] = next() % 16;
            fake_exit_cpu(w);
            cr_assert_eq(pio_string(&fake_vmm, w, port, NULL, dev, NULL, &r), VMM_REPLY);
            cr_assert_leq(port_calls, EMU_REP_MAX, "seed %lx iteration %u", seed, it);
            cr_assert_leq(dev_calls, EMU_REP_MAX * EMU_PIECES_MAX);
            strings++;
        } else {
            w[RS_EXIT_MR_QUAL] = 1 + next() % 2;
            fake_exit_cpu(w);
            cr_assert_eq(mmio_emulate(&fake_vmm, w, dev, NULL, &r), VMM_REPLY);
            cr_assert_leq(dev_calls, 2 * EMU_REP_MAX * EMU_PIECES_MAX, "seed %lx iteration %u",
                          seed, it);
            if (r.w[RS_REPLY_MR_FLAGS] & (RS_REPLY_SET_RIP | RS_REPLY_SET_GPRS)) emulated++;
        }
        check_reply(seed, it);
    }
}

TestSuite(mmiofuzz, .init = fake_setup);

Test(mmiofuzz, random_instructions_registers_and_tables_stay_in_bounds, .timeout = 300)
{
    uint64_t seed = 0xF00DFACE12345678ull;
    const char *env = getenv("VMM_FUZZ_SEED");
    if (env) seed = strtoull(env, NULL, 0);
    for (unsigned s = 0; s < 2; s++) fuzz(seed + s * 0x9E3779B97F4A7C15ull);
    cr_log_info(
        "%lu MMIO instructions emulated, %lu string I/O exits, %lu events injected (#GP, #PF)",
        emulated, strings, faults);
    cr_assert_gt(emulated, ITERATIONS / 4, "the fuzz reaches the emulation (%lu)", emulated);
    cr_assert_gt(faults, 100, "and its rejections (%lu)", faults);
}
