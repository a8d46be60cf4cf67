// SPDX-License-Identifier: MIT
// Host tests of the generic MMIO emulation (servers/vmm/mmio.c: mmio_emulate, mmio_dispatch):
// each instruction form runs against fake guest RAM and a fake device (128 KiB of registers at
// DEV, recording every access): the value read or written, the registers and RIP the reply
// sets, the flags, REP bounds, DF, 16/32/64-bit code, page-crossing elements and faults.
#include <criterion/criterion.h>
#include "mmio.h"
#include "vmm_exit_fake.h"

#define DEV      0x20000000ull
#define ACC_MAX  2048
#define CODE_GPA 0x100000

static uint8_t devmem[0x20000];
struct acc {
    uint64_t gpa;
    unsigned size;
    bool write;
    uint64_t value;
};
static struct acc acc[ACC_MAX];
static unsigned nacc;
static int token; /* the device's context */

static void dev(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    cr_assert_eq(ctx, &token, "the device gets the context it was given");
    cr_assert(size >= 1 && size <= 8, "size %u", size);
    cr_assert(gpa >= DEV && gpa - DEV + size <= sizeof(devmem), "gpa 0x%lx", gpa);
    if (write) memcpy(devmem + (gpa - DEV), value, size); // the host is little-endian too
    else {
        *value = 0;
        memcpy(value, devmem + (gpa - DEV), size);
    }
    if (nacc < ACC_MAX) acc[nacc++] = (struct acc){gpa, size, write, *value};
}

static void setup(void)
{
    fake_setup();
    for (unsigned i = 0; i < sizeof(devmem); i++) devmem[i] = (uint8_t)(i * 7 + 3);
    nacc = 0;
}

TestSuite(emulate, .init = setup);

/* The instruction bytes at RIP (0x100000 unless the test moved it), emulated. */
static void emulate(const uint8_t *code, size_t n)
{
    uint64_t la = (uint32_t)(fake_state.cs.base + w[RS_EXIT_MR_RIP]);
    if (fake_state.efer & 0x400) la = w[RS_EXIT_MR_RIP];
    memcpy(fake_ram + la, code, n);
    nacc = 0;
    fake_writes = 0;
    fake_st.out.len = 0;
    memset(&r, 0xCC, sizeof(r));
    fake_exit_cpu(w);
    cr_assert_eq(mmio_emulate(&fake_vmm, w, dev, &token, &r), VMM_REPLY);
    cr_assert_eq(r.label, 0);
}
#define CODE(...)                                                                                  \
    do {                                                                                           \
        static const uint8_t c_[] = {__VA_ARGS__};                                                 \
        emulate(c_, sizeof(c_));                                                                   \
    } while (0)

/* A fault exit with the exit's registers: rdx = DEV + 0x10, the access at w[GPA]. */
static void fault_exit(void)
{
    exit_of(RS_EXIT_GUEST_FAULT, 1);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_RDX] = w[RS_EXIT_MR_GPA] = DEV + 0x10;
}

/* The guest's register n, RIP and RFLAGS after the reply. */
static uint64_t reg(unsigned n)
{
    return flags() & RS_REPLY_SET_GPRS && r.len > RS_REPLY_MR_GPR + n ? r.w[RS_REPLY_MR_GPR + n]
                                                                      : w[RS_EXIT_MR_GPR + n];
}
static uint64_t rip(void)
{
    return flags() & RS_REPLY_SET_RIP ? r.w[RS_REPLY_MR_RIP] : w[RS_EXIT_MR_RIP];
}
static uint64_t rflags(void)
{
    unsigned word = RS_REPLY_MR_RFLAGS; // the reply word, or write_state until it exists
    if (word < RS_REPLY_MR_COUNT && (flags() & RS_REPLY_SET_RFLAGS)) return r.w[word];
    return fake_writes ? fake_state.rflags : w[RS_EXIT_MR_RFLAGS];
}
static uint32_t dev32(unsigned off)
{
    uint32_t v;
    memcpy(&v, devmem + off, 4);
    return v;
}
static void put32(unsigned off, uint32_t v) { memcpy(devmem + off, &v, 4); }
static void assert_acc(unsigned i, uint64_t gpa, unsigned size, bool write, uint64_t value)
{
    cr_assert(i < nacc, "access %u of %u", i, nacc);
    cr_assert(acc[i].gpa == gpa && acc[i].size == size && acc[i].write == write &&
                  acc[i].value == value,
              "access %u: gpa %lx size %u write %d value %lx", i, acc[i].gpa, acc[i].size,
              acc[i].write, acc[i].value);
}

