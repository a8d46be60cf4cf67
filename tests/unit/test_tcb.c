// SPDX-License-Identifier: MIT
// Host tests of the TCB invocations' decode step (kernel/tcb.c): every rejection with its exact
// error and detail words, and that a rejected invocation leaves the thread as it was.
#include "inv_fixture.h"
#include "notification.h"
#include <resurgo/invocation.h>
#include <resurgo/types.h>

enum { TARGET = 1, VSPACE = 2, FRAME = 3, EP = 4, NTFN = 5, AUTH = 6, DEVFRAME = 7, BIGFRAME = 8 };

static struct tcb *target; /* the thread invoked */
static uint64_t objects[4][8] __attribute__((aligned(64)));
static struct notification ntfn_obj;
static uint8_t frame_mem[4096] __attribute__((aligned(4096)));

static void setup(void)
{
    fx_world();
    memset(objects, 0, sizeof(objects));
    memset(&ntfn_obj, 0, sizeof(ntfn_obj));
    fx_put(0, fx_cnode_cap(fx.cnode, FIX_ROOT_RADIX)); // a cap to the root CNode, for Configure
    target = fx_new_tcb();
    target->mcp = target->prio = 10;
    fx_put(TARGET,
           (struct cap){.type = RS_CAP_TCB, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)target});
    fx_put(
        VSPACE,
        (struct cap){.type = RS_CAP_VSPACE, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)objects[0]});
    fx_put(FRAME, (struct cap){.type = RS_CAP_FRAME,
                               .rights = RS_RIGHTS_ALL,
                               .bits = 12,
                               .obj = (uintptr_t)frame_mem});
    fx_put(EP, (struct cap){
                   .type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)objects[1]});
    fx_put(NTFN, (struct cap){.type = RS_CAP_NOTIFICATION,
                              .rights = RS_RIGHTS_ALL,
                              .obj = (uintptr_t)&ntfn_obj});
    struct tcb *auth = fx_new_tcb();
    auth->mcp = 20;
    fx_put(AUTH, (struct cap){.type = RS_CAP_TCB, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)auth});
    fx_put(DEVFRAME, (struct cap){.type = RS_CAP_FRAME,
                                  .rights = RS_RIGHTS_ALL,
                                  .bits = 12,
                                  .flags = CAP_FLAG_DEVICE,
                                  .obj = (uintptr_t)objects[2]});
    fx_put(BIGFRAME, (struct cap){.type = RS_CAP_FRAME,
                                  .rights = RS_RIGHTS_ALL,
                                  .bits = 21,
                                  .obj = (uintptr_t)objects[3]});
}

TestSuite(tcb, .init = setup, .fini = fx_free_all);

static struct slot *S(unsigned i) { return &fx.cnode[i]; }

/* Invokes the target TCB with `label`, arguments and extra caps (root slot numbers). */
static int op(uint64_t label, const uint64_t *args, unsigned n, const unsigned *caps,
              unsigned ncaps)
{
    struct slot *extra[RS_MSG_MAX_EXTRA_CAPS] = {0};
    for (unsigned i = 0; i < ncaps; i++) extra[i] = S(caps[i]);
    return fx_invoke(S(TARGET), label, args, n, extra, ncaps);
}

static void expect_unconfigured(void)
{
    for (unsigned i = 0; i < TCB_SLOT_COUNT; i++)
        cr_expect(cap_is_null(&target->slots[i].cap), "TCB slot %u stays empty", i);
    cr_expect_eq(target->ipc_buffer_vaddr, 0);
}

Test(tcb, unknown_label_is_illegal)
{
    fx_expect_error(op(RS_TCB_CONFIGURE - 1, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION, 0, 0, 0);
    fx_expect_error(op(RS_TCB_SET_NAME + 1, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION, 0, 0, 0);
}

Test(tcb, configure_rejections)
{
    uint64_t a[2] = {0, 0x20000000};
    unsigned ok[3] = {0, VSPACE, FRAME};
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 1, NULL, 0), RS_TRUNCATED_MESSAGE, 2, 1, 0);
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 2, ok, 1), RS_INVALID_CAPABILITY, 2, 0,
                    0); // CAP1 missing
    unsigned not_cnode[3] = {EP, VSPACE, FRAME}, not_vspace[3] = {0, EP, FRAME};
    unsigned not_frame[3] = {0, VSPACE, EP}, device[3] = {0, VSPACE, DEVFRAME},
             big[3] = {0, VSPACE, BIGFRAME};
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 2, not_cnode, 3), RS_INVALID_CAPABILITY, 1, 0, 0);
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 2, not_vspace, 3), RS_INVALID_CAPABILITY, 2, 0, 0);
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 2, not_frame, 3), RS_INVALID_CAPABILITY, 3, 0, 0);
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 2, device, 3), RS_INVALID_CAPABILITY, 3, 0, 0);
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 2, big, 3), RS_INVALID_CAPABILITY, 3, 0, 0);
    S(FRAME)->cap.rights = RS_RIGHT_READ;
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 2, ok, 3), RS_INSUFFICIENT_RIGHTS, 3, 0, 0);
    S(FRAME)->cap.rights = RS_RIGHTS_ALL;
    uint64_t misaligned[2] = {0, 0x20000000 + RS_IPC_BUFFER_ALIGN / 2};
    fx_expect_error(op(RS_TCB_CONFIGURE, misaligned, 2, ok, 3), RS_ALIGNMENT_ERROR, 1,
                    RS_IPC_BUFFER_ALIGN, 0);
    uint64_t kernel[2] = {0, RS_USER_TOP};
    fx_expect_error(op(RS_TCB_CONFIGURE, kernel, 2, ok, 3), RS_RANGE_ERROR, 1, 0, RS_USER_TOP - 1);
    expect_unconfigured();
    cr_assert_eq(op(RS_TCB_CONFIGURE, a, 2, ok, 3), RS_OK);
    cr_expect_eq(target->slots[TCB_SLOT_IPCBUF].cap.type, RS_CAP_FRAME);
    cr_expect_eq(target->ipc_buffer_vaddr, 0x20000000);
}

