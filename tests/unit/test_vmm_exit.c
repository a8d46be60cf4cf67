// SPDX-License-Identifier: MIT
// Host tests of the VMM's exit dispatch (servers/vmm/exit.c, mmio.c) over fake VCPU operations,
// and of its persistent state (state.c): the replies each exit gets, the timer's injection and
// interrupt windows, HLT, MMIO through the guest's instruction, stopping the guest; commits,
// lost transactions, and an exit coming back after a crash answered with the same reply.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(exit, .init = fake_setup);
TestSuite(vmmstate);

#define IF_ON 0x202ull

static uint64_t w[RS_EXIT_MR_COUNT];
static struct vmm_reply r;

/* An exit of `reason` with qualification qual at rip 0x100000, IF set, rax..r15 = 0xA0 + index. */
static void exit_of(uint64_t reason, uint64_t qual)
{
    memset(w, 0, sizeof(w));
    w[RS_EXIT_MR_REASON] = reason;
    w[RS_EXIT_MR_QUAL] = qual;
    w[RS_EXIT_MR_RIP] = 0x100000;
    w[RS_EXIT_MR_RFLAGS] = IF_ON;
    w[RS_EXIT_MR_INSN_LEN] = 2;
    for (unsigned i = RS_EXIT_MR_GPR; i < RS_EXIT_MR_GPR + RS_GPR_COUNT; i++)
        w[i] = 0xA0 + i;
}

static enum vmm_action run(void)
{
    return vmm_exit(&fake_vmm, w, &r);
}
static uint64_t flags(void)
{
    return r.w[RS_REPLY_MR_FLAGS];
}

static void out_byte(uint16_t port, uint8_t v)
{
    exit_of(RS_EXIT_IO, port | 1u << 16);
    w[RS_EXIT_MR_RAX] = v;
    cr_assert_eq(run(), VMM_REPLY);
}

Test(exit, out_to_the_uart_advances_and_prints_lines)
{
    out_byte(0x3F8, 'o');
    cr_assert(r.label == 0 && r.len == 1 && flags() == RS_REPLY_ADVANCE_RIP);
    out_byte(0x3F8, 'k');
    out_byte(0x3F8, '\n');
    cr_assert_str_eq(fake_out(), "[vm1] ok\n");
}

Test(exit, in_merges_into_rax_by_size)
{
    exit_of(RS_EXIT_IO, 0x3FD | 1u << 16 | 1u << 24); // inb LSR
    w[RS_EXIT_MR_RAX] = 0x1122334455667788ull;
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_GPRS);
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0x1122334455667760ull);
    cr_assert_eq(r.w[RS_REPLY_MR_RBX], w[RS_EXIT_MR_RBX],
                 "the other registers keep the exit's values");
    exit_of(RS_EXIT_IO, 0x1234 | 2u << 16 | 1u << 24); // inw from nothing
    w[RS_EXIT_MR_RAX] = 0x1122334455667788ull;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0x112233445566FFFFull);
    exit_of(RS_EXIT_IO, 0x1234 | 4u << 16 | 1u << 24); // inl: a 32-bit write clears the top
    w[RS_EXIT_MR_RAX] = 0x1122334455667788ull;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0xFFFFFFFFull);
}

Test(exit, string_io_is_skipped_and_logged_once)
{
    exit_of(RS_EXIT_IO, 0x3F8 | 1u << 16 | 1u << 25 | 1u << 26);
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP);
    cr_assert(strstr(fake_out(), "vmm vm1: string port I/O"));
    fake_st.out.len = 0;
    run();
    cr_assert_str_eq(fake_out(), "");
}

/* Programs the PIT at 100 Hz through I/O exits, then lets init's tick pass. */
static void timer_due(void)
{
    out_byte(0x43, 0x34);
    out_byte(0x40, 11932 & 0xFF);
    out_byte(0x40, 11932 >> 8);
    cr_assert(!vmm_tick(&fake_vmm) || fake_st.irq_pending);
    vmm_tick(&fake_vmm);
    cr_assert(fake_st.irq_pending);
}

