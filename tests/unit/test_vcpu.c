// SPDX-License-Identifier: MIT
// Host tests of the generic vCPU layer (kernel/vcpu.c and the exit paths through endpoint.c,
// tcb.c and sched.c) over a scripted fake backend: an exit reaches the VMM as a Call carrying its
// words, the reply's flags reach the backend, and an exit whose VMM goes away is queued again
// for the next VMM instead of being dropped.
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <resurgo/ipcbuf.h>
#include <resurgo/invocation.h>
#include <resurgo/x86.h>
#include "cdt.h"
#include "endpoint.h"
#include "guestspace.h"
#include "msgreg.h"
#include "sched.h"
#include "tcb.h"
#include "vcpu.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/switch.h"

#include "fake_arch.h"

/* ---- The fake backend: run() hands out scripted exits, the rest is recorded ------------------ */

static struct {
    struct vcpu_exit script[4];
    int next, count, runs, window;
    uint64_t advanced, injected;
    rs_vcpu_state_t state; /* set_state's last but the GPRs and the event (injected) */
} fb;

/* The SEG word of the fake's state now, as a real backend's exit_seg builds it: CS and SS
 * attribs, CPL (SS.DPL), an event held, a window asked for. */
static uint64_t fb_exit_seg(struct vcpu *v)
{
    (void)v;
    return fb.state.cs.attrib | fb.state.ss.attrib << 16 | ((fb.state.ss.attrib >> 5) & 3) << 32 |
           (fb.injected ? RS_EXIT_IRQ_PENDING : 0) | (fb.window > 0 ? RS_EXIT_IRQ_WINDOW : 0);
}
static void fb_run(struct vcpu *v, struct vcpu_exit *e)
{
    fb.runs++;
    *e = fb.next < fb.count ? fb.script[fb.next++]
                            : (struct vcpu_exit){.reason = RS_EXIT_HLT, .rip = 0x7777};
    e->seg = fb_exit_seg(v); // run fills it (vcpu_backend.h)
}
static void fb_advance(struct vcpu *v, uint64_t n) { (void)v, fb.advanced += n; }
static void fb_inject(struct vcpu *v, uint64_t ev) { (void)v, fb.injected = ev; }
static void fb_window(struct vcpu *v, bool on) { (void)v, fb.window = on ? 1 : -1; }
static void fb_vcpu_init(struct vcpu *v, void *ctl, uint64_t phys)
{
    (void)v, (void)ctl, (void)phys;
}
static void fb_root(struct vcpu *v, uint64_t root, uint32_t tag) { (void)v, (void)root, (void)tag; }
static void fb_state(struct vcpu *v, rs_vcpu_state_t *s)
{
    (void)v;
    *s = fb.state;
    s->pending_event = fb.injected;
}
static void fb_set_state(struct vcpu *v, const rs_vcpu_state_t *s)
{
    (void)v;
    fb.state = *s;
    fb.injected = s->pending_event;
}
static uint64_t fb_pte(uint64_t phys, unsigned rights, bool leaf)
{
    return phys | 1 | (leaf ? rights << 1 : 0);
}
static bool fb_present(uint64_t pte) { return pte & 1; }
static void fb_flush(uint64_t root, uint32_t tag) { (void)root, (void)tag; }

static const struct vcpu_backend fake_backend = {
    .name = "fake",
    .vcpu_init = fb_vcpu_init,
    .set_guest_root = fb_root,
    .get_state = fb_state,
    .set_state = fb_set_state,
    .run = fb_run,
    .exit_seg = fb_exit_seg,
    .advance_rip = fb_advance,
    .inject = fb_inject,
    .want_window = fb_window,
    .guest_pte = fb_pte,
    .guest_pte_present = fb_present,
    .flush_guest = fb_flush,
};

/* ---- The world: an exit endpoint, a guest thread bound to a VCPU, VMM threads ---------------- */

