// SPDX-License-Identifier: MIT
// Guest-physical accesses outside RAM (RS_EXIT_GUEST_FAULT). The exit names the address but not
// the instruction, so the VMM reads it through the guest's page tables and decodes it (insn.c);
// the access then goes to the info device (0xFED00000, guests/README.md) or, anywhere else, to
// an open bus: reads return all ones, writes are dropped, and the first access to each page is
// logged — the guest runs on, as on a PC with nothing at that address. An instruction that is no
// MOV gets #GP; executing outside RAM, or an event whose delivery touches memory outside RAM,
// stops the guest (there is no instruction to skip, no access to emulate).
#include "vmm.h"

#define QUAL_FETCH (1ull << 2)
#define EFER_LMA (1ull << 10)
#define SEG_L (1ull << 9)
#define SEG_DB (1ull << 10)
#define INFO_PRINT 8

static uint64_t ones(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static void open_bus(struct vmm *v, const uint64_t *w, const char *what)
{
    uint64_t gpa = w[RS_EXIT_MR_GPA];
    if (vmm_once(&v->st->once, VMM_ONCE_PAGE(gpa)))
        vmm_log(
            v,
            "%s at unmapped gpa 0x%lx (rip 0x%lx): no device there; reads all ones, writes ignored",
            what, gpa, w[RS_EXIT_MR_RIP]);
}

/* Info device registers: +0 magic, +4 timer interrupts delivered, the rest 0. */
static uint64_t device_read(struct vmm *v, const uint64_t *w, unsigned size)
{
    uint64_t gpa = w[RS_EXIT_MR_GPA];
    if (gpa - INFO_GPA >= 4096) {
        open_bus(v, w, "read");
        return ones(size);
    }
    const uint32_t regs[4] = {INFO_MAGIC, (uint32_t)v->st->irqs, 0, 0};
    uint64_t off = gpa - INFO_GPA, value = 0;
    for (unsigned k = 0; k < size; k++)
        if (off + k < sizeof(regs))
            value |= (uint64_t)((regs[(off + k) / 4] >> (8 * ((off + k) % 4))) & 0xFF) << (8 * k);
    return value;
}

static void device_write(struct vmm *v, const uint64_t *w, unsigned size, uint64_t value)
{
    uint64_t gpa = w[RS_EXIT_MR_GPA];
    if (gpa - INFO_GPA >= 4096)
        open_bus(v, w, "write");
    else if (gpa - INFO_GPA == INFO_PRINT && size == 4)
        vmm_guest_printf(v, "mmio: 0x%x", (uint32_t)value);
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
    case 2:
        return (old & ~0xFFFFull) | (value & 0xFFFF);
    case 4:
        return value & 0xFFFFFFFF; // a 32-bit register write clears the upper half
    default:
        return value;
    }
}

/* Reads the instruction at the exit's RIP, in the code size of the guest's CS. */
static bool decode(struct vmm *v, const uint64_t *w, struct insn *d)
{
    rs_vcpu_state_t s;
    if (v->ops->read_state(v->ops_ctx, &s)) return false;
    bool long64 = (s.efer & EFER_LMA) && (s.cs.attrib & SEG_L);
    unsigned mode = long64 ? 64 : (s.cs.attrib & SEG_DB) ? 32 : 16;
    uint64_t rip = w[RS_EXIT_MR_RIP];
    uint64_t la = long64 ? rip : (uint32_t)(s.cs.base + rip);
    struct gmem_cpu c = {s.cr0, s.cr3, s.cr4, s.efer};
    uint8_t bytes[15];
    unsigned n = gmem_fetch(v, &c, la, bytes, sizeof(bytes));
    return insn_decode(bytes, n, mode, d);
}

enum vmm_action mmio_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    uint64_t rip = w[RS_EXIT_MR_RIP];
    struct insn d;
    reply_init(r, 0);
    if (w[RS_EXIT_MR_QUAL] & QUAL_FETCH)
        return vmm_stop(v, r, RS_EXIT_GUEST_FAULT, "executes outside RAM", rip);
    // The CPU's own access while delivering an event (IDT, GDT, TSS or the new stack: SDM
    // 27.2.4, APM 15.7.2), not the instruction at RIP's. The kernel delivers the event again on
    // the next entry, which would fault again for ever; there is nothing to emulate there (no
    // device takes an exception frame), so the guest is broken as by a triple fault: stop it.
    if (w[RS_EXIT_MR_EVENT] & RS_EVENT_VALID) {
        vmm_log(v, "event 0x%lx being delivered touched gpa 0x%lx outside RAM (its IDT, GDT or "
                   "stack)",
                w[RS_EXIT_MR_EVENT], w[RS_EXIT_MR_GPA]);
        return vmm_stop(v, r, RS_EXIT_GUEST_FAULT, "fault while delivering an event", rip);
    }
    if (!decode(v, w, &d)) {
        if (vmm_once(&v->st->once, VMM_ONCE_DECODE(rip)))
            vmm_log(v, "cannot emulate the instruction at rip 0x%lx (access to gpa 0x%lx): #GP",
                    rip, w[RS_EXIT_MR_GPA]);
        reply_inject(r, VMM_EVENT_GP);
        return VMM_REPLY;
    }
    if (d.write) {
        uint64_t reg = exit_gpr(w, d.reg);
        uint64_t value = d.has_imm ? d.imm : d.high8 ? reg >> 8 : reg;
        device_write(v, w, d.size, value & ones(d.size));
    } else {
        uint64_t value = device_read(v, w, d.size);
        reply_set_gpr(r, w, d.reg, merge(exit_gpr(w, d.reg), &d, value));
    }
    reply_set_rip(r, rip + d.len);
    return VMM_REPLY;
}
