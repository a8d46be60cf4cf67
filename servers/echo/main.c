// SPDX-License-Identifier: MIT
// echo: the sample server. It echoes words back and keeps a counter that survives its own
// crashes: the counter lives in the persistent region init hands to every new instance, and it
// changes only through pstate_stage, so a retried request never counts twice.
#include "ipc.h"
#include "proto/echo.h"

static int echo_handle(void *ctx, rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    ipc_pstate_t *ps = ctx;
    struct echo_state *st = (struct echo_state *)ps->user;
    (void)client;
    switch (req->label) {
    case ECHO_PING:
        for (unsigned i = 1; i < req->len; i++) reply->w[i] = req->w[i];
        reply->len = req->len;
        return RS_OK;
    case ECHO_INCREMENT: {
        uint64_t next = echo_counter(st) + 1;
        reply->w[1] = next;
        reply->len = 2;
        int err = RS_OK;
        for (unsigned i = 0; i < 3 && !err; i++) err = pstate_stage(ps, &st->counter[i], next);
        return err;
    }
    case ECHO_GET:
        reply->w[1] = echo_counter(st);
        reply->len = 2;
        return RS_OK;
    default: return RS_ILLEGAL_OPERATION;
    }
}

int main(void *arg)
{
    (void)arg;
    static ipc_server_t server;
    ipc_server_init(&server, echo_handle, NULL);
    if (!server.pstate) {
        rt_printf("echo: no persistent region (manifest: persist=1)\n");
        return 1;
    }
    server.ctx = server.pstate;
    rt_printf("echo: instance %lu serving, counter %lu\n", server.control->instance,
              echo_counter((struct echo_state *)server.pstate->user));
    ipc_serve(&server);
}