static struct {
    struct slot ep_slot, vcpu_slot, tcb_slot, gs_slot;
    struct endpoint *ep;
    struct vcpu *v;
    struct tcb *g; /* the vCPU's thread, priority 20 */
    void *vspace;
} w;

static void *allocs[32];
static int nallocs;

static void *alloc(size_t align, size_t size)
{
    size = (size + align - 1) & ~(align - 1); /* aligned_alloc wants a multiple of the alignment */
    void *p = aligned_alloc(align, size);
    cr_assert_not_null(p);
    memset(p, 0, size);
    cr_assert_lt(nallocs, 32);
    return allocs[nallocs++] = p;
}

static struct tcb *thread(const char *name, uint8_t prio)
{
    struct tcb *t = alloc(1u << RS_TCB_BITS, 1u << RS_TCB_BITS);
    tcb_init(t);
    t->prio = prio;
    strncpy(t->name, name, sizeof(t->name) - 1);
    t->slots[TCB_SLOT_VSPACE].cap = (struct cap){
        .type = RS_CAP_VSPACE, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.vspace, .small = 1};
    return t;
}

/* A VMM thread (priority 10) with an IPC buffer, receiving on the exit endpoint: it waits, or
 * holds the exit that was queued there. */
static struct tcb *vmm(const char *name, struct rs_ipc_buffer **buf)
{
    struct tcb *t = thread(name, 10);
    uint8_t *frame = alloc(4096, 4096);
    t->slots[TCB_SLOT_IPCBUF].cap = (struct cap){
        .type = RS_CAP_FRAME, .rights = RS_RIGHTS_ALL, .bits = 12, .obj = (uintptr_t)frame};
    t->ipc_buffer_vaddr = 0x10000;
    *buf = (struct rs_ipc_buffer *)frame;
    endpoint_recv(&w.ep_slot.cap, t, true);
    cr_assert(t->state == TS_BLOCKED_RECV || t->reply_to);
    return t;
}

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    memset(&fb, 0, sizeof(fb));
    vcpu_backend = &fake_backend;
    w.vspace = alloc(4096, 4096);
    arch_cr3 = VIRT_TO_PHYS(w.vspace);
    w.ep = alloc(32, sizeof(struct endpoint));
    w.ep_slot.cap = (struct cap){
        .type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.ep, .w1 = 0xE1};
    cdt_insert(NULL, &w.ep_slot);
    uint8_t *vobj = alloc(4096, 1u << RS_VCPU_BITS);
    vcpu_create((uintptr_t)vobj);
    w.vcpu_slot.cap =
        (struct cap){.type = RS_CAP_VCPU, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)vobj};
    cdt_insert(NULL, &w.vcpu_slot);
    w.v = vcpu_of(&w.vcpu_slot.cap);
    void *root = alloc(4096, 4096);
    uint32_t asid;
    guest_space_init(root, &asid);
    w.gs_slot.cap = (struct cap){
        .type = RS_CAP_GUEST_SPACE, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)root, .small = asid};
    cdt_insert(NULL, &w.gs_slot);
    w.g = thread("guest", 20);
    w.tcb_slot.cap =
        (struct cap){.type = RS_CAP_TCB, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.g};
    cdt_insert(NULL, &w.tcb_slot);
}

static void teardown(void)
{
    vcpu_backend = NULL;
    while (nallocs) free(allocs[--nallocs]);
}

TestSuite(vcpu, .init = setup, .fini = teardown);

/* Invokes `label` on the VCPU from `caller` with the given extra caps; returns the status. */
static int invoke(struct tcb *caller, uint64_t label, struct slot **caps, unsigned ncaps)
{
    struct invocation inv = {
        .caller = caller, .slot = &w.vcpu_slot, .cap = &w.vcpu_slot.cap, .label = label};
    for (unsigned i = 0; i < ncaps; i++) inv.extra[inv.extra_count++] = caps[i];
    return vcpu_decode(&inv);
}

