// SPDX-License-Identifier: MIT
// System call dispatch: the kernel's one entry from user code. Looks up the cap named in rdi and
// turns the call into IPC (endpoints, notifications) or an invocation of a kernel object.
#include "tcb.h"
#include "sched.h"
#include "cnode.h"
#include "endpoint.h"
#include "notification.h"
#include "invoke.h"
#include "vspace.h"
#include "fastpath.h"
#include "console.h"
#include "arch/x86_64/arch.h"
#include <resurgo/syscall.h>
#include <resurgo/fault.h>
#include <resurgo/invocation.h>

static void set_error(struct tcb *t, int err, uint64_t d0, uint64_t d1)
{
    t->ctx.rax = err;
    t->ctx.rsi = rs_msginfo(0, 0, 0, 2);
    t->ctx.rdx = d0;
    t->ctx.r8 = d1;
}

/* Looks up the cap a syscall names; on failure reports RS_FAILED_LOOKUP to t. */
static struct slot *lookup_or_fail(struct tcb *t)
{
    struct slot *s;
    if (fastpath_lookup(t, t->ctx.rdi, &s) && !cap_is_null(&s->cap)) return s;
    struct lookup_fault f;
    s = cspace_lookup_slot(t, t->ctx.rdi, 64, &f);
    if (s && !cap_is_null(&s->cap)) return s;
    set_error(t, RS_FAILED_LOOKUP, 0, s ? 0 : f.bits_left);
    return NULL;
}

static void do_invocation(struct tcb *t, struct slot *s, uint64_t info, bool is_call)
{
    // a pager's Frame Map: mapped and left from there, unless it declines (then all as usual)
    if (s->cap.type == RS_CAP_FRAME && rs_msginfo_label(info) == RS_FRAME_MAP)
        frame_map_fast(t, &s->cap, info);
    struct invocation inv = {
        .caller = t,
        .slot = s,
        .cap = &s->cap,
        .label = rs_msginfo_label(info),
        .length = rs_msginfo_length(info),
    };
    unsigned extra = rs_msginfo_extra_caps(info);
    struct rs_ipc_buffer *b = tcb_ipc_buffer(t);
    if ((extra || inv.length > RS_MSG_REG_COUNT) && !b) {
        set_error(t, RS_BAD_ADDRESS, 0, 0); // arguments announced in a buffer the thread lacks
        return;
    }
    for (unsigned i = 0; i < extra; i++) {
        struct slot *e;
        if (!fastpath_lookup(t, b->caps_or_badges[i], &e))
            e = cspace_lookup_slot(t, b->caps_or_badges[i], 64, NULL);
        if (!e || cap_is_null(&e->cap)) {
            set_error(t, RS_INVALID_CAPABILITY, i + 1, 0);
            return;
        }
        inv.extra[inv.extra_count++] = e;
    }
    int err = invoke_cap(&inv);
    if (err == RS_PREEMPTED) {
        /* seL4's restart: the thread re-executes its `syscall` (2 bytes, 0F 05) with the same
         * registers once the pending interrupt has been taken on the way out, and the
         * operation carries on from the progress it saved in the objects. */
        t->ctx.rip -= 2;
        return;
    }
    if (inv.no_reply) return;
    t->ctx.rax = err;
    t->ctx.rsi = is_call ? rs_msginfo(0, 0, 0, inv.out_length) : 0;
}

/* Send, NBSend and Call on an endpoint cap: every rejection, then endpoint_send (the invoke step,
 * which cannot fail: a missing receiver blocks the sender or, non-blocking, is RS_WOULD_BLOCK). */
static void endpoint_decode_send(struct tcb *t, struct cap *c, uint64_t info, bool blocking,
                                 bool is_call)
{
    if (!(c->rights & RS_RIGHT_WRITE)) return set_error(t, RS_INSUFFICIENT_RIGHTS, 0, 0);
    if (rs_msginfo_length(info) > RS_MSG_REG_COUNT && !tcb_ipc_buffer(t))
        return set_error(t, RS_BAD_ADDRESS, 0, 0);
    endpoint_send(c, t, blocking, is_call);
}

/* Signal (any send on a notification cap): needs the write right. */
static void notification_decode_signal(struct tcb *t, struct cap *c)
{
    if (!(c->rights & RS_RIGHT_WRITE)) return set_error(t, RS_INSUFFICIENT_RIGHTS, 0, 0);
    notification_signal((struct notification *)c->obj, cap_badge(c));
    t->ctx.rax = RS_OK;
}

static void handle_send(struct tcb *t, bool blocking, bool is_call)
{
    uint64_t info = t->ctx.rsi;
    if (rs_msginfo_length(info) > RS_MSG_MAX_LENGTH) {
        set_error(t, RS_TRUNCATED_MESSAGE, RS_MSG_MAX_LENGTH, rs_msginfo_length(info));
        return;
    }
    struct slot *s = lookup_or_fail(t);
    if (!s) return;
    switch (s->cap.type) {
    case RS_CAP_ENDPOINT: return endpoint_decode_send(t, &s->cap, info, blocking, is_call);
    case RS_CAP_NOTIFICATION: return notification_decode_signal(t, &s->cap);
    default: do_invocation(t, s, info, is_call);
    }
}

/* Recv and NBRecv on an endpoint cap: needs the read right; endpoint_recv is the invoke step. */
static void endpoint_decode_recv(struct tcb *t, struct cap *c, bool blocking)
{
    if (!(c->rights & RS_RIGHT_READ)) return set_error(t, RS_INSUFFICIENT_RIGHTS, 0, 0);
    endpoint_recv(c, t, blocking);
}

