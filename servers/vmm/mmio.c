// SPDX-License-Identifier: MIT
// Guest-physical accesses outside RAM (RS_EXIT_GUEST_FAULT). The exit names the address but not
// the instruction, so the VMM reads it through the guest's page tables and decodes it (insn.c);
// the access then goes to the info device (0xFED00000, guests/README.md) or, anywhere else, to
// an open bus: reads return all ones, writes are dropped, and the first access to each page is
// logged — the guest runs on, as on a PC with nothing at that address. An instruction that is no
// MOV gets #GP; executing outside RAM, or an event whose delivery touches memory outside RAM,
// stops the guest (there is no instruction to skip, no access to emulate).
#include "vmm.h"

#define SEG_L      (1ull << 9)
#define SEG_DB     (1ull << 10)
#define INFO_PRINT 8

static uint64_t ones(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

static void open_bus(struct vmm *v, uint64_t gpa, uint64_t rip, const char *what)
{
    if (vmm_once(&v->st->once, VMM_ONCE_PAGE(gpa)))
        vmm_log(
            v,
            "%s at unmapped gpa 0x%lx (rip 0x%lx): no device there; reads all ones, writes ignored",
            what, gpa, rip);
}

/* Info device registers: +0 magic, +4 timer interrupts delivered, the rest 0. */
static uint64_t device_read(struct vmm *v, uint64_t gpa, uint64_t rip, unsigned size)
{
    if (gpa - INFO_GPA >= 4096) {
        open_bus(v, gpa, rip, "read");
        return ones(size);
    }
    const uint32_t regs[4] = {INFO_MAGIC, (uint32_t)v->st->irqs, 0, 0};
    uint64_t off = gpa - INFO_GPA, value = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(regs))
            value |= (uint64_t)((regs[(off + k) / 4] >> (8 * ((off + k) % 4))) & 0xFF) << (8 * k);
    return value;
}

static void device_write(struct vmm *v, uint64_t gpa, uint64_t rip, unsigned size, uint64_t value)
{
    if (gpa - INFO_GPA >= 4096) open_bus(v, gpa, rip, "write");
    else if (gpa - INFO_GPA == INFO_PRINT && size == 4)
        vmm_guest_printf(v, "mmio: 0x%x", (uint32_t)value);
}

/* The pieces of an access: bytes [off, off + n) of it at guest-physical gpa, in RAM or not. An
 * access crosses at most one page boundary and RAM ends at most once inside a page: 4 pieces. */
#define PIECES_MAX 4
struct piece {
    uint64_t gpa;
    unsigned off, n;
    bool ram;
};

/* Whether the guest's paging lets this access touch RAM through a page with `rights`: user
 * mode (CPL 3) needs U/S, a write needs R/W (in supervisor mode only with CR0.WP). The CPU
 * checked the page that faulted, not necessarily the other one of a page-crossing access. */
static bool allowed(const rs_vcpu_state_t *s, unsigned rights, bool write)
{
    bool user = ((s->ss.attrib >> 5) & 3) == 3;
    if (user && !(rights & GMEM_USER)) return false;
    return !write || (rights & GMEM_WRITE) || (!user && !(s->cr0 & CR0_WP));
}

/* Splits the access of `size` bytes at linear address la into pieces by page (each page
 * translated through the guest's tables) and by the end of RAM. 0 if a page does not translate
 * or its rights do not allow the access. */
static unsigned split(const struct vmm *v, const rs_vcpu_state_t *s, uint64_t la, unsigned size,
                      bool write, struct piece *p)
{
    struct gmem_cpu c = {s->cr0, s->cr3, s->cr4, s->efer};
    unsigned count = 0;
    for (unsigned off = 0; off < size;) {
        uint64_t gpa, in_page = 4096 - ((la + off) & 4095);
        unsigned n = size - off < in_page ? size - off : (unsigned)in_page, rights;
        if (!gmem_translate_rights(v, &c, la + off, &gpa, &rights)) return 0;
        if ((s->cr0 & CR0_PG) && !allowed(s, rights, write)) return 0;
        if (gpa < v->ram_size && v->ram_size - gpa < n) { // RAM ends inside this piece
            unsigned in_ram = (unsigned)(v->ram_size - gpa);
            p[count++] = (struct piece){gpa, off, in_ram, true};
            gpa += in_ram, off += in_ram, n -= in_ram;
        }
        p[count++] = (struct piece){gpa, off, n, gpa < v->ram_size};
        off += n;
    }
    return count;
}