/* Long mode, identity-mapped by one 1 GiB page (PML4 at 0x1000, PDPT at 0x2000). */
static void long_mode_identity(void)
{
    fake_ram[0x1000] = 0x03, fake_ram[0x1001] = 0x20; // PML4[0] -> 0x2000, present, writable
    fake_ram[0x2000] = 0x83;                          // PDPT[0]: 1 GiB page at 0
    fake_state.cr0 = 0x80000011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20;
    fake_state.efer = 0x500, fake_state.cs.attrib = 0xA9B;
}

Test(emulate, mov_stores_of_every_size_in_32_bit_code)
{
    fault_exit();
    w[RS_EXIT_MR_RAX] = 0x1122334455667788ull;
    CODE(0x89, 0x02); // mov %eax, (%edx)
    cr_assert_eq(nacc, 1);
    assert_acc(0, DEV + 0x10, 4, true, 0x55667788);
    cr_assert_eq(flags(), RS_REPLY_SET_RIP, "no register changes");
    cr_assert_eq(rip(), CODE_GPA + 2);
    CODE(0x88, 0x22); // mov %ah, (%edx)
    assert_acc(0, DEV + 0x10, 1, true, 0x77);
    CODE(0x66, 0x89, 0x02); // mov %ax, (%edx)
    assert_acc(0, DEV + 0x10, 2, true, 0x7788);
    cr_assert_eq(rip(), CODE_GPA + 3);
    CODE(0xC6, 0x02, 0x99); // movb $0x99, (%edx)
    assert_acc(0, DEV + 0x10, 1, true, 0x99);
    w[RS_EXIT_MR_GPA] = DEV + 0x14; // the exit's address: the one the access contains
    CODE(0xC7, 0x42, 0x04, 0x78, 0x56, 0x34, 0x12); // movl $0x12345678, 4(%edx)
    assert_acc(0, DEV + 0x14, 4, true, 0x12345678);
    cr_assert_eq(rip(), CODE_GPA + 7);
    w[RS_EXIT_MR_GPA] = DEV + 0x20;
    CODE(0xA2, 0x20, 0, 0, 0x20); // mov %al, 0x20000020 (moffs)
    assert_acc(0, DEV + 0x20, 1, true, 0x88);
    cr_assert_eq(nacc, 1, "a store reads nothing");
}

Test(emulate, mov_loads_merge_into_the_register_as_x86_does)
{
    fault_exit();
    w[RS_EXIT_MR_RCX] = 0x1122334455667788ull;
    put32(0x10, 0x80C0FFEE);
    CODE(0x8B, 0x0A); // mov (%edx), %ecx
    cr_assert_eq(reg(1), 0x80C0FFEE, "a 32-bit load clears the upper half");
    cr_assert_eq(reg(2), DEV + 0x10, "the other registers keep their values");
    assert_acc(0, DEV + 0x10, 4, false, 0x80C0FFEE);
    CODE(0x8A, 0x2A); // mov (%edx), %ch
    cr_assert_eq(reg(1), 0x112233445566EE88ull);
    CODE(0x66, 0x8B, 0x0A); // mov (%edx), %cx
    cr_assert_eq(reg(1), 0x112233445566FFEEull);
    CODE(0x0F, 0xB6, 0x0A); // movzbl (%edx), %ecx
    cr_assert_eq(reg(1), 0xEE);
    CODE(0x0F, 0xBE, 0x0A); // movsbl (%edx), %ecx
    cr_assert_eq(reg(1), 0xFFFFFFEE);
    CODE(0x66, 0x0F, 0xBF, 0x0A); // movsww (%edx), %cx
    cr_assert_eq(reg(1), 0x112233445566FFEEull);
    assert_acc(0, DEV + 0x10, 2, false, 0xFFEE);
    w[RS_EXIT_MR_GPA] = DEV + 0x12;
    CODE(0x0F, 0xB7, 0x4A, 0x02); // movzwl 2(%edx), %ecx
    cr_assert_eq(reg(1), 0x80C0);
    w[RS_EXIT_MR_GPA] = DEV + 0x10;
    CODE(0xA1, 0x10, 0, 0, 0x20); // mov 0x20000010, %eax (moffs)
    cr_assert_eq(reg(0), 0x80C0FFEE);
    cr_assert_eq(rip(), CODE_GPA + 5);
}

