// SPDX-License-Identifier: MIT
// Host tests of the guest's local APIC (servers/vmm/lapic.c) against the Intel SDM vol. 3
// chapter 11 (section numbers below), and a seeded random walk over its registers.
#include <criterion/criterion.h>
#include "lapic.h"

TestSuite(lapic);

_Static_assert(sizeof(struct lapic) <= 1024, "the LAPIC state is at most 1 KiB");

/* An APIC as Linux leaves it after setup_local_APIC: software enabled, TPR 0. */
static void enabled(struct lapic *a)
{
    lapic_reset(a, 0);
    lapic_write(a, LAPIC_SVR, 0x1FF, 0);
}

static bool in(const uint32_t *map, unsigned v) { return map[v / 32] >> (v % 32) & 1; }

/* Vector v's bit in the 256-bit register at base (ISR, TMR, IRR), read as the guest does. */
static bool has(struct lapic *a, uint32_t base, unsigned v)
{
    return lapic_read(a, base + v / 32 * 0x10, 0) >> (v % 32) & 1;
}

Test(lapic, power_on_state)
{
    struct lapic a;
    lapic_reset(&a, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_ID, 0), 0);
    cr_assert_eq(lapic_read(&a, LAPIC_VER, 0), 0x00050014, "xAPIC 0x14, 6 LVT entries");
    cr_assert_eq(lapic_read(&a, LAPIC_SVR, 0), 0xFF, "11.4.7.1: SVR 0xFF (software disabled)");
    cr_assert_eq(lapic_read(&a, LAPIC_DFR, 0), 0xFFFFFFFF);
    for (uint32_t o = LAPIC_LVT_TMR; o <= LAPIC_LVT_ERR; o += 0x10)
        cr_assert_eq(lapic_read(&a, o, 0), LAPIC_LVT_MASKED, "LVT %#x masked", o);
    cr_assert_eq(lapic_base_msr(&a), 0xFEE00900, "BSP, enabled, at 0xFEE00000");
    cr_assert(lapic_extint(&a), "software disabled: the 8259 is wired through");
    cr_assert_eq(lapic_pending(&a), -1);
    cr_assert_eq(lapic_next_ns(&a), UINT64_MAX);
    lapic_reset(&a, 3);
    cr_assert_eq(lapic_read(&a, LAPIC_ID, 0), 3u << 24);
}

Test(lapic, base_msr_rejects_relocation_x2apic_and_reserved_bits)
{
    struct lapic a;
    enabled(&a);
    cr_assert(!lapic_set_base_msr(&a, 0xFED00900), "relocation");
    cr_assert(!lapic_set_base_msr(&a, 0xFEE00D00), "x2APIC enable (CPUID hides x2APIC)");
    cr_assert(!lapic_set_base_msr(&a, 0xFEE00901), "reserved bit 0");
    cr_assert(!lapic_set_base_msr(&a, 0xFEE00B00), "reserved bit 9");
    cr_assert(!lapic_set_base_msr(&a, 0x1FEE00900ull), "above the base");
    cr_assert_eq(lapic_read(&a, LAPIC_SVR, 0), 0x1FF, "a rejected write changes nothing");
    cr_assert(lapic_set_base_msr(&a, 0xFEE00900), "writing back what was read");
    cr_assert(lapic_set_base_msr(&a, 0xFEE00800), "the BSP flag is not the guest's to change");
    cr_assert_eq(lapic_base_msr(&a), 0xFEE00900);
}

Test(lapic, global_disable_and_enable_again_is_a_reset)
{
    struct lapic a;
    enabled(&a);
    lapic_accept(&a, 0x40, false);
    cr_assert(lapic_set_base_msr(&a, 0xFEE00100));
    cr_assert_eq(lapic_base_msr(&a), 0xFEE00100);
    cr_assert_eq(lapic_pending(&a), -1, "11.4.3: a disabled APIC delivers nothing");
    cr_assert(lapic_extint(&a), "the 8259 reaches the CPU directly");
    cr_assert_eq(lapic_read(&a, LAPIC_VER, 0), 0, "no registers");
    lapic_accept(&a, 0x50, false);
    cr_assert(lapic_set_base_msr(&a, 0xFEE00900));
    cr_assert_eq(lapic_read(&a, LAPIC_SVR, 0), 0xFF, "power-on state again");
    cr_assert(!has(&a, LAPIC_IRR, 0x40) && !has(&a, LAPIC_IRR, 0x50));
}

