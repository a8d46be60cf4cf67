// SPDX-License-Identifier: MIT
// A decoder for the instructions an MMIO access can be, and the arithmetic they do: MOV between
// memory and a register or an immediate (88-8B C6 C7 A0-A3), MOVZX/MOVSX loads (0F B6 B7 BE BF),
// XCHG (86 87), the ALU forms with a memory operand (00-3B, 80 81 83, TEST 84 85 F6/F7 /0, NOT
// NEG F6/F7 /2 /3, INC DEC FE/FF /0 /1, BT BTS BTR BTC 0F A3 AB B3 BB BA), the string
// instructions MOVS STOS LODS (A4 A5 AA-AD) and, for their prefixes, INS OUTS (6C-6F); with
// legacy prefixes and REX. A guest-fault exit carries no instruction length
// (docs/virtualization.md), so the VMM decodes it; anything else is refused and the caller
// injects #GP. The bytes are the guest's: every index is checked against n and the
// architectural limit of 15 bytes.
#include "insn.h"
#include "vmm.h"

#define MAX_LEN 15

struct cursor {
    const uint8_t *b;
    unsigned n, i;
};

static bool take(struct cursor *c, unsigned count)
{
    if (c->i + count > c->n || c->i + count > MAX_LEN) return false;
    c->i += count;
    return true;
}