Test(emulate, mov_in_64_bit_code_with_rex)
{
    long_mode_identity();
    fault_exit();
    w[RS_EXIT_MR_RAX] = 0x1122334455667788ull;
    w[RS_EXIT_MR_RSI] = 0x1234;
    w[RS_EXIT_MR_R8] = DEV + 0x40;
    w[RS_EXIT_MR_R9] = 0x20;
    CODE(0x48, 0x89, 0x02); // mov %rax, (%rdx)
    assert_acc(0, DEV + 0x10, 8, true, 0x1122334455667788ull);
    CODE(0x48, 0xC7, 0x02, 0xFE, 0xFF, 0xFF, 0xFF); // movq $-2, (%rdx)
    assert_acc(0, DEV + 0x10, 8, true, 0xFFFFFFFFFFFFFFFEull);
    CODE(0x40, 0x88, 0x32); // mov %sil, (%rdx): with REX, 6 is SIL, not DH
    assert_acc(0, DEV + 0x10, 1, true, 0x34);
    w[RS_EXIT_MR_GPA] = DEV + 0x40;
    CODE(0x41, 0x88, 0x00); // mov %al, (%r8): REX.B
    assert_acc(0, DEV + 0x40, 1, true, 0x88);
    put32(0x30, 0xCAFEF00D);
    w[RS_EXIT_MR_GPA] = DEV + 0x30;
    CODE(0x42, 0x8B, 0x04, 0x0A); // mov (%rdx,%r9), %eax: REX.X
    assert_acc(0, DEV + 0x30, 4, false, 0xCAFEF00D);
    cr_assert_eq(reg(0), 0xCAFEF00D);
    w[RS_EXIT_MR_GPA] = DEV + 0x10;
    CODE(0x4C, 0x8B, 0x02); // mov (%rdx), %r8: REX.R
    cr_assert_eq(reg(8), 0xFFFFFFFFFFFFFF34ull, "the movq, then the byte from SIL");
    w[RS_EXIT_MR_GPA] = DEV + 0x30;
    CODE(0x48, 0xA1, 0x30, 0, 0, 0x20, 0, 0, 0, 0); // movabs 0x20000030, %rax
    cr_assert_eq(reg(0) & 0xFFFFFFFF, 0xCAFEF00D);
    cr_assert_eq(rip(), CODE_GPA + 10);
}

Test(emulate, xchg_reads_then_writes_and_swaps)
{
    fault_exit();
    w[RS_EXIT_MR_RAX] = 0xFFFFFFFF11223344ull;
    put32(0x10, 0xAABBCCDD);
    CODE(0xF0, 0x87, 0x02); // lock xchg %eax, (%edx)
    cr_assert_eq(nacc, 2);
    assert_acc(0, DEV + 0x10, 4, false, 0xAABBCCDD);
    assert_acc(1, DEV + 0x10, 4, true, 0x11223344);
    cr_assert_eq(reg(0), 0xAABBCCDD);
    cr_assert_eq(rip(), CODE_GPA + 3);
    w[RS_EXIT_MR_RBX] = 0x5500;
    CODE(0x86, 0x3A); // xchg %bh, (%edx)
    assert_acc(1, DEV + 0x10, 1, true, 0x55);
    cr_assert_eq(reg(3), 0x4400, "BH got the old byte (0x44, written just before)");
}

