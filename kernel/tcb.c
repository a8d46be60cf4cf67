// SPDX-License-Identifier: MIT
// Threads: lifecycle (suspend, resume, destruction), faults, and the TCB invocations.
#include "tcb.h"
#include "sched.h"
#include "endpoint.h"
#include "notification.h"
#include "cnode.h"
#include "cdt.h"
#include "invoke.h"
#include "msgreg.h"
#include "vcpu.h"
#include "console.h"
#include "kstring.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/fpu.h"
#include <resurgo/invocation.h>
#include <resurgo/ipcbuf.h>

#define IPC_BUFFER_ALIGN RS_IPC_BUFFER_ALIGN
_Static_assert(USER_TOP == RS_USER_TOP, "the kernel's and the ABI's end of user space");

void tcb_init(struct tcb *t)
{
    t->ctx.cs = GDT_USER_CS;
    t->ctx.ss = GDT_USER_DS;
    t->ctx.rflags = 0x202;
    fpu_image_init(t->ctx.fpu);
    t->state = TS_INACTIVE;
}

struct rs_ipc_buffer *tcb_ipc_buffer(struct tcb *t)
{
    const struct cap *c = &t->slots[TCB_SLOT_IPCBUF].cap;
    if (c->type != RS_CAP_FRAME) return NULL;
    return (struct rs_ipc_buffer *)(c->obj + (t->ipc_buffer_vaddr & ((1ull << c->bits) - 1)));
}

void tcb_cancel_ipc(struct tcb *t)
{
    switch (t->state) {
    case TS_BLOCKED_SEND:
    case TS_BLOCKED_RECV: endpoint_dequeue(t->blocked_on, t); break;
    case TS_BLOCKED_NTFN: notification_dequeue(t->blocked_on, t); break;
    case TS_BLOCKED_REPLY:
        if (t->replier) t->replier->reply_to = NULL;
        t->replier = NULL;
        break;
    default: break;
    }
}

void tcb_fail_syscall(struct tcb *t, int error)
{
    t->ctx.rax = error;
    t->ctx.rsi = 0;
    t->ctx.rdi = 0;
    sched_make_runnable(t, false);
}

void tcb_suspend(struct tcb *t)
{
    tcb_cancel_ipc(t);
    if (t->reply_to) endpoint_drop_reply(t);
    sched_dequeue(t);
    t->state = TS_INACTIVE;
    t->in_fault_ipc = 0;
}

void tcb_resume(struct tcb *t)
{
    if (t->state != TS_INACTIVE) return;
    sched_make_runnable(t, false);
}

void tcb_finalise(struct tcb *t)
{
    tcb_suspend(t);
    if (t->bound_ntfn) notification_unbind(t->bound_ntfn);
    vcpu_tcb_finalise(t);
    fpu_forget(t->ctx.fpu);
}

void tcb_raise_fault(struct tcb *t)
{
    struct cap *ep = &t->slots[TCB_SLOT_FAULT_EP].cap;
    if (ep->type != RS_CAP_ENDPOINT) {
        kprintf("fault: thread '%s' type %u ip %lx addr %lx: no fault handler, stopped\n", t->name,
                t->fault.type, t->fault.w[0], t->fault.w[1]);
        sched_dequeue(t);
        t->state = TS_INACTIVE;
        return;
    }
    t->in_fault_ipc = 1;
    endpoint_send(ep, t, true, true);
}

void tcb_get_regs(const struct tcb *t, uint64_t r[RS_REG_COUNT])
{
    const struct user_context *c = &t->ctx;
    uint64_t v[RS_REG_COUNT] = {c->rip, c->rsp, c->rflags, c->rax, c->rbx,    c->rcx, c->rdx,
                                c->rsi, c->rdi, c->rbp,    c->r8,  c->r9,     c->r10, c->r11,
                                c->r12, c->r13, c->r14,    c->r15, c->fs_base};
    memcpy(r, v, sizeof(v));
}

