// SPDX-License-Identifier: MIT
// Exit dispatch: one handler per exit reason builds the reply; then the timer interrupt goes in
// with it if one is pending and the guest can take it (IF set), else an interrupt-window request
// brings the guest back as soon as it can. HLT with nothing due waits (VMM_WAIT) for a tick.
//
// Choices where guests/README.md is silent: ports without a device read all ones and ignore
// writes; string port I/O (INS/OUTS) is emulated element by element (pio.c); VMCALL answers RAX = ~0 (no
// hypercalls); an intercepted exception (#DB, #AC) is given back to the guest; any other
// intercepted instruction (RS_EXIT_OTHER: VMRUN, XSETBV, MONITOR...) gets #UD; a triple fault,
// an invalid state, or HLT with interrupts off or with no timer running stops the guest for good.
#include "pio.h"
#include "vmm.h"

#define PIT_FIRST  0x40
#define PIT_LAST   0x43
#define PIT_PORT61 0x61

uint64_t exit_gpr(const uint64_t *w, unsigned reg)
{
    return w[RS_EXIT_MR_GPR + (reg & 15)]; // the exit carries the GPRs in x86 encoding order
}

void reply_init(struct vmm_reply *r, uint64_t flags)
{
    // the words a reply without registers may carry; the others are written when the reply
    // grows over them (reply_need), not all 21 on every exit
    r->label = 0;
    r->len = 1;
    r->w[RS_REPLY_MR_FLAGS] = flags;
    r->w[RS_REPLY_MR_INJECT] = 0;
    r->w[RS_REPLY_MR_RIP] = 0;
}

/* The reply carries words 0 .. word (the caller writes `word`): those between that nothing
 * wrote become 0; with RS_REPLY_SET_GPRS the GPR words already hold the exit's registers. */
static void reply_need(struct vmm_reply *r, unsigned word)
{
    bool gprs = r->w[RS_REPLY_MR_FLAGS] & RS_REPLY_SET_GPRS;
    for (; r->len < word; r->len++)
        if (!gprs || r->len < RS_REPLY_MR_GPR || r->len >= RS_REPLY_MR_GPR + RS_GPR_COUNT)
            r->w[r->len] = 0;
    if (r->len < word + 1) r->len = word + 1;
}

void reply_set_gpr(struct vmm_reply *r, const uint64_t *w, unsigned reg, uint64_t value)
{
    if (!(r->w[RS_REPLY_MR_FLAGS] &
          RS_REPLY_SET_GPRS)) { // every word the reply may carry: the exit's
        for (unsigned i = 0; i < RS_GPR_COUNT; i++)
            r->w[RS_REPLY_MR_GPR + i] = w[RS_EXIT_MR_GPR + i];
        r->w[RS_REPLY_MR_FLAGS] |= RS_REPLY_SET_GPRS;
    }
    r->w[RS_REPLY_MR_GPR + (reg & 15)] = value;
    reply_need(r, RS_REPLY_MR_GPR + (reg & 15));
}

void reply_inject(struct vmm_reply *r, uint64_t event)
{
    r->w[RS_REPLY_MR_FLAGS] |= RS_REPLY_INJECT;
    r->w[RS_REPLY_MR_INJECT] = event;
    reply_need(r, RS_REPLY_MR_INJECT);
}

void reply_set_efer(struct vmm_reply *r, uint64_t efer)
{
    r->w[RS_REPLY_MR_FLAGS] |= RS_REPLY_SET_EFER;
    r->w[RS_REPLY_MR_EFER] = efer;
    reply_need(r, RS_REPLY_MR_EFER);
}

void reply_set_rip(struct vmm_reply *r, uint64_t rip)
{
    r->w[RS_REPLY_MR_FLAGS] |= RS_REPLY_SET_RIP;
    r->w[RS_REPLY_MR_RIP] = rip;
    reply_need(r, RS_REPLY_MR_RIP);
}

enum vmm_action vmm_stop(struct vmm *v, struct vmm_reply *r, uint16_t reason, const char *why,
                         uint64_t rip)
{
    vmm_log(v, "guest %s at rip 0x%lx: stopped", why, rip);
    v->st->stopped = VMM_STOPPED;
    v->st->stop_reason = reason;
    *r = (struct vmm_reply){.label = 1, .len = 1};
    return VMM_REPLY;
}

/* One port access: UART, PIT, the PIC's EOI port; anything else is an empty bus (reads all
 * ones, writes ignored). */