Test(lapic, priority_classes_decide_what_is_delivered)
{
    struct lapic a;
    enabled(&a);
    lapic_accept(&a, 0x31, false);
    lapic_accept(&a, 0x41, false);
    cr_assert(has(&a, LAPIC_IRR, 0x31) && has(&a, LAPIC_IRR, 0x41));
    cr_assert_eq(lapic_read(&a, LAPIC_IRR + 0x10, 0), 1u << 17, "0x31: IRR word 1, bit 17");
    cr_assert_eq(lapic_pending(&a), 0x41, "the highest first (11.8.3)");
    lapic_deliver(&a, 0x41);
    cr_assert(has(&a, LAPIC_ISR, 0x41) && !has(&a, LAPIC_IRR, 0x41), "0x41 in service");
    cr_assert_eq(lapic_read(&a, LAPIC_PPR, 0), 0x40, "PPR: ISRV's class");
    cr_assert_eq(lapic_pending(&a), -1, "0x31 is a lower class than the one in service");
    lapic_accept(&a, 0x4F, false);
    cr_assert_eq(lapic_pending(&a), -1, "the same class as the one in service waits");
    lapic_accept(&a, 0x50, false);
    cr_assert_eq(lapic_pending(&a), 0x50, "a higher class nests");
    lapic_deliver(&a, 0x50);
    lapic_write(&a, LAPIC_EOI, 0, 0);
    cr_assert(!has(&a, LAPIC_ISR, 0x50) && has(&a, LAPIC_ISR, 0x41), "EOI retires the highest");
    lapic_write(&a, LAPIC_EOI, 0, 0);
    cr_assert(!has(&a, LAPIC_ISR, 0x41));
    cr_assert_eq(lapic_pending(&a), 0x4F);
    lapic_deliver(&a, 0x33);
    cr_assert(!has(&a, LAPIC_ISR, 0x33), "deliver without IRR: nothing");
}

Test(lapic, tpr_masks_classes_at_or_below_it)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_TPR, 0x1253, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_TPR, 0), 0x53, "TPR bits 7:0");
    cr_assert_eq(lapic_read(&a, LAPIC_PPR, 0), 0x53, "11.8.3.1: PPR = TPR when ISR is empty");
    lapic_accept(&a, 0x5F, false);
    cr_assert_eq(lapic_pending(&a), -1, "class 5 is not above TPR's");
    cr_assert_eq(lapic_read(&a, LAPIC_APR, 0), 0x53, "APR: TPR, IRRV's class is not higher");
    lapic_accept(&a, 0x61, false);
    cr_assert_eq(lapic_pending(&a), 0x61);
    cr_assert_eq(lapic_read(&a, LAPIC_APR, 0), 0x60, "APR: IRRV's class");
    lapic_write(&a, LAPIC_TPR, 0x70, 0);
    cr_assert_eq(lapic_pending(&a), -1);
    lapic_write(&a, LAPIC_TPR, 0, 0);
    cr_assert_eq(lapic_pending(&a), 0x61);
}

Test(lapic, level_triggered_eoi_goes_to_the_ioapic_once)
{
    struct lapic a;
    enabled(&a);
    lapic_accept(&a, 0x38, true);
    cr_assert_eq(lapic_read(&a, LAPIC_TMR + 0x10, 0), 1u << 24, "TMR set for level");
    lapic_deliver(&a, 0x38);
    cr_assert_eq(lapic_take_eoi(&a), -1, "not EOI'd yet");
    lapic_write(&a, LAPIC_EOI, 0, 0);
    cr_assert_eq(lapic_take_eoi(&a), 0x38);
    cr_assert_eq(lapic_take_eoi(&a), -1, "taken once");
    lapic_accept(&a, 0x38, false);
    cr_assert_eq(lapic_read(&a, LAPIC_TMR + 0x10, 0), 0, "edge clears TMR");
    lapic_deliver(&a, 0x38);
    lapic_write(&a, LAPIC_EOI, 0, 0);
    cr_assert_eq(lapic_take_eoi(&a), -1, "an edge vector's EOI is local");
    lapic_write(&a, LAPIC_EOI, 0, 0);
    cr_assert_eq(lapic_take_eoi(&a), -1, "EOI with nothing in service");
}

