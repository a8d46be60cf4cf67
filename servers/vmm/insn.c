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
    for (unsigned k = 0; k < bytes; k++)
        v |= (uint64_t)p[k] << (8 * k);
    return v;
}

/* ModRM (+ SIB, displacement) of a memory operand; *reg = the reg field. A register operand
 * (mod 3) is no memory access: false. */
static bool modrm(struct cursor *c, unsigned asize, uint8_t rex, unsigned *reg)
{
    if (c->i >= c->n) return false;
    uint8_t m = c->b[c->i];
    if (!take(c, 1)) return false;
    unsigned mod = m >> 6, rm = m & 7, disp;
    *reg = ((m >> 3) & 7) | (rex & 4 ? 8 : 0);
    if (mod == 3) return false;
    if (asize == 2) {
        disp = mod == 1 ? 1 : mod == 2 ? 2 : rm == 6 ? 2 : 0;
        return take(c, disp);
    }
    disp = mod == 1 ? 1 : mod == 2 ? 4 : rm == 5 ? 4 : 0; // mod 0 rm 5: disp32 (RIP-relative)
    if (rm == 4) { // SIB; base 5 with mod 0 means disp32 without a base
        if (c->i >= c->n) return false;
        uint8_t sib = c->b[c->i];
        if (!take(c, 1)) return false;
        if (mod == 0 && (sib & 7) == 5) disp = 4;
    }
    return take(c, disp);
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
static bool one_byte(struct cursor *c, uint8_t op, unsigned osize, unsigned asize, uint8_t rex,
                     struct insn *d)
{
    unsigned reg = 0;
    switch (op) {
    case 0x88:
    case 0x89:
    case 0x8A:
    case 0x8B: // mov r/m, r and mov r, r/m
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->write = !(op & 2);
        if (!modrm(c, asize, rex, &reg)) return false;
        d->reg = (uint8_t)reg;
        return true;
    case 0xC6:
    case 0xC7: // mov r/m, imm
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->write = true;
        return modrm(c, asize, rex, &reg) && (reg & 7) == 0 && immediate(c, d);
    case 0xA0:
    case 0xA1:
    case 0xA2:
    case 0xA3: // mov al/ax/eax/rax <-> moffs
        d->size = op & 1 ? (uint8_t)osize : 1;
        d->write = (op & 2) != 0;
        d->reg = 0;
        return take(c, asize);
    default:
        return false;
    }
}

/* 0F B6/B7 (movzx) and 0F BE/BF (movsx): loads only. */
static bool two_byte(struct cursor *c, uint8_t op, unsigned osize, unsigned asize, uint8_t rex,
                     struct insn *d)
{
    if (op != 0xB6 && op != 0xB7 && op != 0xBE && op != 0xBF) return false;
    unsigned reg = 0;
    d->size = op & 1 ? 2 : 1;
    d->ext = op & 8 ? INSN_EXT_SIGN : INSN_EXT_ZERO;
    d->reg_size = (uint8_t)osize;
    if (!modrm(c, asize, rex, &reg)) return false;
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
    for (; c.i < c.n && c.i < MAX_LEN; c.i++) { // legacy prefixes, any order
        uint8_t p = b[c.i];
        if (p == 0x66)
            opsize = true;
        else if (p == 0x67)
            adsize = true;
        else if (p != 0x26 && p != 0x2E && p != 0x36 && p != 0x3E && p != 0x64 && p != 0x65 &&
                 p != 0xF0 && p != 0xF2 && p != 0xF3)
            break;
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
        ok = take(&c, 1) && two_byte(&c, op2, osize, asize, rex, d);
    } else {
        ok = one_byte(&c, op, osize, asize, rex, d);
    }
    if (!ok) return false;
    if (!d->reg_size) d->reg_size = d->size;
    // without REX, byte registers 4-7 are AH CH DH BH: bits 8-15 of registers 0-3
    if (d->size == 1 && d->reg_size == 1 && !rex && d->reg >= 4 && d->reg < 8 && !d->has_imm) {
        d->high8 = true;
        d->reg -= 4;
    }
    d->len = (uint8_t)c.i;
    return true;
}
