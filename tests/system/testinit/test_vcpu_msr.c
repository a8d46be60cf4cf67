// SPDX-License-Identifier: MIT
// vCPU tests, guest-owned CPU state (issue 10): the MSRs the hardware switches in
// rs_vcpu_state_t, SetRegister / GetRegister, the exit words an instruction emulator needs, the
// reply's arithmetic flags, and an external interrupt held while the guest cannot take it. A
// 64-bit guest (test_vcpu_msr_guest.S) with init as its VMM; on QEMU (SVM) and Bochs (VMX).
#include "test_vcpu.h"

#define MSR_LOAD  0x1000ul /* MSR_GUEST_LOAD in the .S */
#define MSR_TABLE 0x2000ul /* the guest's one page table (PML4 = PDPT = PD = PT) */
#define W(f)      RS_VCPU_STATE_WORD(f)

extern const char msr_guest_start[], msr_guest_end[], msr_guest_gdt[], msr_guest_results[],
    msr_guest_idtr[], msr_guest_main[], msr_guest_syscall[], msr_guest_irq[], msr_guest_after_nop[],
    msr_guest_badpat[];

static uint64_t mgpa(const char *label) { return MSR_LOAD + (uint64_t)(label - msr_guest_start); }

/* What the guest writes in phase A, in the order of its results words 0..11. */
static const uint64_t guest_wrote[12] = {
    0x00007F0000001000, 0x00007F0000002000, 0xFFFF800000003000, 0x0013000800000000,
    0xFFFF800000004000, 0xFFFF800000005000, 0x0000000000047700, 0x0000000000000010,
    0xFFFF800000006000, 0xFFFF800000007000, 0x0007010600070106, 0x0000000000001234,
};

struct msr_guest {
    struct guest g;
    volatile uint64_t *results; /* msr_guest_results as init sees it */
};

static bool host_has_rdtscp(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001), "c"(0));
    return d & (1u << 27);
}

static uint32_t host_tsc_aux(void)
{
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    return aux;
}

/* Long mode, CS 0x08 (L), data 0x10, paging through the self-referencing table, EFER.SCE. */
static void long_state(rs_vcpu_state_t *s, uint64_t rip)
{
    memset(s, 0, sizeof(*s));
    s->rip = rip;
    s->rsp = GUEST_STACK;
    s->rflags = 2;
    s->cr0 = 0x80000011; // PG, ET, PE
    s->cr3 = MSR_TABLE;
    s->cr4 = 0x20;   // PAE
    s->efer = 0x501; // LMA, LME, SCE
    s->cs = (struct rs_segment){0x08, 0, 0xFFFFFFFF, 0xA9B};
    s->ds = s->es = s->fs = s->gs = s->ss = (struct rs_segment){0x10, 0, 0xFFFFFFFF, 0xC93};
    s->tr = (struct rs_segment){0, 0, 0xFFFF, 0x8B};
    s->ldtr = (struct rs_segment){0, 0, 0xFFFF, 0x82};
    s->gdtr_base = mgpa(msr_guest_gdt);
    s->gdtr_limit = 23;
    s->pat = RS_VCPU_PAT_RESET;
}

/* The guest's code frame at MSR_LOAD and its table frame at MSR_TABLE, a vCPU bound to a new
 * thread and to init's exit endpoint, started at `entry`. */
