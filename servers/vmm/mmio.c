// SPDX-License-Identifier: MIT
// Guest-physical accesses outside RAM (RS_EXIT_GUEST_FAULT). The exit names the address but not
// the instruction, so the VMM reads it through the guest's page tables, decodes it (insn.c) and
// redoes it: its memory operand from the instruction's own effective address, split at page
// boundaries and the end of RAM, the RAM part done on RAM and each other part given to the
// device callback; the register, RIP and the arithmetic flags go into the reply. REP MOVS/STOS/
// LODS run EMU_REP_MAX iterations per exit at most, as KVM does: the guest then runs the
// instruction again with RCX, RSI and RDI advanced.
//
// The VMM's devices are found by guest-physical range (regions[] below): the info device
// (0xFED00000, guests/README.md); anywhere else is an open bus: reads return all ones, writes
// are dropped, and the first access to each page is logged — the guest runs on, as on a PC with
// nothing at that address. An instruction that cannot be emulated gets #GP; executing outside
// RAM, or an event whose delivery touches memory outside RAM, stops the guest (there is no
// instruction to skip, no access to emulate).
#include "mmio.h"

#define SEG_L      (1ull << 9)
#define SEG_DB     (1ull << 10)
#define INFO_PRINT 8
#define PF_VECTOR  14

