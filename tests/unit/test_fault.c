// SPDX-License-Identifier: MIT
// Host tests of fault delivery (kernel/tcb.c, over kernel/endpoint.c): a faulting thread's
// message to its handler, the handler's reply, and a thread without a handler.
// The shared world and the fake machine: ipc_fixture.h, fake_arch.c.
#include "ipc_fixture.h"

TestSuite(fault, .init = ipc_setup, .fini = ipc_teardown);

/* ---- Faults ------------------------------------------------------------------------------------ */

static struct tcb *faulting_thread(uint8_t prio)
{
    struct tcb *f = running("f", prio);
    f->slots[TCB_SLOT_FAULT_EP].cap = *cap(EP_BADGED);
    f->ctx.rip = 0x401000;
    f->ctx.rsp = 0x7fff000;
    f->fault = (struct fault_info){.type = RS_FAULT_VM, .w = {0x401000, 0xdead000, 0, 6, 0x77}};
    return f;
}

Test(fault, fault_goes_to_handler_and_reply_resumes)
{
    struct tcb *h = running("h", 20), *f = faulting_thread(10);
    struct rs_ipc_buffer *hb = give_ipcbuf(h);
    endpoint_recv(cap(EP), h, true);
    tcb_raise_fault(f);
    cr_expect_eq(f->state, TS_BLOCKED_REPLY);
    cr_expect(f->in_fault_ipc);
    cr_expect(h->reply_to == f && f->replier == h);
    expect_received(h, RS_OK, rs_msginfo(RS_FAULT_VM, 0, 0, 5), 0xB1);
    expect_mrs(h, 0x401000, 0xdead000, 0, 6);
    cr_expect_eq(hb->mr[4], 0x77);
    /* reply with label 0: resume at MR0 with stack MR1 */
    set_msg(h, 0, 2, 0x402000, 0x7ffe000, 0, 0);
    endpoint_reply(h);
    cr_expect_eq(f->state, TS_RUNNABLE);
    cr_expect(!f->in_fault_ipc);
    cr_expect_eq(f->fault.type, RS_FAULT_NONE);
    cr_expect_eq(f->ctx.rip, 0x402000);
    cr_expect_eq(f->ctx.rsp, 0x7ffe000);
    cr_expect_eq(f->ctx.vector, 0, "registers changed: return by iret");
    cr_expect_null(h->reply_to);
}

Test(fault, fault_reply_with_label_leaves_thread_stopped)
{
    struct tcb *h = running("h", 20), *f = faulting_thread(10);
    endpoint_recv(cap(EP), h, true);
    tcb_raise_fault(f);
    set_msg(h, 1, 0, 0, 0, 0, 0);
    endpoint_reply(h);
    cr_expect_eq(f->state, TS_INACTIVE);
    cr_expect(!f->in_fault_ipc);
    EXPECT_RUN_QUEUE(h);
}

Test(fault, handler_recv_without_reply_leaves_thread_stopped)
{
    struct tcb *h = running("h", 20), *f = faulting_thread(10);
    tcb_raise_fault(f); /* queued: the handler is not waiting yet */
    cr_expect_eq(f->state, TS_BLOCKED_SEND);
    endpoint_recv(cap(EP), h, true);
    cr_expect(h->reply_to == f && f->state == TS_BLOCKED_REPLY);
    expect_received(h, RS_OK, rs_msginfo(RS_FAULT_VM, 0, 0, 4), 0xB1); /* no buffer: 4 words */
    endpoint_recv(cap(EP), h, true);
    cr_expect_eq(f->state, TS_INACTIVE);
    cr_expect(!f->in_fault_ipc);
    cr_expect_null(f->replier);
    cr_expect_null(sched_pick(), "nobody runnable");
}

Test(fault, fault_without_handler_stops_thread)
{
    struct tcb *f = faulting_thread(10);
    f->slots[TCB_SLOT_FAULT_EP].cap = cap_null();
    tcb_raise_fault(f);
    cr_expect_eq(f->state, TS_INACTIVE);
    cr_expect_null(sched_pick());
    cr_expect_neq(strstr(fake_console, "no fault handler"), NULL, "console: %s", fake_console);
}
