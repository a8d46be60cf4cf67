// SPDX-License-Identifier: MIT
// Client side of libipc: request ids, and retry after a server restart (reconnecting through
// the registry when the endpoint itself is gone).
#include "ipc.h"
#include "proto/registry.h"

#define IPC_MAX_RETRIES 64

void ipc_client_init(ipc_client_t *c, rs_cptr_t ep, const char *service, rs_cptr_t registry,
                     rs_cptr_t recv_slot)
{
    *c = (ipc_client_t){
        .ep = ep, .service = service, .registry = registry, .recv_slot = recv_slot, .next_id = 1};
}

/* Asks the registry for the service's endpoint again; it lands in recv_slot, which becomes ep. */
static int reconnect(ipc_client_t *c)
{
    if (!c->registry || !c->service || !c->recv_slot) return RS_NOT_FOUND;
    rs_ipc_buffer_t *b = rs_ipc_buffer();
    uint64_t name[REGISTRY_NAME_WORDS];
    registry_pack_name(name, c->service);
    b->receive_cnode = IPC_SLOT_OWN_CNODE;
    b->receive_index = c->recv_slot;
    b->receive_depth = 64;
    rs_mr_set(0, 0);
    for (unsigned i = 0; i < REGISTRY_NAME_WORDS; i++) rs_mr_set(1 + i, name[i]);
    rs_result_t r =
        rs_call(c->registry, rs_msginfo(REGISTRY_LOOKUP, 0, 0, 1 + REGISTRY_NAME_WORDS));
    b->receive_depth = 0;
    if (r.error) return (int)r.error;
    if (rs_msginfo_label(r.info) != RS_OK) return (int)rs_msginfo_label(r.info);
    if (rs_msginfo_extra_caps(r.info) < 1) return RS_NOT_FOUND;
    c->ep = c->recv_slot;
    return RS_OK;
}

int ipc_call(ipc_client_t *c, ipc_msg_t *req, ipc_msg_t *reply, unsigned flags)
{
    req->w[0] = (c->next_id++ & ~IPC_ID_CHECKED) | IPC_ID_CHECKED; // the reply comes sealed
    if (req->len < 1) req->len = 1;
    for (unsigned attempt = 0;; attempt++) {
        rs_result_t r = rs_call(c->ep, ipc_msg_put(req));
        if (r.error == RS_OK) {
            ipc_msg_get(reply, r.info);
            if (ipc_reply_open(reply) < 0) { // garbled on its way: never acted on
                c->garbled++;
                *reply = (ipc_msg_t){0};
                // the same id again: a deduplicating server answers with the reply it committed
                if ((flags & IPC_RETRY_SAFE) && attempt < IPC_MAX_RETRIES) continue;
                return RS_INVALID_ARGUMENT;
            }
            if (reply->len >= 1 && reply->w[0] == req->w[0]) return (int)reply->label;
            return RS_INVALID_ARGUMENT; // a reply to another request: the server broke the protocol
        }
        bool server_gone = r.error == RS_PEER_DIED;
        bool ep_gone = r.error == RS_FAILED_LOOKUP || r.error == RS_INVALID_CAPABILITY;
        if (!(flags & IPC_RETRY_SAFE) || !(server_gone || ep_gone) || attempt >= IPC_MAX_RETRIES)
            return (int)r.error;
        c->retries++;
        if (ep_gone && reconnect(c) != RS_OK) return (int)r.error;
        rs_yield(); // let the supervisor run the restart
    }
}
