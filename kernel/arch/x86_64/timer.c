// SPDX-License-Identifier: MIT
// The hardware timer: the local APIC timer in one-shot mode, set for the earlier of the next
// scheduler tick and the earliest kernel timer deadline (timer_obj.c). Both are kept in TSC
// cycles; the LAPIC count is derived from them with a ratio calibrated at boot against the HPET,
// the ACPI PM timer or PIT channel 2 (QEMU TCG has no TSC-deadline timer), and the interrupt
// handler checks the TSC, so a count that ends early only costs one more interrupt.
#include "arch.h"
#include "cpu.h"
#include "../../console.h"
#include "acpi_boot.h"
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
static uint64_t period_tsc;                  /* TSC cycles per scheduler tick */
static uint64_t lapic_per_tsc;               /* LAPIC counts per TSC cycle, 32.32 fixed point */
static uint64_t next_tick;                   /* TSC at which the next scheduler tick is due */
static uint64_t timer_deadline = UINT64_MAX; /* the earliest kernel timer deadline */
static uint64_t programmed;                  /* TSC the running one-shot count ends at (0: none) */
uint64_t arch_tick_count;
volatile uint64_t *arch_tick_count_out;
volatile uint32_t *arch_tick_latency_out;

static void lapic_write(uint32_t reg, uint32_t v) { lapic[reg / 4] = v; }
static uint32_t lapic_read(uint32_t reg) { return lapic[reg / 4]; }

/* The reference clocks the LAPIC timer and the TSC are calibrated against, best first: the HPET
 * (a 64- or 32-bit up-counter read with one memory access, at least 10 MHz: IA-PC HPET
 * specification 1.0a, 2.3), the ACPI PM timer (24 or 32 bits at 3.579545 MHz, one port read:
 * ACPI 6.5, 4.8.3.3) and PIT channel 2 (16 bits at 1.193182 MHz, latched by three port accesses;
 * absent or gated on some machines: Intel 8254 datasheet). Each is read as an up-count. */
#define PIT_HZ     1193182u
#define PMTIMER_HZ 3579545u
#define HPET_GCAP  0x000 /* general capabilities: bits 63:32 the period in femtoseconds */
#define HPET_CONF  0x010 /* bit 0: the main counter runs */
#define HPET_COUNT 0x0F0

int arch_calib_source = CALIB_AUTO;
static const char *const calib_names[] = {"auto", "HPET", "PM timer", "PIT"};

static struct {
    volatile uint64_t *hpet;
    uint16_t pm_port;
    uint64_t hz, mask; /* the chosen clock's rate and counter width */
    int source;
} ref;

static uint64_t ref_read(void)
{
    switch (ref.source) {
    case CALIB_HPET: return ref.hpet[HPET_COUNT / 8] & ref.mask;
    case CALIB_PMTIMER: return inl(ref.pm_port) & ref.mask;
    default: // PIT channel 2's current count (counter latch command), counting down
        outb(0x43, 0x80);
        uint8_t lo = inb(0x42);
        return (uint16_t)(0 - (uint16_t)(lo | inb(0x42) << 8));
    }
}

/* Makes `source` the reference if the machine has it, else says why not (NULL: usable). */
static const char *ref_select(int source)
{
    ref.source = source;
    if (source == CALIB_HPET) {
        const struct acpi_info *a = &acpi_info;
        if (a->status != ACPI_OK || a->hpet_status != ACPI_OK) return "no valid HPET table";
        // the physmap covers at least the low 4 GiB, where firmware puts the HPET
        if (a->hpet.space != 0 || a->hpet.addr > (1ull << 32) - 0x400) return "HPET not in memory";
        ref.hpet = PHYS_TO_VIRT(a->hpet.addr);
        uint64_t gcap = ref.hpet[HPET_GCAP / 8];
        uint32_t fs = (uint32_t)(gcap >> 32);
        // at most 100 ns a count (HPET 1.0a, 2.3.4); at most 1 GHz, which bounds calibrate's sums
        if (gcap == ~0ull || fs < 1000000u || fs > 100000000u)
            return "no HPET answers at its address";
        ref.hz = 1000000000000000ull / fs;
        ref.mask = gcap & (1u << 13) ? ~0ull : 0xFFFFFFFFull; // COUNT_SIZE_CAP
        ref.hpet[HPET_CONF / 8] |= 1;                         // ENABLE_CNF: the main counter runs
        return NULL;
    }
    if (source == CALIB_PMTIMER) {
        const struct acpi_info *a = &acpi_info;
        if (a->status != ACPI_OK || a->fadt_status != ACPI_OK) return "no valid FADT";
        if (!a->fadt.pm_timer_port || a->fadt.pm_timer_port > 0xFFFC || a->fadt.hw_reduced)
            return "no PM timer in the FADT";
        ref.pm_port = (uint16_t)a->fadt.pm_timer_port;
        ref.hz = PMTIMER_HZ;
        ref.mask = a->fadt.pm_timer_32bit ? 0xFFFFFFFFull : 0xFFFFFFull;
        return NULL;
    }
    ref.hz = PIT_HZ;
    ref.mask = 0xFFFF;
    return NULL;
}