Test(exit, the_timer_rides_on_a_reply_when_interrupts_are_on)
{
    timer_due();
    exit_of(RS_EXIT_CPUID, 0);
    run();
    cr_assert(flags() & RS_REPLY_INJECT);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], RS_EVENT_MAKE(0x20, RS_EVENT_EXTINT));
    cr_assert(!fake_st.irq_pending);
    cr_assert_eq(fake_st.irqs, 1);
}

Test(exit, with_interrupts_off_the_guest_is_asked_back_through_a_window)
{
    timer_due();
    exit_of(RS_EXIT_IO, 0x20 | 1u << 16);
    w[RS_EXIT_MR_RFLAGS] = 0x2;
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP | RS_REPLY_WANT_WINDOW);
    cr_assert(fake_st.irq_pending);
    exit_of(RS_EXIT_INTR_WINDOW, 0);
    run();
    cr_assert_eq(flags(), RS_REPLY_INJECT, "no RIP change at a window exit");
    cr_assert_eq(fake_st.irqs, 1);
}

Test(exit, an_exception_being_injected_defers_the_timer)
{
    timer_due();
    exit_of(RS_EXIT_MSR_WRITE, MSR_EFER);
    w[RS_EXIT_MR_RDX] = 1; // a reserved bit: #GP
    w[RS_EXIT_MR_RAX] = 0;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP);
    cr_assert(flags() & RS_REPLY_WANT_WINDOW);
    cr_assert(!(flags() & RS_REPLY_ADVANCE_RIP), "a faulting WRMSR is not skipped");
    cr_assert(fake_st.irq_pending);
}

Test(exit, hlt_waits_for_the_timer)
{
    out_byte(0x43, 0x34); // the PIT counts, 100 Hz
    out_byte(0x40, 11932 & 0xFF);
    out_byte(0x40, 11932 >> 8);
    exit_of(RS_EXIT_HLT, 0);
    cr_assert_eq(run(), VMM_WAIT, "nothing due");
    timer_due();
    exit_of(RS_EXIT_HLT, 0);
    cr_assert_eq(run(), VMM_REPLY);
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP | RS_REPLY_INJECT);
}

Test(exit, hlt_with_interrupts_off_stops_the_guest)
{
    exit_of(RS_EXIT_HLT, 0);
    w[RS_EXIT_MR_RFLAGS] = 0x2;
    run();
    cr_assert_eq(r.label, 1);
    cr_assert(fake_st.stopped);
    cr_assert(strstr(fake_out(),
                     "vmm vm1: guest halted with interrupts disabled at rip 0x100000: stopped"));
}

/* A guest that halts with interrupts on but no timer running would never wake, and its VMM,
 * waiting for the timer on its notification, would never answer a client again (a hostile
 * guest's `sti; hlt` before programming the PIT hung vmcheck's VMM_STATS call). */
Test(exit, hlt_with_no_timer_running_stops_the_guest)
{
    exit_of(RS_EXIT_HLT, 0);
    cr_assert_eq(run(), VMM_REPLY);
    cr_assert_eq(r.label, 1);
    cr_assert(strstr(fake_out(), "vmm vm1: guest halted with no timer running at rip 0x100000: "
                                 "stopped"));
    // a one-shot count that already fired has stopped the timer too
    fake_setup();
    out_byte(0x43, 0x30); // mode 0
    out_byte(0x40, 0x10);
    out_byte(0x40, 0x00);
    exit_of(RS_EXIT_HLT, 0);
    cr_assert_eq(run(), VMM_WAIT, "the count runs: it will wake the guest");
    vmm_tick(&fake_vmm);
    exit_of(RS_EXIT_HLT, 0);
    cr_assert_eq(run(), VMM_REPLY);
    cr_assert_eq(r.label, 0, "the interrupt it raised wakes the guest");
    exit_of(RS_EXIT_HLT, 0);
    run();
    cr_assert_eq(r.label, 1, "nothing will come now");
}

Test(exit, a_triple_fault_stops_the_guest_for_good)
{
    exit_of(RS_EXIT_TRIPLE_FAULT, 0);
    run();
    cr_assert_eq(r.label, 1);
    cr_assert_str_eq(fake_out(), "vmm vm1: guest triple fault at rip 0x100000: stopped\n");
    cr_assert_eq(fake_st.stop_reason, RS_EXIT_TRIPLE_FAULT);
    exit_of(RS_EXIT_IO, 0x80 | 1u << 16);
    run();
    cr_assert_eq(r.label, 1, "whatever comes later");
}

