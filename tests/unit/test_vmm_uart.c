// SPDX-License-Identifier: MIT
// Host tests of the VMM's UART (servers/vmm/uart.c): the guest's lines, against guests/README.md.
#include <criterion/criterion.h>
#include "vmm_fake.h"

TestSuite(uart, .init = fake_setup);

static void uart_puts(const char *s)
{
    for (; *s; s++) uart_write(&fake_vmm, UART_BASE, (uint8_t)*s);
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
    for (int i = 0; i < UART_LINE_MAX + 5; i++) uart_write(&fake_vmm, UART_BASE, 'x');
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
