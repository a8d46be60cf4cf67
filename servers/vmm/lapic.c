// SPDX-License-Identifier: MIT
// The guest's local APIC (lapic.h): registers, interrupt acceptance and priorities, EOI, self-IPIs
// and the timer. Section numbers are Intel SDM vol. 3 chapter 11.
#include "lapic.h"
#include <stddef.h>

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR };

/* Writable bits per LVT entry (11.5.1, figure 11-8): delivery status (12) and remote IRR (14)
 * are read-only; the timer's bit 18 (TSC-deadline mode) is reserved since CPUID hides it. */
static const uint32_t lvt_writable[LAPIC_NLVT] = {
    [LVT_TIMER] = 0x300FF, [LVT_THERMAL] = 0x107FF, [LVT_PERF] = 0x107FF,
    [LVT_LINT0] = 0x1A7FF, [LVT_LINT1] = 0x1A7FF,   [LVT_ERROR] = 0x100FF,
};

#define ICR_WRITABLE 0x000CCFFFu /* vector, delivery mode, dest mode, level, trigger, shorthand */
#define SVR_WRITABLE 0x3FFu      /* vector, software enable, focus check (no EOI suppression) */

static bool bit_test(const uint32_t *map, unsigned v) { return map[v / 32] >> (v % 32) & 1; }
static void bit_set(uint32_t *map, unsigned v) { map[v / 32] |= 1u << (v % 32); }
static void bit_clear(uint32_t *map, unsigned v) { map[v / 32] &= ~(1u << (v % 32)); }

/* The highest vector set in a 256-bit map, -1 if none. */
static int highest(const uint32_t *map)
{
    for (int w = 7; w >= 0; w--)
        if (map[w]) return w * 32 + 31 - __builtin_clz(map[w]);
    return -1;
}

static bool sw_enabled(const struct lapic *a) { return a->svr & LAPIC_SVR_ENABLE; }

