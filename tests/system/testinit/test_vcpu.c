// SPDX-License-Identifier: MIT
// vCPU tests: VCPU and GuestSpace objects and the exact errors of their invocations; a test guest
// (guests/test/guest.S) whose exits arrive as IPC on its exit endpoint, with init as its VMM;
// replies that resume, emulate and inject; triple fault and invalid state; and an exit that is
// delivered again when the VMM holding it dies. Needs a CPU with SVM or VMX (QEMU: SVM).
#include "suites.h"
#include <resurgo/vcpu.h>

#define ME          RS_INIT_CNODE
#define D           PS_DEPTH
#define RW          (RS_RIGHT_READ | RS_RIGHT_WRITE)
#define RWX         (RW | RS_RIGHT_EXEC)
#define GUEST_LOAD  0x1000ul /* TEST_GUEST_LOAD in guest.S: the guest's code page */
#define GUEST_STACK 0x1FF0ul
#define DATA_GPA    0x2000ul
#define MMIO_GPA    0x00A00000ul
#define GUEST_BADGE 0x9E57
#define EXIT_WORD(i) ps_mr(RS_EXIT_MR_##i)

extern const char test_guest_start[], test_guest_end[], test_guest_gdt[];
extern const char guest_io[], guest_cpuid[], guest_vmmcall[], guest_vmcall[], guest_hlt[], guest_mmio[], guest_triple[],
    guest_data[], guest_loop[], guest_inject[], guest_handler[], guest_fpu[], guest_spin[];

static uint64_t gpa_of(const char *label) { return GUEST_LOAD + (uint64_t)(label - test_guest_start); }

/* ------------------------------------------------------------------ invocations */

static int gs_map(rs_cptr_t gs, rs_cptr_t frame, uint64_t gpa, unsigned rights)
{
    const rs_word_t a[] = {gpa, rights};
    return ps_invoke(gs, RS_GUEST_SPACE_MAP, a, 2, &frame, 1);
}

static int gs_unmap(rs_cptr_t gs, rs_cptr_t frame) { return ps_invoke(gs, RS_GUEST_SPACE_UNMAP, NULL, 0, &frame, 1); }

static int vcpu_bind(rs_cptr_t vcpu, rs_cptr_t tcb, rs_cptr_t gs, rs_cptr_t ep)
{
    const rs_cptr_t caps[] = {tcb, gs, ep};
    return ps_invoke(vcpu, RS_VCPU_BIND, NULL, 0, caps, 3);
}

static int vcpu_write_state(rs_cptr_t vcpu, const rs_vcpu_state_t *s)
{
    return ps_invoke(vcpu, RS_VCPU_WRITE_STATE, (const rs_word_t *)s, RS_VCPU_STATE_WORDS, NULL, 0);
}

static int vcpu_read_state(rs_cptr_t vcpu, rs_vcpu_state_t *s)
{
    int err = ps_invoke(vcpu, RS_VCPU_READ_STATE, NULL, 0, NULL, 0);
    for (unsigned i = 0; !err && i < RS_VCPU_STATE_WORDS; i++) ((uint64_t *)s)[i] = rs_mr_get(i);
    return err;
}

static int vcpu_inject(rs_cptr_t vcpu, uint64_t event) { return ps_invoke(vcpu, RS_VCPU_INJECT, &event, 1, NULL, 0); }

/* ------------------------------------------------------------------ a guest and its VMM side */

struct guest {
    rs_cptr_t gs, ram, vcpu, tcb, ep; /* ep: the exit endpoint, as init receives on it */
    volatile uint8_t *ram_map;        /* the guest's code page as init sees it */
};

/* 32-bit flat protected mode at rip, segments of test_guest_gdt, no IDT, no paging. */
static void flat32_state(rs_vcpu_state_t *s, uint64_t rip)
{
    memset(s, 0, sizeof(*s));
    const struct rs_segment code = {0x08, 0, 0xFFFFFFFF, 0xC9B}, data = {0x10, 0, 0xFFFFFFFF, 0xC93};
    s->rip = rip;
    s->rsp = GUEST_STACK;
    s->rflags = 2;
    s->cr0 = 0x11; // PE, ET
    s->cs = code;
    s->ds = s->es = s->fs = s->gs = s->ss = data;
    s->tr = (struct rs_segment){0, 0, 0xFFFF, 0x8B};
    s->ldtr = (struct rs_segment){0, 0, 0xFFFF, 0x82};
    s->gdtr_base = gpa_of(test_guest_gdt);
    s->gdtr_limit = 23;
}

/* A guest space with tables for the first 2 MiB and the guest's code at GUEST_LOAD, a vCPU bound
 * to a new thread (priority TEST_PRIO) and to the exit endpoint through a cap badged
 * GUEST_BADGE. The thread is not started. */
