// SPDX-License-Identifier: MIT
// Restart test client: calls the echo server over and over while init crashes it with mixed
// faults (manifest.txt). Every call must be answered exactly once: the counter the server returns
// must go up by one per call, never skip (a duplicated effect) or stall (a lost reply). Then a
// hang is injected and the watchdog must restart the server.
#include "ipc.h"
#include "proto/echo.h"
#include "proto/registry.h"
#include "check.h"

#define MIN_CALLS    1000
#define MIN_RESTARTS 20
#define MAX_CALLS    2000000


static int increment(ipc_client_t *c, uint64_t *value)
{
    ipc_msg_t req = {.label = ECHO_INCREMENT, .len = 1}, reply;
    int err = ipc_call(c, &req, &reply, IPC_RETRY_SAFE);
    *value = reply.len >= 2 ? reply.w[1] : 0;
    return err;
}

/* Run as "echotest": calls while init's scenario crashes the server with mixed faults. */
static void crash_test(ipc_client_t *echo)
{
    check_plan(6); /* RST-0001..0006 */
    ipc_msg_t req = {.label = ECHO_GET, .len = 1}, reply;
    int err = ipc_call(echo, &req, &reply, IPC_RETRY_SAFE);
    uint64_t start = reply.w[1], expect = start, calls = 0, bad = 0, errors = 0, got = 0, r = 0;
    check(err == RS_OK, "RST-0001", "the echo server answers through libipc", "status %lu %lu",
          (uint64_t)err, 0);
    while ((calls < MIN_CALLS || r < MIN_RESTARTS) && calls < MAX_CALLS) {
        err = increment(echo, &got);
        calls++;
        if (err != RS_OK) errors++;
        else if (got != ++expect) {
            if (bad++ < 5)
                rt_printf("echotest: call %lu returned %lu, expected %lu\n", calls, got, expect);
            expect = got;
        }
        if (calls % 64 == 0) registry_restarts("echo", &r, NULL);
    }
    registry_restarts("echo", &r, NULL);
    rt_printf("echotest: %lu calls, %u retried after a crash, %lu restarts of echo\n", calls,
              echo->retries, r);
    check(calls >= MIN_CALLS, "RST-0002", "at least 1000 calls made", "%lu calls %lu", calls, 0);
    check(r >= MIN_RESTARTS, "RST-0003", "the server was crashed and restarted at least 20 times",
          "%lu restarts (of %lu)", r, MIN_RESTARTS);
    check(errors == 0, "RST-0004", "every call was answered (no error reached the client)",
          "%lu errors %lu", errors, 0);
    check(bad == 0, "RST-0005", "every call took effect exactly once (the counter never skipped)",
          "%lu bad replies %lu", bad, 0);
    req = (ipc_msg_t){.label = ECHO_GET, .len = 1};
    err = ipc_call(echo, &req, &reply, IPC_RETRY_SAFE);
    check(err == RS_OK && reply.w[1] == start + calls, "RST-0006",
          "the persistent counter equals the number of calls", "counter %lu, calls %lu",
          reply.w[1] - start, calls);
}

/* Run as "hangtest" (no scenario): a hung server is found by the watchdog alone. */
static void hang_test(ipc_client_t *echo)
{
    check_plan(3); /* RST-0007..0009 */
    uint64_t got = 0, first = 0, wd_before = 0, wd_after = 0;
    int err = increment(echo, &first);
    uint64_t before = 0;
    registry_restarts("echo", &before, &wd_before);
    err = err ? err : registry_inject("echo", IPC_INJECT_HANG);
    check(err == RS_OK, "RST-0007", "init accepts a hang injection request", "status %lu %lu",
          (uint64_t)err, 0);
    for (int i = 0; i < 3 && err == RS_OK;
         i++) { // the hang strikes idle or within one of these calls
        err = increment(echo, &got);
        if (err == RS_OK && got != first + 1 + (uint64_t)i) err = RS_INVALID_ARGUMENT;
    }
    uint64_t after = 0;
    registry_restarts("echo", &after, &wd_after);
    check(err == RS_OK, "RST-0008",
          "calls to the hung server are answered after its restart, exactly once",
          "status %lu value %lu", (uint64_t)err, got);
    check(after > before && wd_after > wd_before, "RST-0009",
          "the watchdog detected the hang and restarted the server",
          "restarts %lu, by the watchdog %lu", after - before, wd_after - wd_before);
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    ipc_client_t echo;
    ipc_client_init(&echo, IPC_SLOT_CLIENT0, "echo", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    if (!strcmp(me->name, "hangtest")) hang_test(&echo);
    else crash_test(&echo);
    check_done();
    rs_shutdown(IPC_SLOT_SHUTDOWN);
    return 0;
}
