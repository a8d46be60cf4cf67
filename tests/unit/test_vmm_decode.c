// SPDX-License-Identifier: MIT
// Host tests of what the VMM reads of a guest: the MOV decoder for MMIO (servers/vmm/insn.c) and
// the walk through the guest's page tables (gmem.c) in each paging mode. Both get guest bytes,
// so the tests include truncated and malformed input and tables pointing outside RAM.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(insn);
TestSuite(gmem, .init = fake_setup);

#define DECODE(mode, ...)                                                                          \
    ({                                                                                             \
        static const uint8_t b_[] = {__VA_ARGS__};                                                 \
        insn_decode(b_, sizeof(b_), mode, &d);                                                     \
    })

Test(insn, loads_and_stores_through_a_register)
{
    struct insn d;
    cr_assert(DECODE(64, 0x8B, 0x02)); // mov (%rdx), %eax
    cr_assert(d.len == 2 && d.size == 4 && d.reg == 0 && !d.write);
    cr_assert(DECODE(64, 0x89, 0x02)); // mov %eax, (%rdx)
    cr_assert(d.len == 2 && d.size == 4 && d.write);
    cr_assert(DECODE(32, 0x66, 0x89, 0x02)); // mov %ax, (%edx)
    cr_assert(d.len == 3 && d.size == 2);
    cr_assert(DECODE(32, 0x88, 0x02)); // mov %al, (%edx)
    cr_assert(d.len == 2 && d.size == 1 && d.write && !d.high8);
    cr_assert(DECODE(64, 0x48, 0x8B, 0x0A)); // mov (%rdx), %rcx
    cr_assert(d.len == 3 && d.size == 8 && d.reg == 1);
    cr_assert(DECODE(64, 0x4C, 0x8B, 0x02)); // mov (%rdx), %r8
    cr_assert(d.reg == 8);
    cr_assert(DECODE(16, 0x8B, 0x07)); // mov (%bx), %ax
    cr_assert(d.len == 2 && d.size == 2);
    cr_assert(DECODE(16, 0x66, 0x8B, 0x07));
    cr_assert(d.size == 4);
}

Test(insn, high_byte_registers_only_without_rex)
{
    struct insn d;
    cr_assert(DECODE(64, 0x8A, 0x22)); // mov (%rdx), %ah
    cr_assert(d.high8 && d.reg == 0);
    cr_assert(DECODE(64, 0x40, 0x8A, 0x22)); // mov (%rdx), %spl
    cr_assert(!d.high8 && d.reg == 4);
}

Test(insn, addressing_forms_and_their_lengths)
{
    struct insn d;
    cr_assert(DECODE(64, 0x8B, 0x04, 0x24)); // (%rsp): SIB
    cr_assert_eq(d.len, 3);
    cr_assert(DECODE(64, 0x8B, 0x44, 0x24, 0x08)); // 8(%rsp)
    cr_assert_eq(d.len, 4);
    cr_assert(DECODE(64, 0x8B, 0x84, 0x24, 1, 2, 3, 4)); // disp32(%rsp)
    cr_assert_eq(d.len, 7);
    cr_assert(DECODE(64, 0x8B, 0x04, 0x25, 0, 0, 0xD0, 0xFE)); // absolute disp32 through SIB
    cr_assert_eq(d.len, 7);
    cr_assert(DECODE(64, 0x8B, 0x05, 1, 2, 3, 4)); // RIP-relative
    cr_assert_eq(d.len, 6);
    cr_assert(DECODE(32, 0x8B, 0x05, 0, 0, 0xD0, 0xFE)); // absolute
    cr_assert_eq(d.len, 6);
    cr_assert(DECODE(16, 0x8B, 0x06, 0x34, 0x12)); // absolute disp16
    cr_assert_eq(d.len, 4);
    cr_assert(DECODE(32, 0x67, 0x8B, 0x47, 0x10)); // 16-bit addressing by prefix: 0x10(%bx)
    cr_assert_eq(d.len, 4);
    cr_assert(DECODE(64, 0x3E, 0xF0, 0x2E, 0x89, 0x02)); // segment and lock prefixes
    cr_assert_eq(d.len, 5);
}

