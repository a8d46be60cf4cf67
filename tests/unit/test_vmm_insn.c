// SPDX-License-Identifier: MIT
// Host tests of the VMM's MOV decoder for MMIO (servers/vmm/insn.c): it gets guest bytes, so the
// tests include truncated and malformed input.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(insn);

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
    cr_assert(!DECODE(64, 0xF7, 0x32), "div");
    cr_assert(!DECODE(64, 0xFF, 0x12), "call *(%rdx)");
    cr_assert(!DECODE(64, 0xF6, 0x0A, 1), "F6 /1 is reserved");
    cr_assert(!DECODE(64, 0x0F, 0xBA, 0x1A, 1), "0F BA /3 is no BT");
    cr_assert(!DECODE(64, 0x0F, 0xC7, 0x0A), "cmpxchg8b");
    cr_assert(!DECODE(64, 0x01, 0xC0), "add between registers");
    cr_assert(!DECODE(64, 0x04, 0x01), "add to al: no memory");
    cr_assert(!DECODE(64, 0x0F, 0x0B), "ud2");
    cr_assert(!DECODE(64, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
                      0x66, 0x66, 0x8B, 0x02),
              "longer than 15 bytes");
    cr_assert(!DECODE(48, 0x8B, 0x02), "no such mode");
    cr_assert(!insn_decode(NULL, 0, 64, &d), "no bytes");
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

/* The ALU forms with a memory operand (issue 10): which operation, which way, what is written. */
Test(insn, alu_forms)
{
    struct insn d;
    cr_assert(DECODE(64, 0x01, 0x02)); // add %eax, (%rdx)
    cr_assert(d.op == INSN_ALU && d.alu == INSN_ADD && d.size == 4 && d.write && !d.reg_dst);
    cr_assert(d.has_reg && d.reg == 0 && !d.has_imm && d.len == 2);
    cr_assert(DECODE(64, 0x4C, 0x03, 0x02)); // add (%rdx), %r8
    cr_assert(d.alu == INSN_ADD && d.reg_dst && !d.write && d.reg == 8 && d.size == 8);
    cr_assert(DECODE(32, 0x38, 0x22)); // cmp %ah, (%edx)
    cr_assert(d.alu == INSN_CMP && !d.write && d.size == 1 && d.high8 && d.reg == 0);
    cr_assert(DECODE(32, 0x2B, 0x02)); // sub (%edx), %eax
    cr_assert(d.alu == INSN_SUB && d.reg_dst);
    cr_assert(DECODE(32, 0x83, 0x0A, 0xFF)); // orl $-1, (%edx): imm8 sign-extended
    cr_assert(d.alu == INSN_OR && d.has_imm && d.imm == ~0ull && d.size == 4 && d.len == 3);
    cr_assert(!d.has_reg && !d.high8);
    cr_assert(DECODE(32, 0x80, 0x3C, 0x24, 0x7F)); // cmpb $0x7f, (%esp)
    cr_assert(d.alu == INSN_CMP && !d.write && d.imm == 0x7F && d.len == 4 && d.seg == INSN_SS);
    cr_assert(DECODE(64, 0x48, 0x81, 0x22, 0, 0, 0, 0x80)); // andq $imm32 (sign-extended)
    cr_assert(d.alu == INSN_AND && d.imm == 0xFFFFFFFF80000000ull && d.len == 7);
    cr_assert(DECODE(16, 0x81, 0x37, 0x34, 0x12)); // xorw $0x1234, (%bx)
    cr_assert(d.alu == INSN_XOR && d.size == 2 && d.imm == 0x1234 && d.len == 4);
    cr_assert(DECODE(64, 0xF6, 0x02, 0x80)); // testb $0x80, (%rdx)
    cr_assert(d.alu == INSN_TEST && !d.write && d.imm == 0x80 && d.len == 3);
    cr_assert(DECODE(64, 0x66, 0xF7, 0x02, 0x01, 0x80)); // testw $0x8001
    cr_assert(d.alu == INSN_TEST && d.size == 2 && d.imm == 0x8001 && d.len == 5);
    cr_assert(DECODE(64, 0x85, 0x02)); // test %eax, (%rdx)
    cr_assert(d.alu == INSN_TEST && d.has_reg && !d.write);
    cr_assert(DECODE(64, 0xF7, 0x12)); // notl (%rdx)
    cr_assert(d.alu == INSN_NOT && d.write && !d.has_imm && !d.has_reg && d.len == 2);
    cr_assert(DECODE(64, 0xF7, 0x1A)); // negl
    cr_assert_eq(d.alu, INSN_NEG);
    cr_assert(DECODE(64, 0xFE, 0x02)); // incb
    cr_assert(d.alu == INSN_INC && d.size == 1);
    cr_assert(DECODE(64, 0x48, 0xFF, 0x0A)); // decq
    cr_assert(d.alu == INSN_DEC && d.size == 8);
    cr_assert(DECODE(64, 0xF0, 0x0F, 0xBA, 0x2A, 0x05)); // lock btsl $5, (%rdx)
    cr_assert(d.alu == INSN_BTS && d.write && d.imm == 5 && !d.bt_reg && d.len == 5);
    cr_assert(DECODE(64, 0x0F, 0xA3, 0x02)); // bt %eax, (%rdx)
    cr_assert(d.alu == INSN_BT && !d.write && d.bt_reg && d.has_reg && d.size == 4);
    cr_assert(DECODE(64, 0x48, 0x0F, 0xB3, 0x0A)); // btr %rcx, (%rdx)
    cr_assert(d.alu == INSN_BTR && d.write && d.reg == 1 && d.size == 8);
    cr_assert(DECODE(64, 0x66, 0x0F, 0xBB, 0x02)); // btc %ax, (%rdx)
    cr_assert(d.alu == INSN_BTC && d.size == 2);
}

