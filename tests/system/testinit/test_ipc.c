// SPDX-License-Identifier: MIT
// Endpoint IPC tests between address spaces: Send/NBSend/Recv/NBRecv/Call/Reply/ReplyRecv,
// badges, 120-word messages, cap transfer with and without grant, unwrapping, and the
// RS_PEER_DIED cases (endpoint deleted under a blocked thread, server gone while holding a reply).
#include "suites.h"

#define ME RS_INIT_CNODE
#define D  PS_DEPTH

/* Sets init's receive slot for caps (0: accept none). */
static void accept_caps(rs_cptr_t slot)
{
    rs_ipc_buffer_t *b = rs_ipc_buffer();
    b->receive_cnode = slot ? ME : 0;
    b->receive_index = slot;
    b->receive_depth = slot ? D : 0;
}

/* NBSends until a receiver takes the message or time runs out; the NBSend status. */
static int send_when_ready(rs_cptr_t ep, rs_msginfo_t info, const rs_word_t *mr, unsigned n)
{
    uint64_t end = now_ms() + WAIT_MS;
    for (;;) {
        for (unsigned i = 0; i < n; i++) rs_mr_set(i, mr[i]);
        int err = (int)rs_nbsend(ep, info).error;
        if (err != RS_WOULD_BLOCK || now_ms() > end) return err;
        rs_yield();
    }
}

/* Receives twice on CHILD_SLOT_A, reporting label, badge, MR0 and MR1 each time. */
static void child_receiver(uint64_t arg)
{
    for (int i = 0; i < 2; i++) {
        rs_result_t r = rs_recv(CHILD_SLOT_A);
        uint64_t label = rs_msginfo_label(r.info), m0 = rs_mr_get(0), m1 = rs_mr_get(1);
        child_report(1, r.error == RS_OK ? label : 1000 + r.error, r.badge, m0, m1);
    }
}

static void ipc_send_recv(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0),
              b = new_slot();
    REQUIRE(report && ep && b);
    REQUIRE_OK(ps_cnode_mint(ME, b, D, ME, ep, D, RS_RIGHTS_ALL, 0x42));
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_receiver, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_READ, 0));
    REQUIRE_OK(ps_process_start(&p));
    const rs_word_t m[] = {0xAAAA, 0xBBBB, 0xCCCC};
    CHECK_OK(send_when_ready(b, rs_msginfo(7, 0, 0, 3), m, 3));
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) {
        CHECK_EQ(mr[0], 7);
        CHECK_EQ(mr[1], 0x42);
        CHECK_EQ(mr[2], 0xAAAA);
        CHECK_EQ(mr[3], 0xBBBB);
    }
    rs_mr_set(0, 0x1111);
    rs_mr_set(1, 0x2222);
    CHECK_OK(rs_send(ep, rs_msginfo(8, 0, 0, 2)).error); // blocking Send, unbadged cap
    if (expect_report(report, 1, mr)) {
        CHECK_EQ(mr[0], 8);
        CHECK_EQ(mr[1], 0);
        CHECK_EQ(mr[2], 0x1111);
        CHECK_EQ(mr[3], 0x2222);
    }
}

static void ipc_nonblocking(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), ro = new_slot(), wo = new_slot();
    REQUIRE(ep && ro && wo);
    CHECK_ERR(rs_nbsend(ep, rs_msginfo(1, 0, 0, 1)).error, RS_WOULD_BLOCK);
    rs_result_t r = rs_nbrecv(ep);
    CHECK_ERR(r.error, RS_WOULD_BLOCK);
    CHECK_EQ(r.badge, 0);
    REQUIRE_OK(ps_cnode_mint(ME, ro, D, ME, ep, D, RS_RIGHT_READ, 0));
    REQUIRE_OK(ps_cnode_mint(ME, wo, D, ME, ep, D, RS_RIGHT_WRITE, 0));
    CHECK_ERR(rs_nbsend(ro, 0).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_send(ro, 0).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_call(ro, 0).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_nbrecv(wo).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_recv(wo).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_nbsend(wo, 0).error, RS_WOULD_BLOCK);
    CHECK_ERR(rs_reply(rs_msginfo(1, 0, 0, 0)).error, RS_OK); // nobody to reply to: nothing happens
}

