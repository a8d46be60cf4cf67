// SPDX-License-Identifier: MIT
// Robustness: a child with a small CSpace of its own objects throws thousands of random system
// calls and invocations at the kernel (random cptrs including garbage, syscall numbers, labels,
// message words, lengths and extra caps), then reports over IPC. init keeps it going whatever
// it does to itself (blocks, suspends, breaks its CSpace or VSpace) and then checks that the
// child and the kernel still work. The PRNG is xorshift64 with a fixed seed printed in the log.
#include "suites.h"

#define ME           RS_INIT_CNODE
#define D            PS_DEPTH
#define FUZZ_MS      40000 /* give up after this long */
#define FUZZ_SLOTS   13    /* the child's slots 1..12 hold caps */
#define REPORT_CPTR  2     /* in the CSpace init installs for the report */
#define MAX_CHILDREN 2

/* What a child and init share (the page at CHILD_SHARED_VADDR). */
struct fuzz_shared {
    uint64_t calls;        /* how many to make (set by init) */
    uint64_t prng;         /* xorshift64 state, seeded by init */
    uint64_t percent_call; /* how often the syscall is Call (the rest: any number 0..20) */
    uint64_t structured;   /* arguments mostly valid: labels, slots 1..63, depth 64, types */
    uint64_t count;        /* calls made so far */
    uint64_t done;         /* the child finished its calls */
    uint64_t go;           /* init installed the report CSpace */
    uint64_t last[4];      /* the call in progress: number, cptr, info, MR0 */
    uint64_t results[RS_ERROR_COUNT + 1]; /* statuses seen; the last entry counts others */
};

/* Argument words favour the values that get past the first checks. */
static uint64_t fuzz_word(uint64_t *s)
{
    uint64_t r = xorshift(s);
    switch (r & 7) {
    case 0: return (r >> 8) & 15;
    case 1: return (r >> 8) & 255;
    case 2: return (r >> 8) & 1 ? 64 : ((r >> 9) % 65);
    case 3: return (r >> 8) % (RS_OBJ_TYPE_COUNT + 1);
    case 4: return 1ul << ((r >> 8) & 63);
    case 5: return (r >> 8) & 0x00007FFFFFFFF000ul;
    case 6: return xorshift(s);
    default: return 0;
    }
}

/* Mostly the slots that hold caps, sometimes any slot, sometimes garbage. */
static rs_cptr_t fuzz_cptr(uint64_t *s)
{
    uint64_t r = xorshift(s);
    switch (r & 7) {
    case 6: return (r >> 8) & 255;
    case 7: return xorshift(s);
    default: return 1 + (r >> 8) % (FUZZ_SLOTS - 1);
    }
}

/* Structured mode: 70% the slots that hold caps, 20% the others of 1..63, 10% garbage. */
static rs_cptr_t fuzz_cptr_structured(uint64_t *s)
{
    uint64_t r = xorshift(s), p = (r & 0xFF) % 10;
    if (p < 7) return 1 + (r >> 8) % (FUZZ_SLOTS - 1);
    if (p < 9) return FUZZ_SLOTS + (r >> 8) % (64 - FUZZ_SLOTS);
    return xorshift(s);
}

/* Structured mode: words that name slots 0..63, depth 64, object types and sizes, addresses in
 * one window (where the child's maps meet the tables it made before), small numbers. */
static uint64_t fuzz_word_structured(uint64_t *s)
{
    uint64_t r = xorshift(s);
    switch (r & 7) {
    case 0:
    case 1: return (r >> 8) & 63;
    case 2:
    case 3: return 64;
    case 4: return (r >> 8) % RS_OBJ_TYPE_COUNT;
    case 5: return 0x0000100000000000ul + (((r >> 8) & 0x3FF) << 12);
    case 6: return (r >> 8) & 15;
    default: return xorshift(s);
    }
}

