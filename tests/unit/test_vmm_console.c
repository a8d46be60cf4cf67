// SPDX-License-Identifier: MIT
// Host tests of the guest's console (servers/vmm/console.c): the guest's lines in the log as
// guests/README.md has them, partial lines, raw output while init's shell is attached, and the
// input ring (proto/vmm.h) fed into the UART across a VMM restart.
#include <criterion/criterion.h>
#include <resurgo/errors.h>
#include "vmm_fake.h"

static struct vmm_console_ring ring;

static void setup(void)
{
    fake_setup();
    memset(&ring, 0, sizeof(ring));
    fake_vmm.ring = &ring;
}
TestSuite(console, .init = setup);

static void puts_guest(const char *s)
{
    for (; *s; s++) vmm_console_write(&fake_vmm, UART_BASE, (uint8_t)*s);
}

/* init's side of the ring: what shell.c does. */
static void type(const char *s)
{
    for (; *s; s++) ring.buf[ring.head++ % VMM_CONSOLE_RING] = (uint8_t)*s;
}

Test(console, a_line_is_printed_whole_with_the_vm_prefix)
{
    puts_guest("hel");
    cr_assert_str_eq(fake_out(), "", "nothing before the end of the line");
    puts_guest("lo\r\n");
    cr_assert_str_eq(fake_out(), "[vm1] hello\n");
}

Test(console, the_guests_bytes_cannot_forge_lines_or_escapes)
{
    puts_guest("a\x1b[2Jb\x07\xff");
    vmm_console_write(&fake_vmm, UART_BASE, '\n');
    cr_assert_str_eq(fake_out(), "[vm1] a.[2Jb..\n");
}

Test(console, a_line_without_end_is_cut_not_lost)
{
    for (int i = 0; i < UART_LINE_MAX + 5; i++) vmm_console_write(&fake_vmm, UART_BASE, 'x');
    cr_assert_eq(fake_st.out.len, 6 + UART_LINE_MAX + 1, "the first %d bytes make a line",
                 UART_LINE_MAX);
    cr_assert_eq(fake_st.console.len, 5);
}

Test(console, the_divisor_is_not_output)
{
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE + 5), 0x60, "LSR: transmitter empty");
    vmm_console_write(&fake_vmm, UART_BASE + 3, 0x83);
    vmm_console_write(&fake_vmm, UART_BASE, 0x01);
    vmm_console_write(&fake_vmm, UART_BASE + 1, 0x00);
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE + 3), 0x83);
    vmm_console_write(&fake_vmm, UART_BASE + 3, 0x03);
    puts_guest("ok\n");
    cr_assert_str_eq(fake_out(), "[vm1] ok\n");
}

Test(console, a_prompt_is_printed_when_the_driver_stops_transmitting)
{
    vmm_console_write(&fake_vmm, UART_BASE + 1, UART_IER_RDA | UART_IER_THRE);
    puts_guest("~ # ");
    cr_assert_str_eq(fake_out(), "");
    vmm_console_write(&fake_vmm, UART_BASE + 1, UART_IER_RDA); // Linux's stop_tx
    cr_assert_str_eq(fake_out(), "[vm1] ~ # \n");
    vmm_console_write(&fake_vmm, UART_BASE + 1, UART_IER_RDA | UART_IER_THRE);
    vmm_console_write(&fake_vmm, UART_BASE + 1, UART_IER_RDA);
    cr_assert_str_eq(fake_out(), "[vm1] ~ # \n", "no empty line for an empty buffer");
}

Test(console, a_partial_line_is_printed_when_the_guest_polls_for_input)
{
    puts_guest("login: ");
    for (int i = 0; i < CONSOLE_IDLE_POLLS - 1; i++) vmm_console_read(&fake_vmm, UART_BASE + 5);
    puts_guest("x"); // it sent a byte: the count starts again
    for (int i = 0; i < 1000; i++) vmm_console_tick(&fake_vmm);
    for (int i = 0; i < CONSOLE_IDLE_POLLS - 1; i++) vmm_console_read(&fake_vmm, UART_BASE + 5);
    cr_assert_str_eq(fake_out(), "", "ticks (time) do not print it: only the guest's own steps");
    vmm_console_read(&fake_vmm, UART_BASE + 5);
    cr_assert_str_eq(fake_out(), "[vm1] login: x\n");
    vmm_console_read(&fake_vmm, UART_BASE + 5);
    cr_assert_str_eq(fake_out(), "[vm1] login: x\n", "nothing more for an empty line");
}

