/* SPDX-License-Identifier: MIT */
/* An NS16550A UART (a PC's COM port) as a pure model: eight registers, a 16-byte receive FIFO,
 * the modem lines, interrupt identification by priority and the IRQ line as OUT2 gates it.
 * Transmission is instant: a byte written to THR is out at once (THR and the transmitter are
 * always empty), and waits in `tx` until the VMM takes it. Plain data, no pointers: the state
 * lives in the VMM's persistent state (servers/vmm/vmm.h) and is copied on every exit.
 * Datasheet: National Semiconductor, PC16550D UART with FIFOs (June 1995). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define UART_FIFO   16 /* receive FIFO depth (FCR bit 0 set; else one holding register) */
#define UART_TX_MAX 64 /* transmitted bytes the VMM has not taken yet; more are lost, counted */

/* Register offsets from the base (0x3F8 for COM1). DLAB: LCR bit 7. */
enum uart_reg {
    UART_RBR = 0, /* read: receive buffer; write: THR; DLAB: divisor latch low */
    UART_IER = 1, /* interrupt enable; DLAB: divisor latch high */
    UART_IIR = 2, /* read: interrupt identification; write: FCR */
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
};

#define UART_IER_RDA  0x01 /* received data available (and character timeout) */
#define UART_IER_THRE 0x02 /* transmitter holding register empty */
#define UART_IER_RLS  0x04 /* receiver line status (overrun) */
#define UART_IER_MSR  0x08 /* modem status (a delta bit) */

#define UART_IIR_NONE    0x01
#define UART_IIR_MSR     0x00
#define UART_IIR_THRE    0x02
#define UART_IIR_RDA     0x04
#define UART_IIR_RLS     0x06
#define UART_IIR_TIMEOUT 0x0C
#define UART_IIR_FIFO    0xC0 /* both set while the FIFOs are enabled (16550A) */

#define UART_FCR_ENABLE   0x01
#define UART_FCR_RX_RESET 0x02
#define UART_FCR_TX_RESET 0x04
#define UART_FCR_DMA      0x08
#define UART_FCR_TRIGGER  0xC0 /* receive trigger level: 1, 4, 8, 14 bytes */

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08 /* on a PC, gates the chip's interrupt onto IRQ 4 */
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS  0x01
#define UART_MSR_DDSR  0x02
#define UART_MSR_TERI  0x04
#define UART_MSR_DDCD  0x08
#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80
#define UART_MSR_DELTA 0x0F

struct uart {
    uint8_t ier, lcr, mcr, scr;
    uint8_t fcr;          /* FCR bits 0, 3, 6, 7 as written (the reset bits clear themselves) */
    uint8_t lsr_errors;   /* UART_LSR_OE until LSR is read */
    uint8_t msr;          /* delta bits 0-3 until MSR is read; lines 4-7 as now */
    uint8_t thre_pending; /* the THRE interrupt is armed (see uart.c) */
    uint8_t rbr;          /* the last byte read from RBR: what an empty RBR reads again */
    uint8_t rx_head, rx_count;
    uint8_t tx_len;
    uint16_t divisor;
    uint8_t rx[UART_FIFO];
    uint8_t tx[UART_TX_MAX];
    uint32_t tx_lost; /* transmitted bytes the VMM never took (tx was full) */
};

/* Power-on state (datasheet table IV, master reset): no interrupts, FIFOs off, LSR 0x60, the
 * modem lines of a connected modem (CTS, DSR, DCD); divisor 12 (9600 baud), SCR 0. */
void uart_reset(struct uart *u);
/* A byte read at offset 0..7 from the base, with its side effects (RBR pops the FIFO, IIR may
 * clear the THRE interrupt, LSR clears OE, MSR clears the deltas). Other offsets read 0xFF. */
uint8_t uart_read(struct uart *u, uint16_t offset);
/* A byte written at offset 0..7; other offsets are ignored. */
void uart_write(struct uart *u, uint16_t offset, uint8_t v);
/* Input from the outside world: accepts what fits into the receive FIFO (16 bytes when FCR
 * enabled it, else the one holding register; nothing in loopback mode, where the line is
 * disconnected) and returns how many; the caller keeps the rest for later. */
unsigned uart_receive(struct uart *u, const uint8_t *b, unsigned n);
/* The chip's interrupt as IRQ 4 sees it: an enabled source pending, OUT2 set, not in loopback
 * (the datasheet forces OUT2 inactive there). */
bool uart_irq(const struct uart *u);
/* Moves up to max transmitted bytes, oldest first, into buf; returns how many. */
unsigned uart_take_output(struct uart *u, uint8_t *buf, unsigned max);
