// SPDX-License-Identifier: MIT
// Host tests of libipc's server loop (libipc/ipc_server.c) against a scripted kernel
// (fake_syscall.c): a stray write into the server's structure or a receive that fails for ever
// ends in a crash (a trap, and init's clean restart), never in a loop that spins with its
// heartbeat moving (found by a storm of `corrupt` into blk at priority 110: every VMM, fs, echo
// and kv below it starved, docs/resilience.md).
#include <criterion/criterion.h>
#include <signal.h>
#include "fake_syscall.h"
#include "ipc.h"

#define EP 5

static ipc_control_t control;
static ipc_server_t server;

static int handler(void *ctx, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply)
{
    (void)ctx, (void)badge, (void)req, (void)reply;
    server.ep ^= 1ull << 9; // the stray write: a flipped bit of the endpoint's slot
    return RS_OK;
}

/* The kernel of a server whose endpoint is EP: one request, then receives on any other slot
 * fail (no such cap) and those on EP wait for ever (the test never gets there). */
static rs_result_t kernel(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    (void)b;
    if (c->dest != EP) return (rs_result_t){RS_INVALID_CAPABILITY, 0, 0};
    if (fake_ncalls == 1) return (rs_result_t){RS_OK, rs_msginfo(1, 0, 0, 1), 3};
    cr_assert_fail("the server received on its endpoint again: its loop goes on");
    return (rs_result_t){RS_OK, 0, 0};
}

/* Every receive fails (the cap is gone). */
static rs_result_t no_cap(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    (void)c, (void)b;
    return (rs_result_t){RS_INVALID_CAPABILITY, 0, 0};
}

static void setup(void)
{
    control = (ipc_control_t){0};
    server = (ipc_server_t){.ep = EP, .handler = handler, .control = &control};
}

TestSuite(ipc_server, .init = setup);

Test(ipc_server, a_flipped_endpoint_is_a_crash_not_a_spin, .signal = SIGILL)
{
    fake_reset(kernel);
    ipc_serve(&server); // the request's handler flips the endpoint: the next round traps
}

Test(ipc_server, a_receive_failing_for_ever_is_a_crash_not_a_spin, .signal = SIGILL)
{
    server.handler = NULL;
    fake_reset(no_cap);
    ipc_serve(&server); // FAKE_MAX_CALLS (256) fails the test first if the loop goes on
}

Test(ipc_server, a_few_failed_receives_are_served_on)
{
    // the heartbeat moves with each round; 64 failures in a row are no lost endpoint yet
    server.handler = NULL;
    ipc_server_seal(&server);
    for (unsigned i = 0; i < IPC_MAX_RECV_ERRORS; i++)
        ipc_server_round(&server, (rs_result_t){RS_INVALID_CAPABILITY, 0, 0});
    ipc_server_round(&server, (rs_result_t){RS_OK, 0, 0});
    cr_assert_eq(control.heartbeat, IPC_MAX_RECV_ERRORS + 1);
}

Test(ipc_server, polls_that_found_nothing_are_no_failed_receives)
{
    // a loop that polls while it has work (net, fs) gets RS_WOULD_BLOCK round after round
    server.handler = NULL;
    ipc_server_seal(&server);
    for (unsigned i = 0; i < 4 * IPC_MAX_RECV_ERRORS; i++)
        ipc_server_round(&server, (rs_result_t){RS_WOULD_BLOCK, 0, 0});
    cr_assert_eq(control.heartbeat, 4 * IPC_MAX_RECV_ERRORS);
}

/* The handler's stray write hits where the reply's address was kept (a register ipc_server_handle
 * saved on the stack, here the copy it keeps apart: either one flipped is the same mismatch).
 * Without the check the reply was sealed elsewhere and the loop sent its own, without its id: fs
 * storm seed 15, `fstest: op 4: invalid argument (w1 96)` for a write that had succeeded. */
static int flips_reply_address(void *ctx, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply)
{
    (void)ctx, (void)badge, (void)req;
    ipc_handling.reply = (ipc_msg_t *)((uintptr_t)reply ^ 1u << 12);
    reply->w[1] = 96;
    return RS_OK;
}

Test(ipc_server, a_reply_whose_address_changed_in_the_handler_is_a_crash, .signal = SIGILL)
{
    server.handler = flips_reply_address;
    ipc_msg_t req = {.label = 4, .len = 2, .w = {7 | IPC_ID_CHECKED, 96}}, reply;
    ipc_server_handle(&server, 1, &req, &reply);
}

static int flips_nothing(void *ctx, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply)
{
    (void)ctx, (void)badge;
    reply->w[1] = req->w[1];
    reply->len = 2;
    return RS_OK;
}

Test(ipc_server, a_handled_request_keeps_its_id_and_reply)
{
    ipc_msg_t req = {.label = 4, .len = 2, .w = {7, 96}}, reply;
    server.handler = flips_nothing;
    ipc_server_handle(&server, 1, &req, &reply);
    cr_assert_eq(reply.w[0], 7);
    cr_assert_eq(reply.w[1], 96);
}