/* Calls CHILD_SLOT_A with label 5 and MR0..3 = 1..4; reports the reply. */
static void child_caller(uint64_t arg)
{
    for (unsigned i = 0; i < 4; i++) rs_mr_set(i, i + 1);
    rs_result_t r = rs_call(CHILD_SLOT_A, rs_msginfo(5, 0, 0, 4));
    child_report(1, r.error, rs_msginfo_label(r.info), rs_msginfo_length(r.info),
                 rs_mr_get(0) + rs_mr_get(1));
}

static void ipc_call_reply(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && ep);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_caller, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_WRITE, 0x77));
    REQUIRE_OK(ps_process_start(&p));
    rs_result_t r;
    REQUIRE_OK(wait_recv(ep, WAIT_MS, &r));
    CHECK_EQ(rs_msginfo_label(r.info), 5);
    CHECK_EQ(rs_msginfo_length(r.info), 4);
    CHECK_EQ(r.badge, 0x77);
    CHECK_EQ(rs_mr_get(0) + rs_mr_get(1) + rs_mr_get(2) + rs_mr_get(3), 10);
    rs_mr_set(0, 300);
    rs_mr_set(1, 33);
    CHECK_OK(rs_reply(rs_msginfo(9, 0, 0, 2)).error);
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) {
        CHECK_ERR(mr[0], RS_OK);
        CHECK_EQ(mr[1], 9);
        CHECK_EQ(mr[2], 2);
        CHECK_EQ(mr[3], 333);
    }
}

/* A server: answers each Call on CHILD_SLOT_A with MR0 + 1000 + badge, by ReplyRecv. */
static void child_server(uint64_t arg)
{
    rs_result_t r = rs_recv(CHILD_SLOT_A);
    for (;;) {
        rs_mr_set(0, rs_mr_get(0) + 1000 + r.badge);
        r = rs_reply_recv(CHILD_SLOT_A, rs_msginfo(0, 0, 0, 1));
    }
}

static void ipc_reply_recv_server(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), b = new_slot();
    REQUIRE(ep && b);
    REQUIRE_OK(ps_cnode_mint(ME, b, D, ME, ep, D, RS_RIGHT_WRITE, 5));
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_server, 0, 0));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_READ, 0));
    REQUIRE_OK(ps_process_start(&p));
    for (uint64_t i = 0; i < 50; i++) {
        rs_mr_set(0, i);
        rs_result_t r = rs_call(b, rs_msginfo(1, 0, 0, 1));
        if (!CHECK_OK(r.error) || !CHECK_EQ(rs_mr_get(0), i + 1005)) return;
    }
}

/* Sends on CHILD_SLOT_A, B and C (three caps to one endpoint) in that order. */
static void child_three_senders(uint64_t arg)
{
    const rs_cptr_t caps[] = {CHILD_SLOT_A, CHILD_SLOT_B, CHILD_SLOT_C};
    for (int i = 0; i < 3; i++) {
        rs_mr_set(0, (uint64_t)i);
        rs_send(caps[i], rs_msginfo(2, 0, 0, 1));
    }
}

static void ipc_badges(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_three_senders, 0, 0));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_WRITE, 0x11));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_B, ep, RS_RIGHT_WRITE, 0x22));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_C, ep, RS_RIGHT_WRITE, 0));
    REQUIRE_OK(ps_process_start(&p));
    const uint64_t want[] = {0x11, 0x22, 0};
    for (unsigned i = 0; i < 3; i++) {
        rs_result_t r;
        REQUIRE_OK(wait_recv(ep, WAIT_MS, &r));
        CHECK_EQ(r.badge, want[i]);
        CHECK_EQ(rs_mr_get(0), i);
    }
}

static uint64_t pattern(unsigned i, uint64_t salt) { return (i + 1) * 0x0101010101ul ^ salt; }

