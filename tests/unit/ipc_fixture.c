// SPDX-License-Identifier: MIT
// The IPC tests' shared world and system call entry (see ipc_fixture.h).
#include "ipc_fixture.h"

struct ipc_world w;

static void *allocs[64];
static int nallocs;

void *alloc(size_t align, size_t size)
{
    size = (size + align - 1) & ~(align - 1); /* aligned_alloc wants a multiple of the alignment */
    void *p = aligned_alloc(align, size);
    cr_assert_not_null(p);
    memset(p, 0, size);
    cr_assert_lt(nallocs, 64);
    return allocs[nallocs++] = p;
}

void ipc_setup(void)
{
    w.cn = alloc(64, sizeof(struct slot) << RADIX);
    w.ep = alloc(32, sizeof(struct endpoint));
    w.ep2 = alloc(32, sizeof(struct endpoint));
    w.ntfn = alloc(32, sizeof(struct notification));
    w.vspace = alloc(4096, 4096);
    struct cap ep = {.type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.ep};
    w.cn[EP].cap = ep;
    cdt_insert(NULL, &w.cn[EP]);
    struct slot *copies[] = {&w.cn[EP_BADGED], &w.cn[EP_NOGRANT], &w.cn[EP_RO], &w.cn[EP_WO]};
    for (int i = 0; i < 4; i++) {
        copies[i]->cap = ep;
        cdt_insert(&w.cn[EP], copies[i]);
    }
    w.cn[EP_BADGED].cap.w1 = 0xB1;
    w.cn[EP_NOGRANT].cap.w1 = 0xB2;
    w.cn[EP_NOGRANT].cap.rights = RS_RIGHT_READ | RS_RIGHT_WRITE;
    w.cn[EP_RO].cap.rights = RS_RIGHT_READ;
    w.cn[EP_WO].cap.rights = RS_RIGHT_WRITE;
    w.cn[EP2].cap =
        (struct cap){.type = RS_CAP_ENDPOINT, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.ep2};
    cdt_insert(NULL, &w.cn[EP2]);
    w.cn[NTFN].cap = (struct cap){
        .type = RS_CAP_NOTIFICATION, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.ntfn, .w1 = 0x8};
    cdt_insert(NULL, &w.cn[NTFN]);
    /* guard 60 + radix 4: a single-level CSpace, which the fast path resolves inline */
    w.cn[SELF].cap = (struct cap){
        .type = RS_CAP_CNODE, .rights = RS_RIGHTS_ALL, .bits = RADIX, .obj = (uintptr_t)w.cn};
    cap_set_guard(&w.cn[SELF].cap, 64 - RADIX, 0); /* (marks it CAP_FLAG_FLAT) */
    cdt_insert(NULL, &w.cn[SELF]);
    /* the VSpace every thread here runs in is the loaded one (see arch_cr3 in fake_arch.c) */
    arch_cr3 = VIRT_TO_PHYS(w.vspace);
}

void ipc_teardown(void)
{
    while (nallocs) free(allocs[--nallocs]);
}


/* A thread as Retype and Configure would leave it: CSpace = the shared CNode, a VSpace, not
 * running yet (TS_INACTIVE, like a new TCB). */
struct tcb *thread(const char *name, uint8_t prio)
{
    struct tcb *t = alloc(1u << RS_TCB_BITS, 1u << RS_TCB_BITS);
    tcb_init(t);
    t->prio = prio;
    t->mcp = 255;
    strncpy(t->name, name, sizeof(t->name) - 1);
    t->slots[TCB_SLOT_CSPACE].cap = w.cn[SELF].cap;
    t->slots[TCB_SLOT_VSPACE].cap = (struct cap){
        .type = RS_CAP_VSPACE, .rights = RS_RIGHTS_ALL, .obj = (uintptr_t)w.vspace, .small = 1};
    return t;
}

/* A thread that is runnable (queued at the tail of its priority). */
struct tcb *running(const char *name, uint8_t prio)
{
    struct tcb *t = thread(name, prio);
    sched_make_runnable(t, false);
    return t;
}

/* Gives t an IPC buffer frame (mapped at a non-page-aligned address, as Configure allows). */
struct rs_ipc_buffer *give_ipcbuf(struct tcb *t)
{
    uint8_t *frame = alloc(4096, 4096);
    t->slots[TCB_SLOT_IPCBUF].cap = (struct cap){
        .type = RS_CAP_FRAME, .rights = RS_RIGHTS_ALL, .bits = 12, .obj = (uintptr_t)frame};
    t->ipc_buffer_vaddr = 0x20000800;
    return (struct rs_ipc_buffer *)(frame + 0x800);
}