Test(exit, cpuid_answers_in_all_four_registers)
{
    exit_of(RS_EXIT_CPUID, 0);
    w[RS_EXIT_MR_RAX] = 0x40000000;
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_GPRS);
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0x40000000);
    cr_assert_eq(r.w[RS_REPLY_MR_RBX], 0x75736552); // "Resu"
    cr_assert_eq(r.w[RS_REPLY_MR_RCX], 0x566F6772); // "rgoV"
    cr_assert_eq(r.w[RS_REPLY_MR_RDX], 0x20204D4D); // "MM  "
}

Test(exit, msrs)
{
    exit_of(RS_EXIT_MSR_READ, MSR_APIC_BASE);
    run();
    cr_assert(r.w[RS_REPLY_MR_RAX] == 0xFEE00900 && r.w[RS_REPLY_MR_RDX] == 0);
    exit_of(RS_EXIT_MSR_READ, MSR_TSC);
    run();
    cr_assert(r.w[RS_REPLY_MR_RAX] == (uint32_t)FAKE_TSC && r.w[RS_REPLY_MR_RDX] == FAKE_TSC >> 32);
    exit_of(RS_EXIT_MSR_WRITE, MSR_EFER);
    w[RS_EXIT_MR_RAX] = 0x100, w[RS_EXIT_MR_RDX] = 0;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP, "LME without PAE: QEMU's SVM would hang");
    cr_assert_eq(fake_writes, 0);
    fake_state.cr4 = 0x20;
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP);
    cr_assert(fake_writes == 1 && fake_state.efer == 0x100, "EFER went into the vCPU state");
    fake_write_error = RS_INVALID_ARGUMENT;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP,
                 "a state the kernel refuses is the guest's #GP");
}

/* Issue 16 item 11: a long-mode guest (paging on) that clears EFER.LME by WRMSR. Hardware
 * raises #GP (LME cannot change while CR0.PG = 1); the VMM used to write the EFER. */
Test(exit, efer_lme_cannot_change_while_paging_is_on)
{
    fake_state.cr0 = 0x80000011, fake_state.cr4 = 0x20, fake_state.efer = 0x500;
    exit_of(RS_EXIT_MSR_WRITE, MSR_EFER);
    w[RS_EXIT_MR_CR0] = 0x80000011, w[RS_EXIT_MR_CR4] = 0x20, w[RS_EXIT_MR_EFER] = 0x500;
    w[RS_EXIT_MR_RAX] = 0x001, w[RS_EXIT_MR_RDX] = 0; // SCE only: LME cleared
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP);
    cr_assert(!(flags() & RS_REPLY_ADVANCE_RIP), "a faulting WRMSR is not skipped");
    cr_assert_eq(fake_writes, 0, "EFER unchanged");
    w[RS_EXIT_MR_RAX] = 0x901; // SCE NXE and LME kept: allowed, LMA stays as it is
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP);
    cr_assert_eq(fake_state.efer, 0xD01);
    // paging off, in long mode's setup: LME may be set and cleared
    fake_state.cr0 = 0x11, fake_state.efer = 0;
    w[RS_EXIT_MR_CR0] = 0x11, w[RS_EXIT_MR_EFER] = 0, w[RS_EXIT_MR_RAX] = 0x100;
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP);
    cr_assert_eq(fake_state.efer, 0x100);
    // paging on in 32-bit mode: setting LME is refused as well
    fake_state.cr0 = 0x80000011, fake_state.efer = 0;
    w[RS_EXIT_MR_CR0] = 0x80000011, w[RS_EXIT_MR_EFER] = 0;
    fake_writes = 0;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP);
    cr_assert_eq(fake_writes, 0);
}