/* The access the instruction d makes, in pieces; it must contain the guest-physical address that
 * faulted outside RAM. Otherwise (the guest's tables say something else than the translation
 * the CPU used, or deny the access to the other page) one piece: the whole access at the exit's
 * address, as the exit reports it (RAM is then not touched). */
static unsigned access_pieces(const struct vmm *v, const uint64_t *w, const rs_vcpu_state_t *s,
                              const struct insn *d, struct piece *p)
{
    static const size_t seg_off[6] = {offsetof(rs_vcpu_state_t, es), offsetof(rs_vcpu_state_t, cs),
                                      offsetof(rs_vcpu_state_t, ss), offsetof(rs_vcpu_state_t, ds),
                                      offsetof(rs_vcpu_state_t, fs), offsetof(rs_vcpu_state_t, gs)};
    const struct rs_segment *seg = (const void *)((const char *)s + seg_off[d->seg % 6]);
    bool long64 = (s->efer & EFER_LMA) && (s->cs.attrib & SEG_L);
    uint64_t ea = insn_ea(d, w), gpa = w[RS_EXIT_MR_GPA];
    // 64-bit mode: only FS and GS have a base (SDM vol. 3A 3.4.4); else base + ea, 32 bits
    uint64_t la = long64 ? ea + (d->seg >= INSN_FS ? seg->base : 0) : (uint32_t)(seg->base + ea);
    unsigned count = split(v, s, la, d->size, d->write, p);
    for (unsigned i = 0; i < count; i++)
        if (!p[i].ram && gpa - p[i].gpa < p[i].n) return count;
    p[0] = (struct piece){gpa, 0, d->size, false};
    return 1;
}

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

/* Reads the instruction at the exit's RIP, in the code size of the guest's CS; *s = the state. */
static bool decode(struct vmm *v, const uint64_t *w, rs_vcpu_state_t *s, struct insn *d)
{
    if (v->ops->read_state(v->ops_ctx, s)) return false;
    bool long64 = (s->efer & EFER_LMA) && (s->cs.attrib & SEG_L);
    unsigned mode = long64 ? 64 : (s->cs.attrib & SEG_DB) ? 32 : 16;
    uint64_t rip = w[RS_EXIT_MR_RIP];
    uint64_t la = long64 ? rip : (uint32_t)(s->cs.base + rip);
    struct gmem_cpu c = {s->cr0, s->cr3, s->cr4, s->efer};
    uint8_t bytes[15];
    unsigned n = gmem_fetch(v, &c, la, bytes, sizeof(bytes));
    return insn_decode(bytes, n, mode, d);
}

enum vmm_action mmio_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    uint64_t rip = w[RS_EXIT_MR_RIP];
    struct insn d;
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
    rs_vcpu_state_t s;
    if (!decode(v, w, &s, &d)) {
        if (vmm_once(&v->st->once, VMM_ONCE_DECODE(rip)))
            vmm_log(v, "cannot emulate the instruction at rip 0x%lx (access to gpa 0x%lx): #GP",
                    rip, w[RS_EXIT_MR_GPA]);
        reply_inject(r, VMM_EVENT_GP);
        return VMM_REPLY;
    }
    // The CPU faulted on the part outside RAM; the VMM does the whole access, piece by piece:
    // the RAM part of a straddling access is RAM, each other piece goes to its device.
    struct piece p[PIECES_MAX];
    unsigned count = access_pieces(v, w, &s, &d, p);
    if (d.write) {
        uint64_t reg = exit_gpr(w, d.reg);
        uint64_t value = (d.has_imm ? d.imm : d.high8 ? reg >> 8 : reg) & ones(d.size);
        for (unsigned i = 0; i < count; i++) {
            uint64_t part = (value >> (8 * p[i].off)) & ones(p[i].n);
            if (p[i].ram)
                for (unsigned k = 0; k < p[i].n; k++)
                    v->ram[p[i].gpa + k] = (uint8_t)(part >> (8 * k));
            else device_write(v, p[i].gpa, rip, p[i].n, part);
        }
    } else {
        uint64_t value = 0;
        for (unsigned i = 0; i < count; i++) {
            uint64_t part = 0;
            if (p[i].ram)
                for (unsigned k = 0; k < p[i].n; k++)
                    part |= (uint64_t)v->ram[p[i].gpa + k] << (8 * k);
            else part = device_read(v, p[i].gpa, rip, p[i].n);
            value |= (part & ones(p[i].n)) << (8 * p[i].off);
        }
        reply_set_gpr(r, w, d.reg, merge(exit_gpr(w, d.reg), &d, value));
    }
    reply_set_rip(r, rip + d.len);
    return VMM_REPLY;
}