static bool msr_guest_go(struct msr_guest *m, const char *entry)
{
    struct guest *g = &m->g;
    g->gs = new_object(RS_OBJ_GUEST_SPACE, 0);
    g->ram = new_object(RS_OBJ_FRAME, 0);
    g->vcpu = new_object(RS_OBJ_VCPU, 0);
    g->tcb = new_object(RS_OBJ_TCB, 0);
    g->ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t pdpt = new_object(RS_OBJ_PDPT, 0), pd = new_object(RS_OBJ_PAGE_DIRECTORY, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0), table = new_object(RS_OBJ_FRAME, 0);
    rs_cptr_t badged = new_slot();
    if (!g->gs || !g->ram || !g->vcpu || !g->tcb || !g->ep || !pdpt || !pd || !pt || !table ||
        !badged)
        return false;
    if (!CHECK_OK(ps_page_table_map(pdpt, g->gs, 0)) ||
        !CHECK_OK(ps_page_table_map(pd, g->gs, 0)) || !CHECK_OK(ps_page_table_map(pt, g->gs, 0)) ||
        !CHECK_OK(ps_guest_space_map(g->gs, g->ram, MSR_LOAD, RWX)) ||
        !CHECK_OK(ps_guest_space_map(g->gs, table, MSR_TABLE, RW)))
        return false;
    g->ram_map = map_frame_copy(g->ram);
    volatile uint64_t *t = map_frame_copy(table);
    if (!g->ram_map || !t) return false;
    size_t size = (size_t)(msr_guest_end - msr_guest_start);
    if (!CHECK(MSR_LOAD + size < GUEST_STACK - 256)) return false;
    memcpy((void *)g->ram_map, msr_guest_start, size);
    m->results = (volatile uint64_t *)(g->ram_map + (msr_guest_results - msr_guest_start));
    // entry 0 points back at the table, so it is the PML4, PDPT, PD and PT at once; entry i
    // maps the page at i * 4 KiB: below 2 MiB virtual = physical (but page 0)
    t[0] = MSR_TABLE | 3;
    for (uint64_t i = 1; i < 512; i++) t[i] = i << 12 | 3;
    rs_vcpu_state_t s;
    long_state(&s, mgpa(entry));
    return CHECK_OK(ps_cnode_mint(ME, badged, D, ME, g->ep, D, RS_RIGHT_WRITE, GUEST_BADGE)) &&
           CHECK_OK(ps_tcb_set_priority(g->tcb, RS_INIT_TCB, TEST_PRIO)) &&
           CHECK_OK(ps_tcb_set_name(g->tcb, "guest64")) &&
           CHECK_OK(ps_vcpu_bind(g->vcpu, g->tcb, g->gs, badged)) &&
           CHECK_OK(ps_vcpu_write_state(g->vcpu, &s)) && CHECK_OK(ps_tcb_resume(g->tcb));
}

/* The next exit is the guest's OUT of `phase` to port 0xE9 (any MSR exit fails here). */
static bool expect_phase_at(int line, struct msr_guest *m, uint64_t phase)
{
    if (!expect_exit_at(line, &m->g, RS_EXIT_IO)) return false;
    if (EXIT_WORD(QUAL) != (0xE9 | 1u << 16) || (EXIT_WORD(RAX) & 0xFF) != phase) {
        check_fail_at(line, "OUT %lx of %lx at rip %lx; expected phase %lu", EXIT_WORD(QUAL),
                      EXIT_WORD(RAX), EXIT_WORD(RIP), phase);
        return false;
    }
    return true;
}
#define expect_phase(m, p) expect_phase_at(__LINE__, m, p)

static void state_msrs(const rs_vcpu_state_t *s, uint64_t w[12])
{
    const uint64_t v[12] = {
        s->fs.base, s->gs.base,     s->kernel_gs_base, s->star,         s->lstar, s->cstar,
        s->sfmask,  s->sysenter_cs, s->sysenter_esp,   s->sysenter_eip, s->pat,   s->tsc_aux};
    memcpy(w, v, sizeof(v));
}

/* ------------------------------------------------------------------ the state words */

