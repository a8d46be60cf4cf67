// SPDX-License-Identifier: MIT
// Host tests of the VMM's device models (servers/vmm): the UART's lines, the PIT's programming
// and timing, CPUID filtering and the MSRs, against guests/README.md.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(uart, .init = fake_setup);
TestSuite(pit);
TestSuite(cpuid, .init = fake_setup);
TestSuite(msr);

static void uart_puts(const char *s)
{
    for (; *s; s++)
        uart_write(&fake_vmm, UART_BASE, (uint8_t)*s);
}

Test(uart, a_line_is_printed_whole_with_the_vm_prefix)
{
    uart_puts("hel");
    cr_assert_str_eq(fake_out(), "", "nothing before the end of the line");
    uart_puts("lo\r\n");
    cr_assert_str_eq(fake_out(), "[vm1] hello\n");
}

Test(uart, the_guests_bytes_cannot_forge_lines_or_escapes)
{
    uart_puts("a\x1b[2Jb\x07\xff");
    uart_write(&fake_vmm, UART_BASE, '\n');
    cr_assert_str_eq(fake_out(), "[vm1] a.[2Jb..\n");
}

Test(uart, a_line_without_end_is_cut_not_lost)
{
    for (int i = 0; i < UART_LINE_MAX + 5; i++)
        uart_write(&fake_vmm, UART_BASE, 'x');
    cr_assert_eq(fake_st.out.len, 6 + UART_LINE_MAX + 1, "the first %d bytes make a line",
                 UART_LINE_MAX);
    cr_assert_eq(fake_st.uart.len, 5);
}

Test(uart, registers)
{
    cr_assert_eq(uart_read(&fake_vmm, UART_BASE + 5), 0x60, "LSR: transmitter empty");
    cr_assert_eq(uart_read(&fake_vmm, UART_BASE + 1), 0);
    cr_assert_eq(uart_read(&fake_vmm, UART_BASE + 7), 0);
    uart_write(&fake_vmm, UART_BASE + 3, 0x83); // DLAB: 0x3F8 is the divisor latch now
    uart_write(&fake_vmm, UART_BASE, 0x01);
    uart_write(&fake_vmm, UART_BASE + 1, 0x00);
    cr_assert_eq(uart_read(&fake_vmm, UART_BASE + 3), 0x83);
    uart_write(&fake_vmm, UART_BASE + 3, 0x03);
    uart_puts("ok\n");
    cr_assert_str_eq(fake_out(), "[vm1] ok\n", "the divisor bytes were not output");
}

#define MS 1000000ull
#define SLACK 100000ull /* 11932 PIT clocks are 10.00015 ms: ticks drift 152 ns per period */

/* Programs channel 0 as a PC guest does: command, low byte, high byte. */
static void pit_program(struct pit *p, uint8_t cmd, uint16_t divisor, uint64_t now)
{
    pit_write(p, 0x43, cmd, now);
    pit_write(p, 0x40, (uint8_t)divisor, now);
    pit_write(p, 0x40, (uint8_t)(divisor >> 8), now);
}

Test(pit, rate_generator_at_100_hz_fires_once_per_10_ms)
{
    struct pit p = {0};
    cr_assert(!pit_advance(&p, 50 * MS), "not programmed: silent");
    pit_program(&p, 0x34, 11932, 0);
    cr_assert(!pit_advance(&p, 9 * MS));
    cr_assert(pit_advance(&p, 10 * MS + SLACK));
    cr_assert(!pit_advance(&p, 15 * MS));
    cr_assert(pit_advance(&p, 20 * MS + SLACK));
    unsigned fired = 0;
    for (uint64_t t = 30; t <= 1020; t += 10)
        fired += pit_advance(&p, t * MS + SLACK);
    cr_assert_eq(fired, 100);
}

Test(pit, missed_periods_are_coalesced_into_one_interrupt)
{
    struct pit p = {0};
    pit_program(&p, 0x36, 11932, 0);
    cr_assert(pit_advance(&p, 105 * MS));
    cr_assert(!pit_advance(&p, 106 * MS), "the next one is due one period after the last due time");
    cr_assert(pit_advance(&p, 110 * MS + SLACK));
}

