// SPDX-License-Identifier: MIT
// The 16550 UART at 0x3F8 as guests/README.md describes it: bytes written to THR become lines
// on the console, "[<vm name>] <line>"; LSR says the transmitter is always empty. Beyond the
// contract, LCR is kept so that a guest programming the baud rate (DLAB set) does not print
// its divisor bytes, and reads back what it wrote there.
#include "vmm.h"

#define UART_THR 0
#define UART_LCR 3
#define UART_LSR 5
#define LCR_DLAB 0x80
#define LSR_IDLE 0x60 /* THR empty, transmitter empty */

uint32_t uart_read(struct vmm *v, uint16_t port)
{
    switch (port - UART_BASE) {
    case UART_LSR: return LSR_IDLE;
    case UART_LCR: return v->st->uart.lcr;
    default: return 0;
    }
}

static void flush_line(struct vmm *v)
{
    struct uart *u = &v->st->uart;
    uint32_t len = u->len < UART_LINE_MAX ? u->len : UART_LINE_MAX;
    vmm_guest_line(v, u->line, len);
    u->len = 0;
}

void uart_write(struct vmm *v, uint16_t port, uint8_t value)
{
    struct uart *u = &v->st->uart;
    unsigned reg = (unsigned)(port - UART_BASE);
    if (reg == UART_LCR) u->lcr = value;
    if (reg != UART_THR || (u->lcr & LCR_DLAB)) return;
    if (value == '\r') return;
    if (value == '\n') {
        flush_line(v);
        return;
    }
    if (u->len >= UART_LINE_MAX) flush_line(v); // a line without end is cut, not dropped
    u->line[u->len++] = (char)value;
}