/* Calls with 120 words; checks the 120-word reply; reports the mismatches. */
static void child_long_message(uint64_t arg)
{
    for (unsigned i = 0; i < RS_MSG_MAX_LENGTH; i++) rs_mr_set(i, pattern(i, 0xA5));
    rs_result_t r = rs_call(CHILD_SLOT_A, rs_msginfo(3, 0, 0, RS_MSG_MAX_LENGTH));
    uint64_t bad = 0;
    for (unsigned i = 0; i < RS_MSG_MAX_LENGTH; i++) bad += rs_mr_get(i) != pattern(i, 0x5A);
    child_report(1, r.error, rs_msginfo_length(r.info), bad, 0);
}

static void ipc_long_message(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && ep);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_long_message, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHTS_ALL, 0));
    REQUIRE_OK(ps_process_start(&p));
    rs_result_t r;
    REQUIRE_OK(wait_recv(ep, WAIT_MS, &r));
    CHECK_EQ(rs_msginfo_length(r.info), RS_MSG_MAX_LENGTH);
    unsigned bad = 0;
    for (unsigned i = 0; i < RS_MSG_MAX_LENGTH; i++) bad += rs_mr_get(i) != pattern(i, 0xA5);
    CHECK_EQ(bad, 0);
    for (unsigned i = 0; i < RS_MSG_MAX_LENGTH; i++) rs_mr_set(i, pattern(i, 0x5A));
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, RS_MSG_MAX_LENGTH)).error);
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) {
        CHECK_ERR(mr[0], RS_OK);
        CHECK_EQ(mr[1], RS_MSG_MAX_LENGTH);
        CHECK_EQ(mr[2], 0);
    }
}

/* Sends the caps listed in arg (up to three cptrs, 16 bits each) on CHILD_SLOT_A. */
static void child_send_caps(uint64_t arg)
{
    unsigned n = 0;
    for (; n < 3 && (arg >> (16 * n)) & 0xFFFF; n++) rs_cap_set(n, (arg >> (16 * n)) & 0xFFFF);
    rs_mr_set(0, 0xCAB);
    rs_send(CHILD_SLOT_A, rs_msginfo(4, 0, n, 1));
}

/* Runs child_send_caps with `caps` over a cap to `ep` with `rights` and badge 0x77, and with a
 * notification (badge 0x99) in CHILD_SLOT_B; receives the message into *r. */
static bool transfer(rs_cptr_t ep, unsigned rights, uint64_t caps, rs_cptr_t ntfn, rs_result_t *r)
{
    ps_process_t p;
    int err = child_create(&p, child_send_caps, caps, 0);
    if (!err) err = ps_process_give(&p, CHILD_SLOT_A, ep, rights, 0x77);
    if (!err) err = ps_process_give(&p, CHILD_SLOT_B, ntfn, RS_RIGHTS_ALL, 0x99);
    if (!err) err = ps_process_start(&p);
    if (!err) err = wait_recv(ep, WAIT_MS, r);
    if (!err) CHECK_EQ(rs_mr_get(0), 0xCAB);
    return CHECK_OK(err);
}

static void ipc_cap_transfer(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), n = new_object(RS_OBJ_NOTIFICATION, 0),
              slot = new_slot();
    REQUIRE(ep && n && slot);
    rs_result_t r;
    accept_caps(slot);
    REQUIRE(transfer(ep, RS_RIGHTS_ALL, CHILD_SLOT_B, n, &r));
    CHECK_EQ(rs_msginfo_extra_caps(r.info), 1);
    CHECK_EQ(rs_msginfo_unwrapped(r.info), 0);
    CHECK_EQ(cap_type(slot), RS_CAP_NOTIFICATION);
    CHECK_ERR(rs_signal(slot), RS_OK); // the same object, badge and all
    CHECK_EQ(rs_poll(n).badge, 0x99);
    // the slot is taken now: the next cap is not placed and the count says so
    REQUIRE(transfer(ep, RS_RIGHTS_ALL, CHILD_SLOT_B, n, &r));
    CHECK_EQ(rs_msginfo_extra_caps(r.info), 0);
}