static inline __attribute__((always_inline)) void port_access(void *ctx, uint16_t port,
                                                              unsigned size, bool in,
                                                              uint32_t *value)
{
    struct vmm *v = ctx;
    bool uart = port >= UART_BASE && port < UART_BASE + 8;
    if (!uart && v->st->platform == VMM_PLATFORM_PC) { // the PC's devices; the rest is open bus
        if (!pc_io(v, port, size, in, value) && in) *value = ~0u;
        return;
    }
    bool pit = (port >= PIT_FIRST && port <= PIT_LAST) || port == PIT_PORT61;
    // the model this access changes (a read too: it moves latches), for the commit (the
    // console marks its own)
    if (pit) v->st->dirty |= VMM_DIRTY(VMM_SEG_PIT);
    if (!in) {
        if (uart) vmm_console_write(v, port, (uint8_t)*value);
        else if (pit) pit_write(&v->st->pit, port, (uint8_t)*value, v->st->now_ns);
        return; // port 0x20 (EOI) and the rest: accepted and ignored
    }
    *value = uart  ? vmm_console_read(v, port)
             : pit ? pit_read(&v->st->pit, port, v->st->now_ns)
                   : ~0u;
}

/* IN/OUT, and INS/OUTS (pio.c), through port_access. */
static enum vmm_action io_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    uint64_t qual = w[RS_EXIT_MR_QUAL];
    uint16_t port = rs_io_qual_port(qual);
    unsigned size = rs_io_qual_size(qual);
    if (rs_io_qual_string(qual)) return pio_string_exit(v, w, port_access, v, r);
    reply_init(r, RS_REPLY_ADVANCE_RIP);
    if (size != 1 && size != 2 && size != 4) size = 1;
    uint32_t value = (uint32_t)w[RS_EXIT_MR_RAX];
    port_access(v, port, size, rs_io_qual_in(qual), &value);
    if (!rs_io_qual_in(qual)) return VMM_REPLY;
    uint64_t mask = size == 4 ? 0xFFFFFFFFull : (1ull << (8 * size)) - 1, rax = w[RS_EXIT_MR_RAX];
    // IN to AL/AX keeps the rest of RAX; IN to EAX clears the upper half, as any 32-bit write
    reply_set_gpr(r, w, 0, size == 4 ? (value & mask) : (rax & ~mask) | (value & mask));
    return VMM_REPLY;
}

static enum vmm_action cpuid_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    uint32_t regs[4];
    cpuid_guest(v->ops, (uint32_t)w[RS_EXIT_MR_RAX], (uint32_t)w[RS_EXIT_MR_RCX], regs);
    reply_init(r, RS_REPLY_ADVANCE_RIP);
    reply_set_gpr(r, w, 0, regs[0]);
    reply_set_gpr(r, w, 3, regs[1]);
    reply_set_gpr(r, w, 1, regs[2]);
    reply_set_gpr(r, w, 2, regs[3]);
    return VMM_REPLY;
}

/* EFER goes into the vCPU state through the reply (RS_REPLY_SET_EFER: no ReadState or WriteState
 * round trip; CR4 is in the exit). LME while CR4.PAE is clear is the guest's #GP, although
 * hardware would allow it until CR0.PG is set: QEMU's SVM (TCG, 7.2) then botches the next
 * #VMEXIT and the whole machine hangs (guests/hostile found it). Guests set PAE first anyway, as
 * the architecture's own sequence does. A value the kernel still refuses is #GP too (kernel). */
static bool set_efer(const uint64_t *w, struct vmm_reply *r, uint64_t efer)
{
    if ((efer & EFER_LME) && !(w[RS_EXIT_MR_CR4] & CR4_PAE)) return false;
    reply_set_efer(r, efer);
    return true;
}

/* CPUID 0x80000001 EDX as the guest sees it; 0 when the guest has no such leaf. */
static uint32_t guest_ext_edx(struct vmm *v)
{
    uint32_t regs[4];
    cpuid_guest(v->ops, 0x80000000u, 0, regs);
    if (regs[0] < 0x80000001u) return 0;
    cpuid_guest(v->ops, 0x80000001u, 0, regs);
    return regs[3];
}