void set_msg(struct tcb *t, uint64_t label, unsigned len, uint64_t m0, uint64_t m1, uint64_t m2,
             uint64_t m3)
{
    t->ctx.rsi = rs_msginfo(label, 0, 0, len);
    t->ctx.rdx = m0;
    t->ctx.r8 = m1;
    t->ctx.r9 = m2;
    t->ctx.r10 = m3;
}

struct cap *cap(unsigned slot) { return &w.cn[slot].cap; }

/* Checks what a thread's syscall returned: status, message info and badge. */
void expect_received(const struct tcb *t, int status, uint64_t info, uint64_t badge)
{
    cr_expect_eq(t->ctx.rax, (uint64_t)status, "%s: status %lu, expected %d", t->name,
                 (unsigned long)t->ctx.rax, status);
    cr_expect_eq(t->ctx.rsi, info, "%s: info %#lx, expected %#lx", t->name,
                 (unsigned long)t->ctx.rsi, (unsigned long)info);
    cr_expect_eq(t->ctx.rdi, badge, "%s: badge %#lx, expected %#lx", t->name,
                 (unsigned long)t->ctx.rdi, (unsigned long)badge);
}

void expect_mrs(const struct tcb *t, uint64_t m0, uint64_t m1, uint64_t m2, uint64_t m3)
{
    cr_expect_eq(t->ctx.rdx, m0, "%s: MR0 %#lx", t->name, (unsigned long)t->ctx.rdx);
    cr_expect_eq(t->ctx.r8, m1, "%s: MR1 %#lx", t->name, (unsigned long)t->ctx.r8);
    cr_expect_eq(t->ctx.r9, m2, "%s: MR2 %#lx", t->name, (unsigned long)t->ctx.r9);
    cr_expect_eq(t->ctx.r10, m3, "%s: MR3 %#lx", t->name, (unsigned long)t->ctx.r10);
}

/* The run queue, highest priority first, read out by dequeuing (which empties it). The links
 * are checked on the way: dequeuing would repair a stale back link and hide it. */
int drain_run_queue(struct tcb **out, int max)
{
    int n = 0;
    for (struct tcb *t; (t = sched_pick()) && n < max;) {
        cr_expect_null(t->sched_prev, "%s heads its queue but has a predecessor", t->name);
        if (t->sched_next)
            cr_expect_eq(t->sched_next->sched_prev, t, "%s: stale back link after %s",
                         t->sched_next->name, t->name);
        out[n++] = t;
        sched_dequeue(t);
    }
    cr_expect_null(sched_pick(), "run queue longer than %d", max);
    return n;
}

void expect_run_queue(struct tcb *const *expect, int n)
{
    struct tcb *got[16];
    int m = drain_run_queue(got, 16);
    cr_expect_eq(m, n, "run queue has %d threads, expected %d", m, n);
    for (int i = 0; i < n && i < m; i++)
        cr_expect_eq(got[i], expect[i], "run queue position %d: %s, expected %s", i, got[i]->name,
                     expect[i]->name);
}

void expect_ep_queue(const struct endpoint *ep, int state, struct tcb *const *expect, int n)
{
    cr_expect_eq(ep->state, state, "endpoint state %d, expected %d", ep->state, state);
    const struct tcb *t = ep->head, *prev = NULL;
    for (int i = 0; i < n; i++, prev = t, t = t->queue_next) {
        cr_assert_not_null(t, "endpoint queue ends at %d, expected %d", i, n);
        cr_expect_eq(t, expect[i], "endpoint queue position %d: %s, expected %s", i, t->name,
                     expect[i]->name);
        cr_expect_eq(t->queue_prev, prev, "back link at %d", i);
        cr_expect_eq(t->blocked_on, ep);
    }
    cr_expect_null(t, "endpoint queue longer than %d", n);
    cr_expect_eq(ep->tail, prev, "tail");
}

void expect_ep_idle(const struct endpoint *ep)
{
    cr_expect_eq(ep->state, EP_IDLE);
    cr_expect(!ep->head && !ep->tail, "idle endpoint has a queue");
}

/* ---- The system call entry ------------------------------------------------------------------- */

/* The fast path hands whatever it declines to syscall_slowpath. The test binaries are linked with
 * --wrap=syscall_slowpath, so every entry into the slow path is counted here on its way through. */
int slow_entries;
_Noreturn void __real_syscall_slowpath(struct tcb *t);
_Noreturn void __wrap_syscall_slowpath(struct tcb *t)
{
    slow_entries++;
    __real_syscall_slowpath(t);
}

/* What entry.S does after saving the registers of `cur`. */
_Noreturn void syscall_entry(void)
{
    if (cur->ctx.rax == RS_SYS_CALL) fastpath_call(cur);
    if (cur->ctx.rax == RS_SYS_REPLY_RECV) fastpath_reply_recv(cur);
    if (cur->ctx.rax == RS_SYS_SEND) fastpath_send(cur);
    syscall_slowpath(cur);
}