Test(exit, vmcall_exceptions_and_other_intercepts)
{
    exit_of(RS_EXIT_VMCALL, 0);
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], ~0ull);
    exit_of(RS_EXIT_EXCEPTION, 17 | 0ull << 32); // #AC goes back with its error code
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT],
                 RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(17, RS_EVENT_EXCEPTION), 0));
    exit_of(RS_EXIT_EXCEPTION, 1); // #DB has none
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], RS_EVENT_MAKE(1, RS_EVENT_EXCEPTION));
    exit_of(RS_EXIT_OTHER, 0);
    w[RS_EXIT_MR_RAW_REASON] = 0x8D; // XSETBV
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_UD);
    cr_assert(strstr(fake_out(), "is not emulated: #UD"));
}

/* ---- MMIO: the instruction at RIP is in the fake RAM; 32-bit flat, no paging ---- */

static void mmio_exit_at(uint64_t gpa, uint64_t qual, const uint8_t *code, size_t n)
{
    memcpy(fake_ram + 0x100000, code, n);
    exit_of(RS_EXIT_GUEST_FAULT, qual);
    w[RS_EXIT_MR_GPA] = gpa;
    w[RS_EXIT_MR_INSN_LEN] = 0;
    run();
}

Test(exit, the_info_device)
{
    static const uint8_t load[] = {0x8B, 0x02}, load16[] = {0x66, 0x8B, 0x0A},
                         store[] = {0x89, 0x02};
    mmio_exit_at(INFO_GPA, 1, load, sizeof(load));
    cr_assert_eq(flags(), RS_REPLY_SET_RIP | RS_REPLY_SET_GPRS);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100002);
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], INFO_MAGIC);
    cr_assert(r.len > RS_REPLY_MR_RIP);
    fake_st.irqs = 0x123456;
    mmio_exit_at(INFO_GPA + 4, 1, load16, sizeof(load16));
    cr_assert_eq(r.w[RS_REPLY_MR_RCX], (w[RS_EXIT_MR_RCX] & ~0xFFFFull) | 0x3456);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100003);
    mmio_exit_at(INFO_GPA + 8, 2, store, sizeof(store));
    w[RS_EXIT_MR_RAX] = 0xBEEF;
    fake_st.out.len = 0;
    run();
    cr_assert_str_eq(fake_out(), "[vm1] mmio: 0xbeef\n");
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
}

Test(exit, elsewhere_reads_are_all_ones_writes_dropped_and_each_page_logged_once)
{
    static const uint8_t loadb[] = {0x8A, 0x22}, store[] = {0x89, 0x02};
    mmio_exit_at(0xFEE00030, 1, loadb, sizeof(loadb)); // mov (%edx), %ah
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], (w[RS_EXIT_MR_RAX] & ~0xFF00ull) | 0xFF00);
    cr_assert(strstr(fake_out(), "vmm vm1: read at unmapped gpa 0xfee00030 (rip 0x100000)"));
    fake_st.out.len = 0;
    mmio_exit_at(0xFEE00040, 2, store, sizeof(store));
    cr_assert_str_eq(fake_out(), "", "the same page: not again");
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
    for (unsigned i = 0; i < VMM_ONCE_MAX + 5; i++)
        mmio_exit_at(0x80000000 + i * 4096ull, 2, store, sizeof(store));
    cr_assert_eq(fake_st.once.n, VMM_ONCE_MAX, "the log of pages is bounded");
}

Test(exit, what_cannot_be_emulated)
{
    static const uint8_t add[] = {0x01, 0x02};
    mmio_exit_at(0xFEE00000, 2, add, sizeof(add));
    cr_assert_eq(flags(), RS_REPLY_INJECT);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP);
    cr_assert(strstr(fake_out(), "cannot emulate the instruction at rip 0x100000"));
    fake_state.cs.attrib = 0xA9B; // 64-bit code: the same bytes as a REX prefix and more
    fake_state.efer = 0x500;
    static const uint8_t rex_only[] = {0x48};
    mmio_exit_at(0xFEE00000, 2, rex_only, sizeof(rex_only));
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP);
    mmio_exit_at(0xFEE00000, 4, add, sizeof(add)); // executing there
    cr_assert_eq(r.label, 1);
}