static bool guest_make(struct guest *g)
{
    g->gs = new_object(RS_OBJ_GUEST_SPACE, 0);
    g->ram = new_object(RS_OBJ_FRAME, 0);
    g->vcpu = new_object(RS_OBJ_VCPU, 0);
    g->tcb = new_object(RS_OBJ_TCB, 0);
    g->ep = new_object(RS_OBJ_ENDPOINT, 0);
    rs_cptr_t pdpt = new_object(RS_OBJ_PDPT, 0), pd = new_object(RS_OBJ_PAGE_DIRECTORY, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0), badged = new_slot();
    if (!g->gs || !g->ram || !g->vcpu || !g->tcb || !g->ep || !pdpt || !pd || !pt || !badged) return false;
    if (!CHECK_OK(ps_page_table_map(pdpt, g->gs, 0)) || !CHECK_OK(ps_page_table_map(pd, g->gs, 0)) ||
        !CHECK_OK(ps_page_table_map(pt, g->gs, 0)) || !CHECK_OK(gs_map(g->gs, g->ram, GUEST_LOAD, RWX)))
        return false;
    g->ram_map = map_frame_copy(g->ram);
    if (!g->ram_map) return false;
    memcpy((void *)g->ram_map, test_guest_start, (size_t)(test_guest_end - test_guest_start));
    return CHECK_OK(ps_cnode_mint(ME, badged, D, ME, g->ep, D, RS_RIGHT_WRITE, GUEST_BADGE)) &&
           CHECK_OK(ps_tcb_set_priority(g->tcb, RS_INIT_TCB, TEST_PRIO)) &&
           CHECK_OK(ps_tcb_set_name(g->tcb, "guest")) && CHECK_OK(vcpu_bind(g->vcpu, g->tcb, g->gs, badged));
}

/* guest_make, then starts it at `entry` in flat32_state. */
static bool guest_go(struct guest *g, const char *entry)
{
    rs_vcpu_state_t s;
    flat32_state(&s, gpa_of(entry));
    return guest_make(g) && CHECK_OK(vcpu_write_state(g->vcpu, &s)) && CHECK_OK(ps_tcb_resume(g->tcb));
}

/* Waits for the guest's next exit: true if it has `reason`, with its words in the MRs. */
static bool expect_exit_at(int line, const struct guest *g, uint64_t reason)
{
    rs_result_t r;
    int err = wait_recv(g->ep, WAIT_MS, &r);
    if (err) {
        check_fail_at(line, "no exit from the guest within %u ms (%s)", WAIT_MS, rs_error_name(err));
        return false;
    }
    uint64_t label = rs_msginfo_label(r.info), len = rs_msginfo_length(r.info);
    if (label != RS_FAULT_VCPU_EXIT || len != RS_EXIT_MR_COUNT || r.badge != GUEST_BADGE ||
        EXIT_WORD(REASON) != reason) {
        check_fail_at(line, "exit label %lu length %lu badge %lx reason %lu (raw %lx %lx) at rip %lx; expected reason %lu",
                      label, len, r.badge, EXIT_WORD(REASON), EXIT_WORD(RAW_REASON), EXIT_WORD(RAW_QUAL),
                      EXIT_WORD(RIP), reason);
        return false;
    }
    return true;
}
#define expect_exit(g, reason) expect_exit_at(__LINE__, g, reason)

/* Answers the exit init holds with flags only. */
static int reply_flags(uint64_t flags)
{
    rs_mr_set(RS_REPLY_MR_FLAGS, flags);
    return (int)rs_reply(rs_msginfo(0, 0, 0, 1)).error;
}

/* Answers with SET_GPRS (and `flags`): rax..rdi as the exit had them but rax, and RIP words up
 * to `len`. */
static int reply_rax(uint64_t flags, uint64_t rax, uint64_t rip, unsigned len)
{
    uint64_t keep[] = {EXIT_WORD(RBX), EXIT_WORD(RCX), EXIT_WORD(RDX), EXIT_WORD(RSI), EXIT_WORD(RDI)};
    rs_mr_set(RS_REPLY_MR_FLAGS, flags | RS_REPLY_SET_GPRS);
    rs_mr_set(RS_REPLY_MR_INJECT, 0);
    rs_mr_set(RS_REPLY_MR_RAX, rax);
    for (unsigned i = 0; i < 5; i++) rs_mr_set(RS_REPLY_MR_RBX + i, keep[i]);
    rs_mr_set(RS_REPLY_MR_RIP, rip);
    return (int)rs_reply(rs_msginfo(0, 0, 0, len)).error;
}

/* ------------------------------------------------------------------ objects and rejections */