Test(lapic, esr_reads_what_the_last_write_latched)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_LVT_ERR, 0xFE, 0);
    lapic_accept(&a, 7, false);
    cr_assert_eq(lapic_read(&a, LAPIC_IRR, 0), 0, "11.5.3: vectors 0-15 are illegal");
    cr_assert_eq(lapic_read(&a, LAPIC_ESR, 0), 0, "not latched before a write");
    cr_assert_eq(lapic_pending(&a), 0xFE, "the error LVT's interrupt");
    lapic_write(&a, LAPIC_ESR, 0, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_ESR, 0), LAPIC_ESR_RECV_ILLEGAL);
    lapic_write(&a, LAPIC_ESR, 0, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_ESR, 0), 0, "each write starts over");
    lapic_write(&a, LAPIC_LVT_ERR, 0x05, 0); // an illegal error vector only latches
    lapic_write(&a, LAPIC_ICR_LO, 0x40003, 0);
    lapic_write(&a, LAPIC_ESR, 0, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_ESR, 0), LAPIC_ESR_SEND_ILLEGAL);
    cr_assert_eq(lapic_read(&a, LAPIC_IRR, 0), 0);
}

Test(lapic, icr_self_ipis_arrive_and_the_others_go_nowhere)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_ICR_LO, 0x40000 | 0xF3, 0); // shorthand self, fixed
    cr_assert_eq(lapic_pending(&a), 0xF3);
    cr_assert_eq(lapic_read(&a, LAPIC_ICR_LO, 0), 0x400F3, "delivery status idle");
    lapic_deliver(&a, 0xF3);
    lapic_write(&a, LAPIC_EOI, 0, 0);
    lapic_write(&a, LAPIC_ICR_LO, 0x80000 | 0xE1, 0); // all including self
    cr_assert_eq(lapic_pending(&a), 0xE1);
    lapic_deliver(&a, 0xE1);
    lapic_write(&a, LAPIC_EOI, 0, 0);
    lapic_write(&a, LAPIC_ICR_LO, 0xC0000 | 0xE2, 0); // all excluding self: nobody
    lapic_write(&a, LAPIC_ICR_HI, 0x01000000, 0);
    lapic_write(&a, LAPIC_ICR_LO, 0xE3, 0);          // physical APIC 1: nobody
    lapic_write(&a, LAPIC_ICR_LO, 0x4500, 0);        // INIT
    lapic_write(&a, LAPIC_ICR_LO, 0x4610, 0);        // SIPI
    lapic_write(&a, LAPIC_ICR_LO, 0x4400 | 0xE4, 0); // NMI
    cr_assert_eq(lapic_pending(&a), -1);
    lapic_write(&a, LAPIC_ICR_HI, 0xFF123456, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_ICR_HI, 0), 0xFF000000, "ICR high: bits 31:24");
    lapic_write(&a, LAPIC_ICR_HI, 0, 0);
    lapic_write(&a, LAPIC_ICR_LO, 0xE5, 0); // physical APIC 0: us
    cr_assert_eq(lapic_pending(&a), 0xE5);
    lapic_deliver(&a, 0xE5);
    lapic_write(&a, LAPIC_EOI, 0, 0);
    lapic_write(&a, LAPIC_LDR, 0x01000000, 0);
    lapic_write(&a, LAPIC_ICR_HI, 0x01000000, 0);
    lapic_write(&a, LAPIC_ICR_LO, 0x800 | 0xE6, 0); // logical, flat, our bit
    cr_assert_eq(lapic_pending(&a), 0xE6);
}

Test(lapic, logical_destinations_flat_and_cluster)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_LDR, 0x02FFFFFF, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_LDR, 0), 0x02000000);
    cr_assert(lapic_match_dest(&a, 0x03, true));
    cr_assert(!lapic_match_dest(&a, 0x01, true));
    cr_assert(lapic_match_dest(&a, 0xFF, true));
    cr_assert(!lapic_match_dest(&a, 0x02, false), "physical: the ID, 0");
    cr_assert(lapic_match_dest(&a, 0x00, false));
    lapic_write(&a, LAPIC_DFR, 0x0, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_DFR, 0), 0x0FFFFFFF, "DFR bits 27:0 read as 1");
    lapic_write(&a, LAPIC_LDR, 0x32000000, 0);
    cr_assert(lapic_match_dest(&a, 0x32, true), "cluster 3, member 2");
    cr_assert(!lapic_match_dest(&a, 0x22, true), "another cluster");
}