static uint64_t le(const uint8_t *p, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < bytes; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static int64_t sle(const uint8_t *p, unsigned bytes) /* sign-extended */
{
    uint64_t v = le(p, bytes);
    return bytes >= 8 ? (int64_t)v : (int64_t)(v << (64 - 8 * bytes)) >> (64 - 8 * bytes);
}

/* The displacement of `bytes` bytes at the cursor. */
static bool displacement(struct cursor *c, unsigned bytes, struct insn *d)
{
    unsigned at = c->i;
    if (!take(c, bytes)) return false;
    d->disp = bytes ? sle(c->b + at, bytes) : 0;
    return true;
}

/* 16-bit addressing (SDM vol. 2 table 2-1): rm -> base, index; BP-based forms default to SS. */
static bool modrm16(struct cursor *c, unsigned mod, unsigned rm, struct insn *d)
{
    static const uint8_t base[8] = {3, 3, 5, 5, 6, 7, 5, 3}; // BX BX BP BP SI DI BP BX
    static const uint8_t index[8] = {6,           7,           6,           7,
                                     INSN_NO_REG, INSN_NO_REG, INSN_NO_REG, INSN_NO_REG};
    d->base = base[rm];
    d->index = index[rm];
    if (d->base == 5 && d->seg == INSN_DS) d->seg = INSN_SS;
    if (mod == 0 && rm == 6) { // disp16 alone
        d->base = INSN_NO_REG;
        d->seg = d->seg == INSN_SS ? INSN_DS : d->seg;
        return displacement(c, 2, d);
    }
    return displacement(c, mod == 1 ? 1 : mod == 2 ? 2 : 0, d);
}

/* ModRM (+ SIB, displacement) of a memory operand; *reg = the reg field. A register operand
 * (mod 3) is no memory access: false. d->seg holds the override (or DS) on entry. */
static bool modrm(struct cursor *c, unsigned asize, unsigned mode, uint8_t rex, bool seg_override,
                  unsigned *reg, struct insn *d)
{
    if (c->i >= c->n) return false;
    uint8_t m = c->b[c->i];
    if (!take(c, 1)) return false;
    unsigned mod = m >> 6, rm = m & 7;
    *reg = ((m >> 3) & 7) | (rex & 4 ? 8 : 0);
    if (mod == 3) return false;
    d->scale = 1;
    if (asize == 2) {
        if (seg_override) { // an override wins over the SS default of BP forms
            uint8_t seg = d->seg;
            bool ok = modrm16(c, mod, rm, d);
            d->seg = seg;
            return ok;
        }
        return modrm16(c, mod, rm, d);
    }
    unsigned disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    d->index = INSN_NO_REG;
    d->base = (uint8_t)(rm | (rex & 1 ? 8 : 0));
    if (rm == 4) { // SIB; base 5 with mod 0 means disp32 without a base
        if (c->i >= c->n) return false;
        uint8_t sib = c->b[c->i];
        if (!take(c, 1)) return false;
        unsigned idx = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
        d->index = idx == 4 ? INSN_NO_REG : (uint8_t)idx; // index 4 (RSP) is none
        d->scale = (uint8_t)(1u << (sib >> 6));
        d->base = (uint8_t)((sib & 7) | (rex & 1 ? 8 : 0));
        if (mod == 0 && (sib & 7) == 5) {
            d->base = INSN_NO_REG;
            disp = 4;
        }
    } else if (mod == 0 && rm == 5) { // disp32: RIP-relative in 64-bit mode, absolute otherwise
        d->base = mode == 64 ? INSN_RIP : INSN_NO_REG;
        disp = 4;
    }
    // rSP and rBP as a base default to SS (without REX.B; only matters outside 64-bit mode)
    if (!seg_override && (d->base == 4 || d->base == 5)) d->seg = INSN_SS;
    return displacement(c, disp, d);
}

/* An immediate of `bytes` bytes at the cursor, sign-extended to 64 bits if `sign`. */
static bool imm_bytes(struct cursor *c, unsigned bytes, bool sign, struct insn *d)
{
    unsigned at = c->i;
    if (!take(c, bytes)) return false;
    d->imm = sign ? (uint64_t)sle(c->b + at, bytes) : le(c->b + at, bytes);
    d->has_imm = true;
    return true;
}

/* The immediate of an operation of d->size: imm8, imm16, or imm32 (sign-extended for 64 bits). */
static bool immediate(struct cursor *c, struct insn *d)
{
    return imm_bytes(c, d->size == 8 ? 4 : d->size, d->size == 8, d);
}

/* A ModRM memory operand whose reg field is the register operand. */
static bool with_reg(struct cursor *c, unsigned asize, unsigned mode, uint8_t rex, bool so,
                     struct insn *d)
{
    unsigned reg = 0;
    if (!modrm(c, asize, mode, rex, so, &reg, d)) return false;
    d->reg = (uint8_t)reg;
    d->has_reg = true;
    return true;
}

/* A string instruction (no ModRM): A4-AD and 6C-6F. */
static bool string(uint8_t op, unsigned osize, unsigned asize, uint8_t kind, struct insn *d)
{
    d->op = kind;
    d->size = op & 1 ? (uint8_t)osize : 1;
    d->asize = (uint8_t)asize;
    d->base = d->index = INSN_NO_REG;
    d->scale = 1;
    d->write = kind == INSN_MOVS || kind == INSN_STOS || kind == INSN_INS;
    if (kind == INSN_INS || kind == INSN_OUTS) d->size = d->size > 4 ? 4 : d->size; // no REX.W
    return true;
}

/* 80/81/83 (group 1: ADD OR ADC SBB AND SUB XOR CMP with an immediate), F6/F7 (TEST imm, NOT,
 * NEG), FE/FF (INC, DEC): the ModRM reg field picks the operation (SDM vol. 2 table A-6). */
static bool group(struct cursor *c, uint8_t op, unsigned osize, unsigned asize, unsigned mode,
                  uint8_t rex, bool so, struct insn *d)
{
    static const uint8_t unary[8] = {INSN_TEST,      INSN_ALU_COUNT, INSN_NOT,
                                     INSN_NEG,       INSN_ALU_COUNT, INSN_ALU_COUNT,
                                     INSN_ALU_COUNT, INSN_ALU_COUNT};
    unsigned reg = 0;
    d->op = INSN_ALU;
    d->size = op & 1 ? (uint8_t)osize : 1;
    if (!modrm(c, asize, mode, rex, so, &reg, d)) return false;
    reg &= 7;
    if (op <= 0x83) {
        d->alu = (uint8_t)reg;
        d->write = reg != INSN_CMP;
        if (op == 0x83) return imm_bytes(c, 1, true, d); // imm8, sign-extended
        return immediate(c, d);
    }
    if (op >= 0xFE) {
        if (reg > 1) return false; // FF /2../6: CALL, JMP, PUSH
        d->alu = (uint8_t)(reg ? INSN_DEC : INSN_INC);
        d->write = true;
        return true;
    }
    d->alu = unary[reg]; // F6/F7 /4../7: MUL, IMUL, DIV, IDIV (/1 is reserved)
    if (d->alu == INSN_ALU_COUNT) return false;
    d->write = d->alu != INSN_TEST;
    return d->alu != INSN_TEST || immediate(c, d);
}

/* One-byte opcodes; osize/asize are the operand and address sizes in bytes. */
static bool one_byte(struct cursor *c, uint8_t op, unsigned osize, unsigned asize, unsigned mode,
                     uint8_t rex, bool so, struct insn *d)
{
    unsigned reg = 0;
    if (op < 0x40 && (op & 7) < 4) { // 00-3B: ALU r/m, r (bit 1 clear) or r, r/m (bit 1 set)
        d->op = INSN_ALU;
        d->alu = (uint8_t)(op >> 3);
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->reg_dst = (op & 2) != 0;
        d->write = !d->reg_dst && d->alu != INSN_CMP;
        return with_reg(c, asize, mode, rex, so, d);
    }
    switch (op) {
    case 0x80:
    case 0x81:
    case 0x83:
    case 0xF6:
    case 0xF7:
    case 0xFE:
    case 0xFF: return group(c, op, osize, asize, mode, rex, so, d);
    case 0x84:
    case 0x85: // test r/m, r
        d->op = INSN_ALU;
        d->alu = INSN_TEST;
        d->size = op & 1 ? (uint8_t)osize : 1;
        return with_reg(c, asize, mode, rex, so, d);
    case 0x86:
    case 0x87: // xchg r/m, r
        d->op = INSN_XCHG;
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->write = true;
        return with_reg(c, asize, mode, rex, so, d);
    case 0x88:
    case 0x89:
    case 0x8A:
    case 0x8B: // mov r/m, r and mov r, r/m
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->write = !(op & 2);
        return with_reg(c, asize, mode, rex, so, d);
    case 0xC6:
    case 0xC7: // mov r/m, imm
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->write = true;
        return modrm(c, asize, mode, rex, so, &reg, d) && (reg & 7) == 0 && immediate(c, d);
    case 0xA0:
    case 0xA1:
    case 0xA2:
    case 0xA3: // mov al/ax/eax/rax <-> moffs
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->write = (op & 2) != 0;
        d->reg = 0;
        d->has_reg = true;
        d->base = d->index = INSN_NO_REG;
        d->scale = 1;
        if (!displacement(c, asize, d)) return false;
        d->disp = (int64_t)le(c->b + c->i - asize, asize); // an offset: zero-extended
        return true;
    case 0xA4:
    case 0xA5: return string(op, osize, asize, INSN_MOVS, d);
    case 0xAA:
    case 0xAB: return string(op, osize, asize, INSN_STOS, d);
    case 0xAC:
    case 0xAD: return string(op, osize, asize, INSN_LODS, d);
    case 0x6C:
    case 0x6D: return string(op, osize, asize, INSN_INS, d);
    case 0x6E:
    case 0x6F: return string(op, osize, asize, INSN_OUTS, d);
    default: return false;
    }
}

/* 0F B6/B7 (movzx) and 0F BE/BF (movsx): loads; 0F A3/AB/B3/BB (BT BTS BTR BTC r/m, r) and
 * 0F BA /4../7 (the same with imm8). */
static bool two_byte(struct cursor *c, uint8_t op, unsigned osize, unsigned asize, unsigned mode,
                     uint8_t rex, bool so, struct insn *d)
{
    static const uint8_t bt[4] = {INSN_BT, INSN_BTS, INSN_BTR, INSN_BTC};
    unsigned reg = 0;
    switch (op) {
    case 0xB6:
    case 0xB7:
    case 0xBE:
    case 0xBF:
        d->size = op & 1 ? 2 : 1;
        d->ext = op & 8 ? INSN_EXT_SIGN : INSN_EXT_ZERO;
        d->reg_size = (uint8_t)osize;
        return with_reg(c, asize, mode, rex, so, d);
    case 0xA3:
    case 0xAB:
    case 0xB3:
    case 0xBB: // the ModRM reg holds the bit offset
        d->op = INSN_ALU;
        d->alu = bt[(op >> 3) & 3];
        d->size = (uint8_t)osize;
        d->write = d->alu != INSN_BT;
        d->bt_reg = true;
        return with_reg(c, asize, mode, rex, so, d);
    case 0xBA:
        d->op = INSN_ALU;
        d->size = (uint8_t)osize;
        if (!modrm(c, asize, mode, rex, so, &reg, d) || (reg & 7) < 4) return false;
        d->alu = bt[reg & 3];
        d->write = d->alu != INSN_BT;
        return imm_bytes(c, 1, false, d);
    default: return false;
    }
}

bool insn_decode(const uint8_t *b, unsigned n, unsigned mode, struct insn *d)
{
    struct cursor c = {b, n, 0};
    bool opsize = false, adsize = false;
    uint8_t rex = 0;
    *d = (struct insn){0};
    if (mode != 16 && mode != 32 && mode != 64) return false;
    bool so = false; // a segment override prefix (the last one counts)
    d->seg = INSN_DS;
    for (; c.i < c.n && c.i < MAX_LEN; c.i++) { // legacy prefixes, any order
        uint8_t p = b[c.i];
        if (p == 0x66) opsize = true;
        else if (p == 0x67) adsize = true;
        else if (p == 0x26 || p == 0x2E || p == 0x36 || p == 0x3E)
            d->seg = (uint8_t)((p >> 3) & 3), so = true; // ES CS SS DS
        else if (p == 0x64 || p == 0x65) d->seg = (uint8_t)(INSN_FS + (p & 1)), so = true;
        else if (p == 0xF2 || p == 0xF3) d->rep = p;
        else if (p != 0xF0) break; // LOCK: the VMM's emulation is atomic to the guest
    }
    if (mode == 64 && c.i < c.n && (b[c.i] & 0xF0) == 0x40)
        rex = b[c.i++]; // REX: last before the opcode
    if (c.i >= c.n || c.i >= MAX_LEN) return false;
    uint8_t op = b[c.i];
    if (!take(&c, 1)) return false;
    unsigned osize = rex & 8 ? 8 : ((mode == 16) != opsize) ? 2 : 4;
    unsigned asize = mode == 64 ? (adsize ? 4 : 8) : ((mode == 16) != adsize) ? 2 : 4;
    bool ok;
    if (op == 0x0F) {
        if (c.i >= c.n) return false;
        uint8_t op2 = b[c.i];
        ok = take(&c, 1) && two_byte(&c, op2, osize, asize, mode, rex, so, d);
    } else {
        ok = one_byte(&c, op, osize, asize, mode, rex, so, d);
    }
    if (!ok) return false;
    if (!d->reg_size) d->reg_size = d->size;
    // without REX, byte registers 4-7 are AH CH DH BH: bits 8-15 of registers 0-3
    if (d->size == 1 && d->reg_size == 1 && !rex && d->reg >= 4 && d->reg < 8 && d->has_reg) {
        d->high8 = true;
        d->reg -= 4;
    }
    if (d->op < INSN_MOVS) d->rep = 0; // (a REP prefix on anything else means nothing here)
    d->len = (uint8_t)c.i;
    d->asize = (uint8_t)asize;
    return true;
}

uint64_t insn_ea(const struct insn *d, const uint64_t *w)
{
    uint64_t ea = (uint64_t)d->disp;
    if (d->base == INSN_RIP) ea += w[RS_EXIT_MR_RIP] + d->len;
    else if (d->base < 16) ea += exit_gpr(w, d->base);
    if (d->index < 16) ea += exit_gpr(w, d->index) * d->scale;
    return d->asize >= 8 ? ea : ea & ((1ull << (8 * d->asize)) - 1);
}

static uint64_t mask_of(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

/* PF: set when the low byte of the result has an even number of ones (SDM vol. 1 3.4.3.1). */
static bool parity_even(uint64_t r) { return !(__builtin_popcount((unsigned)(r & 0xFF)) & 1); }

uint64_t insn_alu(unsigned alu, unsigned size, uint64_t a, uint64_t b, uint64_t *rflags)
{
    if (size != 1 && size != 2 && size != 4) size = 8;
    unsigned top = 8 * size - 1;
    uint64_t m = mask_of(size), f = *rflags, carry_in = f & INSN_CF, r, cf = 0, of = 0, af = 0;
    a &= m, b &= m;
    switch (alu) {
    case INSN_ADD:
    case INSN_ADC:
    case INSN_INC:
        if (alu == INSN_INC) b = 1;
        r = (a + b + (alu == INSN_ADC ? carry_in : 0)) & m;
        cf = (((a & b) | ((a | b) & ~r)) >> top) & 1; // the carry out of the top bit
        of = (((a ^ r) & (b ^ r)) >> top) & 1;        // both operands' sign differs from r's
        af = ((a ^ b ^ r) >> 4) & 1;                  // the carry out of bit 3
        if (alu == INSN_INC) cf = carry_in;           // INC keeps CF
        break;
    case INSN_SUB:
    case INSN_SBB:
    case INSN_CMP:
    case INSN_DEC:
    case INSN_NEG:
        if (alu == INSN_DEC) b = 1;
        if (alu == INSN_NEG) b = a, a = 0; // NEG is 0 - a (CF = a != 0)
        r = (a - b - (alu == INSN_SBB ? carry_in : 0)) & m;
        cf = (((~a & b) | ((~a | b) & r)) >> top) & 1; // the borrow into the top bit
        of = (((a ^ b) & (a ^ r)) >> top) & 1;
        af = ((a ^ b ^ r) >> 4) & 1;
        if (alu == INSN_DEC) cf = carry_in; // DEC keeps CF
        break;
    case INSN_OR: r = a | b; break; // logical: CF = OF = 0; AF undefined: 0
    case INSN_AND:
    case INSN_TEST: r = a & b; break;
    case INSN_XOR: r = a ^ b; break;
    case INSN_NOT: return ~a & m; // no flags
    case INSN_BT:
    case INSN_BTS:
    case INSN_BTR:
    case INSN_BTC: {
        // CF = the bit (b modulo the operand's width); OF SF AF PF undefined: kept; ZF kept
        uint64_t bit = 1ull << (b & top);
        *rflags = (f & ~INSN_CF) | ((a & bit) ? INSN_CF : 0);
        return alu == INSN_BTS   ? a | bit
               : alu == INSN_BTR ? a & ~bit
               : alu == INSN_BTC ? a ^ bit
                                 : a;
    }
    default: return a;
    }
    f &= ~INSN_ARITH_MASK;
    f |= (cf ? INSN_CF : 0) | (of ? INSN_OF : 0) | (af ? INSN_AF : 0);
    f |= (r == 0 ? INSN_ZF : 0) | (((r >> top) & 1) ? INSN_SF : 0) | (parity_even(r) ? INSN_PF : 0);
    *rflags = f;
    return alu == INSN_CMP || alu == INSN_TEST ? a : r;
}