/* Where a RIP, TLS base or IPC buffer may point: below USER_TOP, which also keeps them canonical
 * (wrmsr FS_BASE, iretq and sysretq fault in ring 0 on a non-canonical address). */
static bool user_address_ok(uint64_t a) { return a < USER_TOP; }
/* A stack may end right at USER_TOP (its first push goes below). */
static bool user_stack_ok(uint64_t sp) { return sp <= USER_TOP; }

/* Writes n registers in RS_REG order; addresses must be user ones, flags are sanitised. */
static void set_regs(struct tcb *t, const uint64_t *r, unsigned n)
{
    struct user_context *c = &t->ctx;
    uint64_t *dst[RS_REG_COUNT] = {&c->rip, &c->rsp, &c->rflags, &c->rax,    &c->rbx,
                                   &c->rcx, &c->rdx, &c->rsi,    &c->rdi,    &c->rbp,
                                   &c->r8,  &c->r9,  &c->r10,    &c->r11,    &c->r12,
                                   &c->r13, &c->r14, &c->r15,    &c->fs_base};
    for (unsigned i = 0; i < n && i < RS_REG_COUNT; i++) *dst[i] = r[i];
    // user may change only the arithmetic flags, TF, DF; IF is always on
    c->rflags = (c->rflags & 0xDD5) | 0x202;
    c->vector = 0; // every register matters now: leave by iret, not sysret
}

void tcb_fault_reply(struct tcb *t, struct tcb *handler)
{
    uint64_t info = handler->ctx.rsi;
    unsigned len = rs_msginfo_length(info);
    struct rs_ipc_buffer *b = tcb_ipc_buffer(handler);
    if (t->fault.type == RS_FAULT_VCPU_EXIT) { // the VMM's answer to a guest exit
        vcpu_exit_reply(t, handler);
        return;
    }
    t->in_fault_ipc = 0;
    if (rs_msginfo_label(info) != 0) { // the handler chose to leave the thread stopped
        t->state = TS_INACTIVE;
        return;
    }
    if (len > RS_REG_COUNT) len = RS_REG_COUNT;
    if (!b && len > RS_MSG_REG_COUNT) len = RS_MSG_REG_COUNT;
    if (t->fault.type != RS_FAULT_UNKNOWN_SYSCALL && len > 2) len = 2; // ip and sp only
    if (len) {
        // the registers the checks below read: all of them only when the reply may set more
        // than RIP and RSP (an empty reply, a pager's usual one, gathers none)
        uint64_t regs[RS_REG_COUNT];
        _Static_assert(RS_REG_RIP == 0 && RS_REG_RSP == 1, "RIP and RSP come first");
        if (len > 2) {
            tcb_get_regs(t, regs);
        } else {
            regs[RS_REG_RSP] = t->ctx.rsp;
            regs[RS_REG_FS_BASE] = t->ctx.fs_base;
        }
        for (unsigned i = 0; i < len; i++) regs[i] = msgreg_get(handler, b, i);
        // a reply with a RIP, RSP or TLS base outside user space is ignored as a whole: the
        // thread resumes with the registers it had (a reply cannot return an error to the handler)
        if (user_address_ok(regs[RS_REG_RIP]) && user_stack_ok(regs[RS_REG_RSP]) &&
            user_address_ok(regs[RS_REG_FS_BASE]))
            set_regs(t, regs, len);
    }
    t->fault.type = RS_FAULT_NONE;
    sched_make_runnable(t, false);
}

/* Rejects replacing the cap in t's slot `which` if that would drop the last cap of an object,
 * so that Configure and SetFaultHandler never destroy anything; `capi` names the new cap. */
static int check_replace(struct invocation *inv, struct tcb *t, enum tcb_slot which, unsigned capi)
{
    struct slot *old = &t->slots[which];
    if (!cap_is_null(&old->cap) && cdt_is_final(old) && cap_has_object(&old->cap))
        return inv_error(inv, RS_REVOKE_FIRST, capi, 0, 0);
    return RS_OK;
}