Test(lapic, software_disable_drops_interrupts_and_holds_the_masks)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_LVT0, 0x700, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_LVT0, 0), 0x700, "LINT0 ExtINT, unmasked");
    cr_assert(lapic_extint(&a));
    lapic_write(&a, LAPIC_LVT0, 0x10700, 0);
    cr_assert(!lapic_extint(&a), "masked: the 8259's INTR stops at the APIC");
    lapic_write(&a, LAPIC_LVT0, 0x0, 0);
    cr_assert(!lapic_extint(&a), "fixed mode, not ExtINT");
    lapic_write(&a, LAPIC_SVR, 0xFF, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_LVT0, 0), LAPIC_LVT_MASKED, "11.4.7.2: all LVTs masked");
    lapic_write(&a, LAPIC_LVT_TMR, 0x20, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_LVT_TMR, 0), LAPIC_LVT_MASKED | 0x20, "the mask stays");
    lapic_accept(&a, 0x40, false);
    cr_assert_eq(lapic_pending(&a), -1, "dropped while software disabled");
    cr_assert(lapic_extint(&a));
}

Test(lapic, lvt_reserved_and_read_only_bits)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_LVT_TMR, 0xFFFFFFFF, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_LVT_TMR, 0), 0x300FF, "no TSC-deadline mode (bit 18)");
    lapic_write(&a, LAPIC_LVT1, 0xFFFFFFFF, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_LVT1, 0), 0x1A7FF, "remote IRR, delivery status read-only");
    lapic_write(&a, LAPIC_LVT_ERR, 0xFFFFFFFF, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_LVT_ERR, 0), 0x100FF);
    lapic_write(&a, LAPIC_ID, 0xFF000000, 0);
    lapic_write(&a, LAPIC_VER, 0, 0);
    lapic_write(&a, LAPIC_PPR, 0xFF, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_ID, 0), 0);
    cr_assert_eq(lapic_read(&a, LAPIC_VER, 0), LAPIC_VERSION);
    cr_assert_eq(lapic_read(&a, LAPIC_PPR, 0), 0);
    cr_assert_eq(lapic_read(&a, LAPIC_TPR + 4, 0), 0, "unaligned");
    cr_assert_eq(lapic_read(&a, 0x2F0, 0), 0, "no CMCI LVT");
    cr_assert_eq(lapic_read(&a, 0x1000 + LAPIC_VER, 0), 0, "beyond the page");
    cr_assert_eq(lapic_read(&a, UINT32_MAX, 0), 0);
    lapic_write(&a, LAPIC_SVR, 0xFFFFFFFF, 0);
    cr_assert_eq(lapic_read(&a, LAPIC_SVR, 0), 0x3FF, "no EOI-broadcast suppression");
}

/* ---- timer (11.5.4) ---- */

Test(lapic, one_shot_timer_counts_down_at_the_divided_bus_clock)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_TDCR, 0x3, 0); // divide by 16
    lapic_write(&a, LAPIC_LVT_TMR, 0xEC, 0);
    lapic_write(&a, LAPIC_TMICT, 1000, 100);
    cr_assert_eq(lapic_next_ns(&a), 100 + 16000, "1000 counts of 16 ns (LAPIC_TIMER_HZ 1 GHz)");
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 100), 1000);
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 100 + 160), 990);
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 100 + 175), 990, "whole counts");
    lapic_advance(&a, 100 + 15999);
    cr_assert_eq(lapic_pending(&a), -1, "not yet");
    lapic_advance(&a, 100 + 16000);
    cr_assert_eq(lapic_pending(&a), 0xEC);
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 20000), 0, "one-shot: stays at 0");
    cr_assert_eq(lapic_next_ns(&a), UINT64_MAX);
    cr_assert_eq(lapic_read(&a, LAPIC_TMICT, 20000), 1000, "the initial count stays");
    lapic_deliver(&a, 0xEC);
    lapic_write(&a, LAPIC_EOI, 0, 30000);
    lapic_advance(&a, 1000000);
    cr_assert_eq(lapic_pending(&a), -1, "fired once");
}

Test(lapic, divide_configuration_values)
{
    static const struct {
        uint32_t tdcr;
        uint64_t div;
    } t[] = {{0x0, 2}, {0x1, 4}, {0x2, 8}, {0x3, 16}, {0x8, 32}, {0x9, 64}, {0xA, 128}, {0xB, 1}};
    for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct lapic a;
        enabled(&a);
        lapic_write(&a, LAPIC_TDCR, t[i].tdcr | 0xFFFFFFF4, 0);
        cr_assert_eq(lapic_read(&a, LAPIC_TDCR, 0), t[i].tdcr);
        lapic_write(&a, LAPIC_LVT_TMR, 0x30, 0);
        lapic_write(&a, LAPIC_TMICT, 100, 0);
        cr_assert_eq(lapic_next_ns(&a), 100 * t[i].div, "TDCR %#x", t[i].tdcr);
    }
}

