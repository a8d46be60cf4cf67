// SPDX-License-Identifier: MIT
// A server that hangs before its first heartbeat: the watchdog gives a new instance a start-up
// budget (servers/init/watchdog.h) but must still find it hung after that. Run as "hangstart" it
// is the server, whose first instance spins before its first receive; run as "hangstarttest" it
// is the client, which must be answered by the second instance, restarted by the watchdog.
#include "ipc.h"
#include "proto/registry.h"
#include "check.h"

static int handle_req(void *ctx, rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    (void)client, (void)req;
    reply->w[1] = ((const ipc_control_t *)ctx)->instance;
    reply->len = 2;
    return RS_OK;
}

static _Noreturn void serve(const ipc_control_t *me)
{
    if (me->instance == 1)
        for (;;) __asm__ volatile(""); // hung while it starts: no receive, no heartbeat
    static ipc_server_t server;
    ipc_server_init(&server, handle_req, NULL);
    server.ctx = server.control;
    ipc_serve(&server);
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    if (!strcmp(me->name, "hangstart")) serve(me);
    check_plan(2);
    ipc_client_t c;
    ipc_client_init(&c, IPC_SLOT_CLIENT0, "hangstart", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    ipc_msg_t req = {.label = 1, .len = 1}, reply = {0};
    int err = ipc_call(&c, &req, &reply, IPC_RETRY_SAFE);
    check(err == RS_OK && reply.len == 2 && reply.w[1] == 2, "HST-0001",
          "the server is answered by its second instance", "status %lu instance %lu", (uint64_t)err,
          reply.len == 2 ? reply.w[1] : 0);
    uint64_t restarts = 0, by_watchdog = 0;
    registry_restarts("hangstart", &restarts, &by_watchdog);
    check(restarts == 1 && by_watchdog == 1, "HST-0002",
          "the instance hung before its first heartbeat was restarted once, by the watchdog",
          "restarts %lu, by the watchdog %lu", restarts, by_watchdog);
    check_done();
    rs_shutdown(IPC_SLOT_SHUTDOWN);
    return 0;
}