/* Wait and Poll (a receive on a notification cap): needs the read right, and the notification
 * must not be bound to another thread (whose Recv takes its bits). */
static void notification_decode_wait(struct tcb *t, struct cap *c, bool blocking)
{
    struct notification *n = (struct notification *)c->obj;
    if (!(c->rights & RS_RIGHT_READ)) return set_error(t, RS_INSUFFICIENT_RIGHTS, 0, 0);
    if (n->bound && n->bound != t) return set_error(t, RS_ILLEGAL_OPERATION, 0, 0);
    notification_wait(n, t, blocking);
}

static void handle_recv(struct tcb *t, bool blocking)
{
    struct slot *s = lookup_or_fail(t);
    if (!s) return;
    switch (s->cap.type) {
    case RS_CAP_ENDPOINT: return endpoint_decode_recv(t, &s->cap, blocking);
    case RS_CAP_NOTIFICATION: return notification_decode_wait(t, &s->cap, blocking);
    default: return set_error(t, RS_INVALID_CAPABILITY, 0, 0);
    }
}

static void unknown_syscall(struct tcb *t)
{
    if (t->slots[TCB_SLOT_FAULT_EP].cap.type != RS_CAP_ENDPOINT) {
        // no handler to emulate it: the caller just gets an error
        set_error(t, RS_BAD_SYSCALL, 0, RS_SYSCALL_HIGHEST);
        return;
    }
    t->fault.type = RS_FAULT_UNKNOWN_SYSCALL;
    tcb_raise_fault(t);
}

/* The cap a console or shutdown call names, if it has the type and right it needs; otherwise
 * the error is reported to t and NULL returned. */
static struct cap *console_cap(struct tcb *t, unsigned type, unsigned right)
{
    struct slot *s = lookup_or_fail(t);
    if (!s) return NULL;
    if (s->cap.type != type) return set_error(t, RS_INVALID_CAPABILITY, 0, 0), NULL;
    if (right && !(s->cap.rights & right))
        return set_error(t, RS_INSUFFICIENT_RIGHTS, 0, right), NULL;
    return &s->cap;
}

/* Bytes of text[0..n) to print in one call: all of it if it fits in RS_CONSOLE_CHUNK, else up
 * to the last newline that fits (so that whole lines go out together), else a full chunk. The
 * UART is polled with interrupts off, so this bounds that time; the caller loops for the rest. */
static uint64_t console_chunk(const char *text, uint64_t n)
{
    if (n <= RS_CONSOLE_CHUNK) return n;
    for (uint64_t i = RS_CONSOLE_CHUNK; i > 0; i--)
        if (text[i - 1] == '\n') return i;
    return RS_CONSOLE_CHUNK;
}

/* The console and power-off system calls: each needs a cap (rdi) that init hands out. Kept out
 * of line (cold): inlined, it would cost syscall_slowpath's other calls (Signal) two saved
 * registers. */
__attribute__((noinline, cold)) static void handle_console(struct tcb *t)
{
    uint64_t nr = t->ctx.rax;
    if (nr == RS_SYS_DEBUG_SHUTDOWN) {
        if (console_cap(t, RS_CAP_SHUTDOWN, 0)) arch_shutdown();
        return;
    }
    unsigned right = nr == RS_SYS_DEBUG_GETCHAR ? RS_RIGHT_READ : RS_RIGHT_WRITE;
    if (!console_cap(t, RS_CAP_CONSOLE, right)) return;
    if (nr == RS_SYS_DEBUG_GETCHAR) {
        t->ctx.rdi = (uint64_t)(int64_t)console_getc();
    } else if (nr == RS_SYS_DEBUG_PUTCHAR) {
        console_putc((char)t->ctx.rdx);
    } else {
        struct rs_ipc_buffer *b = tcb_ipc_buffer(t);
        if (!b) return set_error(t, RS_BAD_ADDRESS, 0, 0);
        uint64_t n = t->ctx.rdx > RS_DEBUG_TEXT_MAX ? RS_DEBUG_TEXT_MAX : t->ctx.rdx;
        n = console_chunk(b->debug_text, n);
        for (uint64_t i = 0; i < n; i++) console_putc(b->debug_text[i]);
        t->ctx.rdx = n;
    }
    t->ctx.rax = RS_OK;
}

_Noreturn void syscall_slowpath(struct tcb *t)
{
    switch (t->ctx.rax) {
    case RS_SYS_CALL: handle_send(t, true, true); break;
    case RS_SYS_SEND: handle_send(t, true, false); break;
    case RS_SYS_NBSEND: handle_send(t, false, false); break;
    case RS_SYS_RECV: handle_recv(t, true); break;
    case RS_SYS_NBRECV: handle_recv(t, false); break;
    case RS_SYS_REPLY:
        endpoint_reply(t);
        t->ctx.rax = RS_OK;
        break;
    case RS_SYS_REPLY_RECV:
        endpoint_reply(t);
        handle_recv(t, true);
        break;
    case RS_SYS_YIELD:
        sched_dequeue(t);
        sched_enqueue(t, false);
        t->ctx.rax = RS_OK;
        break;
    case RS_SYS_DEBUG_PUTCHAR:
    case RS_SYS_DEBUG_GETCHAR:
    case RS_SYS_DEBUG_WRITE:
    case RS_SYS_DEBUG_SHUTDOWN: handle_console(t); break;
    case RS_SYS_DEBUG_CAP_TYPE: {
        struct slot *s = cspace_lookup_slot(t, t->ctx.rdi, 64, NULL);
        t->ctx.rdi = s ? s->cap.type : RS_CAP_NULL;
        t->ctx.rax = RS_OK;
        break;
    }
    default: unknown_syscall(t);
    }
    sched_exit_kernel();
}
