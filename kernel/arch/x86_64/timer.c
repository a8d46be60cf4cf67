// SPDX-License-Identifier: MIT
// The scheduler tick: the local APIC timer in periodic mode, calibrated with PIT channel 2
// (QEMU TCG has no TSC-deadline timer). The TSC rate is measured on the way, for logs.
#include "arch.h"
#include "cpu.h"
#include "../../console.h"
#include <resurgo/bootinfo.h>

#define LAPIC_ID        0x020
#define LAPIC_EOI       0x0B0
#define LAPIC_SVR       0x0F0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_IRR       0x200 /* 8 registers of 32 vectors, 16 bytes apart */
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_CCR 0x390
#define LAPIC_TIMER_DCR 0x3E0

uint64_t arch_tsc_per_ms;
static volatile uint32_t *lapic;
static uint32_t period;      /* LAPIC counts per tick */
static uint64_t period_tsc;  /* TSC cycles per tick */
static uint64_t last_expiry; /* TSC when the tick last handled expired (0: none yet) */
uint64_t arch_tick_count;
volatile uint64_t *arch_tick_count_out;
volatile uint32_t *arch_tick_latency_out;

static void lapic_write(uint32_t reg, uint32_t v) { lapic[reg / 4] = v; }
static uint32_t lapic_read(uint32_t reg) { return lapic[reg / 4]; }

/* Busy-waits `ms` milliseconds on PIT channel 2 (gate via port 0x61); returns nothing, exact
 * enough for calibration. */
static void pit_wait_ms(unsigned ms)
{
    uint32_t count = 1193182u * ms / 1000;
    outb(0x61, (inb(0x61) & ~0x02) | 0x01); // gate on, speaker off
    outb(0x43, 0xB0);                       // channel 2, lobyte/hibyte, mode 0
    outb(0x42, count & 0xFF);
    outb(0x42, count >> 8);
    outb(0x61, inb(0x61) & ~0x01); // restart the count: gate low then high
    outb(0x61, inb(0x61) | 0x01);
    while (!(inb(0x61) & 0x20))
        ;
}

void arch_timer_init(unsigned tick_us)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, base | (1u << 11)); // xAPIC enabled
    lapic = PHYS_TO_VIRT(base & 0xFFFFF000);
    lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
    lapic_write(LAPIC_TIMER_DCR, 0x3); // divide by 16
    lapic_write(LAPIC_LVT_TIMER, 1u << 16);
    lapic_write(LAPIC_TIMER_ICR, 0xFFFFFFFF);
    uint64_t t0 = rdtsc();
    pit_wait_ms(10);
    uint64_t t1 = rdtsc();
    uint32_t ticks = 0xFFFFFFFF - lapic_read(LAPIC_TIMER_CCR);
    arch_tsc_per_ms = (t1 - t0) / 10;
    uint64_t per_tick = (uint64_t)ticks * tick_us / 10000;
    if (per_tick == 0) per_tick = 1;
    kprintf("timer: LAPIC %u ticks/10ms, TSC %lu kHz, tick %u us\n", ticks, arch_tsc_per_ms,
            tick_us);
    period = (uint32_t)per_tick;
    period_tsc = arch_tsc_per_ms * tick_us / 1000;
    lapic_write(LAPIC_LVT_TIMER, (1u << 17) | TIMER_VECTOR); // periodic
    lapic_write(LAPIC_TIMER_ICR, (uint32_t)per_tick);
}

/* How late this tick is taken. In periodic mode the count reloads at expiry (Intel SDM vol. 3
 * 11.5.4), so the current count dates this period's expiry; expiries while the interrupt waited
 * merge into one (the IRR holds one), so the lateness runs from the first expiry after the one
 * last handled. */
static void record_latency(void)
{
    uint64_t now = rdtsc();
    uint64_t into = (uint64_t)(period - lapic_read(LAPIC_TIMER_CCR)) * period_tsc / period;
    uint64_t expiry = now - into;
    uint64_t late =
        last_expiry && now > last_expiry + period_tsc ? now - (last_expiry + period_tsc) : 0;
    last_expiry = expiry;
    if (arch_tick_latency_out)
        arch_tick_latency_out[arch_tick_count % RS_TICK_LATENCY_LOG] =
            late > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)late;
    arch_tick_count++;
    if (arch_tick_count_out) *arch_tick_count_out = arch_tick_count;
}

void arch_timer_eoi(void)
{
    record_latency();
    lapic_write(LAPIC_EOI, 0);
}

/* Vectors 0..31 are exceptions and never requested through the IRR, so registers 1..7 are
 * enough (Intel SDM vol. 3 11.8.4). Device IRQs come from the 8259 through LINT0 (ExtINT), which
 * bypasses the IRR: the PIC's own request register says whether one waits. */
bool arch_irq_pending(void)
{
    if (!lapic) return false;
    for (uint32_t r = 1; r < 8; r++)
        if (lapic_read(LAPIC_IRR + r * 0x10)) return true;
    return arch_pic_pending() != 0;
}
