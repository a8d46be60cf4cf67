// SPDX-License-Identifier: MIT
// Hardware-access tests: I/O port ranges (COM1 is the kernel's), port access through a range
// cap, IRQ handler caps (up to 4 per line), and a real interrupt: the CMOS RTC's periodic IRQ 8
// arriving as a notification signal, re-armed by Ack.
#include "suites.h"

#define ME RS_INIT_CNODE
#define D  PS_DEPTH

static void hw_ioport_issue(void)
{
    rs_cptr_t s = new_slot(), occupied = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(s && occupied);
    const uint16_t bad[][2] = {{0x3F8, 0x3FF}, {0x3F0, 0x3F8}, {0x3FF, 0x400}, {0x300, 0x4CF}};
    for (unsigned i = 0; i < 4; i++) {
        CHECK_ERR(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, bad[i][0], bad[i][1], ME, s, D),
                  RS_ILLEGAL_OPERATION);
        CHECK_EQ(ps_mr(1), 0x3F8);
        CHECK_EQ(ps_mr(2), 0x3FF);
    }
    const rs_word_t past[] = {0x10000, 0x10000, s, D};
    const rs_cptr_t root[] = {ME};
    CHECK_ERR(ps_invoke(RS_INIT_IOPORT_CONTROL, RS_IOPORT_CONTROL_ISSUE, past, 4, root, 1),
              RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_ERR(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, 0x81, 0x80, ME, s, D), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, 0x80, 0x80, ME, occupied, D),
              RS_DELETE_FIRST);
    CHECK_EQ(ps_mr(0), 2);
    CHECK_ERR(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, 0x80, 0x80, ME, s, 0), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, 0x80, 0x80, occupied, s, D),
              RS_INVALID_CAPABILITY);
    CHECK_EQ(cap_type(s), RS_CAP_NULL);
    CHECK_OK(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, 0x3F0, 0x3F7, ME, s, D)); // right below COM1
    CHECK_EQ(cap_type(s), RS_CAP_IOPORT);
}

static void hw_ioport_access(void)
{
    rs_cptr_t port = new_slot(), copy = new_slot();
    REQUIRE(port && copy);
    REQUIRE_OK(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, 0x80, 0x80, ME, port, D));
    CHECK_OK(ps_ioport_out(port, 1, 0x80, 0x5A)); // the POST diagnostic port
    uint32_t v = 0;
    CHECK_OK(ps_ioport_in(port, 1, 0x80, &v));
    CHECK_ERR(ps_ioport_out(port, 1, 0x81, 0), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(1), 0x80);
    CHECK_EQ(ps_mr(2), 0x80);
    CHECK_ERR(ps_ioport_out(port, 2, 0x80, 0), RS_RANGE_ERROR); // 16 bits need 0x80..0x81
    CHECK_ERR(ps_ioport_in(port, 4, 0x80, NULL), RS_RANGE_ERROR);
    CHECK_ERR(ps_ioport_out(port, 1, 0x3F8, 'X'), RS_RANGE_ERROR); // not COM1 through this cap
    CHECK_ERR(ps_invoke(port, RS_IOPORT_CONTROL_ISSUE, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    const rs_word_t only_port[] = {0x80};
    CHECK_ERR(ps_invoke(port, RS_IOPORT_OUT8, only_port, 1, NULL, 0), RS_TRUNCATED_MESSAGE);
    CHECK_OK(ps_cnode_copy(ME, copy, D, ME, port, D));
    CHECK_OK(ps_ioport_out(copy, 1, 0x80, 0xA5));
}

static void hw_irq_control(void)
{
    rs_cptr_t h = new_slot(), h2 = new_slot(), copy = new_slot(),
              more[3] = {new_slot(), new_slot(), new_slot()}, ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(h && h2 && copy && more[0] && more[1] && more[2] && ep);
    CHECK_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, ME, h, D));
    CHECK_EQ(cap_type(h), RS_CAP_IRQ_HANDLER);
    for (unsigned i = 0; i < 3; i++) // a shared line: up to 4 handlers
        CHECK_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, ME, more[i], D));
    CHECK_ERR(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, ME, h2, D), RS_REVOKE_FIRST);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_EQ(ps_mr(1), 4);
    CHECK_ERR(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 2, ME, h2, D), RS_RANGE_ERROR); // the cascade
    // the last line: 15 with the 8259; with the IO-APIC the last GSI with a pin (QEMU: 23)
    CHECK_ERR(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 1000, ME, h2, D), RS_RANGE_ERROR);
    uint64_t last = ps_mr(2);
    CHECK(last == 15 || (last >= 23 && last <= 47));
    CHECK_ERR(ps_irq_control_get(RS_INIT_IRQ_CONTROL, last + 1, ME, h2, D), RS_RANGE_ERROR);
    CHECK_EQ(ps_mr(2), last);
    const rs_word_t wide[] = {1ull << 32 | 5, h2, D}; // the whole word counts: not line 5
    const rs_cptr_t me[] = {ME};
    CHECK_ERR(ps_invoke(RS_INIT_IRQ_CONTROL, RS_IRQ_CONTROL_GET, wide, 3, me, 1), RS_RANGE_ERROR);
    if (last > 15) { // a GSI (PCI INTx through the IO-APIC) is a line like any other
        CHECK_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 16, ME, h2, D));
        CHECK_OK(ps_cnode_delete(ME, h2, D));
    }
    CHECK_ERR(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 6, ME, ep, D), RS_DELETE_FIRST);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 6, ep, h2, D), RS_INVALID_CAPABILITY);
    CHECK_OK(ps_cnode_copy(ME, copy, D, ME, h, D));
    CHECK_OK(ps_cnode_delete(ME, h, D)); // a copy remains: the handler stays issued
    CHECK_ERR(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, ME, h2, D), RS_REVOKE_FIRST);
    CHECK_OK(ps_cnode_delete(ME, copy, D)); // the last one: its place on the line is free again
    CHECK_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, ME, h2, D));
    CHECK_OK(ps_cnode_revoke(ME, RS_INIT_IRQ_CONTROL, D)); // handlers derive from IRQControl
    CHECK_EQ(cap_type(h2), RS_CAP_NULL);
    CHECK_EQ(cap_type(more[0]), RS_CAP_NULL);
    CHECK_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, ME, h, D));
}

