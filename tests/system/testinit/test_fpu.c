// SPDX-License-Identifier: MIT
// FPU/SSE tests: each thread has its own x87, MXCSR and XMM0-15 state. Threads in other and in
// the same address space load distinct values and switch to each other many times; a new thread
// starts with the reset state, never another thread's registers; a guest's run leaves the host
// thread's registers alone, and the guest's survive the host's.
#include "suites.h"
#include <resurgo/vcpu.h>

#define ME     RS_INIT_CNODE
#define ROUNDS 300 /* yields, each a switch to the other threads and back */

/* What a thread loads: XMM0-15, eight x87 integers, FCW and MXCSR (the rounding control). */
struct fpu_pattern {
    uint64_t xmm[32];
    int64_t st[8];
    uint32_t mxcsr;
    uint16_t fcw;
} __attribute__((aligned(16)));

/* An FXSAVE image (Intel SDM vol. 1 10.5.1): FCW at 0, FSW 2, abridged FTW 4, MXCSR 24, ST0-7 at
 * 32 (16 bytes each, 10 used), XMM0-15 at 160. */
struct fx {
    uint8_t b[512];
} __attribute__((aligned(16)));

static void pattern_make(struct fpu_pattern *p, uint64_t seed)
{
    for (unsigned i = 0; i < 32; i++)
        p->xmm[i] = seed * 0x9E3779B97F4A7C15ull + i * 0x0101010101010101ull;
    for (unsigned i = 0; i < 8; i++) p->st[i] = (int64_t)(seed << 20) + i * 1000 + 7;
    p->mxcsr =
        0x1F80 | (uint32_t)((seed % 3 + 1) << 13); // a rounding mode other than the reset one
    p->fcw = (uint16_t)(0x037F | ((seed % 3 + 1) << 10));
}

/* Loads the pattern into the registers. -mgeneral-regs-only keeps the compiler's own code off
 * them, so they hold what this wrote until the thread changes them. */
static void fpu_load(const struct fpu_pattern *p)
{
    __asm__ volatile("movdqu 0(%0), %%xmm0\n movdqu 16(%0), %%xmm1\n movdqu 32(%0), %%xmm2\n"
                     "movdqu 48(%0), %%xmm3\n movdqu 64(%0), %%xmm4\n movdqu 80(%0), %%xmm5\n"
                     "movdqu 96(%0), %%xmm6\n movdqu 112(%0), %%xmm7\n movdqu 128(%0), %%xmm8\n"
                     "movdqu 144(%0), %%xmm9\n movdqu 160(%0), %%xmm10\n movdqu 176(%0), %%xmm11\n"
                     "movdqu 192(%0), %%xmm12\n movdqu 208(%0), %%xmm13\n movdqu 224(%0), %%xmm14\n"
                     "movdqu 240(%0), %%xmm15\n"
                     "fninit\n fldcw 324(%0)\n"
                     "fildq 256(%0)\n fildq 264(%0)\n fildq 272(%0)\n fildq 280(%0)\n"
                     "fildq 288(%0)\n fildq 296(%0)\n fildq 304(%0)\n fildq 312(%0)\n"
                     "ldmxcsr 320(%0)\n" ::"r"(p)
                     : "memory");
}
_Static_assert(__builtin_offsetof(struct fpu_pattern, st) == 256, "fpu_load's offsets");
_Static_assert(__builtin_offsetof(struct fpu_pattern, mxcsr) == 320, "fpu_load's offsets");
_Static_assert(__builtin_offsetof(struct fpu_pattern, fcw) == 324, "fpu_load's offsets");

static void fx_save(struct fx *f) { __asm__ volatile("fxsave64 %0" : "=m"(*f)); }

/* The reset state again (FNINIT, MXCSR 0x1F80, XMM zero), for whatever this thread runs next. */
static void fpu_clear(void)
{
    static struct fx clean = {.b = {[0] = 0x7F, [1] = 0x03, [24] = 0x80, [25] = 0x1F}};
    __asm__ volatile("fxrstor64 %0" ::"m"(clean));
}