static enum vmm_action msr_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r, bool write)
{
    uint32_t index = (uint32_t)w[RS_EXIT_MR_QUAL];
    reply_init(r, RS_REPLY_ADVANCE_RIP);
    if (write) {
        uint64_t value = (w[RS_EXIT_MR_RDX] << 32) | (uint32_t)w[RS_EXIT_MR_RAX], efer = 0;
        const struct msr_guest g = {w[RS_EXIT_MR_EFER], w[RS_EXIT_MR_CR0],
                                    index == MSR_EFER ? guest_ext_edx(v) : 0};
        enum msr_result m = msr_write(index, value, &g, &efer);
        if (index == MSR_APIC_BASE && v->st->platform == VMM_PLATFORM_PC)
            m = pc_set_apic_base(v, value) ? MSR_DONE : MSR_GP;
        if (m == MSR_GP || (m == MSR_SET_EFER && !set_efer(w, r, efer))) {
            reply_init(r, 0); // a fault: the WRMSR is not skipped
            reply_inject(r, VMM_EVENT_GP);
        }
        return VMM_REPLY;
    }
    uint64_t value = 0;
    msr_read(index, w[RS_EXIT_MR_EFER], v->ops->host_tsc(), &value);
    if (index == MSR_APIC_BASE && v->st->platform == VMM_PLATFORM_PC) value = pc_apic_base(v);
    reply_set_gpr(r, w, 0, (uint32_t)value);
    reply_set_gpr(r, w, 2, value >> 32);
    return VMM_REPLY;
}

static enum vmm_action hlt_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    if (!(w[RS_EXIT_MR_RFLAGS] & RFLAGS_IF))
        return vmm_stop(v, r, RS_EXIT_HLT, "halted with interrupts disabled", w[RS_EXIT_MR_RIP]);
    if (v->st->platform == VMM_PLATFORM_PC) { // any device (or typed input) may wake it
        if (!pc_pending(v)) return VMM_WAIT;
        reply_init(r, RS_REPLY_ADVANCE_RIP);
        return VMM_REPLY;
    }
    // A timer state no 8254 can be in (a stray write's flipped bits: a start in the future, an
    // edge further away than a whole count) would have the guest wait for ever: the channel is
    // restarted now with the guest's programming, and the guest misses part of one period.
    if (!v->st->irq_pending && !pit_consistent(&v->st->pit, v->st->now_ns)) {
        v->st->dirty |= VMM_DIRTY(VMM_SEG_PIT);
        pit_repair(&v->st->pit, v->st->now_ns);
        if (vmm_once(&v->st->once, VMM_ONCE_TIMER)) vmm_log(v, "timer state corrupt: restarted");
    }
    // The PIT is the only interrupt source: a HLT with it stopped sleeps for ever, and the VMM
    // waiting for it would answer no client again (it waits on its notification only).
    if (!v->st->irq_pending && pit_next_ns(&v->st->pit) == UINT64_MAX)
        return vmm_stop(v, r, RS_EXIT_HLT, "halted with no timer running", w[RS_EXIT_MR_RIP]);
    if (!v->st->irq_pending) return VMM_WAIT;
    reply_init(r, RS_REPLY_ADVANCE_RIP); // the interrupt goes in below; it wakes the guest
    return VMM_REPLY;
}

/* An exception the kernel intercepts (qual: vector | error code << 32) goes back to the guest;
 * the first of each vector is logged. */
static enum vmm_action exception_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    unsigned vector = w[RS_EXIT_MR_QUAL] & 0x1F;
    if (vmm_once(&v->st->once, VMM_ONCE_EXCEPTION(vector)))
        vmm_log(v, "guest exception %u at rip 0x%lx reflected to the guest", vector,
                w[RS_EXIT_MR_RIP]);
    uint64_t event = RS_EVENT_MAKE(vector, RS_EVENT_EXCEPTION);
    bool has_error = vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
    reply_init(r, 0);
    reply_inject(r, has_error ? RS_EVENT_WITH_ERROR(event, w[RS_EXIT_MR_QUAL] >> 32) : event);
    return VMM_REPLY;
}

