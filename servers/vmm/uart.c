// SPDX-License-Identifier: MIT
// The NS16550A model (uart.h). What guest drivers rely on, from the PC16550D datasheet:
// - IIR reports the highest-priority enabled source: receiver line status (overrun), then
//   received data (or, with FIFOs, a character timeout), then THR empty, then modem status.
// - The THRE interrupt: armed when THR becomes empty (here: at once after every THR write) and
//   when IER's THRE bit goes from 0 to 1 while THR is empty (the rule Linux's 8250 driver tests
//   at startup and its transmit path relies on); cleared by reading IIR while THRE is the source
//   reported, or by writing THR (which here re-arms it at once).
// - Loopback (MCR bit 4): THR feeds the receiver, the outside line is disconnected, and the modem
//   inputs follow MCR: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2 (Linux's autoconfig writes
//   LOOP | RTS | OUT2 and expects MSR 0x90).
// - With FIFOs, the receive interrupt comes at the trigger level; below it the chip raises the
//   character timeout after four character times of silence. This model has no time: data below
//   the trigger level reports the timeout at once, which keeps every byte flowing.
#include "uart.h"

static bool fifo_on(const struct uart *u) { return u->fcr & UART_FCR_ENABLE; }
static bool dlab(const struct uart *u) { return u->lcr & UART_LCR_DLAB; }
static unsigned rx_capacity(const struct uart *u) { return fifo_on(u) ? UART_FIFO : 1; }

static unsigned rx_trigger(const struct uart *u)
{
    static const uint8_t level[4] = {1, 4, 8, 14};
    return fifo_on(u) ? level[u->fcr >> 6] : 1;
}

/* The modem inputs now: a connected modem's (CTS, DSR, DCD), or MCR's outputs in loopback. */
static uint8_t modem_lines(const struct uart *u)
{
    if (!(u->mcr & UART_MCR_LOOP)) return UART_MSR_CTS | UART_MSR_DSR | UART_MSR_DCD;
    uint8_t m = 0;
    if (u->mcr & UART_MCR_RTS) m |= UART_MSR_CTS;
    if (u->mcr & UART_MCR_DTR) m |= UART_MSR_DSR;
    if (u->mcr & UART_MCR_OUT1) m |= UART_MSR_RI;
    if (u->mcr & UART_MCR_OUT2) m |= UART_MSR_DCD;
    return m;
}

/* The inputs may have changed (an MCR write): the delta bits record each change until MSR is
 * read; TERI only for RI going from on to off (datasheet, MSR bit 2). */
static void modem_update(struct uart *u)
{
    uint8_t old = u->msr, now = modem_lines(u), changed = old ^ now;
    uint8_t delta = old & UART_MSR_DELTA;
    if (changed & UART_MSR_CTS) delta |= UART_MSR_DCTS;
    if (changed & UART_MSR_DSR) delta |= UART_MSR_DDSR;
    if (changed & UART_MSR_DCD) delta |= UART_MSR_DDCD;
    if ((old & UART_MSR_RI) && !(now & UART_MSR_RI)) delta |= UART_MSR_TERI;
    u->msr = now | delta;
}

static void rx_clear(struct uart *u) { u->rx_head = u->rx_count = 0; }

/* A byte reaches the receiver. Full: an overrun. With FIFOs the byte in the shift register is
 * lost; without, it overwrites the holding register (datasheet, LSR bit 1). */
static void rx_push(struct uart *u, uint8_t b)
{
    unsigned cap = rx_capacity(u);
    if (u->rx_count >= cap) {
        u->lsr_errors |= UART_LSR_OE;
        if (!fifo_on(u)) u->rx[u->rx_head % UART_FIFO] = b;
        return;
    }
    u->rx[(u->rx_head + u->rx_count) % UART_FIFO] = b;
    u->rx_count++;
}

static uint8_t rx_pop(struct uart *u)
{
    if (!u->rx_count) return u->rbr;
    u->rbr = u->rx[u->rx_head % UART_FIFO];
    u->rx_head = (uint8_t)((u->rx_head + 1) % UART_FIFO);
    u->rx_count--;
    return u->rbr;
}

/* The interrupt source IIR reports (bits 0-3), UART_IIR_NONE if none. */
static uint8_t source(const struct uart *u)
{
    if ((u->ier & UART_IER_RLS) && (u->lsr_errors & UART_LSR_OE)) return UART_IIR_RLS;
    if ((u->ier & UART_IER_RDA) && u->rx_count)
        return u->rx_count >= rx_trigger(u) ? UART_IIR_RDA : UART_IIR_TIMEOUT;
    if ((u->ier & UART_IER_THRE) && u->thre_pending) return UART_IIR_THRE;
    if ((u->ier & UART_IER_MSR) && (u->msr & UART_MSR_DELTA)) return UART_IIR_MSR;
    return UART_IIR_NONE;
}