static void msr_state_round_trip(void)
{
    rs_cptr_t v = new_object(RS_OBJ_VCPU, 0);
    REQUIRE(v);
    rs_vcpu_state_t s, r;
    REQUIRE_OK(ps_vcpu_read_state(v, &s));
    CHECK_EQ(RS_VCPU_STATE_WORDS, 70);
    CHECK_EQ(W(pending_event), 59);     // the words before the MSRs stay where they were
    CHECK_EQ(s.pat, RS_VCPU_PAT_RESET); // the reset state's
    CHECK_EQ(s.lstar, 0);
    long_state(&s, 0x1000);
    const uint64_t want[12] = {0x7000,
                               0xFFFF900000000000,
                               0xFFFFFFFFFFFFF000,
                               ~0ull,
                               0x00007FFFFFFFF000,
                               0xFFFF800000000000,
                               0xFFFFFFFF,
                               0xFFFF,
                               0x1000,
                               0x2000,
                               0x0001050407060100,
                               0xFFFFFFFF};
    s.fs.base = want[0], s.gs.base = want[1], s.kernel_gs_base = want[2], s.star = want[3];
    s.lstar = want[4], s.cstar = want[5], s.sfmask = want[6], s.sysenter_cs = want[7];
    s.sysenter_esp = want[8], s.sysenter_eip = want[9], s.pat = want[10], s.tsc_aux = want[11];
    REQUIRE_OK(ps_vcpu_write_state(v, &s));
    REQUIRE_OK(ps_vcpu_read_state(v, &r));
    uint64_t got[12];
    state_msrs(&r, got);
    for (unsigned i = 0; i < 12; i++) CHECK_EQ(got[i], want[i]);
    // one word at a time: the GPRs, the MSRs, RIP
    REQUIRE_OK(ps_vcpu_set_register(v, W(lstar), 0xFFFFFFFF80001000));
    REQUIRE_OK(ps_vcpu_set_register(v, W(r9), 0x99));
    REQUIRE_OK(ps_vcpu_set_register(v, W(tsc_aux), 7));
    REQUIRE_OK(ps_vcpu_set_register(v, W(rip), 0x2345));
    uint64_t x = 0;
    CHECK_OK(ps_vcpu_get_register(v, W(lstar), &x));
    CHECK_EQ(x, 0xFFFFFFFF80001000);
    CHECK_OK(ps_vcpu_get_register(v, W(r9), &x));
    CHECK_EQ(x, 0x99);
    CHECK_OK(ps_vcpu_get_register(v, W(pat), &x));
    CHECK_EQ(x, want[10]);
    REQUIRE_OK(ps_vcpu_read_state(v, &r));
    CHECK_EQ(r.lstar, 0xFFFFFFFF80001000);
    CHECK_EQ(r.r9, 0x99);
    CHECK_EQ(r.tsc_aux, 7);
    CHECK_EQ(r.rip, 0x2345);
    CHECK_EQ(r.cstar, want[5]); // the rest unchanged
    CHECK_EQ(r.cr3, MSR_TABLE);
}