/* One reading of the reference, the TSC and the LAPIC count taken together; `spread` is how many
 * TSC cycles the reading took, so a reading the CPU was taken away during shows as a wide one. */
struct clock_sample {
    uint64_t tsc, spread, ref;
    uint32_t lapic;
};

static struct clock_sample clock_sample(void)
{
    struct clock_sample c;
    uint64_t a = rdtsc();
    c.ref = ref_read();
    c.lapic = lapic_read(LAPIC_TIMER_CCR);
    uint64_t b = rdtsc();
    c.tsc = a + (b - a) / 2;
    c.spread = b - a;
    return c;
}

/* A sample taken tightly: the midpoint of a sample is off by at most half its spread, so a
 * sample the CPU was taken away during (a loaded host stopping the emulator: the reference read
 * traps into the emulator, which may wait for its own lock) is taken again, up to 64 times,
 * until its spread is within `limit`. */
static struct clock_sample tight_sample(uint64_t limit)
{
    struct clock_sample c = clock_sample();
    for (int i = 0; i < 64 && c.spread > limit; i++) c = clock_sample();
    return c;
}

/* One calibration window of about 10 ms of the reference: the counts actually elapsed between
 * two samples, not the moment a wait loop noticed the end, set the rates, so that losing the CPU
 * during the window (a loaded host under an emulator) costs nothing; only losing it inside a
 * sample does, so both ends are tight samples and a window whose ends are not fails. The PIT
 * counts down from 0xFFFF on channel 2 (mode 0, gate via port 0x61) and the window fails if it
 * ran out (55 ms); the HPET and PM timer run freely and the window fails if the counter stands
 * still for 2^20 reads or 100 ms go by (it wraps after 4.6 s at the earliest). */
static bool calibrate_window(struct clock_sample *s0, struct clock_sample *s1, uint64_t limit)
{
    uint64_t want = ref.hz / 100;
    if (ref.source == CALIB_PIT) {
        outb(0x61, (inb(0x61) & ~0x02) | 0x01); // gate on, speaker off
        outb(0x43, 0xB0);                       // channel 2, lobyte/hibyte, mode 0
        outb(0x42, 0xFF);
        outb(0x42, 0xFF);
        outb(0x61, inb(0x61) & ~0x01); // restart the count: gate low then high
        outb(0x61, inb(0x61) | 0x01);
        *s0 = tight_sample(limit);
        do *s1 = clock_sample();
        while (!(inb(0x61) & 0x20) && ((s1->ref - s0->ref) & ref.mask) < want);
        if (s1->spread > limit) *s1 = tight_sample(limit);
        return !(inb(0x61) & 0x20) && ((s1->ref - s0->ref) & ref.mask) >= want / 2;
    }
    *s0 = tight_sample(limit);
    uint64_t last = s0->ref, still = 0;
    do {
        *s1 = clock_sample();
        still = s1->ref == last ? still + 1 : 0;
        last = s1->ref;
        if (still > (1u << 20)) return false;
    } while (((s1->ref - s0->ref) & ref.mask) < want);
    if (s1->spread > limit) *s1 = tight_sample(limit);
    return ((s1->ref - s0->ref) & ref.mask) < 10 * want;
}

/* Measures the TSC rate and the LAPIC timer's rate against the reference: of five complete
 * windows (at most 50 tries), the one whose two samples were taken most tightly. A sample is
 * tight when its spread is at most four times the least of 16 taken first (plus 64 cycles for
 * jitter); a window with a loose end is tried again, and counts as a last resort only. Sets
 * arch_tsc_per_ms and lapic_per_tsc; false if no window completed (the clock does not count). */
static uint64_t calib_ppm; /* the chosen window's error bound, parts per million */

static bool calibrate(void)
{
    uint64_t least = UINT64_MAX;
    for (int i = 0; i < 16; i++) {
        struct clock_sample c = clock_sample();
        if (c.spread < least) least = c.spread;
    }
    uint64_t limit = 4 * least + 64;
    struct clock_sample best0 = {0}, best1 = {0};
    uint64_t best_spread = UINT64_MAX;
    for (int tries = 0, good = 0; tries < 50 && good < 5; tries++) {
        struct clock_sample s0, s1;
        if (!calibrate_window(&s0, &s1, limit) || s1.tsc <= s0.tsc) {
            if (ref.source != CALIB_PIT && tries >= 4 && best_spread == UINT64_MAX) break;
            continue;
        }
        if (s0.spread <= limit && s1.spread <= limit) good++;
        if (s0.spread + s1.spread < best_spread)
            best0 = s0, best1 = s1, best_spread = s0.spread + s1.spread;
    }
    if (best_spread == UINT64_MAX) return false;
    uint64_t counts = (best1.ref - best0.ref) & ref.mask, tsc = best1.tsc - best0.tsc;
    // < 2^64: tsc < 2^33 in a window of at most 100 ms, hz <= 1 GHz
    arch_tsc_per_ms = tsc * ref.hz / (counts * 1000);
    calib_ppm = best_spread * 1000000 / 2 / tsc; // each end's midpoint is off by <= spread / 2
    lapic_per_tsc = ((uint64_t)(best0.lapic - best1.lapic) << 32) / tsc;
    return true;
}