static uint64_t ones(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

bool mmio_dispatch(const struct mmio_region *t, unsigned n, void *ctx, uint64_t gpa, unsigned size,
                   bool write, uint64_t *value)
{
    for (unsigned i = 0; i < n; i++)
        if (gpa - t[i].base < t[i].size && t[i].size - (gpa - t[i].base) >= size) {
            t[i].access(ctx, gpa, size, write, value);
            return true;
        }
    return false;
}

/* ---- the vCPU and guest memory ---- */

/* From the exit's own words (RS_EXIT_MR_CR0..EFER and the five after the GPRs): no ReadState
 * round trip per MMIO or string I/O exit. Outside 64-bit mode the words carry bits 31:0 of the
 * CS, SS, DS and ES bases, all that counts there; in it only FS and GS have a base (emu_linear). */
bool emu_cpu_read(struct vmm *v, const uint64_t *w, struct emu_cpu *c)
{
    (void)v;
    uint64_t seg = w[RS_EXIT_MR_SEG], cs_ss = w[RS_EXIT_MR_CS_SS_BASE],
             ds_es = w[RS_EXIT_MR_DS_ES_BASE], efer = w[RS_EXIT_MR_EFER];
    unsigned cs = rs_exit_cs_attrib(seg);
    *c = (struct emu_cpu){.paging = {w[RS_EXIT_MR_CR0], w[RS_EXIT_MR_CR3], w[RS_EXIT_MR_CR4], efer},
                          .seg_base = {rs_exit_high_base(ds_es), rs_exit_low_base(cs_ss),
                                       rs_exit_high_base(cs_ss), rs_exit_low_base(ds_es),
                                       w[RS_EXIT_MR_FS_BASE], w[RS_EXIT_MR_GS_BASE]},
                          .mode = (efer & EFER_LMA) && (cs & SEG_L) ? 64
                                  : (cs & SEG_DB)                   ? 32
                                                                    : 16,
                          .cpl = rs_exit_cpl(seg)}; // SS.DPL (SDM 5.5), as both backends give it
    return true;
}

uint64_t emu_linear(const struct emu_cpu *c, unsigned seg, uint64_t ea)
{
    uint64_t base = c->seg_base[seg % 6];
    if (c->mode == 64) return ea + (seg == INSN_FS || seg == INSN_GS ? base : 0);
    return (uint32_t)(base + ea);
}

uint64_t emu_set_sized(uint64_t old, unsigned asize, uint64_t value)
{
    if (asize == 2) return (old & ~0xFFFFull) | (value & 0xFFFF);
    return asize == 4 ? (uint32_t)value : value;
}

/* Whether the guest's paging lets this access through a page with `rights`: user mode (CPL 3)
 * needs U/S, a write needs R/W (in supervisor mode only with CR0.WP; SDM vol. 3A 4.6). The CPU
 * checked the page that faulted, not necessarily the other one of a page-crossing access. */
static bool allowed(const struct emu_cpu *c, unsigned rights, bool write)
{
    bool user = c->cpl == 3;
    if (user && !(rights & GMEM_USER)) return false;
    return !write || (rights & GMEM_WRITE) || (!user && !(c->paging.cr0 & CR0_WP));
}

/* Splits the access of `size` bytes at linear address la into pieces by page (each page
 * translated through the guest's tables) and by the end of RAM. 0 if a page does not translate
 * or its rights do not allow the access: then *pf_error and *pf_la say why and where. */
static unsigned split(const struct emu_mem *m, uint64_t la, unsigned size, bool write,
                      struct emu_piece *p, uint32_t *pf_error, uint64_t *pf_la)
{
    const struct vmm *v = m->v;
    const struct emu_cpu *c = m->cpu;
    unsigned count = 0;
    for (unsigned off = 0; off < size;) {
        uint64_t gpa, in_page = 4096 - ((la + off) & 4095);
        unsigned n = size - off < in_page ? size - off : (unsigned)in_page, rights;
        bool present = gmem_translate_rights(v, &c->paging, la + off, &gpa, &rights);
        if (!present || ((c->paging.cr0 & CR0_PG) && !allowed(c, rights, write))) {
            // #PF error code: P (a protection violation), W/R, U/S
            *pf_error = (present ? 1u : 0) | (write ? 2u : 0) | (c->cpl == 3 ? 4u : 0);
            *pf_la = la + off;
            return 0;
        }
        if (gpa < v->ram_size && v->ram_size - gpa < n) { // RAM ends inside this piece
            unsigned in_ram = (unsigned)(v->ram_size - gpa);
            p[count++] = (struct emu_piece){gpa, off, in_ram, true};
            gpa += in_ram, off += in_ram, n -= in_ram;
        }
        p[count++] = (struct emu_piece){gpa, off, n, gpa < v->ram_size};
        off += n;
    }
    return count;
}

bool emu_span_of(const struct emu_mem *m, uint64_t la, unsigned size, bool write,
                 struct emu_span *s, uint32_t *pf_error, uint64_t *pf_la)
{
    s->count = split(m, la, size, write, s->p, pf_error, pf_la);
    return s->count != 0;
}

uint64_t emu_span_read(const struct emu_mem *m, const struct emu_span *s)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < s->count && i < EMU_PIECES_MAX; i++) {
        const struct emu_piece *p = &s->p[i];
        uint64_t part = 0;
        if (p->ram)
            for (unsigned k = 0; k < p->n; k++) part |= (uint64_t)m->v->ram[p->gpa + k] << (8 * k);
        else m->dev(m->ctx, p->gpa, p->n, false, &part);
        value |= (part & ones(p->n)) << (8 * p->off);
    }
    return value;
}

void emu_span_write(const struct emu_mem *m, const struct emu_span *s, uint64_t value)
{
    for (unsigned i = 0; i < s->count && i < EMU_PIECES_MAX; i++) {
        const struct emu_piece *p = &s->p[i];
        uint64_t part = (value >> (8 * p->off)) & ones(p->n);
        if (p->ram)
            for (unsigned k = 0; k < p->n; k++) m->v->ram[p->gpa + k] = (uint8_t)(part >> (8 * k));
        else m->dev(m->ctx, p->gpa, p->n, true, &part);
    }
}

void emu_inject_pf(struct vmm *v, struct vmm_reply *r, uint64_t la, uint32_t error)
{
    rs_vcpu_state_t s;
    if (!v->ops->read_state(v->ops_ctx, &s)) { // CR2 first (SDM vol. 3A 6.15, #PF)
        s.cr2 = la;
        v->ops->write_state(v->ops_ctx, &s);
    }
    reply_inject(r, RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(PF_VECTOR, RS_EVENT_EXCEPTION), error));
}

/* ---- the reply ---- */