static void bind(void)
{
    struct slot *caps[] = {&w.tcb_slot, &w.gs_slot, &w.ep_slot};
    struct tcb *caller = thread("caller", 10);
    cr_assert_eq(invoke(caller, RS_VCPU_BIND, caps, 3), RS_OK);
    cr_assert_eq(w.g->vcpu, w.v);
    tcb_resume(w.g);
}

static void script(struct vcpu_exit e)
{
    cr_assert_lt(fb.count, 4);
    fb.script[fb.count++] = e;
}

static const struct vcpu_exit io_exit = {.reason = RS_EXIT_IO,
                                         .qual = 0xE9 | 1u << 16,
                                         .insn_len = 2,
                                         .rip = 0x1002,
                                         .rflags = 0x202,
                                         .cr0 = 0x11,
                                         .raw_reason = 0x7B};

/* Runs the scheduler once: the guest thread (priority 20) runs first. */
static int schedule(void)
{
    int how;
    RUN(how, sched_exit_kernel());
    return how;
}

static void expect_io_exit(const struct tcb *m, const struct rs_ipc_buffer *b)
{
    cr_expect_eq(m->ctx.rax, RS_OK);
    cr_expect_eq(m->ctx.rsi, rs_msginfo(RS_FAULT_VCPU_EXIT, 0, 0, RS_EXIT_MR_COUNT));
    cr_expect_eq(m->ctx.rdi, 0xE1, "the exit endpoint cap's badge");
    cr_expect_eq(m->ctx.rdx, RS_EXIT_IO);
    cr_expect_eq(m->ctx.r8, io_exit.qual);
    cr_expect_eq(m->ctx.r9, 2, "instruction length");
    cr_expect_eq(m->ctx.r10, 0x1002, "rip");
    cr_expect_eq(b->mr[RS_EXIT_MR_RAX], 0x41);
    cr_expect_eq(b->mr[RS_EXIT_MR_R15], 0xF15);
    cr_expect_eq(b->mr[RS_EXIT_MR_RAW_REASON], 0x7B);
    cr_expect_eq(m->reply_to, w.g);
    cr_expect_eq(w.g->state, TS_BLOCKED_REPLY);
}

/* The guest ran and exited with io_exit; the VMM m holds it. */
static struct tcb *exit_held(struct rs_ipc_buffer **b)
{
    struct tcb *m = vmm("vmm", b);
    bind();
    w.v->gpr[RS_GPR_RAX] = 0x41;
    w.v->gpr[RS_GPR_R15] = 0xF15;
    script(io_exit);
    cr_assert_eq(schedule(), LEFT_USER);
    cr_assert_eq(fake_restored, &m->ctx, "the VMM runs next");
    expect_io_exit(m, *b);
    return m;
}

Test(vcpu, exit_reaches_the_vmm_as_a_call_with_its_words)
{
    struct rs_ipc_buffer *b;
    exit_held(&b);
    cr_expect_eq(fb.runs, 1);
}

Test(vcpu, host_interrupt_returns_to_the_scheduler_and_the_guest_goes_on)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = vmm("vmm", &b);
    bind();
    w.v->gpr[RS_GPR_RAX] = 0x41;
    w.v->gpr[RS_GPR_R15] = 0xF15;
    script((struct vcpu_exit){.reason = RS_EXIT_NONE});
    script(io_exit);
    cr_assert_eq(schedule(), LEFT_USER);
    cr_expect_eq(fb.runs, 2);
    expect_io_exit(m, b);
}