Test(emulate, alu_to_memory_is_read_modify_write_with_flags)
{
    fault_exit();
    w[RS_EXIT_MR_RAX] = 1;
    put32(0x10, 0xFFFFFFFF);
    CODE(0x01, 0x02); // add %eax, (%edx)
    cr_assert_eq(nacc, 2);
    assert_acc(0, DEV + 0x10, 4, false, 0xFFFFFFFF);
    assert_acc(1, DEV + 0x10, 4, true, 0);
    cr_assert_eq(rflags(), IF_ON | INSN_CF | INSN_ZF | INSN_AF | INSN_PF, "%lx", rflags());
    cr_assert_eq(rip(), CODE_GPA + 2);
    CODE(0x83, 0x0A, 0xFF); // orl $-1, (%edx)
    assert_acc(1, DEV + 0x10, 4, true, 0xFFFFFFFF);
    cr_assert_eq(rflags(), IF_ON | INSN_SF | INSN_PF);
    cr_assert_eq(rip(), CODE_GPA + 3);
    devmem[0x10] = 0xF0;
    CODE(0x80, 0x32, 0x0F); // xorb $0x0f, (%edx)
    assert_acc(1, DEV + 0x10, 1, true, 0xFF);
    put32(0x10, 1);
    CODE(0xF7, 0x1A); // negl (%edx)
    assert_acc(1, DEV + 0x10, 4, true, 0xFFFFFFFF);
    cr_assert_eq(rflags(), IF_ON | INSN_CF | INSN_SF | INSN_AF | INSN_PF);
    put32(0x10, 0x0F0F0F0F);
    CODE(0xF7, 0x12); // notl (%edx)
    assert_acc(1, DEV + 0x10, 4, true, 0xF0F0F0F0);
    cr_assert_eq(rflags(), IF_ON, "NOT changes no flag");
    put32(0x10, 0x7FFFFFFF);
    w[RS_EXIT_MR_RFLAGS] = IF_ON | INSN_CF;
    CODE(0xFF, 0x02); // incl (%edx)
    assert_acc(1, DEV + 0x10, 4, true, 0x80000000);
    cr_assert_eq(rflags(), IF_ON | INSN_CF | INSN_OF | INSN_SF | INSN_AF | INSN_PF, "CF kept");
    w[RS_EXIT_MR_RFLAGS] = IF_ON;
    put32(0x10, 0x11223344);
    w[RS_EXIT_MR_GPA] = DEV + 0x14;
    CODE(0x81, 0x6A, 0x04, 0x44, 0x33, 0x22, 0x11); // subl $0x11223344, 4(%edx)
    assert_acc(0, DEV + 0x14, 4, false, dev32(0x14) + 0x11223344u);
    cr_assert_eq(rip(), CODE_GPA + 7);
}

Test(emulate, alu_into_a_register_and_compares_write_no_memory)
{
    fault_exit();
    w[RS_EXIT_MR_RAX] = 0xFFFFFFFF7FFFFFFBull;
    put32(0x10, 5);
    CODE(0x03, 0x02); // add (%edx), %eax
    cr_assert_eq(nacc, 1, "one read, no write");
    cr_assert_eq(reg(0), 0x80000000, "a 32-bit result clears the upper half");
    cr_assert_eq(rflags(), IF_ON | INSN_OF | INSN_SF | INSN_AF | INSN_PF);
    w[RS_EXIT_MR_RAX] = 5;
    put32(0x10, 3);
    CODE(0x39, 0x02); // cmp %eax, (%edx): 3 - 5
    cr_assert_eq(nacc, 1);
    cr_assert_eq(dev32(0x10), 3);
    cr_assert_eq(rflags(), IF_ON | INSN_CF | INSN_SF | INSN_AF);
    cr_assert(!(flags() & RS_REPLY_SET_GPRS), "CMP writes no register");
    CODE(0x3B, 0x02); // cmp (%edx), %eax: 5 - 3
    cr_assert_eq(rflags(), IF_ON);
    devmem[0x10] = 0x7F;
    CODE(0xF6, 0x02, 0x80); // testb $0x80, (%edx)
    cr_assert_eq(nacc, 1);
    cr_assert_eq(rflags(), IF_ON | INSN_ZF | INSN_PF);
    CODE(0x85, 0x02); // test %eax, (%edx): 0x7F & 5
    cr_assert_eq(rflags(), IF_ON | INSN_PF);
    w[RS_EXIT_MR_RFLAGS] = IF_ON | INSN_CF;
    w[RS_EXIT_MR_RAX] = 1;
    put32(0x10, 1);
    CODE(0x13, 0x02); // adc (%edx), %eax
    cr_assert_eq(reg(0), 3);
    cr_assert_eq(rflags(), IF_ON | INSN_PF);
    w[RS_EXIT_MR_RFLAGS] = IF_ON | INSN_CF;
    CODE(0x1A, 0x22); // sbb (%edx), %ah: 0 - 1 - 1
    cr_assert_eq(reg(0), 0xFE01);
    cr_assert_eq(rflags(), IF_ON | INSN_CF | INSN_SF | INSN_AF);
}