Test(insn, immediates)
{
    struct insn d;
    cr_assert(DECODE(64, 0xC7, 0x02, 0x78, 0x56, 0x34, 0x12)); // movl $0x12345678, (%rdx)
    cr_assert(d.len == 6 && d.write && d.has_imm && d.imm == 0x12345678 && d.size == 4);
    cr_assert(DECODE(64, 0x48, 0xC7, 0x02, 0xFE, 0xFF, 0xFF, 0xFF)); // movq $-2, (%rdx)
    cr_assert(d.size == 8 && d.imm == (uint64_t)-2);
    cr_assert(DECODE(32, 0x66, 0xC7, 0x02, 0x34, 0x12));
    cr_assert(d.len == 5 && d.imm == 0x1234);
    cr_assert(DECODE(32, 0xC6, 0x02, 0x99));
    cr_assert(d.len == 3 && d.size == 1 && d.imm == 0x99);
    cr_assert(DECODE(64, 0xC7, 0x05, 1, 0, 0, 0, 0xAA, 0, 0, 0)); // RIP-relative with imm32
    cr_assert(d.len == 10 && d.imm == 0xAA);
}

Test(insn, moffs_and_extending_loads)
{
    struct insn d;
    cr_assert(DECODE(32, 0xA1, 4, 0, 0xD0, 0xFE)); // mov 0xFED00004, %eax
    cr_assert(d.len == 5 && d.reg == 0 && !d.write && d.size == 4);
    cr_assert(DECODE(64, 0xA3, 8, 0, 0xD0, 0xFE, 0, 0, 0, 0)); // 64-bit moffs
    cr_assert(d.len == 9 && d.write);
    cr_assert(DECODE(64, 0x0F, 0xB6, 0x02)); // movzbl (%rdx), %eax
    cr_assert(d.len == 3 && d.size == 1 && d.reg_size == 4 && d.ext == INSN_EXT_ZERO && !d.high8);
    cr_assert(DECODE(64, 0x48, 0x0F, 0xBF, 0x02)); // movswq
    cr_assert(d.size == 2 && d.reg_size == 8 && d.ext == INSN_EXT_SIGN);
}

Test(insn, anything_else_is_refused)
{
    struct insn d;
    cr_assert(!DECODE(64, 0x8B, 0xC0), "register to register is no memory access");
    cr_assert(!DECODE(64, 0x8B), "truncated ModRM");
    cr_assert(!DECODE(64, 0x8B, 0x05, 1, 2), "truncated displacement");
    cr_assert(!DECODE(64, 0xC7, 0x02, 1, 2), "truncated immediate");
    cr_assert(!DECODE(64, 0xC6, 0x0A, 1), "C6 /1 is no MOV");
    cr_assert(!DECODE(64, 0x01, 0x02), "add");
    cr_assert(!DECODE(64, 0xF3, 0xA5), "rep movs");
    cr_assert(!DECODE(64, 0x0F, 0x0B), "ud2");
    cr_assert(!DECODE(64, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                      0x66, 0x66, 0x8B, 0x02),
              "longer than 15 bytes");
    cr_assert(!DECODE(48, 0x8B, 0x02), "no such mode");
    cr_assert(!insn_decode(NULL, 0, 64, &d), "no bytes");
}

/* ---- page walks ---- */

static void put64(uint64_t gpa, uint64_t v)
{
    memcpy(fake_ram + gpa, &v, 8);
}
static void put32(uint64_t gpa, uint32_t v)
{
    memcpy(fake_ram + gpa, &v, 4);
}

Test(gmem, without_paging_linear_is_physical)
{
    struct gmem_cpu c = {.cr0 = 0x11};
    uint64_t gpa;
    cr_assert(gmem_translate(&fake_vmm, &c, 0x1FED00000ull, &gpa));
    cr_assert_eq(gpa, 0xFED00000, "32-bit: the address wraps at 4 GiB");
}