Test(vcpu, reply_flags_reach_the_backend_and_resume_the_guest)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = exit_held(&b);
    w.v->gpr[RS_GPR_RSP] = 0xDD;
    uint64_t ev = RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT);
    m->ctx.rsi = rs_msginfo(0, 0, 0, RS_REPLY_MR_RBX + 1);
    m->ctx.rdx = RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_GPRS | RS_REPLY_INJECT | RS_REPLY_WANT_WINDOW;
    m->ctx.r8 = ev;
    m->ctx.r9 = 0x5555; // rip: no SET_RIP, not taken
    m->ctx.r10 = 5;     // rax
    b->mr[RS_REPLY_MR_RCX] = 7;
    b->mr[RS_REPLY_MR_RDX] = 9;
    b->mr[RS_REPLY_MR_RBX] = 6;
    b->mr[RS_REPLY_MR_RSP] = 8; // beyond the length: not taken
    endpoint_reply(m);
    cr_expect_eq(fb.advanced, 2);
    cr_expect_eq(fb.injected, ev | RS_EVENT_VALID);
    cr_expect_eq(fb.window, 1);
    cr_expect_eq(w.v->gpr[RS_GPR_RAX], 5);
    cr_expect_eq(w.v->gpr[RS_GPR_RBX], 6);
    cr_expect_eq(w.v->gpr[RS_GPR_RCX], 7);
    cr_expect_eq(w.v->gpr[RS_GPR_RDX], 9);
    cr_expect_eq(w.v->gpr[RS_GPR_RSP], 0xDD);
    cr_expect_eq(w.g->state, TS_RUNNABLE);
    cr_expect(!w.g->in_fault_ipc);
    cr_expect_null(m->reply_to);
}

Test(vcpu, set_rip_moves_rip_by_the_difference_and_bad_events_are_dropped)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = exit_held(&b);
    m->ctx.rsi = rs_msginfo(0, 0, 0, RS_REPLY_MR_RIP + 1);
    m->ctx.rdx = RS_REPLY_SET_RIP | RS_REPLY_ADVANCE_RIP | RS_REPLY_INJECT;
    m->ctx.r8 = RS_EVENT_MAKE(0x30, 1); // no such event type
    m->ctx.r9 = 0x1010;                 // MR2: rip
    endpoint_reply(m);
    cr_expect_eq(fb.advanced, 0x1010 - 0x1002, "SET_RIP wins over ADVANCE_RIP");
    cr_expect_eq(fb.injected, 0);
    cr_expect_eq(w.g->state, TS_RUNNABLE);
}

Test(vcpu, reply_with_a_label_leaves_the_guest_paused)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = exit_held(&b);
    m->ctx.rsi = rs_msginfo(1, 0, 0, 1);
    m->ctx.rdx = RS_REPLY_ADVANCE_RIP;
    endpoint_reply(m);
    cr_expect_eq(fb.advanced, 0);
    cr_expect_eq(w.g->state, TS_INACTIVE);
    cr_expect(!w.g->in_fault_ipc);
    tcb_resume(w.g); // runs the instruction again: the guest exits again
    cr_expect_eq(w.g->state, TS_RUNNABLE);
}

Test(vcpu, a_vmm_receiving_again_gets_the_same_exit)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = exit_held(&b);
    memset(b->mr, 0, sizeof(b->mr));
    endpoint_recv(&w.ep_slot.cap, m, true);
    expect_io_exit(m, b);
}

Test(vcpu, a_vmm_that_dies_holding_the_exit_passes_it_to_the_next)
{
    struct rs_ipc_buffer *b, *b2;
    struct tcb *m = exit_held(&b);
    tcb_suspend(m); // no one else waits: the exit is queued
    cr_expect_eq(w.g->state, TS_BLOCKED_SEND);
    cr_expect_eq(w.ep->head, w.g);
    cr_expect(w.g->in_fault_ipc);
    struct tcb *m2 = vmm("vmm2", &b2); // the restarted VMM receives it
    expect_io_exit(m2, b2);
    // with a VMM already waiting, it goes to that one at once
    struct tcb *m3 = vmm("vmm3", &b);
    tcb_suspend(m2);
    expect_io_exit(m3, b);
}

Test(vcpu, an_exit_endpoint_that_goes_stops_the_guest_thread)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = exit_held(&b);
    tcb_suspend(m);
    cr_assert_eq(w.g->state, TS_BLOCKED_SEND);
    endpoint_finalise(w.ep);
    cr_expect_eq(w.g->state, TS_INACTIVE);
    cr_expect(!w.g->in_fault_ipc);
    cr_expect_neq(w.g->ctx.rax, RS_PEER_DIED, "a guest thread is stopped, not failed");
}

