// SPDX-License-Identifier: MIT
// vCPU tests, exit words (exit ABI 2, issue 13 / issue 10 "exit state"): with SetExitWords each
// exit carries only its reason's words, as a prefix whose length the message info gives, with
// the right values; words beyond it are not written; a re-delivered exit has the same words; a
// VMM that asks for everything (no selection, or ReadState) gets it. A guest
// (test_vcpu_exitwords_guest.S) with init as its VMM; on QEMU (SVM) and Bochs (VMX).
#include "test_vcpu.h"
#include <resurgo/x86.h>

extern const char xw_guest_start[], xw_guest_end[], xw_guest_main[], xw_guest_in[], xw_guest_outs[],
    xw_guest_cpuid[], xw_guest_rdmsr[], xw_guest_wrmsr[], xw_guest_mmio[], xw_guest_out_if[],
    xw_guest_cli[], xw_guest_hlt[], xw_guest_byte[];

#define POISON 0xDEADBEEFDEADBEEFull

static uint64_t xgpa(const char *label) { return GUEST_LOAD + (uint64_t)(label - xw_guest_start); }

/* The exit's words as received (w[0..len)), and its length. */
struct xw_exit {
    uint64_t w[RS_EXIT_MR_COUNT];
    unsigned len;
};

/* Poisons the IPC buffer's exit words, then waits for the guest's next exit: true if it has
 * `reason` and `len` words, every word beyond them still the poison (not written). */
static bool expect_words_at(int line, const struct guest *g, uint64_t reason, unsigned len,
                            struct xw_exit *x)
{
    for (unsigned i = RS_MSG_REG_COUNT; i < RS_EXIT_MR_COUNT; i++) rs_mr_set(i, POISON);
    rs_result_t r;
    int err = wait_recv(g->ep, WAIT_MS, &r);
    if (err) {
        check_fail_at(line, "no exit from the guest within %u ms (%s)", WAIT_MS,
                      rs_error_name(err));
        return false;
    }
    x->len = rs_msginfo_length(r.info);
    for (unsigned i = 0; i < RS_EXIT_MR_COUNT; i++) x->w[i] = ps_mr(i);
    if (rs_msginfo_label(r.info) != RS_FAULT_VCPU_EXIT || r.badge != GUEST_BADGE ||
        x->w[RS_EXIT_MR_REASON] != reason || x->len != len) {
        check_fail_at(line,
                      "exit label %lu badge %lx reason %lu length %u at rip %lx; "
                      "expected reason %lu length %u",
                      rs_msginfo_label(r.info), r.badge, x->w[RS_EXIT_MR_REASON], x->len,
                      x->w[RS_EXIT_MR_RIP], reason, len);
        return false;
    }
    for (unsigned i = len; i < RS_EXIT_MR_COUNT; i++)
        if (x->w[i] != POISON) {
            check_fail_at(line, "exit word %u beyond the length %u was written: %lx", i, len,
                          x->w[i]);
            return false;
        }
    return true;
}
#define expect_words(g, reason, len, x) expect_words_at(__LINE__, g, reason, len, x)

/* The words every exit carries. */
static void check_base_at(int line, const struct xw_exit *x, uint64_t rip, uint64_t insn_len,
                          bool irq_on)
{
    check_eq_at(line, "RIP", x->w[RS_EXIT_MR_RIP], rip);
    check_eq_at(line, "INSN_LEN", x->w[RS_EXIT_MR_INSN_LEN], insn_len);
    check_eq_at(line, "RFLAGS", x->w[RS_EXIT_MR_RFLAGS] & ~0x8D5ull, irq_on ? 0x202 : 0x2);
    check_eq_at(line, "CS attrib", rs_exit_cs_attrib(x->w[RS_EXIT_MR_SEG]), 0xC9B);
    check_eq_at(line, "SS attrib", rs_exit_ss_attrib(x->w[RS_EXIT_MR_SEG]), 0xC93);
    check_eq_at(line, "CPL", rs_exit_cpl(x->w[RS_EXIT_MR_SEG]), 0);
}
#define check_base(x, rip, len, irq) check_base_at(__LINE__, x, rip, len, irq)