static void msr_state_rejections(void)
{
    rs_cptr_t v = new_object(RS_OBJ_VCPU, 0);
    REQUIRE(v);
    rs_vcpu_state_t good, s;
    long_state(&good, 0x1000);
    REQUIRE_OK(ps_vcpu_write_state(v, &good));
    struct {
        unsigned word;
        uint64_t value;
    } bad[] = {
        {W(kernel_gs_base), 0x0000800000000000},
        {W(lstar), 0x8000000000000000},
        {W(cstar), 0x00F0000000000000},
        {W(sfmask), 1ull << 32},
        {W(sysenter_cs), 1ull << 40},
        {W(sysenter_esp), 0x0001000000000000},
        {W(sysenter_eip), 0xFF00000000000000},
        {W(pat), 0x0007040600070402}, // type 2
        {W(pat), 0x0307040600070406},
        {W(pat), 0x0007040600080406}, // 3, 8
        {W(tsc_aux), 1ull << 32},
        {W(fs) + 1, 0x0000900000000000},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        s = good;
        ((uint64_t *)&s)[bad[i].word] = bad[i].value;
        CHECK_ERR(ps_vcpu_write_state(v, &s), RS_INVALID_ARGUMENT);
        CHECK_EQ(ps_mr(0), bad[i].word);
        CHECK_ERR(ps_vcpu_set_register(v, bad[i].word, bad[i].value), RS_INVALID_ARGUMENT);
        CHECK_EQ(ps_mr(0), bad[i].word);
    }
    // SetRegister checks as WriteState does, words before the MSRs too
    CHECK_ERR(ps_vcpu_set_register(v, W(cr4), 0), RS_INVALID_ARGUMENT); // long mode without PAE
    CHECK_EQ(ps_mr(0), W(efer));
    CHECK_ERR(ps_vcpu_set_register(v, W(rflags), 1ull << 22), RS_INVALID_ARGUMENT);
    CHECK_EQ(ps_mr(0), W(rflags));
    uint64_t x;
    CHECK_ERR(ps_vcpu_set_register(v, RS_VCPU_STATE_WORDS, 0), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_EQ(ps_mr(2), RS_VCPU_STATE_WORDS - 1);
    CHECK_ERR(ps_vcpu_get_register(v, ~0u, &x), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(2), RS_VCPU_STATE_WORDS - 1);
    CHECK_ERR(ps_invoke(v, RS_VCPU_SET_REGISTER, NULL, 0, NULL, 0), RS_TRUNCATED_MESSAGE);
    rs_vcpu_state_t r;
    REQUIRE_OK(ps_vcpu_read_state(v, &r)); // nothing refused changed anything
    CHECK(memcmp(&r, &good, sizeof(r)) == 0);
}

/* ------------------------------------------------------------------ a guest that owns them */

static void msr_guest_writes(void)
{
    struct msr_guest m;
    REQUIRE(msr_guest_go(&m, msr_guest_main));
    REQUIRE(expect_phase(&m, 1)); // twelve WRMSRs: none exited
    CHECK_EQ(rs_exit_cs_attrib(EXIT_WORD(SEG)), 0xA9B);
    CHECK_EQ(rs_exit_ss_attrib(EXIT_WORD(SEG)), 0xC93);
    CHECK_EQ(rs_exit_cpl(EXIT_WORD(SEG)), 0);
    CHECK_EQ(EXIT_WORD(CS_SS_BASE), 0);
    CHECK_EQ(EXIT_WORD(DS_ES_BASE), 0);
    CHECK_EQ(EXIT_WORD(FS_BASE), guest_wrote[0]);
    CHECK_EQ(EXIT_WORD(GS_BASE), guest_wrote[1]);
    CHECK_EQ(EXIT_WORD(SEG) >> 40, 0); // no shadow, nothing held, no window asked for
    rs_vcpu_state_t s;
    REQUIRE_OK(ps_vcpu_read_state(m.g.vcpu, &s));
    uint64_t got[12];
    state_msrs(&s, got);
    for (unsigned i = 0; i < 12; i++) CHECK_EQ(got[i], guest_wrote[i]);
    CHECK_OK(ps_cnode_delete(ME, m.g.vcpu, D));
}

static void msr_guest_survives(void)
{
    bool rdtscp = host_has_rdtscp();
    uint32_t aux = rdtscp ? host_tsc_aux() : 0;
    struct msr_guest m;
    REQUIRE(msr_guest_go(&m, msr_guest_main));
    REQUIRE(expect_phase(&m, 1));
    // init's own system calls (SYSCALL through the host's LSTAR, STAR, SFMASK) between here
    // and the guest's next run: a guest value left in any of them would not come back here
    for (int i = 0; i < 50; i++) rs_yield();
    if (rdtscp) CHECK_EQ(host_tsc_aux(), aux);
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    REQUIRE(expect_phase(&m, 2));
    for (unsigned i = 0; i < 12; i++) CHECK_EQ(m.results[i], guest_wrote[i]);
    if (rdtscp) CHECK_EQ(host_tsc_aux(), aux);
    CHECK_OK(ps_cnode_delete(ME, m.g.vcpu, D));
}

static void msr_vmm_writes(void)
{
    bool rdtscp = host_has_rdtscp();
    struct msr_guest m;
    REQUIRE(msr_guest_go(&m, msr_guest_main));
    REQUIRE(expect_phase(&m, 1));
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    REQUIRE(expect_phase(&m, 2));
    rs_vcpu_state_t s;
    REQUIRE_OK(ps_vcpu_read_state(m.g.vcpu, &s));
    const uint64_t want[12] = {0x00007E0000011000, 0x00007E0000012000,      0xFFFF810000013000,
                               0x0023000800000000, mgpa(msr_guest_syscall), 0xFFFF810000015000,
                               0x0000000000000400, 0x0000000000000008,      0xFFFF810000016000,
                               0xFFFF810000017000, 0x0000000100000506,      0x0000000000000042};
    s.fs.base = want[0], s.gs.base = want[1], s.kernel_gs_base = want[2], s.star = want[3];
    s.cstar = want[5], s.sfmask = want[6], s.sysenter_cs = want[7];
    s.sysenter_esp = want[8], s.sysenter_eip = want[9], s.pat = want[10];
    REQUIRE_OK(ps_vcpu_write_state(m.g.vcpu, &s));
    // two words one by one while the exit is held: an MSR and a GPR (RBX 1: do RDTSCP)
    REQUIRE_OK(ps_vcpu_set_register(m.g.vcpu, W(lstar), want[4]));
    REQUIRE_OK(ps_vcpu_set_register(m.g.vcpu, W(tsc_aux), want[11]));
    REQUIRE_OK(ps_vcpu_set_register(m.g.vcpu, W(rbx), rdtscp ? 1 : 0));
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    REQUIRE(expect_phase(&m, 3));
    for (unsigned i = 0; i < 12; i++) CHECK_EQ(m.results[i], want[i]);
    if (rdtscp) CHECK_EQ(m.results[12], want[11]);
    CHECK_EQ(m.results[13], want[2]); // SWAPGS: the GS base is KERNEL_GS_BASE's
    CHECK_EQ(m.results[14], want[1]); // and that the former GS base
    // SYSCALL's RCX: the instruction after it (0F 05)
    CHECK(m.results[15] > mgpa(msr_guest_main) && m.results[15] < mgpa(msr_guest_syscall));
    CHECK_EQ(*(volatile uint8_t *)(m.g.ram_map + (m.results[15] - 2 - MSR_LOAD)), 0x0F); // 0F 05
    CHECK_EQ(m.results[16] & 0x400, 0x400); // R11: the RFLAGS before, DF set
    CHECK_EQ(m.results[17] & 0x400, 0);     // SFMASK cleared DF in the handler
    CHECK_EQ(EXIT_WORD(FS_BASE), want[0]);
    CHECK_OK(ps_cnode_delete(ME, m.g.vcpu, D));
}

static void msr_reply_rflags(void)
{
    struct msr_guest m;
    REQUIRE(msr_guest_go(&m, msr_guest_main));
    REQUIRE(expect_phase(&m, 1));
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    REQUIRE(expect_phase(&m, 2));
    uint64_t before = EXIT_WORD(RFLAGS);
    CHECK_EQ(before & 0x8D5, 0);
    // CF ZF SF OF set; IF, DF and TF asked for too but not arithmetic: not taken
    uint64_t asked = 0x001 | 0x040 | 0x080 | 0x800 | 0x200 | 0x400 | 0x100;
    REQUIRE_OK(ps_vcpu_set_register(m.g.vcpu, W(lstar), mgpa(msr_guest_syscall))); // its SYSCALL
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_RFLAGS);
    rs_mr_set(RS_REPLY_MR_RFLAGS, asked);
    REQUIRE_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REPLY_MR_RFLAGS + 1)).error);
    REQUIRE(expect_phase(&m, 3));
    CHECK_EQ(m.results[18] & 0xFFF, ((before & ~0x8D5ull) | 0x8C1) & 0xFFF);
    CHECK_OK(ps_cnode_delete(ME, m.g.vcpu, D));
}