static void ipc_transfer_refused(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), n = new_object(RS_OBJ_NOTIFICATION, 0),
              slot = new_slot();
    REQUIRE(ep && n && slot);
    rs_result_t r;
    accept_caps(slot);
    REQUIRE(transfer(ep, RS_RIGHT_WRITE, CHILD_SLOT_B, n, &r)); // no GRANT on the sender's cap
    CHECK_EQ(rs_msginfo_extra_caps(r.info), 0);
    CHECK_EQ(cap_type(slot), RS_CAP_NULL);
    accept_caps(0); // the receiver accepts none
    REQUIRE(transfer(ep, RS_RIGHTS_ALL, CHILD_SLOT_B, n, &r));
    CHECK_EQ(rs_msginfo_extra_caps(r.info), 0);
    CHECK_EQ(cap_type(slot), RS_CAP_NULL);
    accept_caps(slot); // a cap that does not resolve stops the walk at once
    REQUIRE(transfer(ep, RS_RIGHTS_ALL, CHILD_SLOT_FREE | (CHILD_SLOT_B << 16), n, &r));
    CHECK_EQ(rs_msginfo_extra_caps(r.info), 0);
    CHECK_EQ(cap_type(slot), RS_CAP_NULL);
}

static void ipc_unwrapped_badge(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), n = new_object(RS_OBJ_NOTIFICATION, 0),
              slot = new_slot();
    REQUIRE(ep && n && slot);
    rs_result_t r;
    accept_caps(slot);
    rs_ipc_buffer()->caps_or_badges[0] = 0;
    REQUIRE(transfer(ep, RS_RIGHTS_ALL, CHILD_SLOT_A | (CHILD_SLOT_B << 16), n, &r));
    CHECK_EQ(rs_msginfo_extra_caps(r.info), 2);
    CHECK_EQ(rs_msginfo_unwrapped(r.info), 1); // the first cap named the endpoint itself
    CHECK_EQ(rs_ipc_buffer()->caps_or_badges[0], 0x77);
    CHECK_EQ(cap_type(slot), RS_CAP_NOTIFICATION); // the second was copied
}

/* Calls CHILD_SLOT_A accepting a cap into CHILD_SLOT_FREE; signals what arrived. */
static void child_call_for_cap(uint64_t arg)
{
    rs_ipc_buffer_t *b = rs_ipc_buffer();
    b->receive_cnode = PS_SLOT_CNODE;
    b->receive_index = CHILD_SLOT_FREE;
    b->receive_depth = PS_DEPTH;
    rs_result_t r = rs_call(CHILD_SLOT_A, rs_msginfo(6, 0, 0, 0));
    rs_word_t sig = rs_signal(CHILD_SLOT_FREE);
    child_report(1, r.error, rs_msginfo_extra_caps(r.info),
                 (uint64_t)rs_debug_cap_type(CHILD_SLOT_FREE), sig);
}

static void ipc_reply_with_cap(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), nb = new_slot();
    REQUIRE(report && ep && n && nb);
    REQUIRE_OK(ps_cnode_mint(ME, nb, D, ME, n, D, RS_RIGHTS_ALL, 0x300));
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_call_for_cap, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_WRITE, 0)); // no GRANT needed to get
    REQUIRE_OK(ps_process_start(&p));
    REQUIRE_OK(wait_recv(ep, WAIT_MS, NULL));
    rs_cap_set(0, nb);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 1, 0)).error);
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) {
        CHECK_ERR(mr[0], RS_OK);
        CHECK_EQ(mr[1], 1);
        CHECK_EQ(mr[2], RS_CAP_NOTIFICATION);
        CHECK_ERR(mr[3], RS_OK);
    }
    CHECK_EQ(rs_poll(n).badge, 0x300);
}

/* Calls CHILD_SLOT_A and reports how the Call ended. */
static void child_call_and_report(uint64_t arg)
{
    rs_mr_set(0, arg);
    rs_result_t r = rs_call(CHILD_SLOT_A, rs_msginfo(1, 0, 0, 1));
    child_report(1, r.error, r.info, r.badge, 0);
}

static void ipc_server_receives_again(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && ep);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_call_and_report, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_WRITE, 0));
    REQUIRE_OK(ps_process_start(&p));
    REQUIRE_OK(wait_recv(ep, WAIT_MS, NULL));
    CHECK_ERR(rs_nbrecv(ep).error, RS_WOULD_BLOCK); // receiving again drops the caller
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) {
        CHECK_ERR(mr[0], RS_PEER_DIED);
        CHECK_EQ(mr[1], 0);
    }
    CHECK_OK(rs_reply(0).error); // the reply is gone: nothing to do
}

