// SPDX-License-Identifier: MIT
// vCPU tests, exits: a test guest (guests/test/guest.S) whose exits arrive as IPC on its exit
// endpoint with init as its VMM; replies that resume, emulate and inject; guest faults, triple
// fault and invalid state; the guest's FPU state; a guest that never exits.
#include "test_vcpu.h"

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
    REQUIRE_OK(rs_reply(rs_msginfo(0, 0, 0, RS_REPLY_MR_RBX + 1)).error); // rax rcx rdx rbx
    if (expect_exit(&g, RS_EXIT_IO)) { // the guest reports the ebx it got
        CHECK_EQ(EXIT_WORD(RAX), 0x4D565352);
        CHECK_EQ(EXIT_WORD(RIP), ip + 11);
    }
    REQUIRE_OK(reply_flags(RS_REPLY_ADVANCE_RIP));
    REQUIRE(expect_exit(&g, RS_EXIT_HLT));

    // the hypercall instruction is the vendor's own: VMMCALL on AMD, VMCALL on Intel
    uint32_t vendor[4];
    __asm__ volatile("cpuid"
                     : "=a"(vendor[0]), "=b"(vendor[1]), "=c"(vendor[2]), "=d"(vendor[3])
                     : "a"(0), "c"(0));
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
    REQUIRE_OK(reply_rax(RS_REPLY_SET_RIP, 0xCAFEF00D, ip + 5, RS_REPLY_MR_RAX + 1));
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
    REQUIRE_OK(ps_guest_space_map(g.gs, data, DATA_GPA, RW));
    rs_vcpu_state_t s;
    flat32_state(&s, gpa_of(guest_data));
    REQUIRE_OK(ps_vcpu_write_state(g.vcpu, &s));
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
    REQUIRE_OK(ps_vcpu_write_state(g.vcpu, &s));
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
    REQUIRE_OK(ps_vcpu_inject(g.vcpu, RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT)));
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
    REQUIRE_OK(ps_vcpu_write_state(g.vcpu, &s));
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
    REQUIRE_OK(ps_vcpu_read_state(g.vcpu, &s));
    CHECK_EQ(s.rip, gpa_of(guest_spin));
    CHECK_OK(ps_tcb_resume(g.tcb));
    for (int i = 0; i < 3; i++) rs_yield();
    CHECK_OK(ps_tcb_suspend(g.tcb));
}

const struct test vcpu_exit_tests[] = {
    {"VCPU-0005",
     "a guest's OUT and IN arrive as RS_EXIT_IO with port, size and data; ADVANCE_RIP "
     "continues after them",
     vcpu_io_exits},
    {"VCPU-0006",
     "CPUID, VMMCALL and HLT arrive with their instruction lengths; SET_GPRS takes the "
     "registers the reply carries",
     vcpu_instruction_exits},
    {"VCPU-0007",
     "an access to an unmapped guest-physical address arrives as RS_EXIT_GUEST_FAULT "
     "with the exact address; SET_RIP and SET_GPRS emulate it",
     vcpu_guest_fault},
    {"VCPU-0008",
     "deleting a frame's cap unmaps it from the guest: the next access is a guest fault",
     vcpu_frame_delete_unmaps},
    {"VCPU-0009", "a triple fault arrives as RS_EXIT_TRIPLE_FAULT; the kernel and the vCPU go on",
     vcpu_triple_fault},
    {"VCPU-0010", "a state the hardware refuses arrives as RS_EXIT_INVALID_STATE",
     vcpu_invalid_state},
    {"VCPU-0011",
     "an injected interrupt reaches the guest's handler; an interrupt-window request "
     "exits once the guest can take one",
     vcpu_inject_and_window},
    {"VCPU-0012", "the guest's FPU registers survive exits and are not left for the VMM to read",
     vcpu_fpu_state},
    {"VCPU-0013",
     "a guest that never exits does not starve a thread of its priority; Suspend stops it",
     vcpu_spinning_guest},
    {0},
};