Test(console, polling_lsr_between_bytes_keeps_a_line_whole)
{
    for (const char *p = "a line printed with an LSR poll before each byte"; *p; p++) {
        vmm_console_read(&fake_vmm, UART_BASE + 5);
        vmm_console_write(&fake_vmm, UART_BASE, (uint8_t)*p);
    }
    cr_assert_str_eq(fake_out(), "");
    type("k");
    for (int i = 0; i < 2 * CONSOLE_IDLE_POLLS; i++) { // data ready: not a guest waiting
        vmm_console_read(&fake_vmm, UART_BASE + 5);
    }
    cr_assert_str_eq(fake_out(), "");
}

Test(console, attached_output_is_raw)
{
    puts_guest("half");
    ring.attached = 1;
    vmm_console_feed(&fake_vmm);
    cr_assert_str_eq(fake_out(), "[vm1] half\n", "the partial line goes out first");
    fake_st.out.len = 0;
    puts_guest("~ # \x1b[J\r\n");
    cr_assert_str_eq(fake_out(), "~ # \x1b[J\r\n", "as the guest wrote it: a terminal's job");
    fake_st.out.len = 0;
    ring.attached = 0;
    vmm_console_feed(&fake_vmm);
    puts_guest("back\n");
    cr_assert_str_eq(fake_out(), "[vm1] back\n");
}

Test(console, input_fills_the_fifo_and_waits_in_the_ring)
{
    type("0123456789abcdefXYZ");
    vmm_console_feed(&fake_vmm);
    cr_assert_eq(fake_st.console.in_seen, 1, "FIFOs off: one holding register");
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE + 5), 0x61);
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE), '0');
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE + 5), 0x61, "the next came in on the read");
    vmm_console_write(&fake_vmm, UART_BASE + 2, UART_FCR_ENABLE | UART_FCR_RX_RESET);
    vmm_console_feed(&fake_vmm);
    cr_assert_eq(fake_st.console.in_seen, 2 + UART_FIFO, "16 bytes deep");
    vmm_console_publish(&ring, &fake_st);
    cr_assert_eq(ring.tail, 2 + UART_FIFO, "init sees the room");
    for (const char *p = "23456789abcdefXY"; *p; p++)
        cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE), *p);
    vmm_console_feed(&fake_vmm);
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE), 'Z');
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE + 5), 0x60);
}

Test(console, the_ring_wraps)
{
    ring.head = ring.tail = fake_st.console.in_seen = VMM_CONSOLE_RING - 2;
    vmm_console_write(&fake_vmm, UART_BASE + 2, UART_FCR_ENABLE);
    type("wrap");
    vmm_console_feed(&fake_vmm);
    for (const char *p = "wrap"; *p; p++) cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE), *p);
}

/* A restarted VMM starts from the committed state: the bytes the transaction that died had
 * taken are taken again (the ring keeps them until the commit is published), none twice. */
Test(console, a_vmm_restart_neither_loses_nor_repeats_input)
{
    static uint8_t region[sizeof(struct vmm_persist)];
    struct vmm_persist *p = vmm_persist_open(region, sizeof(region));
    fake_vmm.st = vmm_begin(p);
    vmm_console_write(&fake_vmm, UART_BASE + 2, UART_FCR_ENABLE);
    vmm_commit(p);
    type("ab");
    fake_vmm.st = vmm_begin(p); // this transaction dies before its commit
    vmm_console_feed(&fake_vmm);
    cr_assert_eq(fake_vmm.st->uart.rx_count, 2);
    fake_vmm.st = vmm_begin(p); // the next instance
    cr_assert_eq(fake_vmm.st->uart.rx_count, 0);
    vmm_console_feed(&fake_vmm);
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE), 'a');
    vmm_commit(p);
    vmm_console_publish(&ring, vmm_committed(p));
    cr_assert_eq(ring.tail, 2);
    fake_vmm.st = vmm_begin(p);
    vmm_console_feed(&fake_vmm);
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE), 'b');
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE + 5) & UART_LSR_DR, 0, "and no more");
}