/* Replaces the cap in one of t's own slots by a derived copy of `src` (NULL: empties it). */
static void do_replace(struct tcb *t, enum tcb_slot which, struct slot *src)
{
    struct slot *dst = &t->slots[which];
    cdt_delete(dst);
    if (!src) return;
    cap_derive(&src->cap, &dst->cap);
    cdt_insert(src, dst);
}

static int tcb_invoke_configure(struct tcb *t, struct slot *cs, struct slot *vs, struct slot *buf,
                                uint64_t ipcbuf)
{
    do_replace(t, TCB_SLOT_CSPACE, cs);
    do_replace(t, TCB_SLOT_VSPACE, vs);
    do_replace(t, TCB_SLOT_IPCBUF, buf);
    t->ipc_buffer_vaddr = buf ? ipcbuf : 0;
    return RS_OK;
}

/* Configure MR0 reserved, MR1 IPC buffer address; CAP0 CSpace root, CAP1 VSpace, CAP2 (optional)
 * IPC buffer frame. */
static int tcb_decode_configure(struct invocation *inv, struct tcb *t)
{
    INV_NEED_ARGS(inv, 2);
    INV_NEED_CAPS(inv, 2);
    uint64_t ipcbuf = inv_arg(inv, 1); // MR0, once a guard, is ignored: CNode Mint sets guards
    struct slot *cs = inv->extra[0], *vs = inv->extra[1],
                *buf = inv->extra_count > 2 ? inv->extra[2] : NULL;
    if (cs->cap.type != RS_CAP_CNODE) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    if (vs->cap.type != RS_CAP_VSPACE) return inv_error(inv, RS_INVALID_CAPABILITY, 2, 0, 0);
    if (buf) {
        if (buf->cap.type != RS_CAP_FRAME || buf->cap.bits != 12 ||
            (buf->cap.flags & CAP_FLAG_DEVICE))
            return inv_error(inv, RS_INVALID_CAPABILITY, 3, 0, 0);
        if (!(buf->cap.rights & RS_RIGHT_WRITE))
            return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 3, 0, 0);
        if (ipcbuf % IPC_BUFFER_ALIGN)
            return inv_error(inv, RS_ALIGNMENT_ERROR, 1, IPC_BUFFER_ALIGN, 0);
        if (!user_address_ok(ipcbuf)) return inv_error(inv, RS_RANGE_ERROR, 1, 0, USER_TOP - 1);
    }
    int err;
    if ((err = check_replace(inv, t, TCB_SLOT_CSPACE, 1)) ||
        (err = check_replace(inv, t, TCB_SLOT_VSPACE, 2)) ||
        (err = check_replace(inv, t, TCB_SLOT_IPCBUF, 3)))
        return err;
    return tcb_invoke_configure(t, cs, vs, buf, ipcbuf);
}

static int tcb_invoke_set_priority(struct tcb *t, uint8_t prio, bool mcp)
{
    if (mcp) t->mcp = prio;
    else sched_set_prio(t, prio);
    return RS_OK;
}

/* SetPriority and SetMCP: MR0 the value; CAP0 the authority TCB, whose MCP bounds it. */
static int tcb_decode_set_priority(struct invocation *inv, struct tcb *t, bool mcp)
{
    INV_NEED_ARGS(inv, 1);
    INV_NEED_CAPS(inv, 1);
    struct cap *auth = &inv->extra[0]->cap;
    if (auth->type != RS_CAP_TCB) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    uint64_t p = inv_arg(inv, 0), max = ((struct tcb *)auth->obj)->mcp;
    if (p > max) return inv_error(inv, RS_RANGE_ERROR, 0, 0, max);
    return tcb_invoke_set_priority(t, (uint8_t)p, mcp);
}

