// SPDX-License-Identifier: MIT
// Notification tests: Signal/Wait/Poll, badge OR-ing, waking a waiter in another address space,
// binding (an endpoint Recv woken with RS_NOTIFICATION_LABEL), rights, and deletion.
#include "suites.h"

#define ME RS_INIT_CNODE
#define D  PS_DEPTH

/* A copy of notification n minted with `badge` in a new slot. */
static rs_cptr_t badged(rs_cptr_t n, uint64_t badge, unsigned rights)
{
    rs_cptr_t s = new_slot();
    if (s) CHECK_OK(ps_cnode_mint(ME, s, D, ME, n, D, rights, badge));
    return s;
}

static void ntf_signal_poll(void)
{
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(n);
    rs_cptr_t b = badged(n, 0x20, RS_RIGHTS_ALL);
    rs_result_t r = rs_poll(n);
    CHECK_ERR(r.error, RS_OK); // nothing pending is not an error
    CHECK_EQ(r.badge, 0);
    CHECK_ERR(rs_signal(b), RS_OK);
    r = rs_poll(n);
    CHECK_EQ(r.badge, 0x20);
    CHECK_EQ(r.info, 0);
    CHECK_EQ(rs_poll(n).badge, 0);  // taken
    CHECK_ERR(rs_signal(n), RS_OK); // unbadged: ORs nothing
    CHECK_EQ(rs_poll(n).badge, 0);
    CHECK_ERR(rs_nbsend(b, 0).error, RS_OK);
    CHECK_ERR(rs_call(b, 0).error, RS_OK); // every kind of send signals
    r = rs_wait(n);                        // bits pending: Wait returns at once
    CHECK_ERR(r.error, RS_OK);
    CHECK_EQ(r.badge, 0x20);
}

static void ntf_badge_or(void)
{
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(n);
    rs_cptr_t a = badged(n, 0x1, RS_RIGHT_WRITE), b = badged(n, 0x4, RS_RIGHT_WRITE),
              c = badged(n, 0x10, RS_RIGHT_WRITE);
    REQUIRE(a && b && c);
    CHECK_ERR(rs_signal(a), RS_OK);
    CHECK_ERR(rs_signal(b), RS_OK);
    CHECK_ERR(rs_signal(b), RS_OK);
    CHECK_ERR(rs_signal(c), RS_OK);
    CHECK_EQ(rs_poll(n).badge, 0x15);
}

static void ntf_rights(void)
{
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(n);
    rs_cptr_t ro = badged(n, 0, RS_RIGHT_READ), wo = badged(n, 0x2, RS_RIGHT_WRITE);
    REQUIRE(ro && wo);
    CHECK_ERR(rs_signal(ro), RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_poll(wo).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_wait(wo).error, RS_INSUFFICIENT_RIGHTS);
    CHECK_ERR(rs_signal(wo), RS_OK);
    CHECK_EQ(rs_poll(ro).badge, 0x2);
    CHECK_ERR(ps_invoke(n, RS_TCB_SUSPEND, NULL, 0, NULL, 0), RS_OK); // a Call on it is a Signal
}

/* Waits on CHILD_SLOT_A (after signalling CHILD_SLOT_B with its arg) and reports arg and badge. */
static void child_waiter(uint64_t arg)
{
    rs_signal(CHILD_SLOT_B);
    rs_result_t r = rs_wait(CHILD_SLOT_A);
    child_report(1, r.error, arg, r.badge, r.info);
}

static bool start_waiter(ps_process_t *p, uint64_t id, rs_cptr_t report, rs_cptr_t n,
                         rs_cptr_t ready)
{
    int err = child_create(p, child_waiter, id, report);
    if (!err) err = ps_process_give(p, CHILD_SLOT_A, n, RS_RIGHT_READ, 0);
    if (!err) err = ps_process_give(p, CHILD_SLOT_B, ready, RS_RIGHT_WRITE, id);
    if (!err) err = ps_process_start(p);
    if (!CHECK_OK(err)) return false;
    CHECK_EQ(wait_signal(ready, WAIT_MS), id);
    for (int i = 0; i < 5; i++) rs_yield(); // into the Wait
    return true;
}

static void ntf_wake_waiters_fifo(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), n = new_object(RS_OBJ_NOTIFICATION, 0);
    rs_cptr_t ready = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(report && n && ready);
    ps_process_t w1, w2;
    REQUIRE(start_waiter(&w1, 1, report, n, ready) && start_waiter(&w2, 2, report, n, ready));
    CHECK_ERR(wait_recv(report, 50, NULL), RS_WOULD_BLOCK); // both asleep
    uint64_t mr[4];
    CHECK_ERR(rs_signal(badged(n, 0x8, RS_RIGHT_WRITE)), RS_OK);
    if (expect_report(report, 1, mr)) {
        CHECK_ERR(mr[0], RS_OK);
        CHECK_EQ(mr[1], 1); // the first to wait wakes first
        CHECK_EQ(mr[2], 0x8);
    }
    CHECK_ERR(wait_recv(report, 50, NULL), RS_WOULD_BLOCK); // one signal, one waiter
    CHECK_ERR(rs_signal(badged(n, 0x10, RS_RIGHT_WRITE)), RS_OK);
    if (expect_report(report, 1, mr)) {
        CHECK_EQ(mr[1], 2);
        CHECK_EQ(mr[2], 0x10);
    }
}