/* Issue 13 / issue 10 "exit state": a reply sets EFER itself (an emulated WRMSR), with no
 * WriteState round trip; a value WriteState refuses is the guest's #GP and RIP stays. */
static void msr_reply_efer(void)
{
    struct msr_guest m;
    REQUIRE(msr_guest_go(&m, msr_guest_main));
    REQUIRE(expect_phase(&m, 1));
    CHECK_EQ(EXIT_WORD(EFER), 0x501);
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_EFER);
    rs_mr_set(RS_REPLY_MR_EFER, 0x901); // NXE on, LMA left out: the kernel derives it
    REQUIRE_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REPLY_MR_EFER + 1)).error);
    REQUIRE(expect_phase(&m, 2)); // RIP advanced: the guest went on
    CHECK_EQ(EXIT_WORD(EFER), 0xD01);
    uint64_t efer = 0, rip = EXIT_WORD(RIP);
    CHECK_OK(ps_vcpu_get_register(m.g.vcpu, W(efer), &efer));
    CHECK_EQ(efer, 0xD01);
    // bit 2 is reserved: refused, the guest's #GP is queued, RIP and EFER stay. init goes above
    // the guest (the framework resets it) so that the guest has not run when init looks.
    REQUIRE_OK(ps_tcb_set_priority(RS_INIT_TCB, RS_INIT_TCB, TEST_PRIO + 1));
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_EFER);
    rs_mr_set(RS_REPLY_MR_EFER, 0xD05);
    REQUIRE_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REPLY_MR_EFER + 1)).error);
    rs_vcpu_state_t s;
    REQUIRE_OK(ps_vcpu_read_state(m.g.vcpu, &s));
    CHECK_EQ(s.efer, 0xD01);
    CHECK_EQ(s.rip, rip);
    CHECK_EQ(s.pending_event & (RS_EVENT_VALID | 0x7FF), RS_EVENT_VALID | 13 | 3 << 8);
    CHECK_OK(ps_cnode_delete(ME, m.g.vcpu, D));
}