/* The register after a load of `value` into it, by the x86 rules for partial registers. */
static uint64_t merge(uint64_t old, const struct insn *d, uint64_t value)
{
    if (d->ext == INSN_EXT_SIGN)
        value = (uint64_t)((int64_t)(value << (64 - 8 * d->size)) >> (64 - 8 * d->size));
    switch (d->reg_size) {
    case 1:
        return d->high8 ? (old & ~0xFF00ull) | (value & 0xFF) << 8
                        : (old & ~0xFFull) | (value & 0xFF);
    case 2: return (old & ~0xFFFFull) | (value & 0xFFFF);
    case 4: return value & 0xFFFFFFFF; // a 32-bit register write clears the upper half
    default: return value;
    }
}

/* RFLAGS into the reply, or (while the reply has no word for it) into the vCPU's state. */
static void set_rflags(struct vmm *v, const uint64_t *w, struct vmm_reply *r, uint64_t rflags)
{
    if (rflags == w[RS_EXIT_MR_RFLAGS]) return;
    unsigned word = RS_REPLY_MR_RFLAGS;
    if (word < RS_REPLY_MR_COUNT) {
        if (!(r->w[RS_REPLY_MR_FLAGS] & RS_REPLY_SET_GPRS)) // the GPR words before it: unchanged
            for (unsigned i = 0; i < RS_GPR_COUNT; i++)
                r->w[RS_REPLY_MR_GPR + i] = w[RS_EXIT_MR_GPR + i];
        r->w[word] = rflags;
        r->w[RS_REPLY_MR_FLAGS] |= RS_REPLY_SET_RFLAGS;
        if (r->len < word + 1) r->len = word + 1;
        return;
    }
    rs_vcpu_state_t s;
    if (v->ops->read_state(v->ops_ctx, &s)) return;
    s.rflags = rflags;
    v->ops->write_state(v->ops_ctx, &s);
}

/* ---- the instructions ---- */

/* The register operand, as an operand of d->size bytes. */
static uint64_t reg_value(const uint64_t *w, const struct insn *d)
{
    uint64_t reg = exit_gpr(w, d->reg);
    return (d->high8 ? reg >> 8 : reg) & ones(d->size);
}

/* BT* with a register bit offset on memory: the offset is signed and selects the operand-sized
 * unit at ea + size * floor(offset / bits) (SDM vol. 2A, BT). */
static uint64_t bt_address(const struct insn *d, uint64_t ea, uint64_t offset)
{
    unsigned shift = d->size == 2 ? 4 : d->size == 4 ? 5 : 6;
    int64_t off = (int64_t)(offset << (64 - 8 * d->size)) >> (64 - 8 * d->size);
    ea += (uint64_t)(off >> shift) * d->size; // arithmetic shift: floor
    return d->asize >= 8 ? ea : ea & ones(d->asize);
}

/* The pieces of d's memory operand at linear address la. They must contain the guest-physical
 * address that faulted outside RAM; otherwise (the guest's tables say something else than the
 * translation the CPU used, or deny the access to the other page) one piece: the whole access
 * at the exit's address, as the exit reports it (RAM is then not touched). */
static void operand_span(const struct emu_mem *m, const uint64_t *w, const struct insn *d,
                         uint64_t la, struct emu_span *s)
{
    uint64_t gpa = w[RS_EXIT_MR_GPA], pf_la;
    uint32_t pf_error;
    if (emu_span_of(m, la, d->size, d->write, s, &pf_error, &pf_la))
        for (unsigned i = 0; i < s->count; i++)
            if (!s->p[i].ram && gpa - s->p[i].gpa < s->p[i].n) return;
    *s = (struct emu_span){1, {{gpa, 0, d->size, false}}};
}