static void vcpu_retype(void)
{
    ps_ut_t ua;
    ps_untyped_t st;
    rs_cptr_t ut = new_untyped(14, &ua, &st), s = ps_slot_alloc_range(env->slots, 3);
    rs_cptr_t gs = new_object(RS_OBJ_GUEST_SPACE, 0);
    REQUIRE(ut && s && gs);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_VCPU, 0, 0, 0, s, 2)); // 8 KiB each
    CHECK_EQ(cap_type(s), RS_CAP_VCPU);
    CHECK_EQ(cap_type(s + 1), RS_CAP_VCPU);
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_VCPU, 0, 0, 0, s + 2, 1), RS_NOT_ENOUGH_MEMORY);
    CHECK_EQ(cap_type(gs), RS_CAP_GUEST_SPACE);
    CHECK_ERR(ps_invoke(s, RS_GUEST_SPACE_MAP, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(gs, RS_VCPU_BIND, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(s, RS_VCPU_INJECT, NULL, 0, NULL, 0), RS_TRUNCATED_MESSAGE);
    CHECK_OK(ps_cnode_delete(ME, s, D)); // an unbound VCPU goes quietly
    CHECK_OK(ps_cnode_delete(ME, gs, D));
}

static void vcpu_bind_errors(void)
{
    rs_cptr_t v = new_object(RS_OBJ_VCPU, 0), v2 = new_object(RS_OBJ_VCPU, 0), t = new_object(RS_OBJ_TCB, 0);
    rs_cptr_t t2 = new_object(RS_OBJ_TCB, 0), gs = new_object(RS_OBJ_GUEST_SPACE, 0);
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), ro = new_slot();
    REQUIRE(v && v2 && t && t2 && gs && ep && ro);
    REQUIRE_OK(ps_cnode_mint(ME, ro, D, ME, ep, D, RS_RIGHT_READ, 0));
    CHECK_ERR(vcpu_bind(v, ep, gs, ep), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(vcpu_bind(v, t, RS_INIT_VSPACE, ep), RS_INVALID_CAPABILITY); // a VSpace is no GuestSpace
    CHECK_EQ(ps_mr(0), 2);
    CHECK_ERR(vcpu_bind(v, t, gs, gs), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(vcpu_bind(v, t, gs, ro), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(0), 3);
    const rs_cptr_t two[] = {t, gs};
    CHECK_ERR(ps_invoke(v, RS_VCPU_BIND, NULL, 0, two, 2), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(vcpu_bind(v, RS_INIT_TCB, gs, ep), RS_BUSY); // a running thread
    CHECK_EQ(ps_mr(0), 1);
    CHECK_OK(vcpu_bind(v, t, gs, ep));
    CHECK_ERR(vcpu_bind(v, t2, gs, ep), RS_ILLEGAL_OPERATION); // bound already
    CHECK_EQ(ps_mr(0), 0);
    CHECK_ERR(vcpu_bind(v2, t, gs, ep), RS_ILLEGAL_OPERATION); // the thread has a vCPU
    CHECK_EQ(ps_mr(0), 1);
    CHECK_OK(ps_cnode_delete(ME, v, D)); // destroying the VCPU unbinds the thread
    CHECK_OK(vcpu_bind(v2, t, gs, ep));
    CHECK_OK(ps_cnode_delete(ME, gs, D)); // the binding holds a copy: the space lives on
    CHECK_OK(ps_cnode_delete(ME, ep, D));
    CHECK_OK(ps_cnode_delete(ME, ro, D));
    CHECK_OK(ps_cnode_delete(ME, v2, D)); // and goes with the VCPU
}

static void vcpu_state_checks(void)
{
    rs_cptr_t v = new_object(RS_OBJ_VCPU, 0);
    REQUIRE(v);
    rs_vcpu_state_t s, r;
#define REJECT(stmt, field)                                                                        \
    do {                                                                                           \
        flat32_state(&s, GUEST_LOAD);                                                              \
        stmt;                                                                                      \
        if (CHECK_ERR(vcpu_write_state(v, &s), RS_INVALID_ARGUMENT))                               \
            CHECK_EQ(ps_mr(0), RS_VCPU_STATE_WORD(field));                                         \
    } while (0)
    REJECT(s.rip = 0x0000800000000000ul, rip);       // not canonical
    REJECT(s.rip = 0xFFFF7FFFFFFFFFFFul, rip);
    REJECT(s.rflags = 0x2 | 1u << 3, rflags);          // a reserved flag
    REJECT(s.cr0 = 0x80000010, cr0);                   // paging without protection
    REJECT(s.cr0 = 0x20000011, cr0);                   // NW without CD
    REJECT(s.cr0 = 1ull << 32 | 0x11, cr0);
    REJECT(s.cr4 = 1u << 13, cr4);                     // VMXE is not the guest's
    REJECT(s.efer = 1u << 14, efer);                   // FFXSR
    REJECT((s.cr0 = 0x80000011, s.efer = 0x100), efer); // long mode without PAE
    REJECT(s.cs.attrib = 0x1000, cs.attrib);
    REJECT(s.ds.limit = 1ull << 32, ds.limit);
    REJECT(s.tr.selector = 0x10000, tr.selector);
    REJECT(s.idtr_limit = 0x10000, idtr_limit);
    REJECT(s.pending_event = RS_EVENT_VALID | RS_EVENT_MAKE(2, RS_EVENT_EXCEPTION), pending_event);
    REJECT(s.pending_event = RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT), pending_event); // not marked valid
#undef REJECT
    flat32_state(&s, gpa_of(guest_io));
    CHECK_ERR(ps_invoke(v, RS_VCPU_WRITE_STATE, (const rs_word_t *)&s, RS_VCPU_STATE_WORDS - 1, NULL, 0),
              RS_TRUNCATED_MESSAGE);
    s.rflags = 0;        // bit 1 is set for the VMM
    s.efer = 1u << 10;   // LMA follows LME and PG
    s.rbx = 0xB, s.r15 = 0xF15, s.rsp = 0x1234;
    s.pending_event = RS_EVENT_VALID | RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT);
    REQUIRE_OK(vcpu_write_state(v, &s));
    REQUIRE_OK(vcpu_read_state(v, &r));
    CHECK_EQ(r.rip, gpa_of(guest_io));
    CHECK_EQ(r.rflags, 2);
    CHECK_EQ(r.efer, 0);
    CHECK_EQ(r.cr0, 0x11);
    CHECK_EQ(r.rbx, 0xB);
    CHECK_EQ(r.r15, 0xF15);
    CHECK_EQ(r.rsp, 0x1234);
    CHECK_EQ(r.cs.attrib, 0xC9B);
    CHECK_EQ(r.cs.limit, 0xFFFFFFFF);
    CHECK_EQ(r.ss.selector, 0x10);
    CHECK_EQ(r.gdtr_base, gpa_of(test_guest_gdt));
    CHECK_EQ(r.pending_event, RS_EVENT_VALID | RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT));
    CHECK_ERR(vcpu_inject(v, RS_EVENT_MAKE(0x30, 1)), RS_INVALID_ARGUMENT); // no event type 1
    CHECK_ERR(vcpu_inject(v, RS_EVENT_MAKE(32, RS_EVENT_EXCEPTION)), RS_INVALID_ARGUMENT);
    CHECK_OK(vcpu_inject(v, RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0x18)));
}