/* Issue 16 item 11: a guest fault taken while the CPU delivered an event (the IST stack, IDT or
 * GDT outside RAM) is no access of the instruction at RIP. The VMM used to emulate that
 * instruction (a MOV: skipped as if it had been the access) or inject #GP behind the event the
 * kernel delivers again, which faults again: the guest looped through the VMM for ever. Now the
 * guest stops, as for a triple fault. */
Test(exit, a_fault_while_delivering_an_event_stops_the_guest)
{
    static const uint8_t store[] = {0x89, 0x02}, ud2[] = {0x0F, 0x0B};
    uint64_t gp = RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0) | RS_EVENT_VALID;
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    exit_of(RS_EXIT_GUEST_FAULT, 2); // the push of the exception frame, on a stack above RAM
    w[RS_EXIT_MR_GPA] = 0x7FFFF8;
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_EVENT] = gp;
    run();
    cr_assert_eq(r.label, 1, "not emulated as the MOV at RIP");
    cr_assert(fake_st.stopped);
    cr_assert_eq(fake_st.stop_reason, RS_EXIT_GUEST_FAULT);
    cr_assert(strstr(fake_out(), "vmm vm1: event 0x80000b0d being delivered touched gpa 0x7ffff8 "
                                 "outside RAM (its IDT, GDT or stack)"),
              "%s", fake_out());
    cr_assert(strstr(fake_out(), "vmm vm1: guest fault while delivering an event at rip "
                                 "0x100000: stopped"));
    // an instruction that is no MOV (it used to get #GP behind the event: the loop)
    fake_setup();
    memcpy(fake_ram + 0x100000, ud2, sizeof(ud2));
    w[RS_EXIT_MR_QUAL] = 1; // reading the IDT entry
    w[RS_EXIT_MR_EVENT] = RS_EVENT_MAKE(0x20, RS_EVENT_EXTINT) | RS_EVENT_VALID;
    run();
    cr_assert_eq(r.label, 1);
    cr_assert(!(r.w[RS_REPLY_MR_FLAGS] & RS_REPLY_INJECT));
    // the same fault without an event in delivery is the MOV's own access, as before
    fake_setup();
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    w[RS_EXIT_MR_QUAL] = 2;
    w[RS_EXIT_MR_EVENT] = 0;
    run();
    cr_assert_eq(r.label, 0);
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100002);
}

/* Issue 16 item 11: an access that straddles the end of RAM faults on its outside part only;
 * the VMM emulates the whole instruction, so it must do the RAM part itself. It used to send the
 * whole access to the device at the exit's address and drop the RAM half of a store. */
Test(exit, a_store_straddling_the_end_of_ram_writes_the_ram_part)
{
    static const uint8_t store[] = {0x89, 0x02}; // mov %eax, (%edx)
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    exit_of(RS_EXIT_GUEST_FAULT, 2);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = FAKE_RAM_SIZE; // the part outside RAM is what faulted
    w[RS_EXIT_MR_RDX] = FAKE_RAM_SIZE - 2;
    w[RS_EXIT_MR_RAX] = 0x11223344;
    run();
    cr_assert_eq(r.label, 0);
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100002);
    cr_assert(fake_ram[FAKE_RAM_SIZE - 2] == 0x44 && fake_ram[FAKE_RAM_SIZE - 1] == 0x33,
              "the RAM half: %02x %02x", fake_ram[FAKE_RAM_SIZE - 2], fake_ram[FAKE_RAM_SIZE - 1]);
    cr_assert(strstr(fake_out(), "write at unmapped gpa 0x400000"), "%s", fake_out());
}

/* Long mode, identity-mapped by one 1 GiB page (PML4 at 0x1000, PDPT at 0x2000). */
static void long_mode_identity(void)
{
    fake_ram[0x1000] = 0x03, fake_ram[0x1001] = 0x20; // PML4[0] -> 0x2000, present, writable
    fake_ram[0x2000] = 0x83;                          // PDPT[0]: 1 GiB page at 0
    fake_state.cr0 = 0x80000011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20;
    fake_state.efer = 0x500, fake_state.cs.attrib = 0xA9B;
}