static int tcb_invoke_set_fault_handler(struct tcb *t, struct slot *ep)
{
    do_replace(t, TCB_SLOT_FAULT_EP, ep);
    return RS_OK;
}

/* SetFaultHandler: CAP0 (optional: none removes the handler) an endpoint with the write right. */
static int tcb_decode_set_fault_handler(struct invocation *inv, struct tcb *t)
{
    struct slot *ep = inv->extra_count ? inv->extra[0] : NULL;
    if (ep && ep->cap.type != RS_CAP_ENDPOINT)
        return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    if (ep && !(ep->cap.rights & RS_RIGHT_WRITE))
        return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 1, 0, 0);
    int err = check_replace(inv, t, TCB_SLOT_FAULT_EP, 1);
    if (err) return err;
    return tcb_invoke_set_fault_handler(t, ep);
}

static int tcb_invoke_read_registers(struct invocation *inv, struct tcb *t, bool suspend,
                                     unsigned n)
{
    uint64_t regs[RS_REG_COUNT];
    tcb_get_regs(t, regs);
    if (suspend) tcb_suspend(t);
    for (unsigned i = 0; i < n; i++) inv_result(inv, i, regs[i]);
    return RS_OK;
}

/* ReadRegisters MR0 suspend first, MR1 count: of another thread. */
static int tcb_decode_read_registers(struct invocation *inv, struct tcb *t)
{
    INV_NEED_ARGS(inv, 2);
    uint64_t flag = inv_arg(inv, 0), n = inv_arg(inv, 1);
    if (t == inv->caller) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    if (n > RS_REG_COUNT) return inv_error(inv, RS_RANGE_ERROR, 1, 0, RS_REG_COUNT);
    return tcb_invoke_read_registers(inv, t, flag != 0, (unsigned)n);
}

static int tcb_invoke_write_registers(struct tcb *t, const uint64_t *regs, unsigned n, bool resume)
{
    set_regs(t, regs, n);
    if (resume) tcb_resume(t);
    return RS_OK;
}

/* WriteRegisters MR0 resume after, MR1 count, MR2.. the registers (RS_REG_* order): of another
 * thread; RIP, RSP and the TLS base must be user addresses. */
static int tcb_decode_write_registers(struct invocation *inv, struct tcb *t)
{
    INV_NEED_ARGS(inv, 2);
    uint64_t flag = inv_arg(inv, 0), n = inv_arg(inv, 1);
    if (t == inv->caller) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    if (n > RS_REG_COUNT) return inv_error(inv, RS_RANGE_ERROR, 1, 0, RS_REG_COUNT);
    INV_NEED_ARGS(inv, 2 + n);
    uint64_t regs[RS_REG_COUNT];
    tcb_get_regs(t, regs);
    for (unsigned i = 0; i < n; i++) regs[i] = inv_arg(inv, 2 + i);
    if (n > RS_REG_RIP && !user_address_ok(regs[RS_REG_RIP]))
        return inv_error(inv, RS_INVALID_ARGUMENT, 2, 0, 0);
    if (n > RS_REG_RSP && !user_stack_ok(regs[RS_REG_RSP]))
        return inv_error(inv, RS_INVALID_ARGUMENT, 2 + RS_REG_RSP, 0, 0);
    if (n > RS_REG_FS_BASE && !user_address_ok(regs[RS_REG_FS_BASE]))
        return inv_error(inv, RS_INVALID_ARGUMENT, 2 + RS_REG_FS_BASE, 0, 0);
    return tcb_invoke_write_registers(t, regs, (unsigned)n, flag != 0);
}

/* Suspend: cannot be rejected. A thread suspending itself sees RS_OK when it is resumed. */
static int tcb_invoke_suspend(struct invocation *inv, struct tcb *t)
{
    if (t == inv->caller) { // it will see this status when it is resumed
        t->ctx.rax = RS_OK;
        t->ctx.rsi = 0;
        inv->no_reply = true;
    }
    tcb_suspend(t);
    return RS_OK;
}

