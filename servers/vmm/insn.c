// SPDX-License-Identifier: MIT
// A decoder for the instructions an MMIO access can be: MOV between memory and a register or an
// immediate (88 89 8A 8B C6 C7 A0-A3) and MOVZX/MOVSX loads (0F B6 B7 BE BF), with legacy
// prefixes and REX. A guest-fault exit carries no instruction length (docs/virtualization.md),
// so the VMM decodes it; anything else is refused and the caller injects #GP. The bytes are the
// guest's: every index is checked against n and the architectural limit of 15 bytes.
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

/* The immediate of C6/C7: imm8, imm16, or imm32 (sign-extended for a 64-bit store). */
static bool immediate(struct cursor *c, struct insn *d)
{
    unsigned bytes = d->size == 8 ? 4 : d->size;
    unsigned at = c->i;
    if (!take(c, bytes)) return false;
    d->imm = le(c->b + at, bytes);
    if (d->size == 8) d->imm = (uint64_t)(int64_t)(int32_t)d->imm;
    d->has_imm = true;
    return true;
}

/* One-byte opcodes; osize/asize are the operand and address sizes in bytes. */
static bool one_byte(struct cursor *c, uint8_t op, unsigned osize, unsigned asize, unsigned mode,
                     uint8_t rex, bool so, struct insn *d)
{
    unsigned reg = 0;
    switch (op) {
    case 0x88:
    case 0x89:
    case 0x8A:
    case 0x8B: // mov r/m, r and mov r, r/m
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->write = !(op & 2);
        if (!modrm(c, asize, mode, rex, so, &reg, d)) return false;
        d->reg = (uint8_t)reg;
        return true;
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
        d->base = d->index = INSN_NO_REG;
        d->scale = 1;
        if (!displacement(c, asize, d)) return false;
        d->disp = (int64_t)le(c->b + c->i - asize, asize); // an offset: zero-extended
        return true;
    default: return false;
    }
}

/* 0F B6/B7 (movzx) and 0F BE/BF (movsx): loads only. */
static bool two_byte(struct cursor *c, uint8_t op, unsigned osize, unsigned asize, unsigned mode,
                     uint8_t rex, bool so, struct insn *d)
{
    if (op != 0xB6 && op != 0xB7 && op != 0xBE && op != 0xBF) return false;
    unsigned reg = 0;
    d->size = op & 1 ? 2 : 1;
    d->ext = op & 8 ? INSN_EXT_SIGN : INSN_EXT_ZERO;
    d->reg_size = (uint8_t)osize;
    if (!modrm(c, asize, mode, rex, so, &reg, d)) return false;
    d->reg = (uint8_t)reg;
    return true;
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
        else if (p != 0xF0 && p != 0xF2 && p != 0xF3) break;
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
    if (d->size == 1 && d->reg_size == 1 && !rex && d->reg >= 4 && d->reg < 8 && !d->has_imm) {
        d->high8 = true;
        d->reg -= 4;
    }
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