Test(exit, an_8_byte_store_straddling_the_end_of_ram)
{
    static const uint8_t store[] = {0x48, 0x89, 0x44, 0x8A, 0x10}; // mov %rax, 16(%rdx,%rcx,4)
    long_mode_identity();
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    exit_of(RS_EXIT_GUEST_FAULT, 2);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = FAKE_RAM_SIZE + 1; // any byte of the outside part
    w[RS_EXIT_MR_RDX] = FAKE_RAM_SIZE - 4 - 16 - 40;
    w[RS_EXIT_MR_RCX] = 10;
    w[RS_EXIT_MR_RAX] = 0x1122334455667788ull;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100005);
    cr_assert_eq(memcmp(fake_ram + FAKE_RAM_SIZE - 4, "\x88\x77\x66\x55", 4), 0,
                 "the low four bytes went to RAM");
}

Test(exit, a_load_straddling_the_end_of_ram_or_two_device_pages)
{
    static const uint8_t load[] = {0x8B, 0x02}; // mov (%edx), %eax
    memcpy(fake_ram + 0x100000, load, sizeof(load));
    fake_ram[FAKE_RAM_SIZE - 1] = 0xAB;
    exit_of(RS_EXIT_GUEST_FAULT, 1);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = FAKE_RAM_SIZE;
    w[RS_EXIT_MR_RDX] = FAKE_RAM_SIZE - 1;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0xFFFFFFABull, "RAM byte, then open bus");
    // the info device's last two bytes (0) and the open bus after it (all ones)
    exit_of(RS_EXIT_GUEST_FAULT, 1);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = INFO_GPA + 0x1000;
    w[RS_EXIT_MR_RDX] = INFO_GPA + 0xFFE;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0xFFFF0000ull);
    // the first page of an access that crosses pages is the one reported: the same result
    w[RS_EXIT_MR_GPA] = INFO_GPA + 0xFFE;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0xFFFF0000ull);
    // a 32-bit info register read that starts in the device page: unchanged
    w[RS_EXIT_MR_RDX] = w[RS_EXIT_MR_GPA] = INFO_GPA;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], INFO_MAGIC);
}

/* A page-crossing store from an unmapped page into a RAM page: the CPU faulted on the first
 * page before it checked the guest's rights on the second, so the VMM checks them: a user-mode
 * store must not reach a supervisor page (nor any store a read-only one, with CR0.WP). */
Test(exit, a_page_crossing_store_into_ram_keeps_the_guests_page_rights)
{
    static const uint8_t store[] = {0x89, 0x02}; // mov %eax, (%rdx)
    uint64_t e[][2] = {{0x1000, 0x2007},       // PML4[0]
                       {0x2000, 0x4007},       // PDPT[0]
                       {0x4000, 0x87},         // PD[0]: 2 MiB user page at 0 (the code)
                       {0x4008, 0x5007},       // PD[1] -> PT at 0x5000
                       {0x5000, 0x500007},     // la 0x200000: outside RAM, user
                       {0x5008, 0x6003}};      // la 0x201000: RAM 0x6000, supervisor only
    for (unsigned i = 0; i < 6; i++)
        memcpy(fake_ram + e[i][0], &e[i][1], 8);
    fake_state.cr0 = 0x80010011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20;
    fake_state.efer = 0x500, fake_state.cs.attrib = 0xAFB, fake_state.ss.attrib = 0xCF3; // CPL 3
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    exit_of(RS_EXIT_GUEST_FAULT, 2);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = 0x500FFE;
    w[RS_EXIT_MR_RDX] = 0x200FFE;
    w[RS_EXIT_MR_RAX] = 0x11223344;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100002);
    cr_assert(fake_ram[0x6000] == 0 && fake_ram[0x6001] == 0, "user mode: not a supervisor page");
    fake_state.ss.attrib = 0xC93; // CPL 0, CR0.WP: the page is writable, so it is written
    run();
    cr_assert(fake_ram[0x6000] == 0x22 && fake_ram[0x6001] == 0x11);
    memset(fake_ram + 0x6000, 0, 2);
    uint64_t ro = 0x6001; // read-only
    memcpy(fake_ram + 0x5008, &ro, 8);
    run();
    cr_assert(fake_ram[0x6000] == 0, "CR0.WP: supervisor writes respect read-only pages");
    fake_state.cr0 = 0x80000011; // WP clear: they do not
    run();
    cr_assert(fake_ram[0x6000] == 0x22);
}

