// SPDX-License-Identifier: MIT
// A randomised test of the VMM's exit dispatch (servers/vmm/exit.c and everything it calls):
// random exits (reasons, qualifications, addresses, registers, the event being delivered) over
// random guest states (every paging and code mode, wild CR3s and segment bases) and random
// instruction bytes and page tables in guest RAM. Built with ASan and UBSan: the VMM must never
// crash, read or write outside guest RAM (the fake RAM is one heap block of exactly the guest's
// size, so ASan catches any byte beyond it), hang, or produce a malformed reply.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(vmmfuzz, .init = fake_setup);

#define ITERATIONS 250000
#define SEEDS      4

static uint64_t rng;
static unsigned emulated; /* MMIO instructions emulated: the fuzz reaches the decoder's end */

static uint64_t next(void) // xorshift64*
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static uint64_t pick(const uint64_t *v, unsigned n) { return v[next() % n]; }

/* An address: mostly near the interesting places (0, the end of RAM, page ends, the info
 * device, 4 GiB, the canonical boundary), sometimes anything. */
static uint64_t address(void)
{
    static const uint64_t near[] = {0,
                                    FAKE_RAM_SIZE,
                                    0x100000,
                                    INFO_GPA,
                                    0xFFFFFFFFull,
                                    0x100000000ull,
                                    0x7FFFFFFFFFFFull,
                                    0xFFFF800000000000ull,
                                    ~0ull};
    uint64_t a = pick(near, sizeof(near) / 8) + (next() % 33) - 16;
    return next() % 4 ? a : next();
}

/* Instruction bytes: half of them a MOV form the decoder knows (prefixes, REX, opcode, a
 * memory ModRM, random SIB / displacement / immediate bytes), the rest anything from a list
 * of likely bytes or any byte at all. */
static void instruction(uint8_t *b)
{
    static const uint64_t bytes[] = {0x66, 0x67, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0xF0, 0xF3,
                                     0x48, 0x4C, 0x41, 0x40, 0x88, 0x89, 0x8A, 0x8B, 0xC6, 0xC7,
                                     0xA0, 0xA1, 0xA2, 0xA3, 0x0F, 0xB6, 0xB7, 0xBE, 0xBF, 0x04,
                                     0x05, 0x24, 0x25, 0x44, 0x84, 0x02, 0x80, 0xFF};
    static const uint64_t prefix[] = {0x66, 0x67, 0x26, 0x36, 0x64, 0x65, 0xF3};
    static const uint64_t rex[] = {0x48, 0x4C, 0x41, 0x40, 0x4B, 0x42};
    static const uint64_t op[] = {0x88, 0x89, 0x8A, 0x8B, 0xC6, 0xC7, 0xA0, 0xA1, 0xA2, 0xA3};
    static const uint64_t op2[] = {0xB6, 0xB7, 0xBE, 0xBF};
    for (unsigned i = 0; i < 16; i++)
        b[i] = next() % 3 ? (uint8_t)pick(bytes, sizeof(bytes) / 8) : (uint8_t)next();
    if (next() % 2) return;
    unsigned i = 0;
    while (next() % 3 == 0 && i < 3) b[i++] = (uint8_t)pick(prefix, sizeof(prefix) / 8);
    if (next() % 2) b[i++] = (uint8_t)pick(rex, sizeof(rex) / 8);
    if (next() % 4 == 0) {
        b[i++] = 0x0F;
        b[i++] = (uint8_t)pick(op2, 4);
    } else {
        b[i++] = (uint8_t)pick(op, sizeof(op) / 8);
    }
    b[i] = (uint8_t)(next() % 0xC0); // mod 0..2: a memory operand
}

/* A guest state: real, protected or long mode, with or without paging, any tables. */
static void guest_state(void)
{
    static const uint64_t cr0[] = {0x10, 0x11, 0x80000011, 0x80000011, 0x80000001};
    static const uint64_t cr4[] = {0, 0x10, 0x20, 0x30};
    static const uint64_t efer[] = {0, 0x100, 0x500, 0xD01};
    static const uint64_t attrib[] = {0xC9B, 0xA9B, 0x09B, 0x89B, 0xE9B};
    fake_state.cr0 = pick(cr0, 5);
    fake_state.cr4 = pick(cr4, 4);
    fake_state.efer = pick(efer, 4);
    fake_state.cr3 = next() % 4 ? (next() % FAKE_RAM_SIZE) & ~0xFFFull : address();
    fake_state.cs.attrib = pick(attrib, 5);
    fake_state.cs.base = next() % 4 ? 0 : address();
    fake_state.ds.base = next() % 2 ? 0 : address();
    fake_state.ss.base = next() % 2 ? 0 : address();
    fake_state.fs.base = next() % 2 ? 0 : address();
    fake_state.gs.base = next() % 2 ? 0 : address();
    if (next() % 4 == 0) { // long mode identity-mapped by a 1 GiB page, as a real guest might be
        uint64_t pml4e = 0x2003, pdpte = 0x83;
        memcpy(fake_ram + 0x1000, &pml4e, 8);
        memcpy(fake_ram + 0x2000, &pdpte, 8);
        fake_state.cr0 = 0x80000011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20;
        fake_state.efer = 0x500, fake_state.cs.attrib = 0xA9B;
    }
}