/* Answers with SET_GPRS: RAX.. the n registers in regs[], and `flags`. */
static int reply_regs(uint64_t flags, const uint64_t *regs, unsigned n)
{
    rs_mr_set(RS_REPLY_MR_FLAGS, flags | RS_REPLY_SET_GPRS);
    rs_mr_set(RS_REPLY_MR_INJECT, 0);
    rs_mr_set(RS_REPLY_MR_RIP, 0);
    for (unsigned i = 0; i < n; i++) rs_mr_set(RS_REPLY_MR_GPR + i, regs[i]);
    return (int)rs_reply(rs_msginfo(0, 0, 0, RS_REPLY_MR_GPR + n)).error;
}

/* A guest made as the other vCPU tests' (test_vcpu_guest.c), its code replaced by this file's,
 * exits selected short, started at xw_guest_main. */
static bool xw_guest_go(struct guest *g, uint32_t mask)
{
    if (!guest_make(g)) return false;
    memcpy((void *)g->ram_map, xw_guest_start, (size_t)(xw_guest_end - xw_guest_start));
    rs_vcpu_state_t s;
    flat32_state(&s, xgpa(xw_guest_main));
    s.gdtr_limit = 0; // this guest loads no selector
    return CHECK_OK(ps_vcpu_write_state(g->vcpu, &s)) &&
           CHECK_OK(ps_vcpu_set_exit_words(g->vcpu, mask)) && CHECK_OK(ps_tcb_resume(g->tcb));
}