Test(emulate, bit_tests_and_their_addressing)
{
    fault_exit();
    put32(0x10, 0);
    CODE(0x0F, 0xBA, 0x2A, 0x05); // btsl $5, (%edx)
    assert_acc(1, DEV + 0x10, 4, true, 0x20);
    cr_assert_eq(rflags() & INSN_CF, 0);
    CODE(0x0F, 0xBA, 0x22, 0x25); // btl $37, (%edx): bit 5 (the offset is modulo 32)
    cr_assert_eq(nacc, 1);
    cr_assert_eq(rflags() & INSN_CF, INSN_CF);
    w[RS_EXIT_MR_RAX] = 35; // a register offset moves the address: 4 bytes on, bit 3
    devmem[0x14] = 0x08;
    w[RS_EXIT_MR_GPA] = DEV + 0x14;
    CODE(0x0F, 0xA3, 0x02); // bt %eax, (%edx)
    assert_acc(0, DEV + 0x14, 4, false, dev32(0x14));
    cr_assert_eq(rflags() & INSN_CF, INSN_CF);
    w[RS_EXIT_MR_RAX] = 0xFFFFFFFF; // -1: the unit before, bit 31
    put32(0x0C, 0x80000000);
    w[RS_EXIT_MR_GPA] = DEV + 0x0C;
    CODE(0x0F, 0xB3, 0x02); // btr %eax, (%edx)
    assert_acc(1, DEV + 0x0C, 4, true, 0);
    cr_assert_eq(rflags() & INSN_CF, INSN_CF);
    w[RS_EXIT_MR_RAX] = 0xFFF0; // a 16-bit offset is signed: -16, one word back
    w[RS_EXIT_MR_GPA] = DEV + 0x0E;
    CODE(0x66, 0x0F, 0xBB, 0x02);          // btc %ax, (%edx)
    assert_acc(1, DEV + 0x0E, 2, true, 1); // bit 0 of the word btr cleared
}

Test(emulate, rep_movs_between_a_device_and_ram)
{
    fault_exit();
    w[RS_EXIT_MR_RSI] = w[RS_EXIT_MR_GPA] = DEV + 0x100;
    w[RS_EXIT_MR_RDI] = 0x3000;
    w[RS_EXIT_MR_RCX] = 10;
    CODE(0xF3, 0xA5); // rep movsl
    cr_assert_eq(nacc, 10);
    for (unsigned i = 0; i < 10; i++)
        assert_acc(i, DEV + 0x100 + 4 * i, 4, false, dev32(0x100 + 4 * i));
    cr_assert_eq(memcmp(fake_ram + 0x3000, devmem + 0x100, 40), 0);
    cr_assert(reg(1) == 0 && reg(6) == DEV + 0x128 && reg(7) == 0x3028);
    cr_assert_eq(rip(), CODE_GPA + 2, "done: the next instruction");
    memcpy(fake_ram + 0x4000, "hello", 5);
    w[RS_EXIT_MR_RSI] = 0x4000;
    w[RS_EXIT_MR_RDI] = w[RS_EXIT_MR_GPA] = DEV + 0x200;
    w[RS_EXIT_MR_RCX] = 5;
    CODE(0xF3, 0xA4); // rep movsb
    cr_assert_eq(nacc, 5);
    cr_assert_eq(memcmp(devmem + 0x200, "hello", 5), 0);
    assert_acc(4, DEV + 0x204, 1, true, 'o');
}

/* Runs the exit again with the registers the reply gave, as the guest re-executing the
 * instruction would, until RIP moves on; returns the number of exits. */