/* ---- the persistent state ---- */

static union {
    struct vmm_persist p;
    uint8_t bytes[8192];
} region;

Test(vmmstate, open_begin_commit)
{
    memset(&region, 0xEE, sizeof(region));
    cr_assert_null(vmm_persist_open(&region, sizeof(struct vmm_persist) - 1));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    cr_assert_not_null(p);
    cr_assert_eq(vmm_committed(p)->seq, 0, "initialised on first use");
    struct vmm_state *s = vmm_begin(p);
    s->irqs = 5;
    cr_assert_eq(vmm_committed(p)->irqs, 0, "not before the commit");
    vmm_commit(p);
    cr_assert_eq(vmm_committed(p)->irqs, 5);
    s = vmm_begin(p);
    s->irqs = 6; // and the VMM dies: the transaction is lost
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_eq(vmm_committed(p)->irqs, 5);
    p->current = 0xFFFF; // a wild write cannot take the index out of the two copies
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert_leq(p->current, 1);
}

Test(vmmstate, an_exit_that_comes_back_gets_the_same_reply)
{
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    uint64_t a[RS_EXIT_MR_COUNT] = {RS_EXIT_IO, 0x3F8}, b[RS_EXIT_MR_COUNT] = {RS_EXIT_IO, 0x3F9};
    uint64_t fa = vmm_fingerprint(a, RS_EXIT_MR_COUNT), fb = vmm_fingerprint(b, RS_EXIT_MR_COUNT);
    cr_assert_neq(fa, fb);
    cr_assert(!vmm_is_redelivery(p, fa), "nothing recorded yet");
    struct vmm_reply rep = {.len = 1, .w = {RS_REPLY_ADVANCE_RIP}};
    vmm_record(vmm_begin(p), fa, &rep);
    vmm_commit(p);
    // the VMM dies before its reply went out: the kernel delivers `a` again
    p = vmm_persist_open(&region, sizeof(region));
    cr_assert(vmm_is_redelivery(p, fa));
    cr_assert(!vmm_is_redelivery(p, fb), "another exit is new");
    cr_assert_eq(vmm_committed(p)->last.w[0], RS_REPLY_ADVANCE_RIP);
    vmm_mark_replied(p);
    cr_assert(!vmm_is_redelivery(p, fa), "once the reply is out, the same exit again is a new one");
    cr_assert_eq(vmm_committed(p)->seq, 1);
}

Test(vmmstate, output_is_printed_once_after_its_commit)
{
    memset(&region, 0, sizeof(region));
    struct vmm_persist *p = vmm_persist_open(&region, sizeof(region));
    struct vmm v = {.name = "vm7"};
    v.st = vmm_begin(p);
    vmm_guest_line(&v, "hi", 2);
    cr_assert_eq(vmm_unprinted(p)->len, 0, "nothing before the commit");
    vmm_commit(p);
    cr_assert_eq(vmm_unprinted(p)->len, 9);
    cr_assert_eq(memcmp(vmm_unprinted(p)->text, "[vm7] hi\n", 9), 0);
    p = vmm_persist_open(&region, sizeof(region)); // died before printing: the next one prints
    cr_assert_eq(vmm_unprinted(p)->len, 9);
    vmm_mark_printed(p);
    cr_assert_eq(vmm_unprinted(p)->len, 0);
    v.st = vmm_begin(p);
    vmm_commit(p);
    cr_assert_eq(vmm_unprinted(p)->len, 0, "a commit without output prints nothing");
}

Test(vmmstate, once)
{
    struct vmm_once o = {0};
    cr_assert(vmm_once(&o, 7));
    cr_assert(!vmm_once(&o, 7));
    for (uint64_t k = 100; k < 100 + VMM_ONCE_MAX; k++)
        vmm_once(&o, k);
    cr_assert(!vmm_once(&o, 5), "full");
    o.n = 0xFFFFFFFF; // garbage count: still bounded
    cr_assert(!vmm_once(&o, 6));
}