static void exit_words_by_reason(void)
{
    struct guest g;
    REQUIRE(xw_guest_go(&g, RS_EXIT_SHORT_ALL));
    struct xw_exit x, again;

    // OUT: the base words, and ReadState has the rest
    REQUIRE(expect_words(&g, RS_EXIT_IO, RS_EXIT_LEN_BASE, &x));
    uint64_t out_rip = xgpa(xw_guest_in) - 2;
    CHECK_EQ(x.w[RS_EXIT_MR_QUAL], 0xE9 | 1u << 16);
    check_base(&x, out_rip, 2, false);
    CHECK_EQ(x.w[RS_EXIT_MR_RAX], 0x11111111);
    uint64_t seq = x.w[RS_EXIT_MR_SEQ];
    CHECK(seq >= 1);
    CHECK_EQ(x.w[RS_EXIT_MR_SEG] >> 40, 0); // no shadow, nothing held, no window asked for
    rs_vcpu_state_t s;
    if (CHECK_OK(ps_vcpu_read_state(g.vcpu, &s))) {
        CHECK_EQ(s.rip, out_rip);
        CHECK_EQ(s.rax, 0x11111111);
        CHECK_EQ(s.rcx, 0x22222222);
        CHECK_EQ(s.rdx, 0x33333333);
        CHECK_EQ(s.rbx, 0x44444444);
        CHECK_EQ(s.rbp, 0x55555555);
        CHECK_EQ(s.rsi, 0x66666666);
        CHECK_EQ(s.rdi, 0x77777777);
        CHECK_EQ(s.rsp, GUEST_STACK);
        CHECK_EQ(s.cr0, 0x11);
        CHECK_EQ(s.cs.attrib, 0xC9B);
    }
    // received again without a reply: the same exit, the same words (a restarted VMM's
    // fingerprint of it, servers/vmm/state.c, is the same)
    REQUIRE(expect_words(&g, RS_EXIT_IO, RS_EXIT_LEN_BASE, &again));
    for (unsigned i = 0; i < RS_EXIT_LEN_BASE; i++) CHECK_EQ(again.w[i], x.w[i]);
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));

    // IN: the reply sets RAX only (the registers the exit carried)
    REQUIRE(expect_words(&g, RS_EXIT_IO, RS_EXIT_LEN_BASE, &x));
    CHECK_EQ(x.w[RS_EXIT_MR_QUAL], 0x60 | 1u << 16 | RS_IO_QUAL_IN);
    check_base(&x, xgpa(xw_guest_in), 2, false);
    CHECK_EQ(x.w[RS_EXIT_MR_SEQ], seq + 1);
    const uint64_t in_rax = 0x111111AB;
    REQUIRE_OK(reply_regs(RS_REPLY_ADVANCE_RIP, &in_rax, 1));

    // OUTSB: string I/O carries every word
    REQUIRE(expect_words(&g, RS_EXIT_IO, RS_EXIT_MR_COUNT, &x));
    CHECK_EQ(x.w[RS_EXIT_MR_QUAL], 0xE9 | 1u << 16 | RS_IO_QUAL_STRING);
    check_base(&x, xgpa(xw_guest_outs), 1, false);
    CHECK_EQ(x.w[RS_EXIT_MR_RAX], in_rax);
    CHECK_EQ(x.w[RS_EXIT_MR_RCX], 0x22222222);
    CHECK_EQ(x.w[RS_EXIT_MR_RDX], 0x333300E9);
    CHECK_EQ(x.w[RS_EXIT_MR_RBX], 0x44444444);
    CHECK_EQ(x.w[RS_EXIT_MR_RSP], GUEST_STACK);
    CHECK_EQ(x.w[RS_EXIT_MR_RBP], 0x55555555);
    CHECK_EQ(x.w[RS_EXIT_MR_RSI], xgpa(xw_guest_byte));
    CHECK_EQ(x.w[RS_EXIT_MR_RDI], 0x77777777);
    CHECK_EQ(x.w[RS_EXIT_MR_CR0], 0x11);
    CHECK_EQ(x.w[RS_EXIT_MR_EFER], 0);
    CHECK_EQ(x.w[RS_EXIT_MR_CS_SS_BASE], 0);
    CHECK_EQ(x.w[RS_EXIT_MR_DS_ES_BASE], 0);
    CHECK_EQ(x.w[RS_EXIT_MR_EVENT], 0);
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP)); // (not emulated: RSI stays)

    // CPUID: RAX..RBX; the reply sets all four
    REQUIRE(expect_words(&g, RS_EXIT_CPUID, RS_EXIT_LEN_CPUID, &x));
    check_base(&x, xgpa(xw_guest_cpuid), 2, false);
    CHECK_EQ(x.w[RS_EXIT_MR_RAX], 0x40000000);
    CHECK_EQ(x.w[RS_EXIT_MR_RCX], 5);
    CHECK_EQ(x.w[RS_EXIT_MR_RDX], 0x333300E9);
    CHECK_EQ(x.w[RS_EXIT_MR_RBX], 0x44444444);
    const uint64_t cpuid_regs[4] = {1, 2, 3, 4}; // rax rcx rdx rbx
    REQUIRE_OK(reply_regs(RS_REPLY_ADVANCE_RIP, cpuid_regs, 4));

    // RDMSR: the GPRs and the paging registers; the reply sets RAX, RCX, RDX
    REQUIRE(expect_words(&g, RS_EXIT_MSR_READ, RS_EXIT_LEN_MSR, &x));
    check_base(&x, xgpa(xw_guest_rdmsr), 2, false);
    CHECK_EQ(x.w[RS_EXIT_MR_QUAL], 0x1B);
    CHECK_EQ(x.w[RS_EXIT_MR_RCX], 0x1B);
    CHECK_EQ(x.w[RS_EXIT_MR_RAX], 1); // what the CPUID reply set
    CHECK_EQ(x.w[RS_EXIT_MR_RDX], 3);
    CHECK_EQ(x.w[RS_EXIT_MR_RBX], 4);
    CHECK_EQ(x.w[RS_EXIT_MR_RSP], GUEST_STACK);
    CHECK_EQ(x.w[RS_EXIT_MR_RBP], 0x55555555);
    CHECK_EQ(x.w[RS_EXIT_MR_RSI], xgpa(xw_guest_byte)); // the OUTSB was skipped, not emulated
    CHECK_EQ(x.w[RS_EXIT_MR_RDI], 0x77777777);
    CHECK_EQ(x.w[RS_EXIT_MR_R15], 0);
    CHECK_EQ(x.w[RS_EXIT_MR_CR0], 0x11);
    CHECK_EQ(x.w[RS_EXIT_MR_CR3], 0);
    CHECK_EQ(x.w[RS_EXIT_MR_CR4], 0);
    CHECK_EQ(x.w[RS_EXIT_MR_EFER], 0);
    const uint64_t msr_regs[3] = {0xFEE00900, 0x1B, 0}; // rax rcx rdx
    REQUIRE_OK(reply_regs(RS_REPLY_ADVANCE_RIP, msr_regs, 3));

    // WRMSR of what was read
    REQUIRE(expect_words(&g, RS_EXIT_MSR_WRITE, RS_EXIT_LEN_MSR, &x));
    check_base(&x, xgpa(xw_guest_wrmsr), 2, false);
    CHECK_EQ(x.w[RS_EXIT_MR_QUAL], 0x1B);
    CHECK_EQ(x.w[RS_EXIT_MR_RAX], 0xFEE00900);
    CHECK_EQ(x.w[RS_EXIT_MR_RDX], 0);
    CHECK_EQ(x.w[RS_EXIT_MR_CR0], 0x11);
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));

    // MMIO: every word, the exact address
    REQUIRE(expect_words(&g, RS_EXIT_GUEST_FAULT, RS_EXIT_MR_COUNT, &x));
    uint64_t mmio_rip = xgpa(xw_guest_mmio);
    CHECK_EQ(x.w[RS_EXIT_MR_RIP], mmio_rip);
    CHECK_EQ(x.w[RS_EXIT_MR_GPA], MMIO_GPA + 4);
    CHECK_EQ(x.w[RS_EXIT_MR_QUAL] & (RS_FAULT_QUAL_READ | RS_FAULT_QUAL_WRITE), RS_FAULT_QUAL_READ);
    CHECK_EQ(x.w[RS_EXIT_MR_RBX], 4);
    CHECK_EQ(x.w[RS_EXIT_MR_RDI], 0x77777777);
    CHECK_EQ(x.w[RS_EXIT_MR_EVENT], 0);
    CHECK_EQ(rs_exit_cs_attrib(x.w[RS_EXIT_MR_SEG]), 0xC9B);
    const uint64_t mmio_rax = 0xCAFE;
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_SET_RIP | RS_REPLY_SET_GPRS);
    rs_mr_set(RS_REPLY_MR_INJECT, 0);
    rs_mr_set(RS_REPLY_MR_RIP, mmio_rip + 5);
    rs_mr_set(RS_REPLY_MR_RAX, mmio_rax);
    REQUIRE_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REPLY_MR_RAX + 1)).error);

    // OUT with IF set; the reply asks for an interrupt window
    REQUIRE(expect_words(&g, RS_EXIT_IO, RS_EXIT_LEN_BASE, &x));
    check_base(&x, xgpa(xw_guest_out_if), 2, true);
    CHECK_EQ(x.w[RS_EXIT_MR_RAX], mmio_rax);
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP | RS_REPLY_WANT_WINDOW));
    REQUIRE(expect_words(&g, RS_EXIT_INTR_WINDOW, RS_EXIT_LEN_BASE, &x));
    check_base(&x, xgpa(xw_guest_cli), 0, true);
    CHECK_EQ(x.w[RS_EXIT_MR_RAX], mmio_rax);
    REQUIRE_OK(reply_flags(0));

    // HLT with IF clear
    REQUIRE(expect_words(&g, RS_EXIT_HLT, RS_EXIT_LEN_BASE, &x));
    check_base(&x, xgpa(xw_guest_hlt), 1, false);
    uint64_t hlt_seq = x.w[RS_EXIT_MR_SEQ];
    // no selection: the same exit, delivered again, carries every word
    REQUIRE_OK(ps_vcpu_set_exit_words(g.vcpu, 0));
    REQUIRE(expect_words(&g, RS_EXIT_HLT, RS_EXIT_MR_COUNT, &again));
    for (unsigned i = 0; i < RS_EXIT_LEN_BASE; i++) CHECK_EQ(again.w[i], x.w[i]);
    CHECK_EQ(again.w[RS_EXIT_MR_SEQ], hlt_seq);
    CHECK_EQ(again.w[RS_EXIT_MR_RCX], 0x1B);
    CHECK_EQ(again.w[RS_EXIT_MR_RBX], 4);
    CHECK_EQ(again.w[RS_EXIT_MR_RBP], 0x55555555);
    CHECK_EQ(again.w[RS_EXIT_MR_RDI], 0x77777777);
    CHECK_EQ(again.w[RS_EXIT_MR_RSP], GUEST_STACK);
    CHECK_EQ(again.w[RS_EXIT_MR_CR0], 0x11);
    CHECK_EQ(again.w[RS_EXIT_MR_GPA], 0);
    CHECK_EQ(again.w[RS_EXIT_MR_EVENT], 0);
    CHECK_EQ(again.w[RS_EXIT_MR_CS_SS_BASE], 0);
    // changed while it is held, the exit delivered again shows the state then (the SEG word is
    // the backend's at the exit, computed again after these; the CR words as written, which
    // ReadState must agree with): a window asked for, an interrupt held (IF is clear), SS with
    // DPL 3 (CPL 3), CR0.WP, a CR3, CR4.PSE and EFER.NXE (none of which matters without paging)
    REQUIRE_OK(ps_vcpu_request_window(g.vcpu, true));
    REQUIRE_OK(ps_vcpu_inject(g.vcpu, RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT)));
    REQUIRE_OK(ps_vcpu_set_register(g.vcpu, RS_VCPU_STATE_WORD(ss.attrib), 0xCF3));
    REQUIRE_OK(ps_vcpu_set_register(g.vcpu, RS_VCPU_STATE_WORD(cr0), 0x11 | CR0_WP));
    REQUIRE_OK(ps_vcpu_set_register(g.vcpu, RS_VCPU_STATE_WORD(cr3), 0x5000));
    REQUIRE_OK(ps_vcpu_set_register(g.vcpu, RS_VCPU_STATE_WORD(cr4), CR4_PSE));
    REQUIRE_OK(ps_vcpu_set_register(g.vcpu, RS_VCPU_STATE_WORD(efer), EFER_NXE));
    REQUIRE(expect_words(&g, RS_EXIT_HLT, RS_EXIT_MR_COUNT, &again));
    CHECK_EQ(again.w[RS_EXIT_MR_SEQ], hlt_seq);
    CHECK_EQ(again.w[RS_EXIT_MR_RIP], xgpa(xw_guest_hlt));
    CHECK_EQ(rs_exit_cs_attrib(again.w[RS_EXIT_MR_SEG]), 0xC9B);
    CHECK_EQ(rs_exit_ss_attrib(again.w[RS_EXIT_MR_SEG]), 0xCF3);
    CHECK_EQ(rs_exit_cpl(again.w[RS_EXIT_MR_SEG]), 3);
    CHECK_EQ(again.w[RS_EXIT_MR_SEG] >> 40, (RS_EXIT_IRQ_PENDING | RS_EXIT_IRQ_WINDOW) >> 40);
    CHECK_EQ(again.w[RS_EXIT_MR_CR0], 0x11 | CR0_WP);
    CHECK_EQ(again.w[RS_EXIT_MR_CR3], 0x5000);
    CHECK_EQ(again.w[RS_EXIT_MR_CR4], CR4_PSE);
    CHECK_EQ(again.w[RS_EXIT_MR_EFER], EFER_NXE);
    if (CHECK_OK(ps_vcpu_read_state(g.vcpu, &s))) {
        CHECK_EQ(s.cr0, again.w[RS_EXIT_MR_CR0]);
        CHECK_EQ(s.cr3, again.w[RS_EXIT_MR_CR3]);
        CHECK_EQ(s.cr4, again.w[RS_EXIT_MR_CR4]);
        CHECK_EQ(s.efer, again.w[RS_EXIT_MR_EFER]);
    }
    CHECK_OK(ps_tcb_suspend(g.tcb));
}