static void msr_irq_held(void)
{
    struct msr_guest m;
    REQUIRE(msr_guest_go(&m, msr_guest_irq));
    REQUIRE(expect_phase(&m, 1));
    CHECK_EQ(EXIT_WORD(RFLAGS) & 0x200, 0); // IF clear
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP | RS_REPLY_INJECT);
    rs_mr_set(RS_REPLY_MR_INJECT, RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT));
    REQUIRE_OK(rs_reply(rs_msginfo(0, 0, 0, 2)).error);
    REQUIRE(expect_phase(&m, 2));
    CHECK_EQ(EXIT_WORD(R15), 0); // not delivered with IF clear
    CHECK_EQ(EXIT_WORD(SEG) & RS_EXIT_IRQ_PENDING, RS_EXIT_IRQ_PENDING);
    rs_vcpu_state_t s;
    REQUIRE_OK(ps_vcpu_read_state(m.g.vcpu, &s));
    CHECK_EQ(s.pending_event, RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT) | RS_EVENT_VALID);
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    REQUIRE(expect_phase(&m, 3)); // STI, NOP, then the interrupt, with no exit in between
    CHECK_EQ(EXIT_WORD(R15), 1);
    CHECK_EQ(EXIT_WORD(R14), mgpa(msr_guest_after_nop));
    CHECK_EQ(EXIT_WORD(SEG) & RS_EXIT_IRQ_PENDING, 0);
    CHECK_OK(ps_cnode_delete(ME, m.g.vcpu, D));
}

static void msr_guest_bad_pat(void)
{
    struct msr_guest m;
    REQUIRE(msr_guest_go(&m, msr_guest_badpat));
    REQUIRE(expect_phase(&m, 1)); // no MSR exit for either WRMSR or RDMSR
    CHECK_EQ(EXIT_WORD(R13), 1);  // one #GP
    CHECK_EQ(EXIT_WORD(RBX) & 0xFFFFFFFF, RS_VCPU_PAT_RESET & 0xFFFFFFFF);
    CHECK_EQ(EXIT_WORD(RDX) & 0xFFFFFFFF, RS_VCPU_PAT_RESET >> 32);
    uint64_t pat = 0;
    CHECK_OK(ps_vcpu_get_register(m.g.vcpu, W(pat), &pat));
    CHECK_EQ(pat, RS_VCPU_PAT_RESET);
    CHECK_OK(ps_cnode_delete(ME, m.g.vcpu, D));
}

const struct test vcpu_msr_tests[] = {
    {"VM-0051",
     "ReadState / WriteState carry the guest's MSRs after the old words; SetRegister and "
     "GetRegister move one word; a new vCPU has the power-on PAT",
     msr_state_round_trip},
    {"VM-0052",
     "WriteState and SetRegister refuse non-canonical bases, reserved MSR bits and PAT memory "
     "types by word; a word index beyond the state is a range error",
     msr_state_rejections},
    {"VM-0053",
     "a 64-bit guest writes FS/GS/KERNEL_GS base, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_*, PAT "
     "and TSC_AUX with no exit; ReadState and the exit's segment words show them",
     msr_guest_writes},
    {"VM-0054",
     "the guest's MSRs survive an exit and the host's own system calls; the host's TSC_AUX is "
     "its own again",
     msr_guest_survives},
    {"VM-0055",
     "MSRs the VMM writes reach the guest: RDMSR, RDTSCP, SWAPGS and SYSCALL through its LSTAR, "
     "STAR and SFMASK",
     msr_vmm_writes},
    {"VM-0056", "RS_REPLY_SET_RFLAGS sets the arithmetic flags only", msr_reply_rflags},
    {"VM-0057",
     "an external interrupt injected while IF is clear waits (the exit shows it pending) and "
     "arrives right after STI and one instruction, with no exit",
     msr_irq_held},
    {"VM-0059",
     "a reply with RS_REPLY_SET_EFER sets the guest's EFER (LMA derived); one WriteState would "
     "refuse leaves EFER and RIP and queues the guest's #GP",
     msr_reply_efer},
    {"VM-0058",
     "a guest's WRMSR of a PAT with a reserved memory type raises #GP in the guest, with no exit, "
     "and leaves its PAT as it was",
     msr_guest_bad_pat},
    {0},
};