static void vcpu_guest_space_map(void)
{
    rs_cptr_t gs = new_object(RS_OBJ_GUEST_SPACE, 0), gs2 = new_object(RS_OBJ_GUEST_SPACE, 0);
    rs_cptr_t pdpt = new_object(RS_OBJ_PDPT, 0), pd = new_object(RS_OBJ_PAGE_DIRECTORY, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0), pt2 = new_object(RS_OBJ_PAGE_TABLE, 0);
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), f2 = new_object(RS_OBJ_FRAME, 0);
    rs_cptr_t big = new_object(RS_OBJ_LARGE_FRAME, 0), wo = new_slot();
    REQUIRE(gs && gs2 && pdpt && pd && pt && pt2 && f && f2 && big && wo);
    CHECK_ERR(gs_map(gs, f, 0x5000, RWX), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 39); // no PDPT: 39 address bits left unresolved
    CHECK_OK(ps_page_table_map(pdpt, gs, 0));
    CHECK_ERR(gs_map(gs, f, 0x5000, RWX), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 30);
    CHECK_OK(ps_page_table_map(pd, gs, 0));
    CHECK_ERR(gs_map(gs, f, 0x5000, RWX), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 21);
    CHECK_OK(ps_page_table_map(pt, gs, 0x1234)); // the table for the 2 MiB around it
    CHECK_ERR(gs_map(gs, f, 0x5001, RWX), RS_ALIGNMENT_ERROR);
    CHECK_ERR(gs_map(gs, f, 1ull << 48, RWX), RS_RANGE_ERROR);
    CHECK_ERR(gs_map(gs, f, 0x5000, RWX | 0x10), RS_INVALID_ARGUMENT);
    CHECK_EQ(ps_mr(0), 1);
    REQUIRE_OK(ps_cnode_mint(ME, wo, D, ME, f, D, RS_RIGHT_WRITE, 0));
    CHECK_ERR(gs_map(gs, wo, 0x5000, RW), RS_INSUFFICIENT_RIGHTS); // the cap cannot read
    CHECK_ERR(gs_map(gs, pt2, 0x5000, RWX), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_OK(gs_map(gs, f, 0x5000, RWX));
    CHECK_ERR(gs_map(gs, f2, 0x5000, RWX), RS_DELETE_FIRST);
    CHECK_ERR(gs_map(gs, f, 0x6000, RWX), RS_ILLEGAL_OPERATION); // this cap is mapped already
    CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, 0x0000400000200000ul, RW, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_frame_map(f2, gs, 0x7000, RW, 0), RS_INVALID_CAPABILITY); // not a VSpace
    CHECK_ERR(ps_page_table_map(pt2, gs, 0), RS_DELETE_FIRST);
    CHECK_ERR(ps_page_table_map(pt, gs, 1ul << 21), RS_ILLEGAL_OPERATION);
    CHECK_ERR(gs_unmap(gs2, f), RS_ILLEGAL_OPERATION); // mapped, but in the other space
    CHECK_OK(gs_unmap(gs, f));
    CHECK_OK(gs_unmap(gs, f)); // twice is harmless
    CHECK_OK(gs_map(gs, f2, 0x5000, RWX)); // the entry is free again
    CHECK_OK(ps_frame_unmap(f2));          // Frame Unmap takes a guest mapping away too
    CHECK_OK(gs_map(gs, f, 0x5000, RW));
    CHECK_ERR(gs_map(gs, big, 0x201000, RWX), RS_ALIGNMENT_ERROR);
    CHECK_OK(gs_map(gs, big, 0x200000, RWX));
    CHECK_OK(ps_cnode_delete(ME, gs, D)); // the space goes; the caps still record the mapping
    CHECK_OK(ps_cnode_delete(ME, f, D));
    CHECK_OK(ps_page_table_unmap(pt));
}

/* ------------------------------------------------------------------ exits */