static rs_word_t fuzz_label(uint64_t *s, bool structured)
{
    static const uint8_t valid[] = {1,  10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25, 26,
                                    27, 28, 29, 30, 31, 40, 41, 42, 43, 44, 50, 51, 52, 53,
                                    55, 56, 57, 58, 59, 60, 61, 70, 71, 72, 73, 74, 75, 76};
    uint64_t r = xorshift(s);
    if (structured && (r & 7) != 0) return valid[(r >> 3) % sizeof(valid)];
    return (r >> 3) % 101;
}

/* One random system call. The PRNG state and the count are saved before the call is made, so
 * that a thread restarted while blocked in it goes on with the next one. */
static void fuzz_one(volatile struct fuzz_shared *sh)
{
    uint64_t seed = sh->prng, *s = &seed, r = xorshift(s);
    uint64_t nr = (r & 127) % 100 < sh->percent_call ? RS_SYS_CALL : (r >> 1) % 21;
    // the debug calls that print or power off would only spoil the log
    if (nr == RS_SYS_DEBUG_SHUTDOWN || nr == RS_SYS_DEBUG_PUTCHAR || nr == RS_SYS_DEBUG_WRITE)
        nr = RS_SYS_YIELD;
    bool st = sh->structured;
    unsigned len = (r >> 8) & 1 || st ? (r >> 9) & 7 : (r >> 9) & 127;
    rs_word_t label = fuzz_label(s, st);
    rs_msginfo_t info = rs_msginfo(label, (unsigned)(r >> 24), (unsigned)(r >> 28), len);
    rs_ipc_buffer_t *b = rs_ipc_buffer();
    for (unsigned i = 0; i < len && i < RS_MSG_MAX_LENGTH; i++)
        b->mr[i] = st ? fuzz_word_structured(s) : fuzz_word(s);
    for (unsigned i = 0; i < RS_MSG_MAX_EXTRA_CAPS; i++)
        b->caps_or_badges[i] = st ? fuzz_cptr_structured(s) : fuzz_cptr(s);
    b->receive_cnode = (r >> 32) & 1 ? PS_SLOT_CNODE : fuzz_cptr(s);
    b->receive_index = fuzz_word(s) & 255;
    b->receive_depth = (r >> 33) & 1 ? PS_DEPTH : fuzz_word(s);
    rs_cptr_t c = st ? fuzz_cptr_structured(s) : fuzz_cptr(s);
    sh->last[0] = nr, sh->last[1] = c, sh->last[2] = info, sh->last[3] = b->mr[0];
    sh->prng = seed;
    sh->count++;
    uint64_t e = rs_syscall(nr, c, info).error;
    sh->results[e < RS_ERROR_COUNT ? e : RS_ERROR_COUNT]++;
}

/* The fuzzing child. All its state is in the shared page, so init may restart it from the top
 * at any moment (whatever the calls did to its registers) and it carries on. */
static void child_fuzz(uint64_t arg)
{
    volatile struct fuzz_shared *sh = (volatile struct fuzz_shared *)CHILD_SHARED_VADDR;
    while (sh->count < sh->calls) fuzz_one(sh);
    sh->done = 1;
    while (!sh->go) rs_yield();
    // the CSpace is init's now: report, hear back, confirm
    rs_mr_set(0, sh->count);
    rs_result_t r = rs_call(REPORT_CPTR, rs_msginfo(1, 0, 0, 1));
    rs_mr_set(0, r.error == RS_OK ? rs_mr_get(0) : ~0ul);
    rs_send(REPORT_CPTR, rs_msginfo(2, 0, 0, 1));
}

struct fuzz {
    ps_process_t p;
    volatile struct fuzz_shared *sh;
    uint64_t start_regs[RS_REG_COUNT]; /* the thread's registers before it first ran */
    rs_cptr_t objects;                 /* untyped that all the child's own objects come from */
    unsigned kicks, revokes;
};

struct fuzz_plan {
    uint64_t seed, calls, percent_call, structured;
    unsigned children; /* with 2, the children share an endpoint and a notification */
};