Test(gmem, four_level_paging_with_4k_2m_and_1g_pages)
{
    struct gmem_cpu c = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x20, .efer = 0x500};
    put64(0x1000, 0x2003);                        // PML4[0] -> PDPT at 0x2000
    put64(0x2000, 0x3003);                        // PDPT[0] -> PD at 0x3000
    put64(0x2008, 0x40000083);                    // PDPT[1]: a 1 GiB page at 1 GiB
    put64(0x3000, 0x4003);                        // PD[0] -> PT at 0x4000
    put64(0x3008, 0x200083);                      // PD[1]: a 2 MiB page at 2 MiB
    put64(0x4000 + 5 * 8, 0x8000000000007003ull); // PT[5]: 0x7000, NX set
    uint64_t gpa;
    cr_assert(gmem_translate(&fake_vmm, &c, 0x5123, &gpa));
    cr_assert_eq(gpa, 0x7123);
    cr_assert(gmem_translate(&fake_vmm, &c, 0x212345, &gpa));
    cr_assert_eq(gpa, 0x212345);
    cr_assert(gmem_translate(&fake_vmm, &c, 0x40001234, &gpa));
    cr_assert_eq(gpa, 0x40001234);
    cr_assert(!gmem_translate(&fake_vmm, &c, 0x6000, &gpa), "not present");
    put64(0x4000 + 6 * 8, 0x7F000001); // PT[6] present, but...
    put64(0x3010, 0x7FFFF003);         // PD[2] -> a table beyond RAM
    cr_assert(!gmem_translate(&fake_vmm, &c, 0x400000, &gpa), "a table outside RAM ends the walk");
}

Test(gmem, pae_and_32_bit_paging)
{
    uint64_t gpa;
    struct gmem_cpu pae = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x20};
    put64(0x1000 + 3 * 8, 0x2001);     // PDPTE[3] -> PD at 0x2000
    put64(0x2000 + 502 * 8, 0x200083); // 0xFEC00000: a 2 MiB page at 2 MiB
    cr_assert(gmem_translate(&fake_vmm, &pae, 0xFEC01234, &gpa));
    cr_assert_eq(gpa, 0x201234);
    struct gmem_cpu p32 = {.cr0 = 0x80000011, .cr3 = 0x3000, .cr4 = 0x10};
    put32(0x3000 + 1 * 4, 0x00400083); // PDE[1]: a 4 MiB page (PSE)
    put32(0x3000 + 2 * 4, 0x00005003); // PDE[2] -> PT at 0x5000
    put32(0x5000 + 3 * 4, 0x00009003); // PTE[3] -> 0x9000
    cr_assert(gmem_translate(&fake_vmm, &p32, 0x00412345, &gpa));
    cr_assert_eq(gpa, 0x412345);
    cr_assert(gmem_translate(&fake_vmm, &p32, 0x00803ABC, &gpa));
    cr_assert_eq(gpa, 0x9ABC);
    p32.cr4 = 0; // without PSE, PS means nothing: PDE[1] is a table at 4 MiB, outside RAM
    cr_assert(!gmem_translate(&fake_vmm, &p32, 0x00400000, &gpa));
}

Test(gmem, a_fetch_follows_pages_and_stops_where_memory_ends)
{
    struct gmem_cpu c = {.cr0 = 0x80000011, .cr3 = 0x1000, .cr4 = 0x20, .efer = 0x500};
    put64(0x1000, 0x2003);
    put64(0x2000, 0x3003);
    put64(0x3000, 0x4003);
    put64(0x4000 + 1 * 8, 0x9003); // 0x1000 -> 0x9000
    put64(0x4000 + 2 * 8, 0x7003); // 0x2000 -> 0x7000 (not contiguous)
    fake_ram[0x9FFE] = 0xAA, fake_ram[0x9FFF] = 0xBB, fake_ram[0x7000] = 0xCC;
    uint8_t b[4];
    cr_assert_eq(gmem_fetch(&fake_vmm, &c, 0x1FFE, b, 3), 3);
    cr_assert(b[0] == 0xAA && b[1] == 0xBB && b[2] == 0xCC);
    cr_assert_eq(gmem_fetch(&fake_vmm, &c, 0x2FFE, b, 4), 2, "0x3000 is not mapped");
    struct gmem_cpu flat = {.cr0 = 0x11};
    cr_assert_eq(gmem_fetch(&fake_vmm, &flat, FAKE_RAM_SIZE - 1, b, 4), 1, "RAM ends");
}