Test(vcpu, destroying_the_vcpu_stops_its_thread)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = exit_held(&b);
    struct slot_array s = vcpu_finalise(w.v);
    cr_expect_eq(s.slots, w.v->slots);
    cr_expect_eq(s.count, VCPU_SLOT_COUNT);
    cr_expect_null(w.g->vcpu);
    cr_expect_null(w.v->tcb);
    cr_expect_eq(w.g->state, TS_INACTIVE);
    cr_expect_null(m->reply_to, "the VMM's late reply goes nowhere");
}

Test(vcpu, a_revoked_binding_unbinds_and_stops_the_thread)
{
    bind();
    cdt_delete(&w.v->slots[VCPU_SLOT_TCB]);
    cr_assert_eq(schedule(), LEFT_IDLE);
    cr_expect_eq(fb.runs, 0);
    cr_expect_null(w.g->vcpu);
    cr_expect_eq(w.g->state, TS_INACTIVE);
}

Test(vcpu, bind_checks_every_cap_and_the_thread)
{
    struct tcb *caller = thread("caller", 10);
    struct slot *wrong[] = {&w.ep_slot, &w.gs_slot, &w.ep_slot};
    cr_expect_eq(invoke(caller, RS_VCPU_BIND, wrong, 3), RS_INVALID_CAPABILITY);
    cr_expect_eq(caller->ctx.rdx, 1);
    struct slot *two[] = {&w.tcb_slot, &w.gs_slot};
    cr_expect_eq(invoke(caller, RS_VCPU_BIND, two, 2), RS_INVALID_CAPABILITY);
    cr_expect_eq(caller->ctx.rdx, 3);
    tcb_resume(w.g);
    struct slot *good[] = {&w.tcb_slot, &w.gs_slot, &w.ep_slot};
    cr_expect_eq(invoke(caller, RS_VCPU_BIND, good, 3), RS_BUSY, "a runnable thread");
    sched_dequeue(w.g);
    w.g->state = TS_INACTIVE;
    cr_expect_eq(invoke(caller, RS_VCPU_BIND, good, 3), RS_OK);
    cr_expect_eq(invoke(caller, RS_VCPU_BIND, good, 3), RS_ILLEGAL_OPERATION);
    cr_expect(!cdt_is_final(&w.gs_slot), "the binding holds a copy of the GuestSpace cap");
}

Test(vcpu, an_answered_exit_resumes_the_guest_ahead_of_its_equals_while_its_slice_lasts)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = exit_held(&b);
    struct tcb *spin = thread("spin", 20); // another guest of the same priority, never blocking
    sched_make_runnable(spin, false);
    m->ctx.rsi = rs_msginfo(0, 0, 0, 0);
    endpoint_reply(m);
    cr_expect_eq(sched_pick(), w.g, "its turn goes on, ahead of the spinning equal");
    // the next exit; the VMM's time on it is charged to the guest's slice
    endpoint_recv(&w.ep_slot.cap, m, true);
    cr_assert_eq(schedule(), LEFT_USER);
    cr_assert_eq(fake_restored, &spin->ctx);
    cr_assert_eq(m->reply_to, w.g);
    cur = m;
    for (int i = 0; i < SCHED_TIME_SLICE; i++) sched_tick();
    cr_expect_eq(w.g->time_slice, SCHED_TIME_SLICE);
    m->ctx.rsi = rs_msginfo(0, 0, 0, 0);
    endpoint_reply(m);
    cr_expect_eq(sched_pick(), spin, "its slice is spent: behind its equal, with a fresh one");
    cr_expect_eq(w.g->time_slice, 0);
    cr_expect_eq(w.g->state, TS_RUNNABLE);
}

/* Issue 16 item 11: a guest fault taken while the CPU delivered an event carries that event in
 * RS_EXIT_MR_EVENT, so the VMM does not take it for the instruction at RIP's access. */