/* 11.8.3.1: PPR is TPR, or ISRV's class when that is higher. */
static uint32_t ppr(const struct lapic *a)
{
    int isrv = highest(a->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    return (a->tpr & 0xF0) >= isr_class ? a->tpr & 0xFF : isr_class;
}

/* 11.6.2.4: APR is TPR unless IRRV's or ISRV's class is higher. */
static uint32_t apr(const struct lapic *a)
{
    int irrv = highest(a->irr), isrv = highest(a->isr);
    uint32_t t = a->tpr & 0xF0, irr_c = irrv < 0 ? 0 : (uint32_t)irrv & 0xF0,
             isr_c = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;
    if (t >= irr_c && t > isr_c) return a->tpr & 0xFF;
    uint32_t m = t > irr_c ? t : irr_c;
    return m > isr_c ? m : isr_c;
}

/* 11.5.3: an error is latched; the error LVT, if unmasked and legal, raises its vector (an
 * illegal error vector only latches, so that an error cannot loop). */
static void error(struct lapic *a, uint32_t bit)
{
    a->esr_pending |= bit;
    uint32_t e = a->lvt[LVT_ERROR];
    if (!(e & LAPIC_LVT_MASKED) && (e & 0xFF) >= 16) {
        bit_set(a->irr, e & 0xFF);
        bit_clear(a->tmr, e & 0xFF);
    }
}

/* An edge-triggered interrupt from a local source (LVT, self-IPI). */
static void raise_local(struct lapic *a, uint32_t vector)
{
    vector &= 0xFF;
    if (vector < 16) {
        error(a, LAPIC_ESR_RECV_ILLEGAL);
        return;
    }
    bit_set(a->irr, vector);
    bit_clear(a->tmr, vector);
}

/* ---- timer (11.5.4) ---- */

/* Bus clocks per count: TDCR bits 0, 1 and 3 (figure 11-10); 0b111 is divide by 1. */
static uint64_t divisor(const struct lapic *a)
{
    uint32_t d = (a->tdcr & 3) | (a->tdcr >> 1 & 4);
    return d == 7 ? 1 : 2ull << d;
}

/* Nanoseconds per count (LAPIC_TIMER_HZ is 1 GHz). */
static uint64_t count_ns(const struct lapic *a) { return divisor(a); }

static uint64_t deadline(const struct lapic *a)
{
    return a->timer_start_ns + (uint64_t)a->count0 * count_ns(a);
}

/* The current count at now (after lapic_advance, so the period has not run out). */
static uint32_t current_count(const struct lapic *a, uint64_t now_ns)
{
    if (!a->timer_running || now_ns < a->timer_start_ns) return a->timer_running ? a->count0 : 0;
    uint64_t gone = (now_ns - a->timer_start_ns) / count_ns(a);
    return gone < a->count0 ? a->count0 - (uint32_t)gone : 0;
}

static void timer_start(struct lapic *a, uint32_t count, uint64_t now_ns)
{
    a->count0 = count;
    a->timer_start_ns = now_ns;
    a->timer_running = count != 0; // writing 0 stops the timer (11.5.4)
}

void lapic_advance(struct lapic *a, uint64_t now_ns)
{
    if (!a->enabled || !a->timer_running) return;
    uint64_t due = deadline(a);
    if (now_ns < due) return;
    uint32_t lvt = a->lvt[LVT_TIMER];
    if (!(lvt & LAPIC_LVT_MASKED)) raise_local(a, lvt); // the mask stops the interrupt only
    if (!(lvt & LAPIC_LVT_PERIODIC) || !a->tmict) {
        a->timer_running = 0;
        a->count0 = 0;
        return;
    }
    uint64_t period = (uint64_t)a->tmict * count_ns(a);
    a->timer_start_ns = due + (now_ns - due) / period * period; // missed periods: one interrupt
    a->count0 = a->tmict;
}

uint64_t lapic_next_ns(const struct lapic *a)
{
    if (!a->enabled || !a->timer_running || (a->lvt[LVT_TIMER] & LAPIC_LVT_MASKED))
        return UINT64_MAX; // a masked timer reloads when next read or written (lapic_advance)
    return deadline(a);
}

/* ---- reset, base MSR ---- */

void lapic_reset(struct lapic *a, uint32_t id)
{
    *a = (struct lapic){0};
    a->id = (uint8_t)id;
    a->enabled = 1;
    for (unsigned i = 0; i < LAPIC_NLVT; i++) a->lvt[i] = LAPIC_LVT_MASKED;
    a->svr = 0xFF;
    a->dfr = 0xFFFFFFFFu;
}

uint64_t lapic_base_msr(const struct lapic *a)
{
    return LAPIC_BASE | LAPIC_MSR_BSP | (a->enabled ? LAPIC_MSR_ENABLE : 0);
}

bool lapic_set_base_msr(struct lapic *a, uint64_t v)
{
    // the BSP flag is the hardware's: writes of either value leave it (KVM accepts both too)
    if ((v & ~(LAPIC_MSR_BSP | LAPIC_MSR_ENABLE)) != LAPIC_BASE) return false;
    bool on = v & LAPIC_MSR_ENABLE;
    if (on && !a->enabled) lapic_reset(a, a->id); // 11.4.3: back to the power-on state
    else if (!on) a->enabled = 0;
    return true;
}

/* ---- interrupts ---- */

bool lapic_match_dest(const struct lapic *a, uint8_t dest, bool logical)
{
    if (dest == 0xFF) return true;
    if (!logical) return dest == a->id;
    uint8_t ldr = (uint8_t)(a->ldr >> 24);
    switch (a->dfr >> 28) {
    case 0xF: return (dest & ldr) != 0;                                    // flat model
    case 0x0: return (dest >> 4) == (ldr >> 4) && (dest & ldr & 0xF) != 0; // cluster model
    default: return false;
    }
}

bool lapic_accepting(const struct lapic *a) { return a->enabled && sw_enabled(a); }

void lapic_accept(struct lapic *a, uint8_t vector, bool level)
{
    if (!lapic_accepting(a)) return; // KVM drops fixed interrupts the same way
    if (vector < 16) {
        error(a, LAPIC_ESR_RECV_ILLEGAL);
        return;
    }
    bit_set(a->irr, vector);
    if (level) bit_set(a->tmr, vector);
    else bit_clear(a->tmr, vector);
}

int lapic_pending(const struct lapic *a)
{
    if (!a->enabled) return -1;
    int v = highest(a->irr);
    if (v < 0 || ((uint32_t)v & 0xF0) <= (ppr(a) & 0xF0)) return -1;
    return v;
}

void lapic_deliver(struct lapic *a, uint8_t vector)
{
    if (!bit_test(a->irr, vector)) return;
    bit_clear(a->irr, vector);
    bit_set(a->isr, vector);
}

int lapic_take_eoi(struct lapic *a)
{
    int v = highest(a->eoi);
    if (v >= 0) bit_clear(a->eoi, (unsigned)v);
    return v;
}

bool lapic_extint(const struct lapic *a)
{
    if (!a->enabled || !sw_enabled(a)) return true;
    uint32_t l = a->lvt[LVT_LINT0];
    return !(l & LAPIC_LVT_MASKED) && (l >> 8 & 7) == LAPIC_DM_EXTINT;
}

/* 11.8.5: EOI retires the highest in-service vector; a level-triggered one goes to the
 * IO-APIC (the EOI message, here lapic_take_eoi). */
static void eoi(struct lapic *a)
{
    int v = highest(a->isr);
    if (v < 0) return;
    bit_clear(a->isr, (unsigned)v);
    if (bit_test(a->tmr, (unsigned)v)) bit_set(a->eoi, (unsigned)v);
}

/* 11.6.1: a write to ICR low sends. One CPU: only a fixed (or lowest-priority) interrupt to this
 * APIC does anything; INIT, SIPI, NMI, SMI and messages to others are dropped. */
static void send_ipi(struct lapic *a, uint32_t icr)
{
    uint32_t mode = icr >> 8 & 7, shorthand = icr >> 18 & 3, vector = icr & 0xFF;
    if (mode > 1) return;
    if (vector < 16) {
        error(a, LAPIC_ESR_SEND_ILLEGAL);
        return;
    }
    bool self = shorthand == 1 || shorthand == 2 ||
                (shorthand == 0 && lapic_match_dest(a, (uint8_t)(a->icr_hi >> 24), icr >> 11 & 1));
    if (self) lapic_accept(a, (uint8_t)vector, false);
}

uint32_t lapic_read(struct lapic *a, uint32_t offset, uint64_t now_ns)
{
    if (!a->enabled || offset >= LAPIC_SIZE || (offset & 0xF)) return 0;
    lapic_advance(a, now_ns);
    if (offset >= LAPIC_ISR && offset < LAPIC_ISR + 0x80) return a->isr[(offset - LAPIC_ISR) >> 4];
    if (offset >= LAPIC_TMR && offset < LAPIC_TMR + 0x80) return a->tmr[(offset - LAPIC_TMR) >> 4];
    if (offset >= LAPIC_IRR && offset < LAPIC_IRR + 0x80) return a->irr[(offset - LAPIC_IRR) >> 4];
    if (offset >= LAPIC_LVT_TMR && offset <= LAPIC_LVT_ERR)
        return a->lvt[(offset - LAPIC_LVT_TMR) >> 4];
    switch (offset) {
    case LAPIC_ID: return (uint32_t)a->id << 24;
    case LAPIC_VER: return LAPIC_VERSION;
    case LAPIC_TPR: return a->tpr;
    case LAPIC_APR: return apr(a);
    case LAPIC_PPR: return ppr(a);
    case LAPIC_LDR: return a->ldr;
    case LAPIC_DFR: return a->dfr;
    case LAPIC_SVR: return a->svr;
    case LAPIC_ESR: return a->esr;
    case LAPIC_ICR_LO: return a->icr_lo; // delivery status 0: a self-IPI is accepted at once
    case LAPIC_ICR_HI: return a->icr_hi;
    case LAPIC_TMICT: return a->tmict;
    case LAPIC_TMCCT: return current_count(a, now_ns);
    case LAPIC_TDCR: return a->tdcr;
    default: return 0; // EOI (write-only), remote read, reserved
    }
}

static void write_lvt(struct lapic *a, unsigned i, uint32_t v)
{
    v &= lvt_writable[i];
    if (!sw_enabled(a)) v |= LAPIC_LVT_MASKED; // 11.4.7.2: masks stay set while disabled
    a->lvt[i] = v;
}

static void write_svr(struct lapic *a, uint32_t v)
{
    a->svr = v & SVR_WRITABLE;
    if (!sw_enabled(a))
        for (unsigned i = 0; i < LAPIC_NLVT; i++) a->lvt[i] |= LAPIC_LVT_MASKED;
}

void lapic_write(struct lapic *a, uint32_t offset, uint32_t v, uint64_t now_ns)
{
    if (!a->enabled || offset >= LAPIC_SIZE || (offset & 0xF)) return;
    lapic_advance(a, now_ns);
    if (offset >= LAPIC_LVT_TMR && offset <= LAPIC_LVT_ERR) {
        write_lvt(a, (offset - LAPIC_LVT_TMR) >> 4, v);
        return;
    }
    switch (offset) {
    case LAPIC_TPR: a->tpr = v & 0xFF; break;
    case LAPIC_EOI: eoi(a); break;
    case LAPIC_LDR: a->ldr = v & 0xFF000000u; break;
    case LAPIC_DFR: a->dfr = v | 0x0FFFFFFFu; break;
    case LAPIC_SVR: write_svr(a, v); break;
    case LAPIC_ESR: // 11.5.3: a write moves the errors latched since the last one into ESR
        a->esr = a->esr_pending;
        a->esr_pending = 0;
        break;
    case LAPIC_ICR_LO:
        a->icr_lo = v & ICR_WRITABLE;
        send_ipi(a, a->icr_lo);
        break;
    case LAPIC_ICR_HI: a->icr_hi = v & 0xFF000000u; break;
    case LAPIC_TMICT:
        a->tmict = v;
        timer_start(a, v, now_ns);
        break;
    case LAPIC_TDCR: { // the count left carries on at the new rate
        uint32_t left = current_count(a, now_ns);
        a->tdcr = v & 0xB;
        if (a->timer_running) timer_start(a, left, now_ns);
        break;
    }
    default: break; // ID, version, APR, PPR, ISR/TMR/IRR, current count: read-only
    }
}