static unsigned until_done(const uint8_t *code, size_t n)
{
    unsigned exits = 0;
    do {
        for (unsigned i = 0; i < RS_GPR_COUNT; i++) w[RS_EXIT_MR_GPR + i] = reg(i);
        emulate(code, n);
        exits++;
        cr_assert(exits < 100);
    } while (!(flags() & RS_REPLY_SET_RIP));
    return exits;
}

Test(emulate, rep_counts_are_bounded_per_exit_and_the_guest_runs_it_again)
{
    static const uint8_t stos[] = {0xF3, 0xAB}; // rep stosl
    fault_exit();
    w[RS_EXIT_MR_RDI] = w[RS_EXIT_MR_GPA] = DEV + 0x1000;
    w[RS_EXIT_MR_RCX] = 1000;
    w[RS_EXIT_MR_RAX] = 0xABCD1234;
    emulate(stos, sizeof(stos));
    cr_assert_eq(nacc, EMU_REP_MAX);
    cr_assert_eq(reg(1), 1000 - EMU_REP_MAX, "RCX counts the iterations done");
    cr_assert_eq(reg(7), DEV + 0x1000 + 4 * EMU_REP_MAX);
    cr_assert(!(flags() & RS_REPLY_SET_RIP), "RIP stays on the instruction");
    cr_assert_eq(rip(), CODE_GPA);
    unsigned exits = until_done(stos, sizeof(stos));
    cr_assert_eq(exits, 3, "1000 = 256 * 3 + 232");
    cr_assert_eq(reg(1), 0);
    cr_assert_eq(reg(7), DEV + 0x1000 + 4000);
    cr_assert_eq(rip(), CODE_GPA + 2);
    for (unsigned i = 0; i < 1000; i++) cr_assert_eq(dev32(0x1000 + 4 * i), 0xABCD1234);
    cr_assert_neq(dev32(0x1000 + 4000), 0xABCD1234, "not one more");
    w[RS_EXIT_MR_RCX] = 0; // a count of zero does nothing (and moves on)
    emulate(stos, sizeof(stos));
    cr_assert_eq(nacc, 0);
    cr_assert_eq(rip(), CODE_GPA + 2);
}

Test(emulate, df_set_walks_down)
{
    fault_exit();
    w[RS_EXIT_MR_RFLAGS] = IF_ON | INSN_DF;
    w[RS_EXIT_MR_RDI] = DEV + 0x208;
    w[RS_EXIT_MR_RCX] = 3;
    w[RS_EXIT_MR_RAX] = 0x55;
    CODE(0xF3, 0xAB); // rep stosl
    cr_assert_eq(nacc, 3);
    assert_acc(0, DEV + 0x208, 4, true, 0x55);
    assert_acc(1, DEV + 0x204, 4, true, 0x55);
    assert_acc(2, DEV + 0x200, 4, true, 0x55);
    cr_assert_eq(reg(7), DEV + 0x1FC);
    w[RS_EXIT_MR_RSI] = DEV + 0x300;
    devmem[0x300] = 0x9A;
    CODE(0xAC); // lodsb (no REP: one element, RCX untouched)
    cr_assert_eq(reg(0), 0x9A);
    cr_assert_eq(reg(6), DEV + 0x2FF);
    cr_assert_eq(reg(1), 3);
    cr_assert_eq(rip(), CODE_GPA + 1);
}

Test(emulate, address_size_prefix_in_64_bit_code)
{
    long_mode_identity();
    fault_exit();
    w[RS_EXIT_MR_RCX] = 0xFFFFFFFF00000003ull;
    w[RS_EXIT_MR_RDI] = 0xAAAABBBB00000000ull | DEV;
    w[RS_EXIT_MR_RAX] = 0x77;
    CODE(0x67, 0xF3, 0xAA); // rep stosb with ECX and EDI
    cr_assert_eq(nacc, 3);
    assert_acc(0, DEV, 1, true, 0x77);
    assert_acc(2, DEV + 2, 1, true, 0x77);
    cr_assert_eq(reg(1), 0, "ECX: a 32-bit register write clears the upper half");
    cr_assert_eq(reg(7), DEV + 3);
    cr_assert_eq(rip(), CODE_GPA + 3);
    w[RS_EXIT_MR_RCX] = 2;
    w[RS_EXIT_MR_RSI] = 0x40;
    w[RS_EXIT_MR_RDI] = 0x3000;
    fake_state.fs.base = DEV;
    CODE(0xF3, 0x64, 0x48, 0xA5); // rep movsq %fs:(%rsi), (%rdi)
    cr_assert_eq(acc[0].gpa, DEV + 0x40, "FS has a base in 64-bit mode");
    cr_assert_eq(memcmp(fake_ram + 0x3000, devmem + 0x40, 16), 0);
}

