// SPDX-License-Identifier: MIT
// The server loop: receive, drop duplicates, handle, commit, reply; answer init's pings (the
// watchdog's heartbeat) and commit the faults init injects for crash testing. The pieces are
// public (ipc.h) for servers with their own loop, such as the VMM.
#include "ipc.h"

static ipc_server_t *volatile the_server; /* what a wild write aims at */

/* An injected fault waits for its moment: at once (idle), or in the middle of the next request,
 * after the handler ran but before the commit, or after the commit but before the reply. The
 * last two are where a crash could lose a reply or duplicate an effect; libipc must prevent both. */
static uint64_t pending_kind;
static enum ipc_fault_point pending_point;

void ipc_server_init(ipc_server_t *s, ipc_handler_fn handler, void *ctx)
{
    ipc_control_t *ctl = (ipc_control_t *)IPC_CONTROL_VADDR;
    *s = (ipc_server_t){.ep = IPC_SLOT_SERVICE, .handler = handler, .ctx = ctx, .control = ctl};
    if (ctl->persistent_vaddr)
        s->pstate = pstate_open((void *)ctl->persistent_vaddr, ctl->persistent_size);
    the_server = s;
}

/* Scribbles over the server's own data: its structure (the handler pointer), or what it named. */
static void scribble(ipc_server_t *s)
{
    ipc_server_t *t = the_server ? the_server : s;
    volatile uint64_t *p = (volatile uint64_t *)(t->scribble ? t->scribble : (void *)t);
    size_t words = (t->scribble ? t->scribble_size : sizeof(*t)) / 8;
    for (size_t i = 0; i < words; i++) p[i] = 0xBADBADBADBAD0000ull + i;
}

/* Commits the fault init asked for. Each kind is what a real bug would do. */
void ipc_server_fault_point(ipc_server_t *s, enum ipc_fault_point here)
{
    if (!pending_kind || pending_point != here) return;
    uint64_t kind = pending_kind;
    pending_kind = IPC_INJECT_NONE;
    switch (kind) {
    case IPC_INJECT_NULL: *(volatile uint64_t *)0 = 0xDEAD; break;
    case IPC_INJECT_WILD: scribble(s); break;
    case IPC_INJECT_HANG:
        for (;;) __asm__ volatile("pause");
    default: break;
    }
}

void ipc_server_ping(ipc_server_t *s)
{
    if (pending_kind) { // no request came to carry it: the fault strikes now
        pending_point = IPC_FAULT_AT_ONCE;
        ipc_server_fault_point(s, IPC_FAULT_AT_ONCE);
    }
    if (s->control && s->control->inject) {
        pending_kind = s->control->inject;
        pending_point = (enum ipc_fault_point)(s->control->heartbeat % 3);
        s->control->inject = IPC_INJECT_NONE;
        ipc_server_fault_point(s, IPC_FAULT_AT_ONCE);
    }
}

void ipc_server_handle(ipc_server_t *s, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply)
{
    uint64_t id = req->len ? req->w[0] : 0;
    ipc_dedup_entry_t *d = s->pstate && badge < IPC_MAX_CLIENTS ? &s->pstate->dedup[badge] : NULL;
    if (d && id && id == d->id) { // a retry of what we (or our previous instance) already did
        *reply = d->reply;
        return;
    }
    *reply = (ipc_msg_t){.len = 1};
    reply->label = (rs_word_t)s->handler(s->ctx, badge, req, reply);
    reply->w[0] = id;
    if (reply->len < 1) reply->len = 1;
    if (!d || !id) {
        if (s->pstate) pstate_abort(s->pstate);
        return;
    }
    ipc_server_fault_point(s, IPC_FAULT_BEFORE_COMMIT);
    if (reply->label != RS_OK) pstate_abort(s->pstate); // failures are answered once too
    pstate_commit(s->pstate, badge, id, reply);
    ipc_server_fault_point(s, IPC_FAULT_BEFORE_REPLY);
}

_Noreturn void ipc_serve(ipc_server_t *s)
{
    ipc_msg_t req, reply;
    rs_result_t r = rs_recv(s->ep);
    for (;;) {
        if (s->control) s->control->heartbeat++;
        if (r.error != RS_OK) { // nothing to answer (e.g. the caller went away): wait again
            r = rs_recv(s->ep);
            continue;
        }
        if (rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL) { // a ping from init
            ipc_server_ping(s);
            r = rs_recv(s->ep);
            continue;
        }
        ipc_msg_get(&req, r.info);
        ipc_server_handle(s, r.badge, &req, &reply);
        r = rs_reply_recv(s->ep, ipc_msg_put(&reply));
    }
}

_Noreturn void ipc_shutdown(const ipc_control_t *ctl)
{
    uint64_t rate = ctl->tsc_per_ms ? ctl->tsc_per_ms : 1000000,
             until = rt_rdtsc() + 3 * IPC_TICK_MS * rate;
    while (rt_rdtsc() < until) rs_yield();
    for (;;) rs_shutdown(IPC_SLOT_SHUTDOWN); // returns only without the cap: nothing else to do
}