/* Calibrates against the clock the command line names (calib=hpet|pmtimer|pit), else the best
 * the machine has; a clock that is missing or does not count is reported, and the next one is
 * tried. */
static void calibrate_any(void)
{
    static const int order[] = {CALIB_HPET, CALIB_PMTIMER, CALIB_PIT};
    int first = arch_calib_source;
    for (int k = -1; k < 3; k++) {
        int src = k < 0 ? first : order[k];
        if (src == CALIB_AUTO || (k >= 0 && src == first)) continue;
        const char *why = ref_select(src);
        if (!why && calibrate()) {
            kprintf("timer: calibrated against the %s (%lu Hz, within %lu ppm)%s\n",
                    calib_names[src], ref.hz, calib_ppm,
                    first == CALIB_AUTO ? ""
                    : src == first      ? ", as calib= asks"
                                        : "");
            return;
        }
        kprintf("timer: %s unusable for calibration: %s%s\n", calib_names[src],
                why ? why : "it does not count", src == first ? " (asked for by calib=)" : "");
    }
    panic("timer: no clock to calibrate against (no HPET, PM timer or PIT counts)");
}

/* Starts the LAPIC's one-shot count for the earlier of the next tick and the earliest timer
 * deadline, unless it already runs for that. The count is rounded up, so that with an exact ratio
 * it never ends before the target; 0 would stop the timer (Intel SDM vol. 3 11.5.4), so at least 1. */
static void program(void)
{
    uint64_t target = next_tick < timer_deadline ? next_tick : timer_deadline;
    if (target == programmed) return;
    uint64_t now = rdtsc();
    uint64_t delta = target > now ? target - now : 0;
    if (delta > period_tsc) delta = period_tsc; // never beyond a tick: bounds the product below
    unsigned __int128 c = ((unsigned __int128)delta * lapic_per_tsc >> 32) + 1;
    lapic_write(LAPIC_TIMER_ICR, c > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)c);
    programmed = target;
}

void arch_timer_init(unsigned tick_us)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    wrmsr(MSR_APIC_BASE, base | (1u << 11)); // xAPIC enabled
    lapic = PHYS_TO_VIRT(base & 0xFFFFF000);
    lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
    lapic_write(LAPIC_TIMER_DCR, 0x3); // divide by 16
    lapic_write(LAPIC_LVT_TIMER, 1u << 16);
    lapic_write(LAPIC_TIMER_ICR, 0xFFFFFFFF); // counts down throughout calibration (> 1 s)
    calibrate_any();
    uint32_t ticks = (uint32_t)((arch_tsc_per_ms * 10 * lapic_per_tsc) >> 32);
    kprintf("timer: LAPIC %u ticks/10ms, TSC %lu kHz, tick %u us, one-shot\n", ticks,
            arch_tsc_per_ms, tick_us);
    period_tsc = arch_tsc_per_ms * tick_us / 1000;
    if (period_tsc == 0) period_tsc = 1;
    lapic_write(LAPIC_TIMER_ICR, 0);
    lapic_write(LAPIC_LVT_TIMER, TIMER_VECTOR); // one-shot (mode bits 18:17 = 00)
    next_tick = rdtsc() + period_tsc;
    program();
}

uint64_t arch_timer_now(void) { return rdtsc(); }

void arch_timer_set_deadline(uint64_t tsc)
{
    timer_deadline = tsc;
    if (lapic) program();
}

/* The tick is due: record how late it is taken (the TSC is the reference, so this is exact, not
 * derived from a count) into the ring init reads, and move the next tick to the first multiple of
 * the period after now: ticks missed while interrupts were off merge into this one, as the
 * periodic mode's IRR did. */
static void tick_due(uint64_t now)
{
    uint64_t late = now - next_tick;
    if (arch_tick_latency_out)
        arch_tick_latency_out[arch_tick_count % RS_TICK_LATENCY_LOG] =
            late > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)late;
    arch_tick_count++;
    if (arch_tick_count_out) *arch_tick_count_out = arch_tick_count;
    next_tick += (late / period_tsc + 1) * period_tsc;
}

bool arch_timer_ack(uint64_t now)
{
    lapic_write(LAPIC_EOI, 0);
    programmed = 0; // the one-shot ended (or an earlier count's interrupt waited)
    bool tick = now >= next_tick;
    if (tick) tick_due(now);
    return tick; // the caller's arch_timer_set_deadline starts the next count
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