static void vcpu_io_exits(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_io));
    uint64_t ip = gpa_of(guest_io);
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(QUAL), 0xE9 | 1u << 16); // port 0xE9, 1 byte, out
        CHECK_EQ(EXIT_WORD(RAX) & 0xFF, 0x41);
        CHECK_EQ(EXIT_WORD(INSN_LEN), 2);
        CHECK_EQ(EXIT_WORD(RIP), ip + 2);
        CHECK_EQ(EXIT_WORD(CR0) & 1, 1);
        CHECK_EQ(EXIT_WORD(RSP), GUEST_STACK);
    }
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(QUAL), 0x3F8 | 4u << 16); // out dx, eax
        CHECK_EQ(EXIT_WORD(RAX), 0x12345678);
        CHECK_EQ(EXIT_WORD(RDX) & 0xFFFF, 0x3F8);
        CHECK_EQ(EXIT_WORD(INSN_LEN), 1);
        CHECK_EQ(EXIT_WORD(RIP), ip + 13);
    }
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(QUAL), 0x60 | 1u << 16 | 1u << 24); // in al, 0x60
        CHECK_EQ(EXIT_WORD(RIP), ip + 14);
    }
    REQUIRE_OK(reply_rax(RS_REPLY_ADVANCE_RIP, 0x99, 0, RS_REPLY_MR_RAX + 1)); // the byte read
    if (expect_exit(&g, RS_EXIT_HLT)) {
        CHECK_EQ(EXIT_WORD(RAX), 0x99);
        CHECK_EQ(EXIT_WORD(RIP), ip + 16);
    }
}

/* Starts the held-exit guest at `entry` afresh: WriteState, then an empty reply resumes it. */
static bool restart_at(struct guest *g, const char *entry)
{
    rs_vcpu_state_t s;
    flat32_state(&s, gpa_of(entry));
    return CHECK_OK(vcpu_write_state(g->vcpu, &s)) && CHECK_OK(reply_flags(0));
}

static void vcpu_instruction_exits(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_cpuid));
    uint64_t ip = gpa_of(guest_cpuid);
    if (expect_exit(&g, RS_EXIT_CPUID)) {
        CHECK_EQ(EXIT_WORD(RIP), ip + 7);
        CHECK_EQ(EXIT_WORD(INSN_LEN), 2);
        CHECK_EQ(EXIT_WORD(RAX), 0x40000000);
        CHECK_EQ(EXIT_WORD(RCX), 0);
    }
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_GPRS);
    rs_mr_set(RS_REPLY_MR_RAX, 0x40000001);
    rs_mr_set(RS_REPLY_MR_RBX, 0x4D565352);
    rs_mr_set(RS_REPLY_MR_RCX, 0);
    rs_mr_set(RS_REPLY_MR_RDX, 0);
    REQUIRE_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REPLY_MR_RDX + 1)).error);
    if (expect_exit(&g, RS_EXIT_IO)) { // the guest reports the ebx it got
        CHECK_EQ(EXIT_WORD(RAX), 0x4D565352);
        CHECK_EQ(EXIT_WORD(RIP), ip + 11);
    }
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    REQUIRE(expect_exit(&g, RS_EXIT_HLT));

    // the hypercall instruction is the vendor's own: VMMCALL on AMD, VMCALL on Intel
    uint32_t vendor[4];
    __asm__ volatile("cpuid" : "=a"(vendor[0]), "=b"(vendor[1]), "=c"(vendor[2]), "=d"(vendor[3]) : "a"(0), "c"(0));
    const char *hypercall = vendor[1] == 0x756E6547 /* "Genu" */ ? guest_vmcall : guest_vmmcall;
    REQUIRE(restart_at(&g, hypercall));
    ip = gpa_of(hypercall);
    if (expect_exit(&g, RS_EXIT_VMCALL)) {
        CHECK_EQ(EXIT_WORD(RIP), ip + 10);
        CHECK_EQ(EXIT_WORD(INSN_LEN), 3);
        CHECK_EQ(EXIT_WORD(RAX), 0x1234);
        CHECK_EQ(EXIT_WORD(RBX), 0x5678);
    }
    REQUIRE_OK(reply_rax(RS_REPLY_ADVANCE_RIP, 0x77, 0, RS_REPLY_MR_RAX + 1)); // rax only
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(RAX), 0x77);
        CHECK_EQ(EXIT_WORD(RBX), 0x5678); // words beyond the reply's length are not taken
        CHECK_EQ(EXIT_WORD(RIP), ip + 13);
    }

    REQUIRE(restart_at(&g, guest_hlt));
    ip = gpa_of(guest_hlt);
    if (expect_exit(&g, RS_EXIT_HLT)) {
        CHECK_EQ(EXIT_WORD(RIP), ip);
        CHECK_EQ(EXIT_WORD(INSN_LEN), 1);
    }
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(RAX) & 0xFF, 0x48);
        CHECK_EQ(EXIT_WORD(RIP), ip + 3);
    }
}