/* Whether the registers a program can see are the same in two images: control, status and
 * tag words, MXCSR, ST0-7 and XMM0-15 (not the last-instruction pointers, which CPUs differ on). */
static bool fx_same(const struct fx *a, const struct fx *b)
{
    if (memcmp(a->b, b->b, 5) || memcmp(a->b + 24, b->b + 24, 4)) return false;
    for (unsigned i = 0; i < 8; i++)
        if (memcmp(a->b + 32 + 16 * i, b->b + 32 + 16 * i, 10)) return false;
    return !memcmp(a->b + 160, b->b + 160, 256);
}

/* Loads the pattern of `seed`, then yields `rounds` times: returns after how many yields the
 * registers differed from what was loaded. yield_fn: the caller's way to yield. */
static uint64_t hold_pattern(uint64_t seed, unsigned rounds, void (*yield_fn)(void *), void *ctx)
{
    struct fpu_pattern p;
    struct fx want, now;
    pattern_make(&p, seed);
    fpu_load(&p);
    fx_save(&want);
    uint64_t bad = 0;
    for (unsigned i = 0; i < rounds; i++) {
        yield_fn(ctx);
        fx_save(&now);
        if (!fx_same(&want, &now)) {
            bad++;
            fpu_load(&p); // start again from our values, to count every clobbering
        }
    }
    return bad;
}

static void yield_rs(void *ctx)
{
    (void)ctx;
    rs_yield();
}

static void yield_buf(void *ipc) { rs_syscall_buf(ipc, RS_SYS_YIELD, 0, 0); }

/* Child: holds its pattern across ROUNDS yields, reports the rounds that found it changed. */
static void child_fpu(uint64_t seed)
{
    uint64_t bad = hold_pattern(seed, ROUNDS, yield_rs, NULL);
    child_report(1, bad, seed, 0, 0);
}

/* Child that never touches the FPU: yields as often, then reports. */
static void child_no_fpu(uint64_t arg)
{
    for (unsigned i = 0; i < ROUNDS; i++) rs_yield();
    child_report(2, arg, 0, 0, 0);
}

static void fpu_other_space(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), report2 = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report && report2);
    ps_process_t a, b;
    REQUIRE(child_spawn(&a, child_fpu, 0xA11CE, report));
    REQUIRE(child_spawn(&b, child_no_fpu, 77, report2));
    uint64_t bad = hold_pattern(0xB0B, ROUNDS, yield_rs, NULL);
    fpu_clear();
    CHECK_EQ(bad, 0); // init's registers survived every switch to the child
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) {
        CHECK_EQ(mr[0], 0); // and the child's did
        CHECK_EQ(mr[1], 0xA11CE);
    }
    // the thread without FPU use ran to the end, no fault on the way (a fault would be reported)
    if (expect_report(report2, 2, mr)) CHECK_EQ(mr[0], 77);
    CHECK_OK(ps_process_destroy(&a));
    CHECK_OK(ps_process_destroy(&b));
}

static volatile uint64_t same_space_bad = ~0ull;

/* A thread in init's address space: holds its pattern, stores the result, signals arg. */
static void thread_fpu(uint64_t arg, rs_ipc_buffer_t *ipc)
{
    same_space_bad = hold_pattern(0x5A5E, ROUNDS, yield_buf, ipc);
    rs_syscall_buf(ipc, RS_SYS_SEND, arg, 0);
    for (;;) rs_syscall_buf(ipc, RS_SYS_YIELD, 0, 0); // until the test's objects go
}

