/* SPDX-License-Identifier: MIT */
/* A fixture for host tests of one object's invocations (test_cnode.c, test_tcb.c): a caller
 * thread with an IPC buffer and a single-level root CNode, an invocation sent as user code would
 * send it, and checks of the error and its three detail words. */
#pragma once
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <resurgo/ipcbuf.h>
#include "cdt.h"
#include "invoke.h"
#include "tcb.h"
#include "msgreg.h"
#include "fake_arch.h"

enum {
    FIX_ROOT_RADIX = 8, /* 256 slots; the guard makes the CNode resolve cptrs of depth 64 */
    FIX_IPCBUF_VADDR = 0x10000000,
};

static struct {
    struct tcb *caller;
    struct rs_ipc_buffer *ipcbuf;
    struct slot root; /* the caller's root CNode cap (outside the CNode, as a TCB would hold it) */
    struct slot *cnode;  /* its slots */
    unsigned out_length; /* result words the last invocation wrote */
} fx;

/* Every allocation is freed after the test, so LeakSanitizer sees a clean exit. */
static void *fx_allocs[32];
static int fx_nallocs;

static void *fx_alloc(size_t align, size_t size)
{
    void *p = aligned_alloc(align, size);
    cr_assert_not_null(p);
    memset(p, 0, size);
    cr_assert_lt(fx_nallocs, 32);
    return fx_allocs[fx_nallocs++] = p;
}

static void fx_free_all(void)
{
    while (fx_nallocs) free(fx_allocs[--fx_nallocs]);
    memset(&fx, 0, sizeof(fx));
}

/* A CNode cap of `radix` slots whose guard makes it a single-level CSpace for depth-64 cptrs. */
static struct cap fx_cnode_cap(struct slot *slots, unsigned radix)
{
    struct cap c = {.type = RS_CAP_CNODE,
                    .rights = RS_RIGHTS_ALL,
                    .bits = (uint8_t)radix,
                    .obj = (uintptr_t)slots};
    cap_set_guard(&c, 64 - radix, 0);
    return c;
}

/* A fresh TCB object. */
static struct tcb *fx_new_tcb(void)
{
    struct tcb *t = fx_alloc(1u << RS_TCB_BITS, 1u << RS_TCB_BITS);
    tcb_init(t);
    return t;
}

/* The caller, with an IPC buffer and the root CNode as its CSpace. */
static void fx_world(void)
{
    fx.caller = fx_new_tcb();
    uint8_t *frame = fx_alloc(4096, 4096);
    fx.caller->slots[TCB_SLOT_IPCBUF].cap = (struct cap){
        .type = RS_CAP_FRAME, .rights = RS_RIGHTS_ALL, .bits = 12, .obj = (uintptr_t)frame};
    fx.caller->ipc_buffer_vaddr = FIX_IPCBUF_VADDR;
    fx.ipcbuf = (struct rs_ipc_buffer *)frame;
    fx.cnode = fx_alloc(64, sizeof(struct slot) << FIX_ROOT_RADIX);
    fx.root.cap = fx_cnode_cap(fx.cnode, FIX_ROOT_RADIX);
    cdt_insert(NULL, &fx.root);
    fx.caller->slots[TCB_SLOT_CSPACE].cap = fx.root.cap;
}

/* Puts an original cap (no parent) into root slot i; returns the slot. */
static struct slot *fx_put(unsigned i, struct cap c)
{
    struct slot *s = &fx.cnode[i];
    s->cap = c;
    cdt_insert(NULL, s);
    return s;
}

/* Invokes the cap in `slot` with `label`, the n argument words `args` (MR0..MR3 in registers,
 * the rest in the IPC buffer) and the extra caps `extra`, through the central dispatcher. */
static int fx_invoke(struct slot *slot, uint64_t label, const uint64_t *args, unsigned n,
                     struct slot *const *extra, unsigned nextra)
{
    struct invocation inv = {.caller = fx.caller,
                             .slot = slot,
                             .cap = &slot->cap,
                             .label = label,
                             .length = n,
                             .extra_count = nextra};
    for (unsigned i = 0; i < nextra; i++) inv.extra[i] = extra[i];
    // stale detail must not pass for fresh detail
    for (unsigned i = 0; i < 3; i++) msgreg_set(fx.caller, fx.ipcbuf, i, 0xBAD0 + i);
    for (unsigned i = 0; i < n; i++) msgreg_set(fx.caller, fx.ipcbuf, i, args[i]);
    int err = invoke_cap(&inv);
    fx.out_length = inv.out_length;
    return err;
}

static uint64_t fx_mr(unsigned i) { return msgreg_get(fx.caller, fx.ipcbuf, i); }

/* The error and its three detail words, as resurgo/errors.h and invocation.h define them. */
static void fx_expect_error(int got, int err, uint64_t d0, uint64_t d1, uint64_t d2)
{
    cr_expect_eq(got, err, "error %d (%s), expected %d (%s)", got, rs_error_name(got), err,
                 rs_error_name(err));
    cr_expect_eq(fx_mr(0), d0, "MR0 %#lx, expected %#lx", (unsigned long)fx_mr(0),
                 (unsigned long)d0);
    cr_expect_eq(fx_mr(1), d1, "MR1 %#lx, expected %#lx", (unsigned long)fx_mr(1),
                 (unsigned long)d1);
    cr_expect_eq(fx_mr(2), d2, "MR2 %#lx, expected %#lx", (unsigned long)fx_mr(2),
                 (unsigned long)d2);
    cr_expect_eq(fx.out_length, 3, "error detail is three words");
}