/* An instruction with one memory operand: MOV, XCHG, the ALU forms. */
static void one_operand(const struct emu_mem *m, const uint64_t *w, const struct insn *d,
                        struct vmm_reply *r)
{
    uint64_t ea = insn_ea(d, w);
    if (d->bt_reg) ea = bt_address(d, ea, reg_value(w, d));
    struct emu_span s;
    operand_span(m, w, d, emu_linear(m->cpu, d->seg, ea), &s);
    uint64_t rflags = w[RS_EXIT_MR_RFLAGS], old_reg = exit_gpr(w, d->reg), src = reg_value(w, d);
    if (d->has_imm) src = d->imm & ones(d->size);
    if (d->op == INSN_MOV && d->write) {
        emu_span_write(m, &s, src);
        return;
    }
    uint64_t mem = emu_span_read(m, &s);
    if (d->op == INSN_MOV) {
        reply_set_gpr(r, w, d->reg, merge(old_reg, d, mem));
    } else if (d->op == INSN_XCHG) {
        emu_span_write(m, &s, src);
        reply_set_gpr(r, w, d->reg, merge(old_reg, d, mem));
    } else if (d->reg_dst) { // reg = reg OP memory
        uint64_t result = insn_alu(d->alu, d->size, src, mem, &rflags);
        if (d->alu != INSN_CMP) reply_set_gpr(r, w, d->reg, merge(old_reg, d, result));
        set_rflags(m->v, w, r, rflags);
    } else { // memory = memory OP (reg or imm or nothing)
        uint64_t result = insn_alu(d->alu, d->size, mem, src, &rflags);
        if (d->write) emu_span_write(m, &s, result);
        set_rflags(m->v, w, r, rflags);
    }
}

/* MOVS, STOS, LODS: up to EMU_REP_MAX elements; #PF if the first element's page does not
 * translate. A later element's fault ends the exit's work before it: the guest runs the
 * instruction again and takes the #PF itself, or exits again. */
static void string(const struct emu_mem *m, const uint64_t *w, const struct insn *d,
                   struct vmm_reply *r)
{
    uint64_t amask = ones(d->asize),
             step = w[RS_EXIT_MR_RFLAGS] & INSN_DF ? -(uint64_t)d->size : d->size;
    uint64_t rcx = exit_gpr(w, RS_GPR_RCX), rsi = exit_gpr(w, RS_GPR_RSI),
             rdi = exit_gpr(w, RS_GPR_RDI), rax = exit_gpr(w, RS_GPR_RAX);
    uint64_t count = d->rep ? rcx & amask : 1, done = 0;
    bool src = d->op != INSN_STOS, dst = d->op != INSN_LODS;
    for (; done < count && done < EMU_REP_MAX; done++) {
        struct emu_span ss = {0}, sd = {0};
        uint64_t pf_la = 0, value = rax & ones(d->size);
        uint32_t pf_error = 0;
        // both operands translate before either is touched: a device read has side effects
        bool ok = (!src || emu_span_of(m, emu_linear(m->cpu, d->seg, rsi & amask), d->size, false,
                                       &ss, &pf_error, &pf_la)) &&
                  (!dst || emu_span_of(m, emu_linear(m->cpu, INSN_ES, rdi & amask), d->size, true,
                                       &sd, &pf_error, &pf_la));
        if (!ok) {
            if (!done) {
                emu_inject_pf(m->v, r, pf_la, pf_error);
                return;
            }
            break;
        }
        if (src) value = emu_span_read(m, &ss);
        if (dst) emu_span_write(m, &sd, value);
        if (d->op == INSN_LODS) {
            const struct insn acc = {.size = d->size, .reg_size = d->size};
            rax = merge(rax, &acc, value);
        }
        if (src) rsi = emu_set_sized(rsi, d->asize, rsi + step);
        if (dst) rdi = emu_set_sized(rdi, d->asize, rdi + step);
        if (d->rep) rcx = emu_set_sized(rcx, d->asize, rcx - 1);
    }
    if (src) reply_set_gpr(r, w, RS_GPR_RSI, rsi);
    if (dst) reply_set_gpr(r, w, RS_GPR_RDI, rdi);
    if (d->rep) reply_set_gpr(r, w, RS_GPR_RCX, rcx);
    if (d->op == INSN_LODS) reply_set_gpr(r, w, RS_GPR_RAX, rax);
    if (done == count) reply_set_rip(r, w[RS_EXIT_MR_RIP] + d->len);
}

/* Reads the instruction at the exit's RIP, in the code size of the guest's CS. */
static bool decode(struct vmm *v, const uint64_t *w, const struct emu_cpu *c, struct insn *d)
{
    uint8_t bytes[15];
    uint64_t la = emu_linear(c, INSN_CS, w[RS_EXIT_MR_RIP]);
    unsigned n = gmem_fetch(v, &c->paging, la, bytes, sizeof(bytes));
    return insn_decode(bytes, n, c->mode, d) && d->op != INSN_INS && d->op != INSN_OUTS;
}