static void vcpu_guest_fault(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_mmio));
    uint64_t ip = gpa_of(guest_mmio);
    if (expect_exit(&g, RS_EXIT_GUEST_FAULT)) {
        CHECK_EQ(EXIT_WORD(GPA), MMIO_GPA + 4);
        CHECK_EQ(EXIT_WORD(QUAL) & 7, 1); // a read
        CHECK_EQ(EXIT_WORD(RIP), ip);
    }
    // emulate the 5-byte load: the value in eax, RIP past it
    REQUIRE_OK(reply_rax(RS_REPLY_SET_RIP, 0xCAFEF00D, ip + 5, RS_REPLY_MR_RIP + 1));
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(RAX), 0xCAFEF00D);
        CHECK_EQ(EXIT_WORD(RIP), ip + 5);
    }
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    if (expect_exit(&g, RS_EXIT_GUEST_FAULT)) {
        CHECK_EQ(EXIT_WORD(GPA), MMIO_GPA + 8);
        CHECK_EQ(EXIT_WORD(QUAL) & 7, 2); // a write
        CHECK_EQ(EXIT_WORD(RCX), 0x55);
        CHECK_EQ(EXIT_WORD(RIP), ip + 12);
    }
}

static void vcpu_frame_delete_unmaps(void)
{
    struct guest g;
    rs_cptr_t data = new_object(RS_OBJ_FRAME, 0);
    REQUIRE(data && guest_make(&g));
    volatile uint32_t *mine = map_frame_copy(data);
    REQUIRE(mine);
    mine[0] = 0xDEADBEEF;
    REQUIRE_OK(gs_map(g.gs, data, DATA_GPA, RW));
    rs_vcpu_state_t s;
    flat32_state(&s, gpa_of(guest_data));
    REQUIRE_OK(vcpu_write_state(g.vcpu, &s));
    REQUIRE_OK(ps_tcb_resume(g.tcb));
    if (expect_exit(&g, RS_EXIT_IO)) CHECK_EQ(EXIT_WORD(RAX), 0xDEADBEEF);
    CHECK_OK(ps_cnode_delete(ME, data, D)); // the cap holding the guest mapping
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    if (expect_exit(&g, RS_EXIT_GUEST_FAULT)) {
        CHECK_EQ(EXIT_WORD(GPA), DATA_GPA);
        CHECK_EQ(EXIT_WORD(QUAL) & 7, 1);
    }
    CHECK_EQ(mine[0], 0xDEADBEEF); // the frame itself lives on in init's copy
}

static void vcpu_triple_fault(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_triple));
    REQUIRE(expect_exit(&g, RS_EXIT_TRIPLE_FAULT));
    CHECK_EQ(EXIT_WORD(RAW_REASON) != 0, 1);
    // the kernel is fine and so is the vCPU, once it has a state again
    REQUIRE(restart_at(&g, guest_io));
    if (expect_exit(&g, RS_EXIT_IO)) CHECK_EQ(EXIT_WORD(RIP), gpa_of(guest_io) + 2);
}

static void vcpu_invalid_state(void)
{
    struct guest g;
    REQUIRE(guest_make(&g));
    rs_vcpu_state_t s;
    flat32_state(&s, gpa_of(guest_io));
    s.cr0 = 0x80000011; // long mode with a code segment both 64-bit (L) and 32-bit (D):
    s.cr4 = 0x20;       // the kernel lets the hardware judge that (APM 15.5.1, SDM 26.3.1.2)
    s.efer = 0x100;
    s.cs.attrib |= 0x200;
    REQUIRE_OK(vcpu_write_state(g.vcpu, &s));
    REQUIRE_OK(ps_tcb_resume(g.tcb));
    REQUIRE(expect_exit(&g, RS_EXIT_INVALID_STATE));
    REQUIRE(restart_at(&g, guest_io));
    if (expect_exit(&g, RS_EXIT_IO)) CHECK_EQ(EXIT_WORD(RIP), gpa_of(guest_io) + 2);
}

static void vcpu_inject_and_window(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_inject));
    uint64_t ip = gpa_of(guest_inject), handler = gpa_of(guest_handler);
    if (expect_exit(&g, RS_EXIT_HLT)) {
        CHECK_EQ(EXIT_WORD(RIP), ip + 8);
        CHECK_EQ(EXIT_WORD(RFLAGS) & 0x200, 0x200); // interrupts on
    }
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP | RS_REPLY_INJECT);
    rs_mr_set(RS_REPLY_MR_INJECT, RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT));
    REQUIRE_OK(rs_reply(rs_msginfo(0, 0, 0, 2)).error);
    if (expect_exit(&g, RS_EXIT_IO)) { // in the handler
        CHECK_EQ(EXIT_WORD(RAX) & 0xFF, 0x30);
        CHECK_EQ(EXIT_WORD(RIP), handler + 2);
        CHECK_EQ(EXIT_WORD(RFLAGS) & 0x200, 0); // an interrupt gate
    }
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP | RS_REPLY_WANT_WINDOW));
    if (expect_exit(&g, RS_EXIT_INTR_WINDOW)) CHECK_EQ(EXIT_WORD(RIP), ip + 9); // right after iret
    REQUIRE_OK(vcpu_inject(g.vcpu, RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT)));
    REQUIRE_OK(reply_flags(0));
    if (expect_exit(&g, RS_EXIT_IO)) CHECK_EQ(EXIT_WORD(RIP), handler + 2);
}

static uint64_t read_xmm0(void)
{
    uint64_t v;
    __asm__ volatile("movq %%xmm0, %0" : "=r"(v));
    return v;
}