Test(vcpu, the_event_being_delivered_reaches_the_vmm)
{
    struct rs_ipc_buffer *b;
    struct tcb *m = vmm("vmm", &b);
    bind();
    uint64_t ev = RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0x18) | RS_EVENT_VALID;
    script((struct vcpu_exit){
        .reason = RS_EXIT_GUEST_FAULT, .qual = 2, .gpa = 0x7FF000, .rip = 0x1000, .event = ev});
    cr_assert_eq(schedule(), LEFT_USER);
    cr_expect_eq(m->ctx.rdx, RS_EXIT_GUEST_FAULT);
    cr_expect_eq(b->mr[RS_EXIT_MR_GPA], 0x7FF000, "the address");
    cr_expect_eq(b->mr[RS_EXIT_MR_EVENT], ev);
}

/* Exit ABI 2: SetExitWords selects the reason's own words; a port I/O exit then carries the 8
 * words of RS_EXIT_LEN_BASE (the four after the registers in the buffer, nothing beyond), and
 * one delivered again to the next VMM has the same length and words. */
static int set_exit_words(uint64_t mask)
{
    struct tcb *caller = thread("caller", 10);
    caller->ctx.rdx = mask; // MR0
    struct invocation inv = {.caller = caller,
                             .slot = &w.vcpu_slot,
                             .cap = &w.vcpu_slot.cap,
                             .label = RS_VCPU_SET_EXIT_WORDS,
                             .length = 1};
    return vcpu_decode(&inv);
}

static void expect_short_io_exit(const struct tcb *m, const struct rs_ipc_buffer *b)
{
    cr_expect_eq(m->ctx.rsi, rs_msginfo(RS_FAULT_VCPU_EXIT, 0, 0, RS_EXIT_LEN_BASE));
    cr_expect_eq(m->ctx.rdx, RS_EXIT_IO);
    cr_expect_eq(m->ctx.r8, io_exit.qual);
    cr_expect_eq(m->ctx.r9, 2, "instruction length");
    cr_expect_eq(m->ctx.r10, 0x1002, "rip");
    cr_expect_eq(b->mr[RS_EXIT_MR_RFLAGS], 0x202);
    cr_expect_eq(b->mr[RS_EXIT_MR_SEQ], 1);
    cr_expect_eq(b->mr[RS_EXIT_MR_RAX], 0x41);
    for (unsigned i = RS_EXIT_LEN_BASE; i < RS_EXIT_MR_COUNT; i++)
        cr_expect_eq(b->mr[i], 0xAAAAAAAAAAAAAAAAull, "word %u is not written", i);
}

Test(vcpu, selected_exits_carry_only_their_reasons_words)
{
    cr_expect_eq(set_exit_words(RS_EXIT_SHORT(RS_EXIT_GUEST_FAULT)), RS_INVALID_ARGUMENT,
                 "MMIO has no short set");
    cr_expect_eq(set_exit_words(1ull << 40), RS_INVALID_ARGUMENT);
    cr_expect_eq(w.v->short_exits, 0, "nothing changed");
    cr_assert_eq(set_exit_words(RS_EXIT_SHORT_ALL), RS_OK);
    struct rs_ipc_buffer *b;
    struct tcb *m = vmm("vmm", &b);
    memset(b->mr, 0xAA, sizeof(b->mr));
    bind();
    w.v->gpr[RS_GPR_RAX] = 0x41;
    w.v->gpr[RS_GPR_R15] = 0xF15;
    script(io_exit);
    cr_assert_eq(schedule(), LEFT_USER);
    expect_short_io_exit(m, b);
}