Test(console, a_stopped_guests_input_is_dropped_with_a_message)
{
    fake_st.stopped = VMM_STOPPED;
    type("ls\r");
    vmm_console_tick(&fake_vmm);
    cr_assert_str_eq(fake_out(), "vmm vm1: guest stopped: 3 bytes of input dropped\n");
    cr_assert_eq(fake_st.console.in_dropped, 3);
    cr_assert_eq(fake_st.console.in_seen, 3);
    fake_st.out.len = 0;
    vmm_console_tick(&fake_vmm);
    cr_assert_str_eq(fake_out(), "", "once per batch");
}

Test(console, a_corrupt_ring_is_bounded)
{
    ring.head = 0xFFFFFFFF00000000ull; // more than init can have written
    vmm_console_feed(&fake_vmm);
    cr_assert_eq(fake_st.console.in_seen, ring.head, "starts again at init's head");
    cr_assert_eq(fake_st.uart.rx_count, 0);
    fake_st.console.len = 0xFFFF; // a corrupted state
    puts_guest("x");
    cr_assert_leq(fake_st.console.len, UART_LINE_MAX);
}

Test(console, no_ring_no_input)
{
    fake_vmm.ring = NULL;
    vmm_console_feed(&fake_vmm);
    vmm_console_tick(&fake_vmm);
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE + 5), 0x60);
    vmm_console_publish(NULL, &fake_st);
}

/* ---- VMM_INPUT: a client's bytes, queued in the persistent state ---- */
static unsigned input(uint64_t badge, uint64_t id, const char *s, int expect)
{
    unsigned accepted = 12345;
    int err =
        vmm_console_input(&fake_vmm, badge, id, (const uint8_t *)s, (unsigned)strlen(s), &accepted);
    cr_assert_eq(err, expect, "VMM_INPUT '%s': %d", s, err);
    return accepted;
}

Test(console, client_input_is_queued_and_fed_before_the_ring)
{
    type("R");
    cr_assert_eq(input(3, 1, "ab", RS_OK), 2);
    cr_assert_eq(fake_st.uart.rx_count, 1, "the holding register took one at once");
    const char *want = "abR";
    for (const char *p = want; *p; p++) cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE), *p);
    cr_assert_eq(vmm_console_read(&fake_vmm, UART_BASE + 5) & UART_LSR_DR, 0);
}

Test(console, client_input_is_bounded_and_a_retry_is_not_repeated)
{
    char big[VMM_INPUT_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    input(3, 1, big, RS_RANGE_ERROR);
    big[VMM_INPUT_MAX] = 0;
    cr_assert_eq(input(3, 2, big, RS_OK), VMM_INPUT_QUEUE, "one byte went on into the UART");
    cr_assert_eq(input(3, 2, big, RS_OK), VMM_INPUT_QUEUE, "the retry: the same answer...");
    cr_assert_eq(fake_st.console.q_len, VMM_INPUT_QUEUE - 1, "...and nothing queued again");
    cr_assert_eq(input(3, 3, "yy", RS_OK), 1, "room for one more");
    cr_assert_eq(input(4, 3, "z", RS_OK), 0, "another client, the same id: a new request");
    fake_st.stopped = VMM_STOPPED;
    input(3, 4, "q", RS_ILLEGAL_OPERATION);
    vmm_console_tick(&fake_vmm);
    cr_assert_str_eq(fake_out(), "vmm vm1: guest stopped: 64 bytes of input dropped\n");
    cr_assert_eq(fake_st.console.q_len, 0);
}

Test(console, a_corrupt_queue_count_is_bounded)
{
    fake_st.console.q_len = 0xFF;
    fake_st.console.q_head = 0xFF;
    vmm_console_feed(&fake_vmm);
    cr_assert_eq(fake_st.console.q_len, 0);
    cr_assert_eq(input(1, 1, "ok", RS_OK), 2);
}