/* The memory operand, for the effective address of an access that straddles pages or the end
 * of RAM (issue 16 item 11): base, index, scale, displacement, segment, address size. */
Test(insn, memory_operands)
{
    struct insn d;
    uint64_t w[RS_EXIT_MR_COUNT] = {0};
    w[RS_EXIT_MR_RDX] = 0x1000, w[RS_EXIT_MR_RCX] = 3, w[RS_EXIT_MR_RBP] = 0x8000;
    w[RS_EXIT_MR_RSP] = 0x9000, w[RS_EXIT_MR_R13] = 0x50, w[RS_EXIT_MR_RIP] = 0x400000;
    cr_assert(DECODE(64, 0x48, 0x89, 0x44, 0x8A, 0xF0)); // mov %rax, -16(%rdx,%rcx,4)
    cr_assert(d.base == 2 && d.index == 1 && d.scale == 4 && d.disp == -16 && d.asize == 8);
    cr_assert_eq(insn_ea(&d, w), 0x1000 + 12 - 16);
    cr_assert(DECODE(64, 0x8B, 0x05, 0x10, 0, 0, 0)); // mov 0x10(%rip), %eax
    cr_assert_eq(insn_ea(&d, w), 0x400000 + 6 + 0x10, "from the next instruction");
    cr_assert(DECODE(64, 0x41, 0x8B, 0x45, 0x04)); // mov 4(%r13), %eax: r13 is no RIP form
    cr_assert_eq(insn_ea(&d, w), 0x54);
    cr_assert(DECODE(64, 0x8B, 0x04, 0x24)); // (%rsp), index 4 is none
    cr_assert(d.index == INSN_NO_REG && d.seg == INSN_SS);
    cr_assert_eq(insn_ea(&d, w), 0x9000);
    cr_assert(DECODE(64, 0x64, 0x8B, 0x02)); // %fs:(%rdx)
    cr_assert_eq(d.seg, INSN_FS);
    cr_assert(DECODE(64, 0x67, 0x8B, 0x42, 0xFF)); // -1(%edx): 32-bit address size wraps
    w[RS_EXIT_MR_RDX] = 0;
    cr_assert_eq(insn_ea(&d, w), 0xFFFFFFFF);
    cr_assert(DECODE(64, 0x48, 0xA1, 0, 0, 0xD0, 0xFE, 0, 0, 0, 0x80)); // movabs moffs64
    cr_assert_eq(insn_ea(&d, w), 0x80000000FED00000ull);
    cr_assert(DECODE(32, 0xA1, 0xF0, 0xFF, 0xFF, 0xFF)); // moffs32, zero-extended
    cr_assert_eq(insn_ea(&d, w), 0xFFFFFFF0);
    cr_assert(DECODE(32, 0x8B, 0x05, 0, 0, 0xD0, 0xFE)); // absolute disp32 outside 64-bit mode
    cr_assert(d.base == INSN_NO_REG && insn_ea(&d, w) == 0xFED00000);
    w[RS_EXIT_MR_RBX] = 0xFFFF, w[RS_EXIT_MR_RSI] = 2;
    cr_assert(DECODE(16, 0x8B, 0x40, 0x01)); // mov 1(%bx,%si), %ax: 16 bits wrap
    cr_assert(d.base == 3 && d.index == 6 && d.seg == INSN_DS && d.asize == 2);
    cr_assert_eq(insn_ea(&d, w), (0xFFFF + 2 + 1) & 0xFFFF);
    cr_assert(DECODE(16, 0x8B, 0x46, 0xFE)); // mov -2(%bp), %ax: SS
    cr_assert(d.seg == INSN_SS && insn_ea(&d, w) == 0x7FFE);
    cr_assert(DECODE(16, 0x26, 0x8B, 0x46, 0xFE)); // %es:-2(%bp): the override wins
    cr_assert_eq(d.seg, INSN_ES);
    cr_assert(DECODE(16, 0x8B, 0x06, 0x34, 0x12)); // mov 0x1234, %ax
    cr_assert(d.base == INSN_NO_REG && d.seg == INSN_DS && insn_ea(&d, w) == 0x1234);
}