Test(vcpu, a_redelivered_short_exit_has_the_same_words)
{
    cr_assert_eq(set_exit_words(RS_EXIT_SHORT(RS_EXIT_IO)), RS_OK);
    struct rs_ipc_buffer *b, *b2;
    struct tcb *m = vmm("vmm", &b);
    memset(b->mr, 0xAA, sizeof(b->mr));
    bind();
    w.v->gpr[RS_GPR_RAX] = 0x41;
    script(io_exit);
    cr_assert_eq(schedule(), LEFT_USER);
    expect_short_io_exit(m, b);
    tcb_suspend(m); // nobody waits: queued, then taken by the next receiver (endpoint_recv)
    cr_assert_eq(w.g->state, TS_BLOCKED_SEND);
    // the next VMM's buffer is filled before it receives
    struct tcb *m2 = thread("vmm2", 10);
    uint8_t *frame = alloc(4096, 4096);
    memset(frame, 0xAA, 4096);
    m2->slots[TCB_SLOT_IPCBUF].cap = (struct cap){
        .type = RS_CAP_FRAME, .rights = RS_RIGHTS_ALL, .bits = 12, .obj = (uintptr_t)frame};
    m2->ipc_buffer_vaddr = 0x10000;
    b2 = (struct rs_ipc_buffer *)frame;
    endpoint_recv(&w.ep_slot.cap, m2, true);
    expect_short_io_exit(m2, b2);
}

/* Invokes `label` on the VCPU from m (its IPC buffer b) with the n argument words a[]. */
static int invoke_words(struct tcb *m, struct rs_ipc_buffer *b, uint64_t label, const uint64_t *a,
                        unsigned n)
{
    for (unsigned i = 0; i < n; i++) cr_assert(msgreg_set(m, b, i, a[i]));
    struct invocation inv = {
        .caller = m, .slot = &w.vcpu_slot, .cap = &w.vcpu_slot.cap, .label = label, .length = n};
    return vcpu_decode(&inv);
}

/* The SEG and CR words show the guest's state at the delivery: an exit delivered again after a
 * WriteState, an Inject, a RequestWindow or a SetRegister while it was held shows what they
 * changed (CS / SS attribs, CPL, the event held, the window; CR0, CR3, CR4, EFER as checked),
 * whether it was queued for the next VMM or handed to a waiting one. The backend computes the
 * words at the exit; those invocations compute them again (state_set, vcpu_exit_seg_refresh). */
