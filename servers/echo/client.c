// SPDX-License-Identifier: MIT
// echo-client: the demo client tools/run-qemu.sh boots (servers/init/demo.manifest). Forever: 50
// increments of echo's persistent counter, one line with the counter and the calls libipc had to
// retry because echo crashed under them, then a pause of about 300 ms.
#include "ipc.h"
#include "proto/echo.h"

#define BURST        50
/* The pause in TSC cycles. The client gets no bootinfo, so it cannot know the TSC rate; QEMU TCG
 * passes the host's TSC through, typically 2 to 3 GHz: 600 million cycles is about 300 ms. */
#define PAUSE_CYCLES 600000000ull

int main(void *arg)
{
    const ipc_control_t *me = arg;
    ipc_client_t echo;
    ipc_client_init(&echo, IPC_SLOT_CLIENT0, "echo", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    // ids never repeat for our badge, even across our own restarts: echo's dedup table would
    // answer a reused id with the reply it recorded for the old one
    echo.next_id = me->instance << 32 | 1;
    for (;;) {
        uint64_t counter = 0;
        int err = RS_OK;
        for (unsigned i = 0; i < BURST && err == RS_OK; i++) {
            ipc_msg_t req = {.label = ECHO_INCREMENT, .len = 1}, reply;
            err = ipc_call(&echo, &req, &reply, IPC_RETRY_SAFE);
            counter = reply.len >= 2 ? reply.w[1] : counter;
        }
        if (err == RS_OK)
            rt_printf("echo-client: counter %lu, %u calls retried after a crash\n", counter,
                      echo.retries);
        else rt_printf("echo-client: increment failed: %s\n", rs_error_name(err));
        // busy wait, but yielding: there is no timer a client can sleep on
        uint64_t until = rt_rdtsc() + PAUSE_CYCLES;
        while (rt_rdtsc() < until) rs_yield();
    }
}