/* Configure never destroys anything: a slot holding the last cap to an object is not replaced. */
Test(tcb, configure_refuses_to_drop_a_last_cap)
{
    uint64_t a[2] = {0, 0x20000000};
    unsigned ok[3] = {0, VSPACE, FRAME};
    // an original endpoint cap in the TCB's VSpace slot stands for "the last cap to an object"
    struct slot *v = &target->slots[TCB_SLOT_VSPACE];
    v->cap = (struct cap){
        .type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)objects[1] + 32};
    cdt_insert(NULL, v);
    fx_expect_error(op(RS_TCB_CONFIGURE, a, 2, ok, 3), RS_REVOKE_FIRST, 2, 0, 0);
    cr_expect(cap_is_null(&target->slots[TCB_SLOT_CSPACE].cap), "nothing replaced");
    cr_expect_eq(v->cap.type, RS_CAP_ENDPOINT);
}

Test(tcb, priority_rejections)
{
    uint64_t p[1] = {15};
    unsigned auth[1] = {AUTH}, not_tcb[1] = {EP};
    for (int mcp = 0; mcp < 2; mcp++) {
        uint64_t label = mcp ? RS_TCB_SET_MCP : RS_TCB_SET_PRIORITY;
        fx_expect_error(op(label, p, 0, auth, 1), RS_TRUNCATED_MESSAGE, 1, 0, 0);
        fx_expect_error(op(label, p, 1, NULL, 0), RS_INVALID_CAPABILITY, 1, 0, 0);
        fx_expect_error(op(label, p, 1, not_tcb, 1), RS_INVALID_CAPABILITY, 1, 0, 0);
        uint64_t over[1] = {21};
        fx_expect_error(op(label, over, 1, auth, 1), RS_RANGE_ERROR, 0, 0, 20);
    }
    cr_expect_eq(target->prio, 10);
    cr_expect_eq(target->mcp, 10);
    cr_expect_eq(op(RS_TCB_SET_MCP, p, 1, auth, 1), RS_OK);
    cr_expect_eq(target->mcp, 15);
}

Test(tcb, fault_handler_rejections)
{
    unsigned not_ep[1] = {NTFN}, ep[1] = {EP};
    fx_expect_error(op(RS_TCB_SET_FAULT_HANDLER, NULL, 0, not_ep, 1), RS_INVALID_CAPABILITY, 1, 0,
                    0);
    S(EP)->cap.rights = RS_RIGHT_READ | RS_RIGHT_GRANT;
    fx_expect_error(op(RS_TCB_SET_FAULT_HANDLER, NULL, 0, ep, 1), RS_INSUFFICIENT_RIGHTS, 1, 0, 0);
    cr_expect(cap_is_null(&target->slots[TCB_SLOT_FAULT_EP].cap));
    S(EP)->cap.rights = RS_RIGHTS_ALL;
    // the handler slot holding the last cap to an endpoint is not replaced, nor emptied
    struct slot *f = &target->slots[TCB_SLOT_FAULT_EP];
    f->cap = (struct cap){
        .type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)objects[1] + 32};
    cdt_insert(NULL, f);
    fx_expect_error(op(RS_TCB_SET_FAULT_HANDLER, NULL, 0, ep, 1), RS_REVOKE_FIRST, 1, 0, 0);
    fx_expect_error(op(RS_TCB_SET_FAULT_HANDLER, NULL, 0, NULL, 0), RS_REVOKE_FIRST, 1, 0, 0);
    cr_expect_eq(f->cap.obj, (uintptr_t)objects[1] + 32);
}