/* SetExitWords takes only the reasons that have a short set. */
static void exit_words_arguments(void)
{
    rs_cptr_t vcpu = new_object(RS_OBJ_VCPU, 0);
    REQUIRE(vcpu);
    CHECK_ERR(ps_vcpu_set_exit_words(vcpu, RS_EXIT_SHORT(RS_EXIT_GUEST_FAULT)),
              RS_INVALID_ARGUMENT);
    CHECK_ERR(ps_vcpu_set_exit_words(vcpu, RS_EXIT_SHORT_ALL | 1u << 31), RS_INVALID_ARGUMENT);
    CHECK_OK(ps_vcpu_set_exit_words(vcpu, RS_EXIT_SHORT_ALL));
    CHECK_OK(ps_vcpu_set_exit_words(vcpu, 0));
}

const struct test vcpu_exitwords_tests[] = {
    {"EXITW-0001",
     "with SetExitWords each exit carries its reason's words (I/O, CPUID, MSR, window, HLT "
     "short; string I/O and MMIO all), right values, nothing beyond; the same again when "
     "re-delivered, with the SEG and CR words of the state then; ReadState and no selection give "
     "everything",
     exit_words_by_reason},
    {"EXITW-0002", "SetExitWords refuses reasons without a short set", exit_words_arguments},
    {0},
};