/* Page-table entries: present, pointing inside RAM (often) or anywhere, small or large pages. */
static void scribble_tables(void)
{
    for (unsigned i = 0; i < 64; i++) {
        uint64_t at = (next() % FAKE_RAM_SIZE) & ~7ull, e;
        if (next() % 2)
            at = (fake_state.cr3 & (FAKE_RAM_SIZE - 1) & ~0xFFFull) + (next() % 512) * 8;
        e = next() % 4 ? ((next() % FAKE_RAM_SIZE) & ~0xFFFull) | (next() & 0x83) | 1 : next();
        if (at + 8 <= FAKE_RAM_SIZE) memcpy(fake_ram + at, &e, 8);
    }
}

static void one_exit(uint64_t *w)
{
    static const uint64_t reasons[] = {RS_EXIT_NONE,         RS_EXIT_IO,
                                       RS_EXIT_GUEST_FAULT,  RS_EXIT_GUEST_FAULT,
                                       RS_EXIT_GUEST_FAULT,  RS_EXIT_CPUID,
                                       RS_EXIT_MSR_READ,     RS_EXIT_MSR_WRITE,
                                       RS_EXIT_HLT,          RS_EXIT_VMCALL,
                                       RS_EXIT_INTR_WINDOW,  RS_EXIT_EXCEPTION,
                                       RS_EXIT_TRIPLE_FAULT, RS_EXIT_INVALID_STATE,
                                       RS_EXIT_OTHER,        13,
                                       0xFFFFFFFFull};
    static const uint64_t msrs[] = {MSR_EFER, MSR_TSC, MSR_APIC_BASE, 0xC0000081};
    for (unsigned i = 0; i < RS_EXIT_MR_COUNT; i++) w[i] = next() % 2 ? next() : address();
    w[RS_EXIT_MR_REASON] = pick(reasons, sizeof(reasons) / 8);
    switch (next() % 4) { // qualifications that mean something, or any
    case 0: w[RS_EXIT_MR_QUAL] = next() & 0x7FFFFFF; break;
    case 1: w[RS_EXIT_MR_QUAL] = next() % 16; break;
    case 2: w[RS_EXIT_MR_QUAL] = pick(msrs, 4); break;
    default: break;
    }
    w[RS_EXIT_MR_GPA] = address();
    if (next() % 8 == 0) { // registers just below the end of RAM: accesses that straddle it
        for (unsigned i = RS_EXIT_MR_GPR; i < RS_EXIT_MR_GPR + RS_GPR_COUNT; i++)
            w[i] = FAKE_RAM_SIZE - 1 - next() % 8;
        w[RS_EXIT_MR_GPA] = FAKE_RAM_SIZE + next() % 8;
    }
    if (w[RS_EXIT_MR_REASON] == RS_EXIT_GUEST_FAULT && next() % 2)
        w[RS_EXIT_MR_QUAL] = 1 + next() % 2; // a read or a write, not a fetch
    w[RS_EXIT_MR_RIP] = next() % 4 ? 0x100000 + next() % 0x1000 : address();
    w[RS_EXIT_MR_EVENT] = next() % 4 ? 0 : next();
    w[RS_EXIT_MR_CR0] = fake_state.cr0, w[RS_EXIT_MR_CR4] = fake_state.cr4;
    w[RS_EXIT_MR_EFER] = next() % 2 ? fake_state.efer : next();
    // the instruction at RIP (when it is in RAM, with no paging or identity-like tables)
    uint64_t at = (uint32_t)(fake_state.cs.base + w[RS_EXIT_MR_RIP]);
    if (at + 16 <= FAKE_RAM_SIZE) instruction(fake_ram + at);
}