static void fpu_same_space(void)
{
    rs_cptr_t n = new_object(RS_OBJ_NOTIFICATION, 0), m = new_slot();
    REQUIRE(n && m);
    REQUIRE_OK(ps_cnode_mint(ME, m, PS_DEPTH, ME, n, PS_DEPTH, RS_RIGHTS_ALL, 0x20));
    ps_thread_t t;
    same_space_bad = ~0ull;
    REQUIRE_OK(ps_thread_create(&t, env, thread_fpu, m, 0x0000420000030000ul, 2,
                                0x0000420000040000ul, TEST_PRIO, 0));
    REQUIRE_OK(ps_tcb_resume(t.tcb));
    uint64_t bad = hold_pattern(0xC0FFEE, ROUNDS, yield_rs, NULL);
    fpu_clear();
    CHECK_EQ(bad, 0);
    CHECK_EQ(wait_signal(n, WAIT_MS), 0x20);
    CHECK_EQ(same_space_bad, 0);
    CHECK_OK(ps_tcb_suspend(t.tcb));
}

/* Child: reports the FPU state it finds before using it (FCW | FTW << 16, MXCSR, the OR of every
 * XMM byte, the OR of every ST byte). */
static void child_fresh(uint64_t arg)
{
    struct fx f;
    fx_save(&f);
    uint64_t xmm = 0, st = 0;
    for (unsigned i = 0; i < 256; i++) xmm |= f.b[160 + i];
    for (unsigned i = 0; i < 128; i++) st |= f.b[32 + i];
    child_report(3, f.b[0] | (uint64_t)f.b[1] << 8 | (uint64_t)f.b[4] << 16,
                 f.b[24] | (uint64_t)f.b[25] << 8, xmm, st);
}

static void fpu_fresh_thread(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report);
    struct fpu_pattern p;
    struct fx want, now;
    pattern_make(&p, 0xD00D);
    fpu_load(&p);
    fx_save(&want);
    ps_process_t c;
    REQUIRE(child_spawn(&c, child_fresh, 0, report));
    uint64_t mr[4];
    bool got = expect_report(report, 3, mr);
    fx_save(&now);
    fpu_clear();
    if (got) {
        CHECK_EQ(mr[0], 0x037F); // FNINIT's control word, every tag empty
        CHECK_EQ(mr[1], 0x1F80); // MXCSR's reset value
        CHECK_EQ(mr[2], 0);      // XMM0-15 zero: none of init's values
        CHECK_EQ(mr[3], 0);
    }
    CHECK(fx_same(&want, &now)); // and init's are still its own
    CHECK_OK(ps_process_destroy(&c));
}

/* The test guest (guests/test/guest.S), copied to GUEST_LOAD: guest_fpu puts 0x600DF00D in
 * XMM0 and OUTs it, then OUTs what XMM0 holds after the exit was answered. */
extern const char test_guest_start[], test_guest_end[], test_guest_gdt[], guest_fpu[];
#define GUEST_LOAD  0x1000ul
#define GUEST_MAGIC 0x600DF00Dul

static uint64_t guest_gpa(const char *label)
{
    return GUEST_LOAD + (uint64_t)(label - test_guest_start);
}

/* Makes a guest space with guest.S at GUEST_LOAD and a VCPU bound to a new thread (TEST_PRIO)
 * and to ep; writes a 32-bit flat state with SSE enabled at guest_fpu. Returns the thread. */