static const struct {
    unsigned type, bits;
} own_objects[] = {
    {RS_OBJ_ENDPOINT, 0}, {RS_OBJ_NOTIFICATION, 0}, {RS_OBJ_FRAME, 0}, {RS_OBJ_UNTYPED, 16},
    {RS_OBJ_CNODE, 4},    {RS_OBJ_ENDPOINT, 0},     {RS_OBJ_TCB, 0},
};

/* Fills the child's empty slots among 4..10 with new objects of its own (a slot it keeps busy
 * answers RS_DELETE_FIRST and is left alone); when their untyped is full, everything made from
 * it goes and it starts again. The endpoint in 9 is badged. */
static void refill(struct fuzz *f)
{
    for (unsigned i = 0; i < sizeof(own_objects) / sizeof(own_objects[0]); i++) {
        int err = ps_untyped_retype(f->objects, ME, own_objects[i].type, own_objects[i].bits,
                                    f->p.cnode, D, 4 + i, 1);
        if (err == RS_NOT_ENOUGH_MEMORY) {
            f->revokes++;
            CHECK_OK(ps_cnode_revoke(ME, f->objects, D));
            err = ps_untyped_retype(f->objects, ME, own_objects[i].type, own_objects[i].bits,
                                    f->p.cnode, D, 4 + i, 1);
        }
        if (err == RS_OK && i == 5) { // badge it: mint a badged copy over the plain one
            rs_cptr_t tmp = new_slot();
            if (tmp && !ps_cnode_move(ME, tmp, D, f->p.cnode, 9, D))
                ps_cnode_mint(f->p.cnode, 9, D, ME, tmp, D, RS_RIGHTS_ALL, 0xB0B);
        }
        if (err != RS_OK && err != RS_DELETE_FIRST)
            FAIL("refilling slot %u: %s", 4 + i, rs_error_name(err));
    }
}

/* The child's own objects (slots 4..10) and the ones the children share (11 and 12). */
static int give_objects(struct fuzz *f, rs_cptr_t shared_ep, rs_cptr_t shared_ntfn)
{
    refill(f);
    int err = RS_OK;
    if (shared_ep) err = ps_process_give(&f->p, 11, shared_ep, RS_RIGHTS_ALL, 0x5A + f->p.block);
    if (!err && shared_ntfn)
        err = ps_process_give(&f->p, 12, shared_ntfn, RS_RIGHTS_ALL, 1ul << (f->p.block % 64));
    return err;
}

/* Puts the child back on its feet: its CSpace root (`root`), VSpace, IPC buffer and priority,
 * no fault handler or binding, its own objects refilled, and its thread restarted from the top
 * (Suspend takes it out of any blocking call; its registers may be anything by now: another
 * child may hold its TCB). If Configure refuses because the child's current root is the last cap
 * to an object the child made, those objects are all revoked first. */
static void repair(struct fuzz *f, rs_cptr_t root)
{
    rs_cptr_t tcb = f->p.tcb;
    CHECK_OK(ps_tcb_suspend(tcb));
    int err = ps_tcb_configure(tcb, root, f->p.vspace, f->p.ipc_frame, f->p.ipc_vaddr);
    if (err == RS_REVOKE_FIRST) {
        f->revokes++;
        ps_cnode_revoke(ME, f->objects, D);
        err = ps_tcb_configure(tcb, root, f->p.vspace, f->p.ipc_frame, f->p.ipc_vaddr);
    }
    CHECK_OK(err);
    CHECK_OK(ps_tcb_set_priority(tcb, RS_INIT_TCB, TEST_PRIO));
    ps_tcb_set_fault_handler(tcb, 0); // fails (harmlessly) when that is the endpoint's last cap
    ps_tcb_unbind_notification(tcb);  // fails when not bound
    refill(f);
    CHECK_OK(ps_tcb_write_registers(tcb, true, RS_REG_COUNT, f->start_regs));
    f->kicks++;
}

/* Lets the children run until each is done, kicking one whenever a few yields bring it no
 * progress (it then blocks or is stopped: with equal priorities it runs whenever init yields). */
