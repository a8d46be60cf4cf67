// SPDX-License-Identifier: MIT
// The server loop: receive, drop duplicates, handle, commit, reply; answer init's pings (the
// watchdog's heartbeat) and commit the faults init injects for crash testing.
#include "ipc.h"

static ipc_server_t *volatile the_server; /* what a wild write aims at */

/* An injected fault waits for its moment: at once (idle), or in the middle of the next request,
 * after the handler ran but before the commit, or after the commit but before the reply. The
 * last two are where a crash could lose a reply or duplicate an effect; libipc must prevent both. */
enum inject_point { AT_ONCE, BEFORE_COMMIT, BEFORE_REPLY };
static uint64_t pending_kind;
static enum inject_point pending_point;

void ipc_server_init(ipc_server_t *s, ipc_handler_fn handler, void *ctx)
{
    ipc_control_t *ctl = (ipc_control_t *)IPC_CONTROL_VADDR;
    *s = (ipc_server_t){.ep = IPC_SLOT_SERVICE, .handler = handler, .ctx = ctx, .control = ctl};
    if (ctl->persistent_vaddr)
        s->pstate = pstate_open((void *)ctl->persistent_vaddr, ctl->persistent_size);
    the_server = s;
}

/* Commits the fault init asked for. Each kind is what a real bug would do. */
static void commit_injected_fault(ipc_server_t *s, enum inject_point here)
{
    if (!pending_kind || pending_point != here) return;
    uint64_t kind = pending_kind;
    pending_kind = IPC_INJECT_NONE;
    switch (kind) {
    case IPC_INJECT_NULL:
        *(volatile uint64_t *)0 = 0xDEAD;
        break;
    case IPC_INJECT_WILD: {
        // scribble over our own data, the server structure (handler pointer) included
        volatile uint64_t *p = (volatile uint64_t *)the_server;
        for (unsigned i = 0; i < sizeof(*s) / 8; i++) p[i] = 0xBADBADBADBAD0000ull + i;
        break;
    }
    case IPC_INJECT_HANG:
        for (;;) __asm__ volatile("pause");
    default:
        break;
    }
}

/* Handles one request into `reply` (w[0] = the id) using the dedup table when there is one. */
static void handle(ipc_server_t *s, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply)
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
    commit_injected_fault(s, BEFORE_COMMIT);
    if (reply->label != RS_OK) pstate_abort(s->pstate); // failures are answered once too
    pstate_commit(s->pstate, badge, id, reply);
    commit_injected_fault(s, BEFORE_REPLY);
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
            if (pending_kind) { // no request came to carry it: the fault strikes now
                pending_point = AT_ONCE;
                commit_injected_fault(s, AT_ONCE);
            }
            if (s->control && s->control->inject) {
                pending_kind = s->control->inject;
                pending_point = (enum inject_point)(s->control->heartbeat % 3);
                s->control->inject = IPC_INJECT_NONE;
                commit_injected_fault(s, AT_ONCE);
            }
            r = rs_recv(s->ep);
            continue;
        }
        ipc_msg_get(&req, r.info);
        handle(s, r.badge, &req, &reply);
        r = rs_reply_recv(s->ep, ipc_msg_put(&reply));
    }
}
