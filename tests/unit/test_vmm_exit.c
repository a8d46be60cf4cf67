// SPDX-License-Identifier: MIT
// Host tests of the VMM's exit dispatch (servers/vmm/exit.c) over fake VCPU operations: the
// replies each exit gets, the timer's injection and interrupt windows, HLT, CPUID, MSRs,
// stopping the guest. MMIO exits: test_vmm_mmio.c; the persistent state: test_vmm_state.c.
#include <criterion/criterion.h>
#include "vmm_fake.h"
#include "vmm_exit_fake.h"

TestSuite(exit, .init = fake_setup);

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

/* The kernel still holds an interrupt injected earlier (RS_EXIT_IRQ_PENDING: the guest has not
 * taken it yet). Another injection would replace it, and the vector the PIC or LAPIC already put
 * in service would never reach the guest: the timer waits for a window instead. */
Test(exit, an_event_the_kernel_still_holds_defers_the_timer)
{
    timer_due();
    exit_of(RS_EXIT_CPUID, 0);
    w[RS_EXIT_MR_SEG] |= RS_EXIT_IRQ_PENDING;
    run();
    cr_assert(!(flags() & RS_REPLY_INJECT), "nothing injected over the held event");
    cr_assert(flags() & RS_REPLY_WANT_WINDOW);
    cr_assert(fake_st.irq_pending, "the timer still waits");
    cr_assert_eq(fake_st.irqs, 0);
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
    cr_assert(!(flags() & RS_REPLY_SET_EFER));
    w[RS_EXIT_MR_CR4] = 0x20; // PAE, as the exit shows it: no ReadState needed
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_EFER);
    cr_assert(r.len > RS_REPLY_MR_EFER && r.w[RS_REPLY_MR_EFER] == 0x100, "EFER in the reply");
    cr_assert_eq(fake_writes, 0, "no WriteState round trip");
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
    cr_assert(!(flags() & RS_REPLY_SET_EFER), "EFER unchanged");
    w[RS_EXIT_MR_RAX] = 0x901; // SCE NXE and LME kept: allowed, LMA stays as it is
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_EFER);
    cr_assert_eq(r.w[RS_REPLY_MR_EFER], 0xD01);
    // paging off, in long mode's setup: LME may be set and cleared
    fake_state.cr0 = 0x11, fake_state.efer = 0;
    w[RS_EXIT_MR_CR0] = 0x11, w[RS_EXIT_MR_EFER] = 0, w[RS_EXIT_MR_RAX] = 0x100;
    run();
    cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP | RS_REPLY_SET_EFER);
    cr_assert_eq(r.w[RS_REPLY_MR_EFER], 0x100);
    // paging on in 32-bit mode: setting LME is refused as well
    fake_state.cr0 = 0x80000011, fake_state.efer = 0;
    w[RS_EXIT_MR_CR0] = 0x80000011, w[RS_EXIT_MR_EFER] = 0;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP);
    cr_assert(!(flags() & RS_REPLY_SET_EFER));
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

/* issue 15: a timer state no 8254 can be in (bits a stray write flipped: counting started in the
 * future, edges counted ahead of time, guest time thrown back) had a halted guest wait for ever
 * while its VMM answered every ping. The HLT restarts the channel with the guest's programming. */
Test(exit, hlt_with_an_impossible_timer_state_restarts_the_timer)
{
    for (unsigned trial = 0; trial < 4; trial++) {
        fake_setup();
        for (unsigned t = 0; t < 30; t++) vmm_tick(&fake_vmm);
        out_byte(0x43, 0x34); // 100 Hz, mode 2
        out_byte(0x40, 11932 & 0xFF);
        out_byte(0x40, 11932 >> 8);
        if (trial == 0) fake_st.pit.ch[0].start_ns |= 1ull << 45;
        if (trial == 1) fake_st.pit.adv_ticks |= 1ull << 40;
        if (trial == 2) fake_st.now_ns &= ~(1ull << 28); // back 268 ms: before the start
        if (trial == 3) fake_st.pit.ch[0].base_ticks |= 1ull << 50;
        exit_of(RS_EXIT_HLT, 0);
        enum vmm_action a = run();
        for (unsigned t = 0; a == VMM_WAIT && t < 6; t++) { // 60 ms: more than a 55 ms count
            vmm_tick(&fake_vmm);
            exit_of(RS_EXIT_HLT, 0);
            a = run();
        }
        cr_assert_eq(a, VMM_REPLY, "trial %u: the guest still waits", trial);
        cr_assert_eq(r.label, 0, "trial %u: the guest runs on", trial);
        cr_assert_eq(flags(), RS_REPLY_ADVANCE_RIP | RS_REPLY_INJECT, "trial %u", trial);
    }
}

/* A stop flag without a reason on record is a flipped bit, not a stop (a stop is for good). */
Test(exit, a_stop_flag_with_no_reason_does_not_stop_the_guest)
{
    fake_st.stopped = VMM_STOPPED;
    exit_of(RS_EXIT_CPUID, 0);
    run();
    cr_assert_eq(r.label, 0);
    cr_assert_eq(fake_st.stopped, VMM_RUNNING);
}