Test(lapic, periodic_timer_reloads_and_coalesces_missed_periods)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_TDCR, 0xB, 0); // divide by 1
    lapic_write(&a, LAPIC_LVT_TMR, LAPIC_LVT_PERIODIC | 0xEC, 0);
    lapic_write(&a, LAPIC_TMICT, 4000000, 0); // 4 ms: HZ 250
    unsigned fired = 0;
    for (uint64_t t = 0; t <= 1000000000; t += 1000000) {
        lapic_advance(&a, t);
        if (lapic_pending(&a) == 0xEC) {
            fired++;
            lapic_deliver(&a, 0xEC);
            lapic_write(&a, LAPIC_EOI, 0, t);
        }
    }
    cr_assert_eq(fired, 250, "250 periods in a second");
    cr_assert_eq(lapic_next_ns(&a), 1004000000);
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 1001000000), 3000000, "counts from the reload");
    lapic_advance(&a, 1050500000); // 11 periods late
    cr_assert_eq(lapic_pending(&a), 0xEC, "one interrupt for the missed periods");
    cr_assert_eq(lapic_next_ns(&a), 1052000000, "the schedule keeps its phase");
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 1050500000), 1500000);
}

Test(lapic, new_initial_count_restarts_and_zero_stops)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_TDCR, 0xB, 0);
    lapic_write(&a, LAPIC_LVT_TMR, 0x40, 0);
    lapic_write(&a, LAPIC_TMICT, 1000, 0);
    lapic_write(&a, LAPIC_TMICT, 1000, 600);
    cr_assert_eq(lapic_next_ns(&a), 1600, "a write restarts the count");
    lapic_write(&a, LAPIC_TMICT, 0, 700);
    cr_assert_eq(lapic_next_ns(&a), UINT64_MAX, "0 stops the timer");
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 800), 0);
    lapic_advance(&a, 100000);
    cr_assert_eq(lapic_pending(&a), -1);
}

Test(lapic, divide_change_keeps_the_count_left)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_TDCR, 0xB, 0);
    lapic_write(&a, LAPIC_LVT_TMR, 0x40, 0);
    lapic_write(&a, LAPIC_TMICT, 1000, 0);
    lapic_write(&a, LAPIC_TDCR, 0x0, 400); // 600 counts left, now 2 ns each
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 400), 600);
    cr_assert_eq(lapic_next_ns(&a), 400 + 1200);
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 1000), 300);
}

Test(lapic, masked_timer_runs_silently_and_an_old_expiry_is_not_raised_on_unmask)
{
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_TDCR, 0xB, 0);
    lapic_write(&a, LAPIC_LVT_TMR, LAPIC_LVT_MASKED | 0x40, 0);
    lapic_write(&a, LAPIC_TMICT, 1000, 0);
    cr_assert_eq(lapic_next_ns(&a), UINT64_MAX, "nothing to raise");
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 500), 500, "but it counts");
    lapic_write(&a, LAPIC_LVT_TMR, 0x40, 5000);
    cr_assert_eq(lapic_pending(&a), -1, "it expired while masked");
    cr_assert_eq(lapic_read(&a, LAPIC_TMCCT, 5000), 0);
    // periodic: unmasked mid-period, the next reload interrupts
    lapic_write(&a, LAPIC_LVT_TMR, LAPIC_LVT_MASKED | LAPIC_LVT_PERIODIC | 0x40, 5000);
    lapic_write(&a, LAPIC_TMICT, 1000, 5000);
    lapic_write(&a, LAPIC_LVT_TMR, LAPIC_LVT_PERIODIC | 0x40, 7500);
    cr_assert_eq(lapic_pending(&a), -1);
    cr_assert_eq(lapic_next_ns(&a), 8000);
    lapic_advance(&a, 8000);
    cr_assert_eq(lapic_pending(&a), 0x40);
}