/* Blocks on CHILD_SLOT_A in the way arg says (Recv, Send, Call); reports the status. */
static void child_block_on(uint64_t arg)
{
    rs_signal(CHILD_SLOT_B);
    rs_word_t err = arg == 0   ? rs_recv(CHILD_SLOT_A).error
                    : arg == 1 ? rs_send(CHILD_SLOT_A, rs_msginfo(1, 0, 0, 0)).error
                               : rs_call(CHILD_SLOT_A, rs_msginfo(1, 0, 0, 0)).error;
    child_report(1, err, arg, 0, 0);
}

static void ipc_endpoint_deleted(void)
{
    static const char *const how[] = {"Recv", "Send", "Call"};
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), n = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(report && n);
    for (uint64_t k = 0; k < 3; k++) {
        rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
        ps_process_t p;
        REQUIRE(ep);
        REQUIRE_OK(child_create(&p, child_block_on, k, report));
        REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHTS_ALL, 0));
        REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_B, n, RS_RIGHTS_ALL, 1));
        REQUIRE_OK(ps_process_start(&p));
        REQUIRE_EQ(wait_signal(n, WAIT_MS), 1);
        for (int i = 0; i < 5; i++) rs_yield(); // let it block
        CHECK_OK(ps_cnode_revoke(ME, ep, D));   // the child's copy goes; the endpoint stays
        rs_result_t r;
        CHECK_ERR(wait_recv(report, 50, &r), RS_WOULD_BLOCK); // still blocked
        CHECK_OK(ps_cnode_delete(ME, ep, D));                 // the last cap: the endpoint goes
        uint64_t mr[4];
        if (expect_report(report, 1, mr) && mr[0] != RS_PEER_DIED)
            FAIL("%s on a deleted endpoint returned %s", how[k], rs_error_name((int)mr[0]));
        CHECK_OK(ps_process_destroy(&p));
    }
}

/* Receives a Call on CHILD_SLOT_A, signals CHILD_SLOT_B, then waits on CHILD_SLOT_C holding the
 * reply (a notification Wait keeps it). */
static void child_server_holds_reply(uint64_t arg)
{
    rs_recv(CHILD_SLOT_A);
    rs_signal(CHILD_SLOT_B);
    rs_wait(CHILD_SLOT_C);
}

/* A server holding the caller's reply is suspended (arg 0) or destroyed (arg 1). */
static void server_gone(int destroy)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), quiet = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(report && ep && n && quiet);
    ps_process_t server, client;
    REQUIRE_OK(child_create(&server, child_server_holds_reply, 0, 0));
    REQUIRE_OK(ps_process_give(&server, CHILD_SLOT_A, ep, RS_RIGHT_READ, 0));
    REQUIRE_OK(ps_process_give(&server, CHILD_SLOT_B, n, RS_RIGHT_WRITE, 2));
    REQUIRE_OK(ps_process_give(&server, CHILD_SLOT_C, quiet, RS_RIGHT_READ, 0));
    REQUIRE_OK(child_create(&client, child_call_and_report, 0, report));
    REQUIRE_OK(ps_process_give(&client, CHILD_SLOT_A, ep, RS_RIGHT_WRITE, 0));
    REQUIRE_OK(ps_process_start(&server));
    REQUIRE_OK(ps_process_start(&client));
    REQUIRE_EQ(wait_signal(n, WAIT_MS), 2);                 // the server has the call
    CHECK_ERR(wait_recv(report, 50, NULL), RS_WOULD_BLOCK); // the client still waits
    if (destroy) CHECK_OK(ps_process_destroy(&server));
    else CHECK_OK(ps_tcb_suspend(server.tcb));
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_ERR(mr[0], RS_PEER_DIED);
    if (!destroy) CHECK_OK(ps_tcb_resume(server.tcb)); // resumed, it has no reply to send any more
}

static void ipc_server_suspended(void) { server_gone(0); }
static void ipc_server_destroyed(void) { server_gone(1); }