static void vcpu_fpu_state(void)
{
    struct guest g;
    REQUIRE(guest_make(&g));
    rs_vcpu_state_t s;
    flat32_state(&s, gpa_of(guest_fpu));
    s.cr0 = 0x13;  // PE, MP, ET
    s.cr4 = 0x200; // OSFXSR: the guest uses SSE
    REQUIRE_OK(vcpu_write_state(g.vcpu, &s));
    REQUIRE_OK(ps_tcb_resume(g.tcb));
    REQUIRE(expect_exit(&g, RS_EXIT_IO));
    CHECK_EQ(EXIT_WORD(RAX), 0x600DF00D);
    CHECK_EQ(read_xmm0(), 0); // the guest's register did not stay behind for others to read
    __asm__ volatile("movq %0, %%xmm0" ::"r"(0x1111ull));
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(RAX), 0x600DF00D); // and it came back for the guest
        CHECK_EQ(EXIT_WORD(RIP), gpa_of(guest_fpu) + 15);
    }
}

static void vcpu_spinning_guest(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_spin));
    uint64_t t0 = now_ms();
    CHECK_ERR(wait_recv(g.ep, 120, NULL), RS_WOULD_BLOCK); // init keeps getting the CPU
    CHECK(now_ms() - t0 >= 120);
    CHECK_OK(ps_tcb_suspend(g.tcb));
    rs_vcpu_state_t s;
    REQUIRE_OK(vcpu_read_state(g.vcpu, &s));
    CHECK_EQ(s.rip, gpa_of(guest_spin));
    CHECK_OK(ps_tcb_resume(g.tcb));
    for (int i = 0; i < 3; i++) rs_yield();
    CHECK_OK(ps_tcb_suspend(g.tcb));
}

/* ------------------------------------------------------------------ VMM restarts */

/* A VMM in a child process: receives an exit on CHILD_SLOT_A and reports (label, reason, rip,
 * rax). arg 0: then holds it unanswered, waiting on the notification in CHILD_SLOT_B. arg 1:
 * answers it (ADVANCE_RIP), reports the next exit as label 2, and holds that one. */
static void child_vmm(uint64_t arg)
{
    rs_result_t r = rs_recv(CHILD_SLOT_A);
    uint64_t label = rs_msginfo_label(r.info);
    child_report(1, label, rs_mr_get(RS_EXIT_MR_REASON), rs_mr_get(RS_EXIT_MR_RIP), rs_mr_get(RS_EXIT_MR_RAX));
    if (arg == 1) {
        rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP);
        r = rs_reply_recv(CHILD_SLOT_A, rs_msginfo(0, 0, 0, 1));
        label = rs_msginfo_label(r.info);
        child_report(2, label, rs_mr_get(RS_EXIT_MR_REASON), rs_mr_get(RS_EXIT_MR_RIP),
                     rs_mr_get(RS_EXIT_MR_RAX));
    }
    rs_wait(CHILD_SLOT_B);
}

static bool vmm_spawn(ps_process_t *p, struct guest *g, uint64_t mode, rs_cptr_t report, rs_cptr_t ntfn)
{
    int err = child_create(p, child_vmm, mode, report);
    if (!err) err = ps_process_give(p, CHILD_SLOT_A, g->ep, RS_RIGHTS_ALL, 0);
    if (!err) err = ps_process_give(p, CHILD_SLOT_B, ntfn, RS_RIGHTS_ALL, 0);
    if (!err) err = ps_process_start(p);
    return CHECK_OK(err);
}

static void vcpu_vmm_dies(void)
{
    struct guest g;
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0), ntfn = new_object(RS_OBJ_NOTIFICATION, 0);
    REQUIRE(report && ntfn && guest_go(&g, guest_loop));
    ps_process_t vmm1, vmm2;
    REQUIRE(vmm_spawn(&vmm1, &g, 0, report, ntfn));
    uint64_t mr[4];
    REQUIRE(expect_report(report, 1, mr));
    CHECK_EQ(mr[0], RS_FAULT_VCPU_EXIT);
    CHECK_EQ(mr[1], RS_EXIT_IO);
    uint64_t ip = mr[2];
    CHECK_EQ(ip, gpa_of(guest_loop) + 3);
    CHECK_EQ(mr[3], 1);
    CHECK_OK(ps_process_destroy(&vmm1)); // dies holding the exit
    REQUIRE(vmm_spawn(&vmm2, &g, 1, report, ntfn));
    if (expect_report(report, 1, mr)) { // the same exit again
        CHECK_EQ(mr[0], RS_FAULT_VCPU_EXIT);
        CHECK_EQ(mr[1], RS_EXIT_IO);
        CHECK_EQ(mr[2], ip);
        CHECK_EQ(mr[3], 1);
    }
    if (expect_report(report, 2, mr)) { // answered: the guest went on to the next one
        CHECK_EQ(mr[1], RS_EXIT_IO);
        CHECK_EQ(mr[2], ip);
        CHECK_EQ(mr[3], 2);
    }
    CHECK_OK(ps_process_destroy(&vmm2));
    if (expect_exit(&g, RS_EXIT_IO)) CHECK_EQ(EXIT_WORD(RAX), 2); // init receives it now
}