enum vmm_action mmio_emulate(struct vmm *v, const uint64_t *w, mmio_access_fn dev, void *ctx,
                             struct vmm_reply *r)
{
    uint64_t rip = w[RS_EXIT_MR_RIP];
    struct insn d;
    struct emu_cpu c;
    reply_init(r, 0);
    if (w[RS_EXIT_MR_QUAL] & RS_FAULT_QUAL_FETCH)
        return vmm_stop(v, r, RS_EXIT_GUEST_FAULT, "executes outside RAM", rip);
    // The CPU's own access while delivering an event (IDT, GDT, TSS or the new stack: SDM
    // 27.2.4, APM 15.7.2), not the instruction at RIP's. The kernel delivers the event again on
    // the next entry, which would fault again for ever; there is nothing to emulate there (no
    // device takes an exception frame), so the guest is broken as by a triple fault: stop it.
    if (w[RS_EXIT_MR_EVENT] & RS_EVENT_VALID) {
        vmm_log(v,
                "event 0x%lx being delivered touched gpa 0x%lx outside RAM (its IDT, GDT or "
                "stack)",
                w[RS_EXIT_MR_EVENT], w[RS_EXIT_MR_GPA]);
        return vmm_stop(v, r, RS_EXIT_GUEST_FAULT, "fault while delivering an event", rip);
    }
    if (!emu_cpu_read(v, w, &c) || !decode(v, w, &c, &d)) {
        if (vmm_once(&v->st->once, VMM_ONCE_DECODE(rip)))
            vmm_log(v, "cannot emulate the instruction at rip 0x%lx (access to gpa 0x%lx): #GP",
                    rip, w[RS_EXIT_MR_GPA]);
        reply_inject(r, VMM_EVENT_GP);
        return VMM_REPLY;
    }
    const struct emu_mem m = {v, &c, dev, ctx};
    if (d.op >= INSN_MOVS) {
        string(&m, w, &d, r);
        return VMM_REPLY;
    }
    one_operand(&m, w, &d, r);
    reply_set_rip(r, rip + d.len);
    return VMM_REPLY;
}

/* ---- the VMM's devices ---- */

/* Info device registers: +0 magic, +4 timer interrupts delivered, the rest 0; a 4-byte write
 * to +8 prints its value. */
static void info_access(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    struct vmm *v = ctx;
    uint64_t off = gpa - INFO_GPA;
    if (write) {
        if (off == INFO_PRINT && size == 4) vmm_guest_printf(v, "mmio: 0x%x", (uint32_t)*value);
        return;
    }
    const uint32_t regs[4] = {INFO_MAGIC, (uint32_t)v->st->irqs, 0, 0};
    *value = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(regs))
            *value |= (uint64_t)((regs[(off + k) / 4] >> (8 * ((off + k) % 4))) & 0xFF) << (8 * k);
}

/* The devices by guest-physical range; their handlers get the struct vmm. */
static const struct mmio_region regions[] = {
    {INFO_GPA, 4096, info_access},
};

void mmio_bus_access(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    struct mmio_bus *b = ctx;
    if (b->v->st->platform == VMM_PLATFORM_PC && pc_mmio(b->v, gpa, size, write, value)) return;
    if (mmio_dispatch(regions, sizeof(regions) / sizeof(regions[0]), b->v, gpa, size, write, value))
        return;
    if (vmm_once(&b->v->st->once, VMM_ONCE_PAGE(gpa)))
        vmm_log(
            b->v,
            "%s at unmapped gpa 0x%lx (rip 0x%lx): no device there; reads all ones, writes ignored",
            write ? "write" : "read", gpa, b->rip);
    if (!write) *value = ones(size);
}

enum vmm_action mmio_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    struct mmio_bus b = {v, w[RS_EXIT_MR_RIP]};
    return mmio_emulate(v, w, mmio_bus_access, &b, r);
}