static bool supervise(struct fuzz *f, unsigned n)
{
    uint64_t end = now_ms() + FUZZ_MS, last[MAX_CHILDREN] = {0};
    unsigned idle[MAX_CHILDREN] = {0}, done = 0;
    while (done < n) {
        if (now_ms() > end) return false;
        rs_yield();
        done = 0;
        for (unsigned i = 0; i < n; i++) {
            volatile struct fuzz_shared *sh = f[i].sh;
            if (sh->done) {
                done++;
            } else if (sh->count != last[i]) {
                last[i] = sh->count;
                idle[i] = 0;
            } else if (++idle[i] >= 3) {
                repair(&f[i], f[i].p.cnode);
                idle[i] = 0;
            }
        }
    }
    return true;
}

/* A fresh CSpace for the report: slot 1 the child's TCB, slot REPORT_CPTR the report endpoint. */
static rs_cptr_t report_cspace(struct fuzz *f, rs_cptr_t report, uint64_t badge)
{
    rs_cptr_t cn = new_object(RS_OBJ_CNODE, 2), g = new_slot();
    if (!cn || !g) return 0;
    if (!CHECK_OK(ps_cnode_mint(ME, g, D, ME, cn, D, RS_RIGHTS_ALL, ps_cnode_guard(62, 0))) ||
        !CHECK_OK(ps_cnode_copy(cn, 1, 2, ME, f->p.tcb, D)) ||
        !CHECK_OK(ps_cnode_mint(cn, REPORT_CPTR, 2, ME, report, D, RS_RIGHTS_ALL, badge)))
        return 0;
    return g;
}

static void print_results(const struct fuzz *f, unsigned i)
{
    const volatile struct fuzz_shared *sh = f->sh;
    char line[400];
    int n = rt_snprintf(line, sizeof(line),
                        "[fuzz] child %u: %lu calls, %u kicks, %u revokes; statuses:", i, sh->count,
                        f->kicks, f->revokes);
    for (unsigned e = 0; e <= RS_ERROR_COUNT && n < (int)sizeof(line); e++)
        if (sh->results[e])
            n += rt_snprintf(line + n, sizeof(line) - (size_t)n, " %s=%lu",
                             e < RS_ERROR_COUNT ? rs_error_name((int)e) : "other", sh->results[e]);
    rt_printf("%s\n", line);
}

/* Creates child i with its own objects and the shared ones, seeded from the plan. */
static bool fuzz_child(struct fuzz *f, const struct fuzz_plan *plan, unsigned i, rs_cptr_t ep,
                       rs_cptr_t n)
{
    f->objects = new_object(RS_OBJ_UNTYPED, 18);
    if (!f->objects) return false;
    uint64_t seed = plan->seed + i * 0x9E3779B97F4A7C15ul;
    // no fault handler: a fault stops the child rather than blocking it on a handler
    if (!CHECK_OK(child_create(&f->p, child_fuzz, 0, 0))) return false;
    if (!CHECK_OK(ps_tcb_read_registers(f->p.tcb, false, RS_REG_COUNT, f->start_regs)))
        return false;
    f->sh = (volatile struct fuzz_shared *)child_share(&f->p);
    if (!f->sh) return false;
    f->sh->prng = seed;
    f->sh->calls = plan->calls;
    f->sh->percent_call = plan->percent_call;
    f->sh->structured = plan->structured;
    return CHECK_OK(give_objects(f, ep, n));
}

/* The child reports through a fresh CSpace, hears back, and confirms: it is alive and IPC works. */
static void final_report(struct fuzz *f, rs_cptr_t report, uint64_t badge, uint64_t calls)
{
    rs_cptr_t root = report_cspace(f, report, badge);
    REQUIRE(root);
    repair(f, root);
    f->sh->go = 1;
    rs_result_t r;
    REQUIRE_OK(wait_recv(report, WAIT_MS, &r));
    CHECK_EQ(rs_msginfo_label(r.info), 1);
    CHECK_EQ(r.badge, badge);
    CHECK_EQ(rs_mr_get(0), calls);
    rs_mr_set(0, 0xA11FE + badge);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 1)).error);
    REQUIRE_OK(wait_recv(report, WAIT_MS, &r));
    CHECK_EQ(rs_msginfo_label(r.info), 2);
    CHECK_EQ(rs_mr_get(0), 0xA11FE + badge);
}