/* The caller goes away while init holds its call: the Reply (or ReplyRecv) goes nowhere. */
static void ipc_caller_destroyed(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && ep);
    for (int how = 0; how < 2; how++) {
        ps_process_t p;
        REQUIRE_OK(child_create(&p, child_call_and_report, 0, report));
        REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_WRITE, 0));
        REQUIRE_OK(ps_process_start(&p));
        REQUIRE_OK(wait_recv(ep, WAIT_MS, NULL));
        CHECK_OK(ps_process_destroy(&p));
        if (how == 0) {
            CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 1)).error);
        } else { // ReplyRecv: the reply vanishes; the receive half runs (here: on an empty slot)
            CHECK_ERR(rs_syscall(RS_SYS_REPLY_RECV, new_slot(), rs_msginfo(0, 0, 0, 0)).error,
                      RS_FAILED_LOOKUP);
        }
        CHECK_ERR(wait_recv(report, 20, NULL), RS_WOULD_BLOCK); // nobody is left to report
    }
}

/* Receives on CHILD_SLOT_A without an IPC buffer; reports length and the four words. */
static void child_receive_short(uint64_t arg)
{
    rs_result_t r = rs_recv(CHILD_SLOT_A);
    child_report(1, r.error, rs_msginfo_length(r.info), rs_mr_get(0), rs_mr_get(3));
}

static void ipc_receiver_without_buffer(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && ep);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_receive_short, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_READ, 0));
    REQUIRE_OK(ps_tcb_configure(p.tcb, p.cnode, p.vspace, 0, 0));
    REQUIRE_OK(ps_process_start(&p));
    rs_word_t m[10];
    for (unsigned i = 0; i < 10; i++) m[i] = 100 + i;
    CHECK_OK(send_when_ready(ep, rs_msginfo(1, 0, 0, 10), m, 10));
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) {
        CHECK_ERR(mr[0], RS_OK);
        CHECK_EQ(mr[1], 4); // cut to what travels in registers
        CHECK_EQ(mr[2], 100);
        CHECK_EQ(mr[3], 103);
    }
}

const struct test ipc_tests[] = {
    {"IPC-0001", "Send and Recv carry label, badge and words between two address spaces",
     ipc_send_recv},
    {"IPC-0002", "NBSend/NBRecv without a partner give RS_WOULD_BLOCK; rights are enforced",
     ipc_nonblocking},
    {"IPC-0003", "Call and Reply carry a message each way", ipc_call_reply},
    {"IPC-0004", "a ReplyRecv server answers 50 Calls in a row", ipc_reply_recv_server},
    {"IPC-0005", "the receiver sees the badge of each sender's cap, in FIFO order", ipc_badges},
    {"IPC-0006", "120-word messages go through the IPC buffer both ways", ipc_long_message},
    {"IPC-0007", "a granted cap arrives in the receive slot, once per message", ipc_cap_transfer},
    {"IPC-0008", "no cap arrives without GRANT, without a receive slot, or from a bad cptr",
     ipc_transfer_refused},
    {"IPC-0009", "a cap to the endpoint itself arrives unwrapped as its badge",
     ipc_unwrapped_badge},
    {"IPC-0010", "a Reply carries a cap to the caller", ipc_reply_with_cap},
    {"IPC-0011",
     "a server that receives again instead of replying fails its caller with RS_PEER_DIED",
     ipc_server_receives_again},
    {"IPC-0012",
     "deleting an endpoint fails the threads blocked on it (Recv, Send, Call) with RS_PEER_DIED",
     ipc_endpoint_deleted},
    {"IPC-0013", "a server suspended while holding a reply fails the caller with RS_PEER_DIED",
     ipc_server_suspended},
    {"IPC-0014", "a server destroyed while holding a reply fails the caller with RS_PEER_DIED",
     ipc_server_destroyed},
    {"IPC-0015", "a receiver without an IPC buffer gets a long message cut to 4 words",
     ipc_receiver_without_buffer},
    {"IPC-0016", "a caller destroyed while its call is held: the Reply goes nowhere",
     ipc_caller_destroyed},
    {0},
};
