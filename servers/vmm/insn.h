/* SPDX-License-Identifier: MIT */
/* The instructions the VMM emulates when a guest touches MMIO or does string port I/O: their
 * decoding (insn.c) and the arithmetic they do, with the flags it sets (insn_alu). Pure: no
 * guest state, no system calls. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <resurgo/vcpu.h>

/* What the instruction does with its memory operand (at seg:ea, size bytes). */
enum insn_op {
    INSN_MOV,  /* write: memory = reg or imm; else reg = memory (ext: MOVZX/MOVSX) */
    INSN_XCHG, /* reg <-> memory */
    INSN_ALU,  /* alu (enum insn_alu) on memory and reg or imm; see reg_dst */
    INSN_MOVS, /* ES:[rDI] = seg:[rSI]; rep: RCX times */
    INSN_STOS, /* ES:[rDI] = rAX */
    INSN_LODS, /* rAX = seg:[rSI] */
    INSN_INS,  /* ES:[rDI] = port DX (decoded for its prefixes: string port I/O) */
    INSN_OUTS, /* port DX = seg:[rSI] */
};
/* ALU operations: 0..7 are the group-1 encodings (the ModRM reg field of 80/81/83). */
enum insn_alu {
    INSN_ADD,
    INSN_OR,
    INSN_ADC,
    INSN_SBB,
    INSN_AND,
    INSN_SUB,
    INSN_XOR,
    INSN_CMP,
    INSN_TEST,
    INSN_NOT,
    INSN_NEG,
    INSN_INC,
    INSN_DEC,
    INSN_BT, /* b is the bit number; the result is a with it set, cleared or flipped */
    INSN_BTS,
    INSN_BTR,
    INSN_BTC,
    INSN_ALU_COUNT
};
enum insn_ext { INSN_EXT_NONE, INSN_EXT_ZERO, INSN_EXT_SIGN };
struct insn {
    uint8_t len;      /* bytes, prefixes included */
    uint8_t size;     /* bytes of memory accessed: 1, 2, 4, 8 (per element for strings) */
    uint8_t reg_size; /* bytes of the register written (movzx/movsx: wider than size) */
    uint8_t reg;      /* x86 register number of the register operand */
    bool high8;       /* AH, CH, DH, BH */
    bool write;       /* memory is written (a store, XCHG, or an ALU result to memory) */
    bool has_imm;
    uint8_t ext; /* enum insn_ext */
    uint64_t imm;
    uint8_t op;   /* enum insn_op */
    uint8_t alu;  /* enum insn_alu (INSN_ALU) */
    bool has_reg; /* a register operand (reg); else imm, or none (NOT NEG INC DEC) */
    bool reg_dst; /* INSN_ALU: the result goes to the register (02/03 forms), not memory */
    bool bt_reg;  /* BT* with a register bit offset: it also moves the address (SDM BT) */
    uint8_t rep;  /* strings: 0xF3 or 0xF2 (both repeat MOVS/STOS/LODS/INS/OUTS), or 0 */
    /* The memory operand: seg:[base + index * scale + disp], modulo 2^(8 * asize). Strings:
     * seg is the source's segment (DS or the override); the destination is always ES. */
    uint8_t seg;   /* enum insn_seg */
    uint8_t asize; /* address size in bytes: 2, 4, 8 */
    uint8_t base;  /* x86 register number, INSN_NO_REG or INSN_RIP (disp is from the next insn) */
    uint8_t index; /* x86 register number or INSN_NO_REG */
    uint8_t scale; /* 1, 2, 4, 8 */
    int64_t disp;
};
enum insn_seg { INSN_ES, INSN_CS, INSN_SS, INSN_DS, INSN_FS, INSN_GS };
#define INSN_NO_REG 0xFF
#define INSN_RIP    0xFE
/* Decodes b[0..n); mode is the code size: 16, 32 or 64. False for anything else. */
bool insn_decode(const uint8_t *b, unsigned n, unsigned mode, struct insn *d);
/* The operand's effective address (no segment base) with the exit's registers w. */
uint64_t insn_ea(const struct insn *d, const uint64_t *w);

/* The arithmetic flags (SDM vol. 1 3.4.3.1): CF PF AF ZF SF OF. */
#define INSN_CF         (1ull << 0)
#define INSN_PF         (1ull << 2)
#define INSN_AF         (1ull << 4)
#define INSN_ZF         (1ull << 6)
#define INSN_SF         (1ull << 7)
#define INSN_OF         (1ull << 11)
#define INSN_DF         (1ull << 10)
#define INSN_ARITH_MASK (INSN_CF | INSN_PF | INSN_AF | INSN_ZF | INSN_SF | INSN_OF)
/* Does alu on operands a (the destination) and b of `size` bytes (1, 2, 4, 8; other sizes are
 * taken as 8): returns the result (a for CMP, TEST, BT) and updates the arithmetic flags in
 * *rflags as the SDM's instruction pages say, the other bits untouched. Where the SDM leaves a
 * flag undefined it is cleared (AF of the logical operations) or kept (BT*: all but CF). An
 * unknown alu returns a and changes nothing. */
uint64_t insn_alu(unsigned alu, unsigned size, uint64_t a, uint64_t b, uint64_t *rflags);