void uart_reset(struct uart *u)
{
    *u = (struct uart){.divisor = 12};
    u->msr = modem_lines(u);
}

static void transmit(struct uart *u, uint8_t b)
{
    if (u->mcr & UART_MCR_LOOP) rx_push(u, b);
    else if (u->tx_len < UART_TX_MAX) u->tx[u->tx_len++] = b;
    else u->tx_lost++;
    u->thre_pending = 1; // THR is empty again at once
}

/* FCR: bit 0 must be set for the other bits to be written; changing it clears both FIFOs. */
static void write_fcr(struct uart *u, uint8_t v)
{
    if ((v ^ u->fcr) & UART_FCR_ENABLE) rx_clear(u);
    if (!(v & UART_FCR_ENABLE)) {
        u->fcr = 0;
        return;
    }
    if (v & UART_FCR_RX_RESET) rx_clear(u);
    // UART_FCR_TX_RESET: the transmitter is always empty; nothing to clear
    u->fcr = v & (UART_FCR_ENABLE | UART_FCR_DMA | UART_FCR_TRIGGER);
}

uint8_t uart_read(struct uart *u, uint16_t offset)
{
    uint8_t v;
    switch (offset) {
    case UART_RBR: return dlab(u) ? (uint8_t)u->divisor : rx_pop(u);
    case UART_IER: return dlab(u) ? (uint8_t)(u->divisor >> 8) : u->ier;
    case UART_IIR:
        v = source(u);
        if (v == UART_IIR_THRE) u->thre_pending = 0;
        return v | (fifo_on(u) ? UART_IIR_FIFO : 0);
    case UART_LCR: return u->lcr;
    case UART_MCR: return u->mcr;
    case UART_LSR:
        v = UART_LSR_THRE | UART_LSR_TEMT | u->lsr_errors | (u->rx_count ? UART_LSR_DR : 0);
        u->lsr_errors = 0;
        return v;
    case UART_MSR:
        v = u->msr;
        u->msr &= (uint8_t)~UART_MSR_DELTA;
        return v;
    case UART_SCR: return u->scr;
    default: return 0xFF;
    }
}

void uart_write(struct uart *u, uint16_t offset, uint8_t v)
{
    switch (offset) {
    case UART_RBR:
        if (dlab(u)) u->divisor = (uint16_t)((u->divisor & 0xFF00) | v);
        else transmit(u, v);
        break;
    case UART_IER:
        if (dlab(u)) {
            u->divisor = (uint16_t)((u->divisor & 0x00FF) | v << 8);
            break;
        }
        if ((v & UART_IER_THRE) && !(u->ier & UART_IER_THRE)) u->thre_pending = 1;
        u->ier = v & 0x0F; // bits 4-7 are always 0 on the 16550A
        break;
    case UART_IIR: write_fcr(u, v); break;
    case UART_LCR: u->lcr = v; break;
    case UART_MCR:
        u->mcr = v & 0x1F;
        modem_update(u);
        break;
    case UART_SCR: u->scr = v; break;
    default: break; // LSR and MSR writes are for factory tests only; beyond 7: nothing
    }
}

unsigned uart_receive(struct uart *u, const uint8_t *b, unsigned n)
{
    if (u->mcr & UART_MCR_LOOP) return 0;
    unsigned cap = rx_capacity(u), taken = 0;
    while (taken < n && u->rx_count < cap) rx_push(u, b[taken++]);
    return taken;
}

bool uart_irq(const struct uart *u)
{
    if ((u->mcr & (UART_MCR_OUT2 | UART_MCR_LOOP)) != UART_MCR_OUT2) return false;
    return source(u) != UART_IIR_NONE;
}

unsigned uart_take_output(struct uart *u, uint8_t *buf, unsigned max)
{
    unsigned len = u->tx_len <= UART_TX_MAX ? u->tx_len : UART_TX_MAX, n = len < max ? len : max;
    for (unsigned i = 0; i < n; i++) buf[i] = u->tx[i];
    for (unsigned i = n; i < len; i++) u->tx[i - n] = u->tx[i];
    u->tx_len = (uint8_t)(len - n);
    return n;
}