Test(emulate, sixteen_bit_code_wraps_its_addresses)
{
    fault_exit();
    fake_state.cs.attrib = 0x09B; // D clear: 16-bit code
    fake_state.cs.base = CODE_GPA - 0x100;
    fake_state.es.base = DEV;
    w[RS_EXIT_MR_RIP] = 0x100;
    w[RS_EXIT_MR_RDI] = 0x123400000000FFFEull;
    w[RS_EXIT_MR_RCX] = 0xABCD000000000002ull;
    w[RS_EXIT_MR_RAX] = 0xBEEF;
    CODE(0xF3, 0xAB); // rep stosw: CX, DI
    cr_assert_eq(nacc, 2);
    assert_acc(0, DEV + 0xFFFE, 2, true, 0xBEEF);
    assert_acc(1, DEV + 0x0000, 2, true, 0xBEEF);
    cr_assert_eq(reg(7), 0x1234000000000002ull, "DI wraps at 64 KiB; the rest of RDI is kept");
    cr_assert_eq(reg(1), 0xABCD000000000000ull);
    cr_assert_eq(rip(), 0x102);
    fake_state.ds.base = DEV + 0x10;
    w[RS_EXIT_MR_RBX] = 0x20;
    w[RS_EXIT_MR_RSI] = 0x2;
    w[RS_EXIT_MR_RAX] = 0;
    put32(0x32, 0x4321);
    w[RS_EXIT_MR_GPA] = DEV + 0x32;
    CODE(0x8B, 0x00); // mov (%bx,%si), %ax: DS base + BX + SI
    assert_acc(0, DEV + 0x32, 2, false, 0x4321);
    cr_assert_eq(reg(0), 0x4321);
    w[RS_EXIT_MR_RDX] = 0x12345;
    w[RS_EXIT_MR_GPA] = DEV + 0x10 + 0x12345;
    CODE(0x66, 0x67, 0x8B, 0x02); // mov (%edx), %eax: both prefixes
    cr_assert(acc[0].gpa == DEV + 0x10 + 0x12345 && acc[0].size == 4, "EDX whole, no 16-bit wrap");
}

/* 4-level paging: the code in a 2 MiB identity page at 0; la 0x400000 -> DEV + 0x3000,
 * la 0x401000 -> DEV + 0x7000, la 0x402000 not present. */
static void paged(void)
{
    uint64_t e[][2] = {{0x1000, 0x2003},
                       {0x2000, 0x4003},
                       {0x4000, 0x83},
                       {0x4010, 0x5003},
                       {0x5000, (DEV + 0x3000) | 3},
                       {0x5008, (DEV + 0x7000) | 3}};
    for (unsigned i = 0; i < 6; i++) memcpy(fake_ram + e[i][0], &e[i][1], 8);
    fake_state.cr0 = 0x80010011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20;
    fake_state.efer = 0x500, fake_state.cs.attrib = 0xA9B;
}

Test(emulate, a_string_element_crossing_pages_comes_in_pieces)
{
    paged();
    fault_exit();
    w[RS_EXIT_MR_RSI] = 0x400FFE;
    w[RS_EXIT_MR_RDI] = 0x3000;
    CODE(0xA5); // movsl: two bytes from each page
    cr_assert_eq(nacc, 2);
    assert_acc(0, DEV + 0x3FFE, 2, false, devmem[0x3FFE] | devmem[0x3FFF] << 8);
    assert_acc(1, DEV + 0x7000, 2, false, devmem[0x7000] | devmem[0x7001] << 8);
    cr_assert(fake_ram[0x3000] == devmem[0x3FFE] && fake_ram[0x3003] == devmem[0x7001]);
    cr_assert_eq(reg(6), 0x401002);
}