Test(vcpu, a_held_exit_delivered_again_shows_the_state_changed_while_held)
{
    struct rs_ipc_buffer *b, *b2, *b3;
    struct tcb *m = exit_held(&b);
    cr_expect_eq(b->mr[RS_EXIT_MR_SEG], 0x9B | 0x93 << 16, "the reset state's CS and SS, CPL 0");
    // a ring-3 state, written by the VMM that then dies: queued, the next VMM receives it
    rs_vcpu_state_t s = vcpu_reset_state;
    s.rip = io_exit.rip, s.rax = 0x41, s.r15 = 0xF15; // the rest of the words as they were
    cr_expect_eq(b->mr[RS_EXIT_MR_CR0], 0x11, "the exit's");
    s.cr0 = CR0_PG | CR0_PE | CR0_ET; // long mode: EFER.LMA follows from LME and PG
    s.cr3 = 0x5000;
    s.cr4 = CR4_PAE;
    s.efer = EFER_LME;
    s.cs.attrib = 0xAFB; // 64-bit code, DPL 3
    s.ss.attrib = 0xCF3; // data, DPL 3
    cr_assert_eq(invoke_words(m, b, RS_VCPU_WRITE_STATE, (const uint64_t *)&s, RS_VCPU_STATE_WORDS),
                 RS_OK);
    tcb_suspend(m);
    cr_assert_eq(w.g->state, TS_BLOCKED_SEND);
    struct tcb *m2 = vmm("vmm2", &b2);
    expect_io_exit(m2, b2);
    uint64_t ring3 = 0xAFB | 0xCF3 << 16 | 3ull << 32;
    cr_expect_eq(b2->mr[RS_EXIT_MR_SEG], ring3);
    cr_expect_eq(b2->mr[RS_EXIT_MR_CR0], CR0_PG | CR0_PE | CR0_ET);
    cr_expect_eq(b2->mr[RS_EXIT_MR_CR3], 0x5000);
    cr_expect_eq(b2->mr[RS_EXIT_MR_CR4], CR4_PAE);
    cr_expect_eq(b2->mr[RS_EXIT_MR_EFER], EFER_LME | EFER_LMA, "as checked: what a backend shows");
    // an event held: that VMM receives again and gets the same exit
    uint64_t ev = RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT), on = 1;
    cr_assert_eq(invoke_words(m2, b2, RS_VCPU_INJECT, &ev, 1), RS_OK);
    endpoint_recv(&w.ep_slot.cap, m2, true);
    expect_io_exit(m2, b2);
    cr_expect_eq(b2->mr[RS_EXIT_MR_SEG], ring3 | RS_EXIT_IRQ_PENDING);
    // a window asked for, then that VMM dies too: the one waiting has it at once
    struct tcb *m3 = vmm("vmm3", &b3);
    cr_assert_eq(invoke_words(m2, b2, RS_VCPU_REQUEST_WINDOW, &on, 1), RS_OK);
    tcb_suspend(m2);
    expect_io_exit(m3, b3);
    cr_expect_eq(b3->mr[RS_EXIT_MR_SEG], ring3 | RS_EXIT_IRQ_PENDING | RS_EXIT_IRQ_WINDOW);
    // SS back to DPL 0 (CPL 0), a new CR3 and paging off (EFER.LMA with it) by SetRegister; the
    // VMM receives again: the same exit, the new words
    uint64_t set[3][2] = {{RS_VCPU_STATE_WORD(ss.attrib), 0xC93},
                          {RS_VCPU_STATE_WORD(cr3), 0x6000},
                          {RS_VCPU_STATE_WORD(cr0), CR0_PE | CR0_ET}};
    for (unsigned i = 0; i < 3; i++)
        cr_assert_eq(invoke_words(m3, b3, RS_VCPU_SET_REGISTER, set[i], 2), RS_OK);
    endpoint_recv(&w.ep_slot.cap, m3, true);
    expect_io_exit(m3, b3);
    cr_expect_eq(b3->mr[RS_EXIT_MR_SEG],
                 0xAFB | 0xC93 << 16 | RS_EXIT_IRQ_PENDING | RS_EXIT_IRQ_WINDOW);
    cr_expect_eq(b3->mr[RS_EXIT_MR_CR0], CR0_PE | CR0_ET);
    cr_expect_eq(b3->mr[RS_EXIT_MR_CR3], 0x6000);
    cr_expect_eq(b3->mr[RS_EXIT_MR_CR4], CR4_PAE);
    cr_expect_eq(b3->mr[RS_EXIT_MR_EFER], EFER_LME, "LMA gone with PG");
    cr_expect_eq(b3->mr[RS_EXIT_MR_SEQ], 1, "the same exit throughout");
}

/* The kernel's length table (vcpu_exit_length) gives what the ABI's rs_exit_short_length gives
 * for every reason SetExitWords accepts, string I/O and not; unselected reasons carry all. */
Test(vcpu, the_exit_length_is_the_abis)
{
    for (uint32_t r = 0; r < 32; r++)
        for (int string = 0; string < 2; string++) {
            w.v->exit.reason = r;
            w.v->exit.qual = string ? RS_IO_QUAL_STRING | 0xE9 : 0xE9;
            w.v->short_exits = RS_EXIT_SHORT_ALL;
            unsigned want = RS_EXIT_SHORT_ALL >> r & 1 ? rs_exit_short_length(r, w.v->exit.qual)
                                                       : RS_EXIT_MR_COUNT;
            cr_expect_eq(vcpu_exit_length(w.v), want, "reason %u, string %d", r, string);
            w.v->short_exits = RS_EXIT_SHORT_ALL & ~RS_EXIT_SHORT(r);
            cr_expect_eq(vcpu_exit_length(w.v), RS_EXIT_MR_COUNT, "reason %u not selected", r);
        }
    w.v->exit.reason = RS_EXIT_NONE;
}