static rs_cptr_t guest_at_fpu(rs_cptr_t ep)
{
    rs_cptr_t gs = new_object(RS_OBJ_GUEST_SPACE, 0), ram = new_object(RS_OBJ_FRAME, 0),
              vcpu = new_object(RS_OBJ_VCPU, 0), tcb = new_object(RS_OBJ_TCB, 0),
              pdpt = new_object(RS_OBJ_PDPT, 0), pd = new_object(RS_OBJ_PAGE_DIRECTORY, 0),
              pt = new_object(RS_OBJ_PAGE_TABLE, 0);
    if (!gs || !ram || !vcpu || !tcb || !pdpt || !pd || !pt) return 0;
    const rs_word_t map[] = {GUEST_LOAD, RS_RIGHTS_ALL};
    if (!CHECK_OK(ps_page_table_map(pdpt, gs, 0)) || !CHECK_OK(ps_page_table_map(pd, gs, 0)) ||
        !CHECK_OK(ps_page_table_map(pt, gs, 0)) ||
        !CHECK_OK(ps_invoke(gs, RS_GUEST_SPACE_MAP, map, 2, &ram, 1)))
        return 0;
    volatile uint8_t *code = map_frame_copy(ram);
    if (!code) return 0;
    memcpy((void *)code, test_guest_start, (size_t)(test_guest_end - test_guest_start));
    const rs_cptr_t caps[] = {tcb, gs, ep};
    rs_vcpu_state_t s;
    memset(&s, 0, sizeof(s));
    const struct rs_segment code32 = {0x08, 0, 0xFFFFFFFF, 0xC9B},
                            data = {0x10, 0, 0xFFFFFFFF, 0xC93};
    s.rip = guest_gpa(guest_fpu);
    s.rsp = 0x1FF0;
    s.rflags = 2;
    s.cr0 = 0x13;  // PE, MP, ET
    s.cr4 = 0x200; // OSFXSR: the guest uses SSE
    s.cs = code32;
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    s.tr = (struct rs_segment){0, 0, 0xFFFF, 0x8B};
    s.ldtr = (struct rs_segment){0, 0, 0xFFFF, 0x82};
    s.gdtr_base = guest_gpa(test_guest_gdt);
    s.gdtr_limit = 23;
    if (!CHECK_OK(ps_tcb_set_priority(tcb, RS_INIT_TCB, TEST_PRIO)) ||
        !CHECK_OK(ps_invoke(vcpu, RS_VCPU_BIND, NULL, 0, caps, 3)) ||
        !CHECK_OK(ps_invoke(vcpu, RS_VCPU_WRITE_STATE, (const rs_word_t *)&s, RS_VCPU_STATE_WORDS,
                            NULL, 0)))
        return 0;
    return tcb;
}

/* Waits for the guest's OUT exit; returns the RAX it carries (0 if none came). */
static uint64_t guest_out(rs_cptr_t ep)
{
    rs_result_t r;
    if (!CHECK_OK(wait_recv(ep, WAIT_MS, &r))) return 0;
    CHECK_EQ(rs_msginfo_label(r.info), RS_FAULT_VCPU_EXIT);
    CHECK_EQ(ps_mr(RS_EXIT_MR_REASON), RS_EXIT_IO);
    return ps_mr(RS_EXIT_MR_RAX);
}

static void fpu_guest_apart(void)
{
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(ep);
    rs_cptr_t guest = guest_at_fpu(ep);
    REQUIRE(guest);
    struct fpu_pattern p;
    struct fx want, now;
    pattern_make(&p, 0x6E57);
    fpu_load(&p);
    fx_save(&want);
    REQUIRE_OK(ps_tcb_resume(guest));
    uint64_t rax = guest_out(ep); // the guest has set its XMM0
    fx_save(&now);
    CHECK_EQ(rax, GUEST_MAGIC);
    CHECK(fx_same(&want, &now)); // its run left init's registers as they were
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP);
    CHECK_OK(rs_reply(rs_msginfo(0, 0, 0, 1)).error);
    CHECK_EQ(guest_out(ep), GUEST_MAGIC); // and init's use of its own left the guest's XMM0
    fx_save(&now);
    CHECK(fx_same(&want, &now));
    fpu_clear();
    CHECK_OK(ps_tcb_suspend(guest));
}

const struct test fpu_tests[] = {
    {"FPU-0001",
     "threads in two address spaces keep their own FPU/SSE registers across switches; "
     "a thread without FPU use runs beside them",
     fpu_other_space},
    {"FPU-0002",
     "two threads of one address space keep their own FPU/SSE registers across switches",
     fpu_same_space},
    {"FPU-0003", "a new thread starts with the reset FPU state, never another thread's registers",
     fpu_fresh_thread},
    {"FPU-0004",
     "a guest's run leaves a host thread's FPU/SSE registers alone, and the guest's "
     "survive the host thread's",
     fpu_guest_apart},
    {0},
};