Test(emulate, a_fault_ends_the_batch_then_is_the_guests_page_fault)
{
    static const uint8_t movs[] = {0xF3, 0xA5};
    paged();
    fault_exit();
    w[RS_EXIT_MR_RSI] = 0x401FF8;
    w[RS_EXIT_MR_RDI] = 0x3000;
    w[RS_EXIT_MR_RCX] = 4;
    emulate(movs, sizeof(movs));
    cr_assert_eq(nacc, 2, "two elements, then the page that is not there");
    cr_assert(reg(1) == 2 && reg(6) == 0x402000 && reg(7) == 0x3008);
    cr_assert_eq(flags(), RS_REPLY_SET_GPRS, "no RIP, nothing injected: the guest runs it again");
    for (unsigned i = 0; i < RS_GPR_COUNT; i++) w[RS_EXIT_MR_GPR + i] = reg(i);
    emulate(movs, sizeof(movs));
    cr_assert_eq(nacc, 0);
    cr_assert_eq(flags(), RS_REPLY_INJECT);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(14, 3), 0),
                 "#PF, not present, a read");
    cr_assert_eq(fake_state.cr2, 0x402000);
    // a destination that faults: W/R set; and the source is not read (a device read has effects)
    w[RS_EXIT_MR_RSI] = 0x400000;
    w[RS_EXIT_MR_RDI] = 0x402004;
    emulate(movs, sizeof(movs));
    cr_assert_eq(nacc, 0);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(14, 3), 2));
    cr_assert_eq(fake_state.cr2, 0x402004);
}

static unsigned region_calls[2];
static void region_a(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    cr_assert_eq(ctx, &token);
    region_calls[0]++;
    *value = write ? *value : gpa + size;
}
static void region_b(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    (void)ctx, (void)gpa, (void)size, (void)write, (void)value;
    region_calls[1]++;
}

Test(emulate, regions_dispatch_by_guest_physical_range)
{
    static const struct mmio_region t[] = {{0x1000, 0x1000, region_a}, {0x3000, 0x200, region_b}};
    uint64_t v = 0;
    cr_assert(mmio_dispatch(t, 2, &token, 0x1000, 4, false, &v));
    cr_assert(v == 0x1004 && region_calls[0] == 1);
    cr_assert(mmio_dispatch(t, 2, &token, 0x1FFC, 4, false, &v));
    cr_assert(!mmio_dispatch(t, 2, &token, 0x1FFE, 4, false, &v), "straddles the end");
    cr_assert(mmio_dispatch(t, 2, &token, 0x31F8, 8, true, &v));
    cr_assert_eq(region_calls[1], 1);
    cr_assert(!mmio_dispatch(t, 2, &token, 0x3200, 1, true, &v));
    cr_assert(!mmio_dispatch(t, 2, &token, 0xFFF, 1, true, &v));
    cr_assert(!mmio_dispatch(t, 2, &token, ~0ull, 1, true, &v), "no wrap-around");
    cr_assert(!mmio_dispatch(t, 0, &token, 0x1000, 1, true, &v), "an empty table");
    cr_assert(region_calls[0] == 2 && region_calls[1] == 1);
}

/* The whole path: exit.c's dispatch, mmio_exit, the info device's region, the flags. */
Test(emulate, an_alu_instruction_on_the_info_device_through_vmm_exit)
{
    exit_of(RS_EXIT_GUEST_FAULT, 1);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_RDX] = w[RS_EXIT_MR_GPA] = INFO_GPA;
    static const uint8_t cmp[] = {0x81, 0x3A, 0x30, 0x47, 0x53, 0x52}; // cmpl $INFO_MAGIC, (%edx)
    memcpy(fake_ram + CODE_GPA, cmp, sizeof(cmp));
    fake_writes = 0;
    run();
    cr_assert_eq(rip(), CODE_GPA + 6);
    cr_assert_eq(rflags(), IF_ON | INSN_ZF | INSN_PF, "equal: %lx", rflags());
}