static void vcpu_vmm_receives_again(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_loop));
    REQUIRE(expect_exit(&g, RS_EXIT_IO));
    uint64_t ip = EXIT_WORD(RIP);
    CHECK_EQ(EXIT_WORD(RAX), 1);
    REQUIRE(expect_exit(&g, RS_EXIT_IO)); // receiving again drops it back into the queue
    CHECK_EQ(EXIT_WORD(RIP), ip);
    CHECK_EQ(EXIT_WORD(RAX), 1);
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    if (expect_exit(&g, RS_EXIT_IO)) CHECK_EQ(EXIT_WORD(RAX), 2);
}

static void vcpu_reply_pauses(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_loop));
    REQUIRE(expect_exit(&g, RS_EXIT_IO));
    uint64_t ip = EXIT_WORD(RIP);
    rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP);
    REQUIRE_OK(rs_reply(rs_msginfo(1, 0, 0, 1)).error); // a label: stay paused, flags unused
    CHECK_ERR(wait_recv(g.ep, 50, NULL), RS_WOULD_BLOCK);
    CHECK_OK(ps_tcb_resume(g.tcb)); // runs the OUT again
    if (expect_exit(&g, RS_EXIT_IO)) {
        CHECK_EQ(EXIT_WORD(RIP), ip);
        CHECK_EQ(EXIT_WORD(RAX), 1);
    }
}

static void vcpu_objects_go(void)
{
    struct guest g;
    REQUIRE(guest_go(&g, guest_loop));
    REQUIRE(expect_exit(&g, RS_EXIT_IO));
    // the guest space goes (with the binding's copy) while the exit is held: the vCPU stops
    CHECK_OK(ps_cnode_revoke(ME, g.gs, D));
    CHECK_OK(ps_cnode_delete(ME, g.gs, D));
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    CHECK_ERR(wait_recv(g.ep, 50, NULL), RS_WOULD_BLOCK);
    // a VCPU destroyed while its exit is held: the late reply goes nowhere
    struct guest h;
    REQUIRE(guest_go(&h, guest_loop));
    REQUIRE(expect_exit(&h, RS_EXIT_IO));
    CHECK_OK(ps_cnode_delete(ME, h.vcpu, D));
    CHECK_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    CHECK_ERR(wait_recv(h.ep, 50, NULL), RS_WOULD_BLOCK);
    CHECK_EQ(cap_type(h.tcb), RS_CAP_TCB);
    CHECK_OK(ps_cnode_delete(ME, h.tcb, D));
}

const struct test vcpu_tests[] = {
    {"VCPU-0001", "Retype makes VCPUs (8 KiB) and GuestSpaces; each has only its own operations", vcpu_retype},
    {"VCPU-0002", "Bind names the cap of the wrong type, refuses a running thread and a second binding",
     vcpu_bind_errors},
    {"VCPU-0003", "WriteState refuses a non-canonical RIP and bad CR0/CR4/EFER combinations by word; "
                  "ReadState returns the state written",
     vcpu_state_checks},
    {"VCPU-0004", "GuestSpace Map reports the missing table level, alignment, range, rights and "
                  "occupied entries; Unmap and Frame Unmap remove guest mappings",
     vcpu_guest_space_map},
    {"VCPU-0005", "a guest's OUT and IN arrive as RS_EXIT_IO with port, size and data; ADVANCE_RIP "
                  "continues after them",
     vcpu_io_exits},
    {"VCPU-0006", "CPUID, VMMCALL and HLT arrive with their instruction lengths; SET_GPRS takes the "
                  "registers the reply carries",
     vcpu_instruction_exits},
    {"VCPU-0007", "an access to an unmapped guest-physical address arrives as RS_EXIT_GUEST_FAULT "
                  "with the exact address; SET_RIP and SET_GPRS emulate it",
     vcpu_guest_fault},
    {"VCPU-0008", "deleting a frame's cap unmaps it from the guest: the next access is a guest fault",
     vcpu_frame_delete_unmaps},
    {"VCPU-0009", "a triple fault arrives as RS_EXIT_TRIPLE_FAULT; the kernel and the vCPU go on",
     vcpu_triple_fault},
    {"VCPU-0010", "a state the hardware refuses arrives as RS_EXIT_INVALID_STATE", vcpu_invalid_state},
    {"VCPU-0011", "an injected interrupt reaches the guest's handler; an interrupt-window request "
                  "exits once the guest can take one",
     vcpu_inject_and_window},
    {"VCPU-0012", "the guest's FPU registers survive exits and are not left for the VMM to read",
     vcpu_fpu_state},
    {"VCPU-0013", "a guest that never exits does not starve a thread of its priority; Suspend stops it",
     vcpu_spinning_guest},
    {"VCPU-0014", "an exit whose VMM dies before replying goes to the next VMM, whose reply resumes "
                  "the guest",
     vcpu_vmm_dies},
    {"VCPU-0015", "a VMM that receives again without replying gets the same exit again",
     vcpu_vmm_receives_again},
    {"VCPU-0016", "a reply with a label leaves the guest paused; Resume runs the instruction again",
     vcpu_reply_pauses},
    {"VCPU-0017", "a guest whose guest space or VCPU goes while its exit is held stops; the kernel "
                  "stays up",
     vcpu_objects_go},
    {0},
};
