// SPDX-License-Identifier: MIT
// The guest's console (console.h): COM1's transmitted bytes become the guest's lines in the log,
// or go to the console raw while init's shell is attached; init's typing reaches the UART from
// the console ring.
//
// When a partial line is printed (Linux's shell prompt has no newline): when the guest's driver
// stops transmitting, i.e. turns IER's THRE interrupt off (Linux's 8250 driver does so when its
// buffer is empty, and its console write clears IER before printing a kernel message); when the
// guest polls for input, i.e. reads LSR CONSOLE_IDLE_POLLS times in a row finding no data and
// sending nothing (a driver waiting for THRE reads it once per byte here: THR is always empty);
// when the keyboard is attached; and on vmm_console_flush (the exit path may call it at HLT).
// All of these count the guest's own steps, not time: a guest preempted in the middle of a line
// (Bochs, a busy host) keeps its line whole. A program that writes half a line, stops
// transmitting and writes the rest later sees it split in two lines.
#include <resurgo/errors.h>
#include "vmm.h"

static void line_emit(struct vmm *v)
{
    struct vmm_console *c = &v->st->console;
    vmm_guest_line(v, c->line, c->len < UART_LINE_MAX ? c->len : UART_LINE_MAX);
    c->len = 0;
}

/* What every function here may change, for the transaction's commit (vmm_seg). */
#define CONSOLE_DIRTY (VMM_DIRTY(VMM_SEG_UART) | VMM_DIRTY(VMM_SEG_CONSOLE))

void vmm_console_flush(struct vmm *v)
{
    v->st->dirty |= CONSOLE_DIRTY;
    if (v->st->console.len) line_emit(v);
}

static void out_byte(struct vmm *v, uint8_t b)
{
    struct vmm_console *c = &v->st->console;
    c->idle_polls = 0;
    if (c->raw) {
        vmm_guest_raw(v, &b, 1);
        return;
    }
    if (b == '\r') return;
    if (b == '\n') {
        line_emit(v);
        return;
    }
    if (c->len >= UART_LINE_MAX) line_emit(v); // a line without end is cut, not dropped
    c->line[c->len++] = (char)b;
}

/* What the UART transmitted goes out. */
static void drain(struct vmm *v)
{
    uint8_t buf[UART_TX_MAX];
    unsigned n = uart_take_output(&v->st->uart, buf, sizeof(buf));
    for (unsigned i = 0; i < n; i++) out_byte(v, buf[i]);
}

/* Follows init's attach state: raw while attached; the partial line goes out first. */
static void follow_mode(struct vmm *v, const struct vmm_console_ring *ring)
{
    struct vmm_console *c = &v->st->console;
    uint8_t raw = ring->attached == 1;
    if (raw == c->raw) return;
    vmm_console_flush(v);
    c->raw = raw;
}

/* Clients' VMM_INPUT bytes go in before the ring's (two typists are not ordered anyway). */
static void feed_queue(struct vmm *v)
{
    struct vmm_console *c = &v->st->console;
    while (c->q_len && c->q_len <= VMM_INPUT_QUEUE) {
        uint8_t b = c->q[c->q_head % VMM_INPUT_QUEUE];
        if (!uart_receive(&v->st->uart, &b, 1)) return;
        c->q_head = (uint8_t)((c->q_head + 1) % VMM_INPUT_QUEUE);
        c->q_len--;
    }
    if (c->q_len > VMM_INPUT_QUEUE) c->q_len = 0; // a corrupted count: what it held is lost
}

int vmm_console_input(struct vmm *v, uint64_t badge, uint64_t id, const uint8_t *b, unsigned n,
                      unsigned *accepted)
{
    v->st->dirty |= CONSOLE_DIRTY;
    struct vmm_console *c = &v->st->console;
    if (n > VMM_INPUT_MAX) return RS_RANGE_ERROR;
    if (v->st->stopped) return RS_ILLEGAL_OPERATION;
    if (id && badge == c->last_badge && id == c->last_id) {
        *accepted = c->last_accepted <= n ? c->last_accepted : n;
        return RS_OK;
    }
    if (c->q_len > VMM_INPUT_QUEUE) c->q_len = 0;
    unsigned room = VMM_INPUT_QUEUE - c->q_len, take = n < room ? n : room;
    for (unsigned i = 0; i < take; i++) {
        c->q[(c->q_head + c->q_len) % VMM_INPUT_QUEUE] = b[i];
        c->q_len++;
    }
    c->last_badge = badge;
    c->last_id = id;
    c->last_accepted = take;
    *accepted = take;
    vmm_console_feed(v);
    return RS_OK;
}

void vmm_console_feed(struct vmm *v)
{
    v->st->dirty |= CONSOLE_DIRTY;
    struct vmm_console_ring *ring = v->ring;
    struct vmm_console *c = &v->st->console;
    uint64_t head = 0, avail = 0;
    if (ring) {
        follow_mode(v, ring);
        head = ring->head;
        // the bytes below head are in: init stores them first, and x86 keeps stores in order
        __asm__ volatile("" ::: "memory");
        avail = head - c->in_seen;
        if (avail > VMM_CONSOLE_RING) { // more than init can have written: start again at its head
            c->in_seen = head;
            avail = 0;
        }
    }
    if (v->st->stopped) { // nothing will ever read it
        uint64_t n = avail + (c->q_len <= VMM_INPUT_QUEUE ? c->q_len : 0);
        if (n) vmm_log(v, "guest stopped: %lu bytes of input dropped", n);
        c->in_dropped += n;
        c->in_seen = head;
        c->q_len = 0;
        return;
    }
    feed_queue(v);
    if (c->q_len) return; // the ring's bytes come after the queue's
    while (avail) {
        unsigned off = (unsigned)(c->in_seen % VMM_CONSOLE_RING);
        unsigned chunk = avail < VMM_CONSOLE_RING - off ? (unsigned)avail : VMM_CONSOLE_RING - off;
        unsigned took = uart_receive(&v->st->uart, ring->buf + off, chunk);
        c->in_seen += took;
        avail -= took;
        if (took < chunk) break; // the FIFO is full: the rest waits in the ring
    }
}

void vmm_console_tick(struct vmm *v) { vmm_console_feed(v); }

uint8_t vmm_console_read(struct vmm *v, uint16_t port)
{
    v->st->dirty |= CONSOLE_DIRTY;
    struct vmm_console *c = &v->st->console;
    vmm_console_feed(v);
    uint16_t reg = (uint16_t)(port - UART_BASE);
    uint8_t value = uart_read(&v->st->uart, reg);
    if (reg != UART_LSR || (value & UART_LSR_DR)) {
        if (reg == UART_LSR) c->idle_polls = 0;
        return value;
    }
    if (c->idle_polls < CONSOLE_IDLE_POLLS) c->idle_polls++;
    if (c->idle_polls >= CONSOLE_IDLE_POLLS) vmm_console_flush(v); // the guest waits for input
    return value;
}

void vmm_console_write(struct vmm *v, uint16_t port, uint8_t value)
{
    v->st->dirty |= CONSOLE_DIRTY;
    struct uart *u = &v->st->uart;
    uint8_t ier = u->ier;
    uart_write(u, (uint16_t)(port - UART_BASE), value);
    drain(v);
    if ((ier & UART_IER_THRE) && !(u->ier & UART_IER_THRE)) vmm_console_flush(v);
}

void vmm_console_publish(struct vmm_console_ring *ring, const struct vmm_state *s)
{
    if (ring) ring->tail = s->console.in_seen;
}