static void ntf_deleted_under_waiter(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), n = new_object(RS_OBJ_NOTIFICATION, 0);
    rs_cptr_t ready = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(report && n && ready);
    ps_process_t w;
    REQUIRE(start_waiter(&w, 1, report, n, ready));
    CHECK_OK(ps_cnode_revoke(ME, n, D));
    CHECK_OK(ps_cnode_delete(ME, n, D));
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_ERR(mr[0], RS_PEER_DIED);
}

/* Receives twice on endpoint CHILD_SLOT_A (its TCB is bound to a notification by init). */
static void child_bound_receiver(uint64_t arg)
{
    for (int i = 0; i < 2; i++) {
        rs_signal(CHILD_SLOT_B);
        rs_result_t r = rs_recv(CHILD_SLOT_A);
        child_report(1, r.error, rs_msginfo_label(r.info), r.badge, rs_mr_get(0));
    }
}

static void ntf_bound_wakes_recv(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), ready = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(report && ep && n && ready);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_bound_receiver, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, ep, RS_RIGHT_READ, 0));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_B, ready, RS_RIGHT_WRITE, 1));
    REQUIRE_OK(ps_process_start(&p));
    REQUIRE_EQ(wait_signal(ready, WAIT_MS), 1);
    for (int i = 0; i < 5; i++) rs_yield();                      // blocked in Recv now
    CHECK_ERR(rs_signal(badged(n, 0x2, RS_RIGHT_WRITE)), RS_OK); // not bound yet: stays pending
    CHECK_OK(ps_tcb_bind_notification(p.tcb, n));
    CHECK_ERR(wait_recv(report, 50, NULL), RS_WOULD_BLOCK); // binding wakes nobody
    CHECK_ERR(rs_signal(badged(n, 0x40, RS_RIGHT_WRITE)), RS_OK);
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) {
        CHECK_ERR(mr[0], RS_OK);
        CHECK_EQ(mr[1], RS_NOTIFICATION_LABEL);
        CHECK_EQ(mr[2], 0x42);
    }
    CHECK_EQ(wait_signal(ready, WAIT_MS), 1);
    rs_mr_set(0, 0x99);
    CHECK_OK(rs_send(ep, rs_msginfo(3, 0, 0, 1)).error); // an ordinary message still arrives
    if (expect_report(report, 1, mr)) {
        CHECK_EQ(mr[1], 3);
        CHECK_EQ(mr[3], 0x99);
    }
}

static void ntf_bound_pending_first(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), n = new_object(RS_OBJ_NOTIFICATION, 0);
    rs_cptr_t t = new_object(RS_OBJ_TCB, 0);
    REQUIRE(ep && n && t);
    REQUIRE_OK(ps_tcb_bind_notification(RS_INIT_TCB, n));
    CHECK_ERR(rs_signal(badged(n, 0x3, RS_RIGHT_WRITE)), RS_OK);
    rs_result_t r = rs_nbrecv(ep);
    CHECK_ERR(r.error, RS_OK);
    CHECK_EQ(rs_msginfo_label(r.info), RS_NOTIFICATION_LABEL);
    CHECK_EQ(r.badge, 0x3);
    CHECK_ERR(rs_nbrecv(ep).error, RS_WOULD_BLOCK);
    CHECK_EQ(rs_poll(n).badge, 0); // init is the bound thread: it may poll
    CHECK_OK(ps_tcb_unbind_notification(RS_INIT_TCB));
    REQUIRE_OK(ps_tcb_bind_notification(t, n));
    CHECK_ERR(rs_poll(n).error, RS_ILLEGAL_OPERATION); // bound to another thread
    CHECK_ERR(rs_wait(n).error, RS_ILLEGAL_OPERATION);
    CHECK_ERR(rs_signal(n), RS_OK);
}

const struct test ntfn_tests[] = {
    {"NTF-0001",
     "Signal sets the badge, Poll takes it (0 when nothing is pending), Wait returns at once",
     ntf_signal_poll},
    {"NTF-0002", "signals through different badges are OR-ed together", ntf_badge_or},
    {"NTF-0003", "Signal needs WRITE and Wait/Poll need READ (RS_INSUFFICIENT_RIGHTS)", ntf_rights},
    {"NTF-0004", "signals wake waiters in another address space one at a time, in FIFO order",
     ntf_wake_waiters_fifo},
    {"NTF-0005", "deleting a notification fails its waiter with RS_PEER_DIED",
     ntf_deleted_under_waiter},
    {"NTF-0006", "a bound notification wakes an endpoint Recv with RS_NOTIFICATION_LABEL",
     ntf_bound_wakes_recv},
    {"NTF-0007",
     "pending bound bits come first; only the bound thread may wait (RS_ILLEGAL_OPERATION)",
     ntf_bound_pending_first},
    {0},
};