Test(pit, one_shot_mode_fires_once)
{
    struct pit p = {0};
    pit_program(&p, 0x30, 1193, 0); // mode 0, 1 ms
    cr_assert(pit_advance(&p, 2 * MS));
    cr_assert(!pit_advance(&p, 100 * MS));
}

Test(pit, divisor_zero_means_65536_and_other_channels_are_ignored)
{
    struct pit p = {0};
    pit_program(&p, 0x34, 0, 0);
    cr_assert(!pit_advance(&p, 54 * MS));
    cr_assert(pit_advance(&p, 55 * MS));
    pit_write(&p, 0x43, 0xB6, 0); // channel 2: the speaker
    cr_assert_eq(p.mode, 2, "channel 0 unchanged");
    cr_assert_eq(pit_read(&p, 0x42, 0), 0);
}

Test(pit, a_command_stops_counting_until_the_divisor_is_written)
{
    struct pit p = {0};
    pit_program(&p, 0x34, 11932, 0);
    pit_write(&p, 0x43, 0x34, 5 * MS);
    cr_assert(!pit_advance(&p, 100 * MS));
    pit_write(&p, 0x40, 0x9C, 100 * MS);
    pit_write(&p, 0x40, 0x2E, 100 * MS);
    cr_assert(pit_advance(&p, 110 * MS + SLACK));
}

Test(pit, the_counter_counts_down_and_a_latch_freezes_it)
{
    struct pit p = {0};
    pit_program(&p, 0x34, 10000, 0);
    uint16_t lo = pit_read(&p, 0x40, 2 * MS), hi = pit_read(&p, 0x40, 2 * MS);
    uint16_t c = (uint16_t)(lo | hi << 8);
    cr_assert(c < 10000 - 2000 && c > 10000 - 2500, "2 ms into the period: %u", c);
    pit_write(&p, 0x43, 0x00, 3 * MS); // latch
    lo = pit_read(&p, 0x40, 8 * MS);
    hi = pit_read(&p, 0x40, 8 * MS);
    uint16_t latched = (uint16_t)(lo | hi << 8);
    cr_assert(latched < 10000 - 3400 && latched > 10000 - 3700, "the value at the latch: %u",
              latched);
    lo = pit_read(&p, 0x40, 8 * MS);
    hi = pit_read(&p, 0x40, 8 * MS);
    cr_assert_neq((uint16_t)(lo | hi << 8), latched, "the latch is released after one read");
}

Test(cpuid, vmx_svm_and_xsave_are_hidden_and_the_hypervisor_bit_set)
{
    uint32_t r[4];
    cpuid_guest(&fake_ops, 1, 0, r);
    cr_assert_eq(r[2] & (1u << 5), 0, "VMX");
    cr_assert_eq(r[2] & (1u << 26 | 1u << 27 | 1u << 28), 0, "XSAVE, OSXSAVE, AVX");
    cr_assert_eq(r[2] & (1u << 31), 1u << 31, "hypervisor");
    cr_assert_eq(r[3], 0xFFFFFFFFu, "EDX is the host's");
    cpuid_guest(&fake_ops, 0x80000001, 0, r);
    cr_assert_eq(r[2] & (1u << 2 | 1u << 17), 0, "SVM, TCE (no EFER bit for them)");
    cr_assert_eq(r[3] & (1u << 25), 0, "FFXSR (no EFER bit for it)");
    cr_assert_eq(r[3] & (1u << 11 | 1u << 20 | 1u << 29), 1u << 11 | 1u << 20 | 1u << 29,
                 "SYSCALL, NX, LM are the host's");
    cpuid_guest(&fake_ops, 0xD, 1, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3], "no XSAVE leaf");
    cpuid_guest(&fake_ops, 7, 0, r);
    cr_assert_eq(r[1] & (1u << 5 | 1u << 16), 0, "AVX2, AVX-512F");
    cpuid_guest(&fake_ops, 2, 0, r);
    cr_assert_eq(r[0] & r[1] & r[2] & r[3], 0xFFFFFFFFu, "other leaves are the host's");
}