/* Afterwards the kernel still makes objects and carries IPC to a new process. */
static void child_echo(uint64_t arg) { child_report(1, arg + 1, 0, 0, 0); }

static void kernel_still_works(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), tcb = new_object(RS_OBJ_TCB, 0);
    rs_cptr_t cn = new_object(RS_OBJ_CNODE, 6), big = new_object(RS_OBJ_LARGE_FRAME, 0);
    REQUIRE(report && tcb && cn && big);
    ps_process_t p;
    REQUIRE(child_spawn(&p, child_echo, 41, report));
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], 42);
}

static void fuzz_run(struct fuzz_plan plan)
{
    static struct fuzz f[MAX_CHILDREN];
    plan.seed = cmdline_number("fuzz_seed", plan.seed);
    plan.calls = cmdline_number("fuzz_calls", plan.calls);
    rt_printf("[fuzz] seed 0x%lx, %lu calls per child, %u child%s, %lu%% Call%s\n", plan.seed,
              plan.calls, plan.children,
              plan.children > 1 ? "ren sharing an endpoint and a notification" : "",
              plan.percent_call, plan.structured ? ", structured" : "");
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ep = 0, n = 0;
    REQUIRE(report);
    if (plan.children > 1)
        REQUIRE((ep = new_object(RS_OBJ_ENDPOINT, 0)) && (n = new_object(RS_OBJ_NOTIFICATION, 0)));
    for (unsigned i = 0; i < plan.children; i++) {
        f[i] = (struct fuzz){0};
        REQUIRE(fuzz_child(&f[i], &plan, i, ep, n));
    }
    for (unsigned i = 0; i < plan.children; i++) REQUIRE_OK(ps_process_start(&f[i].p));
    bool finished = supervise(f, plan.children);
    for (unsigned i = 0; i < plan.children; i++) print_results(&f[i], i);
    for (unsigned i = 0; i < plan.children && !finished; i++)
        if (!f[i].sh->done)
            FAIL("child %u made only %lu calls in %u ms (last: syscall %lu cptr %lx info %lx)", i,
                 f[i].sh->count, FUZZ_MS, f[i].sh->last[0], f[i].sh->last[1], f[i].sh->last[2]);
    if (!finished) return;
    for (unsigned i = 0; i < plan.children; i++)
        final_report(&f[i], report, CHILD_BADGE + i, plan.calls);
    kernel_still_works();
}

static void fuzz_one_child(void)
{
    fuzz_run((struct fuzz_plan){
        .seed = 0x5EEDF00DCAFE1234ul, .calls = 12000, .percent_call = 50, .children = 1});
}

static void fuzz_invocations(void)
{
    fuzz_run((struct fuzz_plan){
        .seed = 0x0123456789ABCDEFul, .calls = 30000, .percent_call = 90, .children = 1});
}

static void fuzz_two_children(void)
{
    fuzz_run((struct fuzz_plan){
        .seed = 0xFEEDFACE00C0FFEEul, .calls = 15000, .percent_call = 60, .children = 2});
}

static void fuzz_structured(void)
{
    fuzz_run((struct fuzz_plan){.seed = 0xA5A5F00D12345678ul,
                                .calls = 40000,
                                .percent_call = 85,
                                .structured = 1,
                                .children = 1});
}

const struct test fuzz_tests[] = {
    {"FUZZ-0001", "a child throwing 12000 random calls at the kernel leaves it and itself working",
     fuzz_one_child},
    {"FUZZ-0002", "30000 random invocations of the child's own objects leave the kernel working",
     fuzz_invocations},
    {"FUZZ-0003",
     "two children fuzzing a shared endpoint and notification leave the kernel working",
     fuzz_two_children},
    {"FUZZ-0004",
     "40000 mostly well-formed invocations (valid labels, slots, depths, types) leave the kernel "
     "working",
     fuzz_structured},
    {0},
};
