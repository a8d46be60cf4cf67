// SPDX-License-Identifier: MIT
// String port I/O: INS and OUTS move elements between a port and guest memory, REP repeating
// them RCX times. The exit's qualification gives the port, the element size, the direction
// and REP; the address size and OUTS's segment override come from the instruction's prefixes,
// which the VMM decodes at RIP (docs/virtualization.md). Each element's memory goes through the
// guest's page tables (page-crossing elements in pieces) and is translated before the port is
// touched, so a fault loses no data: the first element's fault is the guest's #PF, a later
// one ends this exit's work and the guest runs the instruction again.
#include "pio.h"

static uint64_t ones(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

/* The instruction's address size and source segment; the code's defaults, logged once, when the
 * bytes at RIP are not the INS/OUTS the exit reports (the guest rewrote them meanwhile). */
static void prefixes(struct vmm *v, const uint64_t *w, const struct emu_cpu *c, bool in,
                     unsigned *asize, unsigned *seg)
{
    uint8_t bytes[15];
    struct insn d;
    unsigned n =
        gmem_fetch(v, &c->paging, emu_linear(c, INSN_CS, w[RS_EXIT_MR_RIP]), bytes, sizeof(bytes));
    if (insn_decode(bytes, n, c->mode, &d) && d.op == (in ? INSN_INS : INSN_OUTS)) {
        *asize = d.asize, *seg = d.seg;
        return;
    }
    *asize = c->mode == 64 ? 8 : c->mode == 32 ? 4 : 2, *seg = INSN_DS;
    if (vmm_once(&v->st->once, VMM_ONCE_STRING + 1))
        vmm_log(v, "string port I/O at rip 0x%lx: no INS/OUTS there; default address size",
                w[RS_EXIT_MR_RIP]);
}

enum vmm_action pio_string(struct vmm *v, const uint64_t *w, pio_access_fn port, void *port_ctx,
                           mmio_access_fn dev, void *dev_ctx, struct vmm_reply *r)
{
    uint64_t qual = w[RS_EXIT_MR_QUAL];
    uint16_t num = rs_io_qual_port(qual);
    unsigned size = rs_io_qual_size(qual), asize, seg;
    bool in = rs_io_qual_in(qual), rep = rs_io_qual_rep(qual);
    struct emu_cpu c;
    reply_init(r, 0);
    if (size != 1 && size != 2 && size != 4) size = 1;
    if (!emu_cpu_read(v, w, &c))
        return vmm_stop(v, r, RS_EXIT_IO, "string port I/O without the vCPU's state",
                        w[RS_EXIT_MR_RIP]);
    prefixes(v, w, &c, in, &asize, &seg);
    const struct emu_mem m = {v, &c, dev, dev_ctx};
    uint64_t amask = ones(asize), step = w[RS_EXIT_MR_RFLAGS] & INSN_DF ? -(uint64_t)size : size;
    uint64_t rcx = exit_gpr(w, RS_GPR_RCX), rsi = exit_gpr(w, RS_GPR_RSI),
             rdi = exit_gpr(w, RS_GPR_RDI), count = rep ? rcx & amask : 1, done = 0;
    for (; done < count && done < EMU_REP_MAX; done++) {
        struct emu_span s;
        uint64_t pf_la,
            la = in ? emu_linear(&c, INSN_ES, rdi & amask) : emu_linear(&c, seg, rsi & amask);
        uint32_t pf_error, value = 0;
        if (!emu_span_of(&m, la, size, in, &s, &pf_error, &pf_la)) {
            if (done) break;
            if (vmm_once(&v->st->once, VMM_ONCE_STRING + 2))
                vmm_log(v, "string port I/O at rip 0x%lx: la 0x%lx does not translate: #PF",
                        w[RS_EXIT_MR_RIP], pf_la);
            emu_inject_pf(v, r, pf_la, pf_error);
            return VMM_REPLY;
        }
        if (in) {
            port(port_ctx, num, size, true, &value);
            emu_span_write(&m, &s, value & ones(size));
            rdi = emu_set_sized(rdi, asize, rdi + step);
        } else {
            value = (uint32_t)emu_span_read(&m, &s);
            port(port_ctx, num, size, false, &value);
            rsi = emu_set_sized(rsi, asize, rsi + step);
        }
        if (rep) rcx = emu_set_sized(rcx, asize, rcx - 1);
    }
    if (in) reply_set_gpr(r, w, RS_GPR_RDI, rdi);
    else reply_set_gpr(r, w, RS_GPR_RSI, rsi);
    if (rep) reply_set_gpr(r, w, RS_GPR_RCX, rcx);
    if (done == count) r->w[RS_REPLY_MR_FLAGS] |= RS_REPLY_ADVANCE_RIP;
    return VMM_REPLY;
}

enum vmm_action pio_string_exit(struct vmm *v, const uint64_t *w, pio_access_fn port,
                                void *port_ctx, struct vmm_reply *r)
{
    struct mmio_bus b = {v, w[RS_EXIT_MR_RIP]};
    return pio_string(v, w, port, port_ctx, mmio_bus_access, &b, r);
}
