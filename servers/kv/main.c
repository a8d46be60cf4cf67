// SPDX-License-Identifier: MIT
// kv: a key-value server whose table survives its own crashes (the worked example of
// docs/writing-a-server.md). This file is the receive loop's handler: it checks each request
// and only then calls the table (table.c), which cannot fail but for a full table.
#include "ipc.h"
#include "proto/kv.h"
#include "table.h"

struct kv {
    ipc_pstate_t *ps;
    struct kv_table *table;
};

static int kv_handle(void *ctx, rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    struct kv *kv = ctx;
    (void)client;
    switch (req->label) {
    case KV_PUT:
        if (req->len < 3) return RS_TRUNCATED_MESSAGE;  // id, key, value
        if (req->w[1] == 0) return RS_INVALID_ARGUMENT; // key 0 marks a free entry
        return table_put(kv->ps, kv->table, req->w[1], req->w[2]);
    case KV_GET: {
        if (req->len < 2) return RS_TRUNCATED_MESSAGE; // id, key
        if (req->w[1] == 0) return RS_INVALID_ARGUMENT;
        const struct kv_entry *e = table_find(kv->table, req->w[1]);
        if (!e) return RS_NOT_FOUND;
        reply->w[1] = e->value;
        reply->len = 2;
        return RS_OK;
    }
    default: return RS_ILLEGAL_OPERATION;
    }
}

int main(void *arg)
{
    (void)arg; // the control page, which ipc_server_init finds by itself
    static ipc_server_t server;
    static struct kv kv;
    ipc_server_init(&server, kv_handle, &kv);
    kv.ps = server.pstate;
    kv.table = table_open(server.pstate, server.control->persistent_size);
    if (!kv.table) {
        // exit rather than serve without dedup: every retried PUT would be a second PUT
        rt_printf("kv: persistent region missing or too small (manifest: persist=1)\n");
        return 1;
    }
    unsigned used = 0;
    for (unsigned i = 0; i < KV_ENTRIES; i++) used += kv.table->entries[i].key != 0;
    rt_printf("kv: instance %lu serving, %u of %u keys used\n", server.control->instance, used,
              KV_ENTRIES);
    ipc_serve(&server);
}