Test(insn, xchg_with_and_without_lock)
{
    struct insn d;
    cr_assert(DECODE(64, 0x87, 0x02)); // xchg %eax, (%rdx)
    cr_assert(d.op == INSN_XCHG && d.write && d.size == 4 && d.len == 2 && d.has_reg);
    cr_assert(DECODE(64, 0xF0, 0x86, 0x3A)); // lock xchg %bh, (%rdx)
    cr_assert(d.op == INSN_XCHG && d.size == 1 && d.high8 && d.reg == 3 && d.len == 3);
    cr_assert(DECODE(64, 0x45, 0x86, 0x38)); // xchg %r15b, (%r8)
    cr_assert(!d.high8 && d.reg == 15 && d.base == 8);
}

Test(insn, string_instructions_and_their_prefixes)
{
    struct insn d;
    cr_assert(DECODE(64, 0xF3, 0x48, 0xA5)); // rep movsq
    cr_assert(d.op == INSN_MOVS && d.rep == 0xF3 && d.size == 8 && d.asize == 8 && d.len == 3);
    cr_assert(d.write && d.seg == INSN_DS);
    cr_assert(DECODE(64, 0x67, 0xF3, 0xAA)); // rep stosb, 32-bit addresses
    cr_assert(d.op == INSN_STOS && d.size == 1 && d.asize == 4 && d.len == 3);
    cr_assert(DECODE(32, 0x66, 0xAD)); // lodsw
    cr_assert(d.op == INSN_LODS && d.size == 2 && !d.rep && !d.write);
    cr_assert(DECODE(16, 0xF2, 0x64, 0xA5)); // repne movsw %fs:(%si): F2 repeats MOVS too
    cr_assert(d.op == INSN_MOVS && d.rep == 0xF2 && d.size == 2 && d.asize == 2 &&
              d.seg == INSN_FS);
    cr_assert(DECODE(16, 0x66, 0x67, 0xA5)); // movsl with 32-bit addresses in 16-bit code
    cr_assert(d.size == 4 && d.asize == 4);
    cr_assert(DECODE(64, 0xF3, 0x6C)); // rep insb
    cr_assert(d.op == INSN_INS && d.size == 1 && d.write);
    cr_assert(DECODE(64, 0x48, 0x6F)); // outsl: REX.W does not make it 8 bytes
    cr_assert(d.op == INSN_OUTS && d.size == 4 && !d.write);
    cr_assert(DECODE(64, 0x2E, 0x66, 0x6F)); // outsw %cs:(%rsi)
    cr_assert(d.size == 2 && d.seg == INSN_CS);
    cr_assert(DECODE(64, 0xF3, 0x89, 0x02)); // a REP on a MOV means nothing
    cr_assert_eq(d.rep, 0);
}