static int tcb_invoke_bind_notification(struct tcb *t, struct notification *n)
{
    notification_bind(n, t);
    return RS_OK;
}

/* BindNotification CAP0 a notification: neither it nor the thread bound already. */
static int tcb_decode_bind_notification(struct invocation *inv, struct tcb *t)
{
    INV_NEED_CAPS(inv, 1);
    struct cap *n = &inv->extra[0]->cap;
    if (n->type != RS_CAP_NOTIFICATION) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    struct notification *ntfn = (struct notification *)n->obj;
    if (t->bound_ntfn || ntfn->bound) return inv_error(inv, RS_ILLEGAL_OPERATION, 1, 0, 0);
    return tcb_invoke_bind_notification(t, ntfn);
}

static int tcb_invoke_unbind_notification(struct tcb *t)
{
    notification_unbind(t->bound_ntfn);
    return RS_OK;
}

/* UnbindNotification: the thread must be bound. */
static int tcb_decode_unbind_notification(struct invocation *inv, struct tcb *t)
{
    if (!t->bound_ntfn) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    return tcb_invoke_unbind_notification(t);
}

/* Resume: cannot be rejected; a thread that is not inactive is left as it is. */
static int tcb_invoke_resume(struct tcb *t)
{
    tcb_resume(t);
    return RS_OK;
}

static int tcb_invoke_set_tls_base(struct tcb *t, uint64_t base)
{
    t->ctx.fs_base = base;
    return RS_OK;
}

/* SetTLSBase MR0 the FS base: a user address. */
static int tcb_decode_set_tls_base(struct invocation *inv, struct tcb *t)
{
    INV_NEED_ARGS(inv, 1);
    if (!user_address_ok(inv_arg(inv, 0))) return inv_error(inv, RS_INVALID_ARGUMENT, 0, 0, 0);
    return tcb_invoke_set_tls_base(t, inv_arg(inv, 0));
}

static int tcb_invoke_set_name(struct tcb *t, const uint64_t w[2])
{
    memcpy(t->name, w, 15);
    t->name[15] = 0;
    return RS_OK;
}

/* SetName MR0..MR1: up to 15 bytes of name. */
static int tcb_decode_set_name(struct invocation *inv, struct tcb *t)
{
    INV_NEED_ARGS(inv, 2);
    uint64_t w[2] = {inv_arg(inv, 0), inv_arg(inv, 1)};
    return tcb_invoke_set_name(t, w);
}

int tcb_decode(struct invocation *inv)
{
    struct tcb *t = (struct tcb *)inv->cap->obj;
    switch (inv->label) {
    case RS_TCB_CONFIGURE: return tcb_decode_configure(inv, t);
    case RS_TCB_SET_PRIORITY: return tcb_decode_set_priority(inv, t, false);
    case RS_TCB_SET_MCP: return tcb_decode_set_priority(inv, t, true);
    case RS_TCB_SET_FAULT_HANDLER: return tcb_decode_set_fault_handler(inv, t);
    case RS_TCB_READ_REGISTERS: return tcb_decode_read_registers(inv, t);
    case RS_TCB_WRITE_REGISTERS: return tcb_decode_write_registers(inv, t);
    case RS_TCB_SUSPEND: return tcb_invoke_suspend(inv, t); // nothing to check
    case RS_TCB_RESUME: return tcb_invoke_resume(t);        // nothing to check
    case RS_TCB_BIND_NOTIFICATION: return tcb_decode_bind_notification(inv, t);
    case RS_TCB_UNBIND_NOTIFICATION: return tcb_decode_unbind_notification(inv, t);
    case RS_TCB_SET_TLS_BASE: return tcb_decode_set_tls_base(inv, t);
    case RS_TCB_SET_NAME: return tcb_decode_set_name(inv, t);
    default: return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
}