static void hw_irq_handler(void)
{
    rs_cptr_t h = new_slot(), n = new_object(RS_OBJ_NOTIFICATION, 0),
              n2 = new_object(RS_OBJ_NOTIFICATION, 0);
    rs_cptr_t ro = new_slot(), ep = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(h && n && n2 && ro && ep);
    REQUIRE_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, ME, h, D));
    REQUIRE_OK(ps_cnode_mint(ME, ro, D, ME, n, D, RS_RIGHT_READ, 0));
    CHECK_ERR(ps_irq_handler_set_notification(h, ep), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_irq_handler_set_notification(h, ro), RS_INSUFFICIENT_RIGHTS);
    CHECK_OK(ps_irq_handler_set_notification(h, n));
    CHECK_OK(ps_irq_handler_ack(h));
    CHECK_OK(ps_irq_handler_set_notification(h, n2)); // replaces the first
    CHECK_OK(ps_cnode_delete(ME, n2, D));             // now the handler holds the last cap to n2
    CHECK_ERR(ps_irq_handler_set_notification(h, n), RS_REVOKE_FIRST);
    CHECK_ERR(ps_irq_handler_clear(h), RS_REVOKE_FIRST);
    CHECK_ERR(ps_invoke(h, RS_IRQ_CONTROL_GET, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_OK(ps_cnode_delete(ME, h, D)); // the handler goes, and n2 with it
    CHECK_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 5, ME, h, D));
    CHECK_OK(ps_irq_handler_set_notification(h, n));
    CHECK_OK(ps_irq_handler_clear(h));
}

/* CMOS RTC register access through the port cap for 0x70..0x71 (NMIs stay disabled meanwhile). */
static uint8_t rtc_read(rs_cptr_t port, uint8_t reg)
{
    uint32_t v = 0;
    ps_ioport_out(port, 1, 0x70, 0x80 | reg);
    ps_ioport_in(port, 1, 0x71, &v);
    return (uint8_t)v;
}

static void rtc_write(rs_cptr_t port, uint8_t reg, uint8_t v)
{
    ps_ioport_out(port, 1, 0x70, 0x80 | reg);
    ps_ioport_out(port, 1, 0x71, v);
}

static void hw_rtc_interrupt(void)
{
    rs_cptr_t port = new_slot(), h = new_slot(), n = new_object(RS_OBJ_NOTIFICATION, 0),
              nb = new_slot();
    REQUIRE(port && h && n && nb);
    REQUIRE_OK(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, 0x70, 0x71, ME, port, D));
    REQUIRE_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, 8, ME, h, D));
    REQUIRE_OK(ps_cnode_mint(ME, nb, D, ME, n, D, RS_RIGHT_WRITE, 0x100));
    REQUIRE_OK(ps_irq_handler_set_notification(h, nb));
    uint8_t a = rtc_read(port, 0xA), b = rtc_read(port, 0xB);
    rtc_write(port, 0xA, (uint8_t)((a & 0xF0) | 0x6)); // 1024 Hz periodic rate
    rtc_read(port, 0xC);                               // clear anything pending
    rtc_write(port, 0xB, b | 0x40);                    // periodic interrupt on
    CHECK_EQ(wait_signal(n, 1000), 0x100);
    rtc_read(port, 0xC);             // the device's own acknowledgement
    CHECK_EQ(wait_signal(n, 30), 0); // the line stays masked until Ack
    CHECK_OK(ps_irq_handler_ack(h));
    CHECK_EQ(wait_signal(n, 1000), 0x100);
    rtc_write(port, 0xB, b & ~0x40);
    rtc_write(port, 0xA, a);
    rtc_read(port, 0xC);
    ps_ioport_out(port, 1, 0x70, 0x0D); // NMIs back on
    CHECK_OK(ps_irq_handler_clear(h));
}

const struct test hw_tests[] = {
    {"HW-0001", "IOPortControl refuses COM1 (RS_ILLEGAL_OPERATION) and bad ranges; issues others",
     hw_ioport_issue},
    {"HW-0002", "an IOPort cap reaches exactly its ports at each width (port 0x80 works)",
     hw_ioport_access},
    {"HW-0003",
     "IRQControl issues up to 4 handlers per line (RS_REVOKE_FIRST for a fifth one); lines beyond "
     "the last (15, or the last GSI) RS_RANGE_ERROR",
     hw_irq_control},
    {"HW-0004", "IRQHandler SetNotification, Ack and Clear check their caps", hw_irq_handler},
    {"HW-0005", "the RTC's IRQ 8 signals the handler's notification and stays masked until Ack",
     hw_rtc_interrupt},
    {0},
};