Test(cpuid, hypervisor_leaves)
{
    uint32_t r[4];
    cpuid_guest(&fake_ops, 0x40000000, 0, r);
    cr_assert_eq(r[0], 0x40000000);
    cr_assert_eq(memcmp(&r[1], "ResurgoVMM  ", 12), 0);
    cpuid_guest(&fake_ops, 0x40000001, 0, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3]);
    cpuid_guest(&fake_ops, 0x4FFFFFFF, 0, r);
    cr_assert(!r[0] && !r[1] && !r[2] && !r[3]);
}

Test(msr, reads)
{
    uint64_t v = 1;
    cr_assert_eq(msr_read(MSR_APIC_BASE, 0, 0, &v), MSR_DONE);
    cr_assert_eq(v, 0xFEE00900);
    msr_read(MSR_TSC, 0, 777, &v);
    cr_assert_eq(v, 777);
    msr_read(MSR_EFER, 0xD01 | 1u << 12, 0, &v);
    cr_assert_eq(v, 0xD01, "EFER as the guest has it, without the kernel's SVME");
    msr_read(0x12345678, 0, 0, &v);
    cr_assert_eq(v, 0);
}

Test(msr, efer_writes)
{
    const struct msr_guest g = {.efer = 0, .cr0 = 0x11, .ext_edx = ~0u};
    uint64_t efer = 0;
    cr_assert_eq(msr_write(MSR_EFER, 0x901, &g, &efer), MSR_SET_EFER);
    cr_assert_eq(efer, 0x901);
    cr_assert_eq(msr_write(MSR_EFER, 0x500, &g, &efer), MSR_SET_EFER);
    cr_assert_eq(efer, 0x100, "LMA is the CPU's");
    cr_assert_eq(msr_write(MSR_EFER, 1u << 12, &g, &efer), MSR_GP, "no SVME for the guest");
    cr_assert_eq(msr_write(MSR_EFER, 1u << 14, &g, &efer), MSR_GP, "no FFXSR");
    cr_assert_eq(msr_write(MSR_EFER, 1u << 15, &g, &efer), MSR_GP, "no TCE");
    cr_assert_eq(msr_write(MSR_EFER, 1ull << 40, &g, &efer), MSR_GP, "reserved");
    cr_assert_eq(msr_write(MSR_APIC_BASE, 0, &g, &efer), MSR_DONE, "other writes are ignored");
}

/* Issue 16 item 11: the architectural EFER rules (SDM vol. 4 IA32_EFER, APM vol. 2 3.1.7). */
Test(msr, efer_rules)
{
    uint64_t efer = 0x77;
    struct msr_guest lm = {.efer = 0x500, .cr0 = 0x80000011, .ext_edx = ~0u};
    cr_assert_eq(msr_write(MSR_EFER, 0x000, &lm, &efer), MSR_GP, "LME cleared under paging");
    cr_assert_eq(msr_write(MSR_EFER, 0x400, &lm, &efer), MSR_GP, "LMA alone does not keep LME");
    cr_assert_eq(msr_write(MSR_EFER, 0x101, &lm, &efer), MSR_SET_EFER);
    cr_assert_eq(efer, 0x501, "LMA keeps its value: the bit written is ignored");
    struct msr_guest pg32 = {.efer = 0, .cr0 = 0x80000011, .ext_edx = ~0u};
    cr_assert_eq(msr_write(MSR_EFER, 0x100, &pg32, &efer), MSR_GP, "LME set under paging");
    cr_assert_eq(msr_write(MSR_EFER, 0x801, &pg32, &efer), MSR_SET_EFER, "NXE, SCE: fine");
    cr_assert_eq(efer, 0x801);
    struct msr_guest bare = {.efer = 0, .cr0 = 0x11, .ext_edx = 0};
    cr_assert_eq(msr_write(MSR_EFER, 0x800, &bare, &efer), MSR_GP, "NXE without CPUID NX");
    cr_assert_eq(msr_write(MSR_EFER, 0x100, &bare, &efer), MSR_GP, "LME without CPUID LM");
    cr_assert_eq(msr_write(MSR_EFER, 0x001, &bare, &efer), MSR_GP, "SCE without CPUID SYSCALL");
    cr_assert_eq(msr_write(MSR_EFER, 0x000, &bare, &efer), MSR_SET_EFER);
    cr_assert_eq(efer, 0);
}