static void fuzz(uint64_t seed)
{
    uint64_t w[RS_EXIT_MR_COUNT];
    struct vmm_reply r;
    rng = seed;
    for (unsigned i = 0; i < FAKE_RAM_SIZE; i += 8) {
        uint64_t x = next();
        memcpy(fake_ram + i, &x, 8);
    }
    for (unsigned it = 0; it < ITERATIONS; it++) {
        if (it % 64 == 0) {
            guest_state();
            scribble_tables();
        }
        if (next() % 8 == 0) vmm_tick(&fake_vmm);
        if (next() % 8) fake_st.stopped = 0; // mostly a guest that runs, so the dispatch goes on
        fake_st.out.len = 0;
        one_exit(w);
        // the segment words and CR3 as the backend gives them (CR0, CR4, EFER: one_exit's, at
        // times not the state's: the VMM must cope with any words)
        fake_exit_seg(w);
        w[RS_EXIT_MR_CR3] = fake_state.cr3;
        memset(&r, 0xCC, sizeof(r));
        enum vmm_action a = vmm_exit(&fake_vmm, w, &r);
        cr_assert(a == VMM_REPLY || a == VMM_WAIT, "seed %lx iteration %u", seed, it);
        if (a == VMM_WAIT) {
            cr_assert_eq(w[RS_EXIT_MR_REASON], RS_EXIT_HLT, "only a HLT waits");
            continue;
        }
        cr_assert(r.label <= 1, "seed %lx iteration %u: label %lu", seed, it, r.label);
        cr_assert(r.len >= 1 && r.len <= RS_REPLY_MR_COUNT, "seed %lx iteration %u", seed, it);
        cr_assert(fake_st.out.len <= VMM_OUT_MAX);
        cr_assert(fake_st.once.n <= VMM_ONCE_MAX);
        cr_assert(fake_st.console.len <= UART_LINE_MAX);
        if (r.w[RS_REPLY_MR_FLAGS] & RS_REPLY_SET_RIP) // an emulated MOV: at most 15 bytes on
            cr_assert_leq(r.w[RS_REPLY_MR_RIP] - w[RS_EXIT_MR_RIP] - 1, 14);
        if (w[RS_EXIT_MR_REASON] == RS_EXIT_GUEST_FAULT && (w[RS_EXIT_MR_EVENT] & RS_EVENT_VALID))
            cr_assert_eq(r.label, 1, "a fault during event delivery stops the guest");
        if (r.w[RS_REPLY_MR_FLAGS] & RS_REPLY_SET_RIP) emulated++;
    }
}

Test(vmmfuzz, random_exits_never_crash_loop_or_touch_memory_outside_ram, .timeout = 300)
{
    uint64_t base = 0x5EED0000ull;
    const char *env = getenv("VMM_FUZZ_SEED");
    if (env) base = strtoull(env, NULL, 0);
    for (unsigned s = 0; s < SEEDS; s++) fuzz(base + s * 0x9E3779B97F4A7C15ull);
    cr_log_info("%u MMIO instructions emulated", emulated);
    cr_assert_gt(emulated, SEEDS * ITERATIONS / 200, "the random exits reach the MMIO emulation");
}

/* The decoder alone on random bytes of every length: what it accepts stays inside the bytes it
 * was given and the architectural 15, with sizes and register numbers it can stand behind. */
Test(vmmfuzz, random_bytes_decode_within_bounds)
{
    static const unsigned modes[3] = {16, 32, 64};
    uint8_t b[16];
    unsigned accepted = 0;
    rng = 0xDEC0DEull;
    for (unsigned it = 0; it < 500000; it++) {
        instruction(b);
        unsigned n = next() % 16, mode = modes[next() % 3];
        uint8_t *copy = malloc(n ? n : 1); // exactly n bytes: ASan sees a read beyond them
        memcpy(copy, b, n);
        struct insn d;
        if (insn_decode(copy, n, mode, &d)) {
            accepted++;
            cr_assert(d.len >= 1 && d.len <= n && d.len <= 15, "len %u of %u", d.len, n);
            cr_assert(d.size == 1 || d.size == 2 || d.size == 4 || d.size == 8);
            cr_assert(d.reg_size >= d.size && d.reg_size <= 8);
            cr_assert(d.reg < 16 && d.seg <= INSN_GS && d.scale <= 8);
            cr_assert(d.asize == 2 || d.asize == 4 || d.asize == 8);
            cr_assert(d.asize == 8 || mode != 64 || d.asize == 4);
            cr_assert(!d.high8 || d.reg < 4);
        }
        free(copy);
    }
    cr_assert_gt(accepted, 50000, "the fuzz reaches the decoder's accepting paths (%u)", accepted);
}
