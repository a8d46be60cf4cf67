// SPDX-License-Identifier: MIT
// bench/restart: restart latency, from the moment a server is crashed to the moment it answers
// again, seen by a client: inject the fault through init's registry, then call until a reply
// comes back. Under QEMU -icount shift=0 the figures are guest instructions.
#include "ipc.h"
#include "proto/echo.h"
#include "proto/registry.h"

#define ROUNDS   15
/* Idle time before a crash in the "after idle" rounds: more than three of init's 10 ms ticks at
 * the 1 GHz TSC of QEMU -icount shift=0, so that init has emptied the dead instance's pool (a
 * share a tick, two ticks for echo's) and made the standby at the next (it runs above us: a tick
 * of that work inside a measured restart adds 100,000 instructions to it). */
#define IDLE_TSC 40000000ull


static void sort_u64(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

static void measure(ipc_client_t *echo, unsigned kind, bool idle, const char *what)
{
    static uint64_t v[ROUNDS];
    ipc_msg_t req, reply;
    for (unsigned i = 0; i < ROUNDS; i++) {
        req = (ipc_msg_t){.label = ECHO_GET, .len = 1};
        ipc_call(echo, &req, &reply, IPC_RETRY_SAFE); // the server is up and warm
        uint64_t idle_from = rt_rdtsc();
        while (idle && rt_rdtsc() - idle_from < IDLE_TSC) __asm__ volatile("pause");
        uint64_t t0 = rt_rdtsc();
        if (registry_inject("echo", kind) != RS_OK) {
            rt_printf("bench: FAILED inject %s\n", what);
            return;
        }
        req = (ipc_msg_t){.label = ECHO_GET, .len = 1};
        int err = ipc_call(echo, &req, &reply, IPC_RETRY_SAFE);
        v[i] = rt_rdtsc() - t0;
        if (err) rt_printf("bench: call after %s failed: %s\n", what, rs_error_name(err));
    }
    sort_u64(v, ROUNDS);
    rt_printf("bench: restart after %-30s min %8lu  median %8lu  max %8lu  (n=%u)\n", what, v[0],
              v[ROUNDS / 2], v[ROUNDS - 1], ROUNDS);
}

int main(void *arg)
{
    (void)arg;
    ipc_client_t echo;
    ipc_client_init(&echo, IPC_SLOT_CLIENT0, "echo", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    // after idle time init has a standby instance ready; back to back it has none
    measure(&echo, IPC_INJECT_KILL, true, "kill (init destroys it)");
    measure(&echo, IPC_INJECT_NULL, true, "null dereference");
    measure(&echo, IPC_INJECT_KILL, false, "kill, back to back");
    measure(&echo, IPC_INJECT_NULL, false, "null dereference, back to back");
    rt_printf("bench: done\n");
    rs_shutdown(IPC_SLOT_SHUTDOWN);
    return 0;
}