Test(lapic, linux_calibration_sees_a_steady_count)
{
    // Linux 6.1 (calibrate_APIC_clock): divide 16, periodic, initial 0xFFFFFFFF, masked; it reads
    // the current count at two global clock ticks and takes the difference.
    struct lapic a;
    enabled(&a);
    lapic_write(&a, LAPIC_TDCR, 0x3, 0);
    lapic_write(&a, LAPIC_LVT_TMR, LAPIC_LVT_MASKED | LAPIC_LVT_PERIODIC | 0xEC, 0);
    lapic_write(&a, LAPIC_TMICT, 0xFFFFFFFF, 1000);
    uint32_t c1 = lapic_read(&a, LAPIC_TMCCT, 1000 + 4000000);
    uint32_t c2 = lapic_read(&a, LAPIC_TMCCT, 1000 + 104000000);
    cr_assert_eq(c1 - c2, 100000000 / 16, "100 ms at 1 GHz / 16");
}

/* ---- a seeded random walk ---- */

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint32_t offset(void)
{
    switch (next() % 4) {
    case 0: return (uint32_t)next();
    case 1: return (uint32_t)(next() % 0x1010);
    default: return (uint32_t)(next() % 0x40) << 4; // a register
    }
}

static uint32_t value(void)
{
    static const uint32_t v[] = {0,       0x1FF,      0xFF,    0x10000, 0x20000,
                                 0x300EC, 0x700,      0x40000, 0x80000, 0xC0000,
                                 0x4500,  0xFFFFFFFF, 1,       2,       0xB};
    return next() % 2 ? v[next() % (sizeof(v) / sizeof(v[0]))] | (uint32_t)(next() % 256)
                      : (uint32_t)next();
}

static void check(struct lapic *a, uint64_t now)
{
    cr_assert_eq(a->irr[0] & 0xFFFF, 0, "no vector below 16 in IRR");
    cr_assert_eq(a->isr[0] & 0xFFFF, 0, "nor in ISR");
    int p = lapic_pending(a);
    if (p >= 0) {
        cr_assert(in(a->irr, (unsigned)p), "pending %d is requested", p);
        cr_assert_gt((unsigned)p & 0xF0, lapic_read(a, LAPIC_PPR, now) & 0xF0);
    }
    if (a->enabled) {
        cr_assert_eq(lapic_read(a, LAPIC_VER, now), LAPIC_VERSION);
        cr_assert_eq(lapic_read(a, LAPIC_DFR, now) & 0x0FFFFFFF, 0x0FFFFFFF);
        cr_assert_leq(lapic_read(a, LAPIC_TMCCT, now), lapic_read(a, LAPIC_TMICT, now));
        cr_assert_leq(lapic_read(a, LAPIC_TDCR, now), 0xB);
        cr_assert_eq(lapic_read(a, LAPIC_ICR_LO, now) & (1u << 12), 0);
        if (!(lapic_read(a, LAPIC_SVR, now) & LAPIC_SVR_ENABLE))
            for (uint32_t o = LAPIC_LVT_TMR; o <= LAPIC_LVT_ERR; o += 0x10)
                cr_assert(lapic_read(a, o, now) & LAPIC_LVT_MASKED);
    }
    uint64_t n = lapic_next_ns(a);
    cr_assert(n == UINT64_MAX || n > now, "the next expiry is after the last advance");
}

Test(lapic, random_register_traffic_keeps_the_invariants)
{
    for (uint64_t seed = 1; seed <= 8; seed++) {
        rng = seed * 0x9E3779B97F4A7C15ull;
        struct lapic a;
        lapic_reset(&a, (uint32_t)(next() % 2));
        uint64_t now = 0;
        for (unsigned i = 0; i < 40000; i++) {
            now += next() % 4 ? next() % 5000 : next() % 50000000;
            switch (next() % 10) {
            case 0: lapic_read(&a, offset(), now); break;
            case 1:
            case 2:
            case 3: lapic_write(&a, offset(), value(), now); break;
            case 4: lapic_accept(&a, (uint8_t)next(), next() % 2); break;
            case 5: {
                int v = lapic_pending(&a);
                if (v >= 0) lapic_deliver(&a, (uint8_t)v);
                else lapic_deliver(&a, (uint8_t)next());
                break;
            }
            case 6: lapic_write(&a, LAPIC_EOI, 0, now); break;
            case 7: {
                int v = lapic_take_eoi(&a);
                cr_assert(v == -1 || (v >= 16 && v <= 255), "seed %lu: eoi %d", seed, v);
                break;
            }
            case 8:
                if (next() % 50 == 0) lapic_set_base_msr(&a, next() % 2 ? next() : 0xFEE00900);
                else (void)lapic_extint(&a);
                break;
            default: lapic_advance(&a, now); break;
            }
            lapic_advance(&a, now);
            check(&a, now);
        }
    }
}