Test(tcb, register_rejections)
{
    uint64_t a[2 + RS_REG_COUNT] = {0, 2};
    fx_expect_error(op(RS_TCB_READ_REGISTERS, a, 1, NULL, 0), RS_TRUNCATED_MESSAGE, 2, 1, 0);
    fx_expect_error(op(RS_TCB_WRITE_REGISTERS, a, 1, NULL, 0), RS_TRUNCATED_MESSAGE, 2, 1, 0);
    a[1] = RS_REG_COUNT + 1;
    fx_expect_error(op(RS_TCB_READ_REGISTERS, a, 2, NULL, 0), RS_RANGE_ERROR, 1, 0, RS_REG_COUNT);
    fx_expect_error(op(RS_TCB_WRITE_REGISTERS, a, 2, NULL, 0), RS_RANGE_ERROR, 1, 0, RS_REG_COUNT);
    a[1] = 3; // RIP, RSP, RFLAGS announced, only two sent
    fx_expect_error(op(RS_TCB_WRITE_REGISTERS, a, 4, NULL, 0), RS_TRUNCATED_MESSAGE, 5, 4, 0);
    // a thread reads and writes no registers of its own (it is running)
    struct slot *self = fx_put(
        9, (struct cap){.type = RS_CAP_TCB, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)fx.caller});
    a[1] = 1;
    fx_expect_error(fx_invoke(self, RS_TCB_READ_REGISTERS, a, 2, NULL, 0), RS_ILLEGAL_OPERATION, 0,
                    0, 0);
    fx_expect_error(fx_invoke(self, RS_TCB_WRITE_REGISTERS, a, 3, NULL, 0), RS_ILLEGAL_OPERATION, 0,
                    0, 0);
}

Test(tcb, written_addresses_must_be_user_ones)
{
    target->ctx.rip = 0x1000;
    target->ctx.rsp = 0x2000;
    uint64_t a[2 + RS_REG_COUNT] = {0, RS_REG_COUNT};
    a[2 + RS_REG_RIP] = 0x401000;
    a[2 + RS_REG_RSP] = RS_USER_TOP; // a stack may end right at the top
    a[2 + RS_REG_FS_BASE] = 0x500000;
    uint64_t bad[3][2] = {
        {RS_REG_RIP, RS_USER_TOP}, {RS_REG_RSP, RS_USER_TOP + 8}, {RS_REG_FS_BASE, 1ull << 63}};
    for (int i = 0; i < 3; i++) {
        uint64_t b[2 + RS_REG_COUNT];
        memcpy(b, a, sizeof(b));
        b[2 + bad[i][0]] = bad[i][1];
        fx_expect_error(op(RS_TCB_WRITE_REGISTERS, b, 2 + RS_REG_COUNT, NULL, 0),
                        RS_INVALID_ARGUMENT, 2 + bad[i][0], 0, 0);
        cr_expect_eq(target->ctx.rip, 0x1000, "registers unchanged");
        cr_expect_eq(target->ctx.rsp, 0x2000, "registers unchanged");
    }
    cr_expect_eq(op(RS_TCB_WRITE_REGISTERS, a, 2 + RS_REG_COUNT, NULL, 0), RS_OK);
    cr_expect_eq(target->ctx.rip, 0x401000);
    cr_expect_eq(target->ctx.fs_base, 0x500000);
}

Test(tcb, notification_binding_rejections)
{
    unsigned not_ntfn[1] = {EP}, n[1] = {NTFN};
    fx_expect_error(op(RS_TCB_BIND_NOTIFICATION, NULL, 0, NULL, 0), RS_INVALID_CAPABILITY, 1, 0, 0);
    fx_expect_error(op(RS_TCB_BIND_NOTIFICATION, NULL, 0, not_ntfn, 1), RS_INVALID_CAPABILITY, 1, 0,
                    0);
    fx_expect_error(op(RS_TCB_UNBIND_NOTIFICATION, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION, 0, 0,
                    0);
    cr_assert_eq(op(RS_TCB_BIND_NOTIFICATION, NULL, 0, n, 1), RS_OK);
    fx_expect_error(op(RS_TCB_BIND_NOTIFICATION, NULL, 0, n, 1), RS_ILLEGAL_OPERATION, 1, 0, 0);
    // a notification bound to another thread
    struct tcb *other = fx_new_tcb();
    notification_unbind(&ntfn_obj);
    notification_bind(&ntfn_obj, other);
    fx_expect_error(op(RS_TCB_BIND_NOTIFICATION, NULL, 0, n, 1), RS_ILLEGAL_OPERATION, 1, 0, 0);
    cr_expect_null(target->bound_ntfn);
    cr_expect_eq(ntfn_obj.bound, other);
    notification_unbind(&ntfn_obj);
}

Test(tcb, tls_base_and_name_rejections)
{
    uint64_t a[2] = {RS_USER_TOP, 0};
    fx_expect_error(op(RS_TCB_SET_TLS_BASE, a, 0, NULL, 0), RS_TRUNCATED_MESSAGE, 1, 0, 0);
    fx_expect_error(op(RS_TCB_SET_TLS_BASE, a, 1, NULL, 0), RS_INVALID_ARGUMENT, 0, 0, 0);
    cr_expect_eq(target->ctx.fs_base, 0);
    fx_expect_error(op(RS_TCB_SET_NAME, a, 1, NULL, 0), RS_TRUNCATED_MESSAGE, 2, 1, 0);
    cr_expect_eq(target->name[0], 0);
}