static enum vmm_action other_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    uint64_t reason = w[RS_EXIT_MR_REASON];
    if (reason == RS_EXIT_TRIPLE_FAULT)
        return vmm_stop(v, r, RS_EXIT_TRIPLE_FAULT, "triple fault", w[RS_EXIT_MR_RIP]);
    if (reason == RS_EXIT_INVALID_STATE)
        return vmm_stop(v, r, RS_EXIT_INVALID_STATE, "state invalid", w[RS_EXIT_MR_RIP]);
    if (cache_exit(v, w, r)) return VMM_REPLY;
    if (vmm_once(&v->st->once, VMM_ONCE_REASON(w[RS_EXIT_MR_RAW_REASON])))
        vmm_log(v, "exit %lu (raw 0x%lx) at rip 0x%lx is not emulated: #UD", reason,
                w[RS_EXIT_MR_RAW_REASON], w[RS_EXIT_MR_RIP]);
    reply_init(r, 0);
    reply_inject(r, VMM_EVENT_UD);
    return VMM_REPLY;
}

/* Whether an interrupt waits for the guest: the tiny guests' timer, or whatever the pc
 * platform's PIC and APICs present. */
static bool irq_waiting(const struct vmm *v)
{
    return v->st->platform == VMM_PLATFORM_PC ? pc_pending(v) : v->st->irq_pending;
}

/* The CPU's acknowledge: the vector to inject (the pc platform's models put it in service). */
static uint8_t irq_take(struct vmm *v)
{
    if (v->st->platform == VMM_PLATFORM_PC) return pc_ack(v);
    v->st->irq_pending = 0;
    return VMM_TIMER_VECTOR;
}

/* The waiting interrupt rides on the reply when the guest can take it and nothing else is being
 * injected, by the reply or by the kernel (an injected event it still holds: one more would
 * replace it, and the interrupt the models put in service would never reach the guest);
 * otherwise the guest comes back (interrupt window) as soon as it can. */
static void deliver(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    if (r->label || !irq_waiting(v)) return;
    if ((w[RS_EXIT_MR_RFLAGS] & RFLAGS_IF) && !(r->w[RS_REPLY_MR_FLAGS] & RS_REPLY_INJECT) &&
        !(w[RS_EXIT_MR_SEG] & RS_EXIT_IRQ_PENDING)) {
        reply_inject(r, RS_EVENT_MAKE(irq_take(v), RS_EVENT_EXTINT));
        v->st->irqs++;
    } else {
        r->w[RS_REPLY_MR_FLAGS] |= RS_REPLY_WANT_WINDOW;
    }
}

static enum vmm_action dispatch(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    switch (w[RS_EXIT_MR_REASON]) {
    case RS_EXIT_IO: return io_exit(v, w, r);
    case RS_EXIT_GUEST_FAULT: return mmio_exit(v, w, r);
    case RS_EXIT_CPUID: return cpuid_exit(v, w, r);
    case RS_EXIT_MSR_READ: return msr_exit(v, w, r, false);
    case RS_EXIT_MSR_WRITE: return msr_exit(v, w, r, true);
    case RS_EXIT_HLT: return hlt_exit(v, w, r);
    case RS_EXIT_VMCALL:
        reply_init(r, RS_REPLY_ADVANCE_RIP);
        reply_set_gpr(r, w, 0, ~0ull); // no hypercalls
        return VMM_REPLY;
    case RS_EXIT_INTR_WINDOW: reply_init(r, 0); return VMM_REPLY;
    case RS_EXIT_EXCEPTION: return exception_exit(v, w, r);
    default: return other_exit(v, w, r);
    }
}

enum vmm_action vmm_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r)
{
    // a stopped guest's exit came back after a restart: keep it stopped (a stop has its reason
    // on record: a flag with none is a flipped bit, and a stop is for good)
    if (v->st->stopped && !v->st->stop_reason) v->st->stopped = VMM_RUNNING;
    if (v->st->stopped) {
        *r = (struct vmm_reply){.label = 1, .len = 1};
        return VMM_REPLY;
    }
    bool pc = v->st->platform == VMM_PLATFORM_PC;
    if (pc) { // typed input and guest time reach the devices before the guest's access does
        vmm_console_feed(v);
        pc_sync(v);
    }
    if (dispatch(v, w, r) == VMM_WAIT) return VMM_WAIT;
    if (pc && v->st->pc.reset_wanted && !r->label)
        return vmm_stop(v, r, RS_EXIT_OTHER, "asked for a reset", w[RS_EXIT_MR_RIP]);
    deliver(v, w, r);
    return VMM_REPLY;
}

bool vmm_tick(struct vmm *v)
{
    v->st->now_ns += VMM_TICK_NS;
    v->st->dirty |= VMM_DIRTY(VMM_SEG_PIT);
    if (pit_advance(&v->st->pit, v->st->now_ns)) v->st->irq_pending = 1;
    return v->st->irq_pending;
}
