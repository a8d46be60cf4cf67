// SPDX-License-Identifier: MIT
// The MC146818A RTC (Motorola datasheet) as a function of guest time: the clock is a count of
// seconds anchored at a second boundary, and register C's flags are computed from the periodic
// ticks, second boundaries and the alarm that fell between the last read of C and now. Linux
// reads it in drivers/rtc/rtc-mc146818-lib.c (waits for UIP to clear, BCD per register B bit 2,
// century at 0x32) and arch/x86/kernel/rtc.c.
//
// Choices: the clock is kept as seconds, so a time written is normalised (BCD digits above 9 and
// out-of-range fields clamped, day 31 of a short month rolls into the next) and switching B's
// DM or 24/12 bits shows the same time in the new format; day of week is computed from the date
// and a write to it ignored; daylight saving (DSE) is stored but not applied; UIP is set for the
// 244 us before each update, which itself is instantaneous; leaving divider reset starts the
// first update half a second later, as the datasheet says.
#include "rtc.h"

#define NS      1000000000ull
#define DIV_HZ  32768ull
#define UIP_NS  244000ull
#define REG_A   0x0A
#define REG_B   0x0B
#define REG_C   0x0C
#define REG_D   0x0D
#define CENTURY 0x32
#define A_UIP   0x80
#define B_SET   0x80
#define B_PIE   0x40
#define B_UIE   0x10
#define B_DM    0x04 /* binary (else BCD) */
#define B_24H   0x02
#define C_IRQF  0x80
#define C_PF    0x40
#define C_AF    0x20
#define C_UF    0x10
#define D_VRT   0x80
#define DAY     86400
#define SEC_MIN (-62167219200ll) /* 0000-01-01 00:00:00 */
#define SEC_MAX 253402300799ll   /* 9999-12-31 23:59:59 */

/* ---- the calendar (proleptic Gregorian; days since 1970-01-01) ---- */
static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0); }

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct tm_rtc {
    int64_t year;
    unsigned month, day, hour, min, sec, wday; /* wday 0 Sunday */
};

static struct tm_rtc civil(int64_t s)
{
    struct tm_rtc t;
    int64_t z = floor_div(s, DAY), sod = s - z * DAY;
    t.hour = (unsigned)(sod / 3600), t.min = (unsigned)(sod / 60 % 60),
    t.sec = (unsigned)(sod % 60);
    t.wday = (unsigned)(z - floor_div(z + 4, 7) * 7 + 4); // 1970-01-01 was a Thursday
    z += 719468;
    int64_t era = floor_div(z, 146097);
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    t.day = doy - (153 * mp + 2) / 5 + 1;
    t.month = mp < 10 ? mp + 3 : mp - 9;
    t.year = yoe + era * 400 + (t.month <= 2);
    return t;
}

static int64_t seconds(const struct tm_rtc *t)
{
    int64_t s =
        days_from_civil(t->year, t->month, t->day) * DAY + t->hour * 3600 + t->min * 60 + t->sec;
    return s < SEC_MIN ? SEC_MIN : s > SEC_MAX ? SEC_MAX : s;
}

/* ---- register formats ---- */
static bool binary(const struct rtc *r) { return r->cmos[REG_B] & B_DM; }
static uint8_t enc(const struct rtc *r, unsigned v)
{
    v %= 100;
    return (uint8_t)(binary(r) ? v : (v / 10) << 4 | v % 10);
}
static unsigned dec(const struct rtc *r, uint8_t v)
{
    return binary(r) ? v : (v >> 4) * 10u + (v & 15);
}
static unsigned clamp(unsigned v, unsigned lo, unsigned hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static uint8_t enc_hour(const struct rtc *r, unsigned h)
{
    if (r->cmos[REG_B] & B_24H) return enc(r, h);
    return (uint8_t)(enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hour(const struct rtc *r, uint8_t v)
{
    if (r->cmos[REG_B] & B_24H) return clamp(dec(r, v), 0, 23);
    return clamp(dec(r, v & 0x7F), 1, 12) % 12 + (v & 0x80 ? 12 : 0);
}

/* ---- time ---- */
static bool divider_on(const struct rtc *r) { return (r->cmos[REG_A] & 0x70) == 0x20; }
static bool running(const struct rtc *r) { return divider_on(r) && !(r->cmos[REG_B] & B_SET); }

static int64_t clock_at(const struct rtc *r, uint64_t now_ns)
{
    if (!running(r)) return r->sec;
    if (now_ns < r->phase_ns) return r->sec - 1;
    return r->sec + (int64_t)((now_ns - r->phase_ns) / NS);
}

/* The first second boundary after t (saturated). */
static uint64_t boundary_after(const struct rtc *r, uint64_t t)
{
    if (t < r->phase_ns) return r->phase_ns;
    uint64_t k = (t - r->phase_ns) / NS + 1;
    return k > (UINT64_MAX - r->phase_ns) / NS ? UINT64_MAX : r->phase_ns + k * NS;
}

/* Register A's rate select as a period in 32.768 kHz clocks (0: none); 1 and 2 are 3.90625 and
 * 7.8125 ms (datasheet table 5, 32.768 kHz time base). */
static uint64_t periodic(const struct rtc *r)
{
    unsigned rs = r->cmos[REG_A] & 15;
    if (!rs || !divider_on(r)) return 0;
    return rs <= 2 ? 64ull << rs : 1ull << (rs - 1);
}

static uint64_t div_clocks(const struct rtc *r, uint64_t t)
{
    if (t <= r->div_ns) return 0;
    t -= r->div_ns;
    return t / NS * DIV_HZ + t % NS * DIV_HZ / NS;
}

static uint64_t div_time(const struct rtc *r, uint64_t clocks)
{
    uint64_t d = clocks / DIV_HZ * NS + (clocks % DIV_HZ * NS + DIV_HZ - 1) / DIV_HZ;
    return d > UINT64_MAX - r->div_ns ? UINT64_MAX : r->div_ns + d;
}

/* register C's flags at now_ns: those held, and the events since seen_ns. */
static uint8_t flags_at(const struct rtc *r, uint64_t now_ns)
{
    uint8_t f = r->flags;
    if (now_ns <= r->seen_ns) return f;
    uint64_t p = periodic(r);
    if (p && div_clocks(r, now_ns) / p > div_clocks(r, r->seen_ns) / p) f |= C_PF;
    if (running(r) && boundary_after(r, r->seen_ns) <= now_ns) f |= C_UF;
    if (r->alarm_ns <= now_ns) f |= C_AF;
    return f;
}

/* The alarm byte's value (0..59 or 0..23), -1 for don't care (11xxxxxx), -2 for never. */
static int alarm_field(const struct rtc *r, unsigned reg, unsigned n)
{
    uint8_t a = r->cmos[reg];
    if ((a & 0xC0) == 0xC0) return -1;
    for (unsigned v = 0; v < n; v++)
        if ((reg == 5 ? enc_hour(r, v) : enc(r, v)) == a) return (int)v;
    return -2;
}

/* Seconds from second-of-day sod to the first match of the alarm (0 if sod matches); -1 none. */
static int64_t alarm_delay(const struct rtc *r, unsigned sod)
{
    int s = alarm_field(r, 1, 60), m = alarm_field(r, 3, 60), h = alarm_field(r, 5, 24);
    if (s == -2 || m == -2 || h == -2) return -1;
    for (unsigned k = 0; k <= 24 * 60; k++) { // minute by minute, one day on
        unsigned mod = (sod / 60 + k) % (24 * 60), from = k ? 0 : sod % 60;
        if ((h >= 0 && mod / 60 != (unsigned)h) || (m >= 0 && mod % 60 != (unsigned)m)) continue;
        if (s >= 0 && (unsigned)s < from) continue;
        return (int64_t)k * 60 + (s >= 0 ? (unsigned)s : from) - sod % 60;
    }
    return -1;
}

static void find_alarm(struct rtc *r)
{
    r->alarm_ns = UINT64_MAX;
    if (!running(r)) return;
    uint64_t b = boundary_after(r, r->seen_ns);
    if (b == UINT64_MAX) return;
    int64_t v = clock_at(r, b), d = alarm_delay(r, (unsigned)(v - floor_div(v, DAY) * DAY));
    if (d < 0 || (uint64_t)d > (UINT64_MAX - b) / NS) return;
    r->alarm_ns = b + (uint64_t)d * NS;
}

/* Gathers the events up to now_ns into flags, before a change of what makes them. */
static void fold(struct rtc *r, uint64_t now_ns)
{
    if (now_ns <= r->seen_ns) return;
    r->flags = flags_at(r, now_ns);
    r->seen_ns = now_ns;
    if (r->alarm_ns <= now_ns) find_alarm(r);
}

/* The clock now reads `to` (at now_ns), keeping the second's phase. */
static void set_clock(struct rtc *r, int64_t to, uint64_t now_ns)
{
    r->sec += to - clock_at(r, now_ns);
}

static void write_time(struct rtc *r, unsigned reg, uint8_t v, uint64_t now_ns)
{
    struct tm_rtc t = civil(clock_at(r, now_ns));
    int64_t yy = t.year - floor_div(t.year, 100) * 100;
    switch (reg) {
    case 0x00: t.sec = clamp(dec(r, v), 0, 59); break;
    case 0x02: t.min = clamp(dec(r, v), 0, 59); break;
    case 0x04: t.hour = dec_hour(r, v); break;
    case 0x07: t.day = clamp(dec(r, v), 1, 31); break;
    case 0x08: t.month = clamp(dec(r, v), 1, 12); break;
    case 0x09: t.year += (int64_t)clamp(dec(r, v), 0, 99) - yy; break;
    default: t.year = (int64_t)clamp(dec(r, v), 0, 99) * 100 + yy; break; // the century
    }
    set_clock(r, seconds(&t), now_ns);
}

/* Register A or B changes to v: the clock stops (SET, divider reset) or starts. */
static void write_control(struct rtc *r, unsigned reg, uint8_t v, uint64_t now_ns)
{
    int64_t shown = clock_at(r, now_ns);
    bool was_on = divider_on(r), was_running = running(r);
    if (reg == REG_A) r->cmos[REG_A] = v & 0x7F;      // UIP is read-only
    else r->cmos[REG_B] = v & B_SET ? v & ~B_UIE : v; // SET clears UIE (datasheet)
    if (!was_on && divider_on(r)) { // out of divider reset: the first update in 500 ms
        r->div_ns = now_ns;
        r->phase_ns = now_ns + NS / 2;
        r->sec = running(r) ? shown + 1 : shown;
    } else if (was_running && !running(r)) {
        r->sec = shown;
    } else if (!was_running && running(r)) { // SET cleared: updates resume on the divider's beat
        r->phase_ns = boundary_after(r, now_ns);
        r->sec = shown + 1;
    }
}

void rtc_reset(struct rtc *r, uint64_t unix_seconds, uint64_t now_ns)
{
    *r = (struct rtc){0};
    r->cmos[REG_A] = 0x26;
    r->cmos[REG_B] = B_24H;
    r->sec = (unix_seconds > (uint64_t)SEC_MAX ? SEC_MAX : (int64_t)unix_seconds) + 1;
    r->phase_ns = now_ns > UINT64_MAX - NS ? UINT64_MAX : now_ns + NS;
    r->div_ns = r->seen_ns = now_ns;
    find_alarm(r);
}

static uint8_t read_reg(struct rtc *r, unsigned reg, uint64_t now_ns)
{
    struct tm_rtc t = {0};
    if (reg <= 9) t = civil(clock_at(r, now_ns));
    switch (reg) {
    case 0x00: return enc(r, t.sec);
    case 0x02: return enc(r, t.min);
    case 0x04: return enc_hour(r, t.hour);
    case 0x06: return enc(r, t.wday + 1);
    case 0x07: return enc(r, t.day);
    case 0x08: return enc(r, t.month);
    case 0x09: return enc(r, (unsigned)(t.year - floor_div(t.year, 100) * 100));
    case CENTURY: {
        int64_t y = civil(clock_at(r, now_ns)).year;
        return enc(r, (unsigned)(floor_div(y, 100) - floor_div(y, 10000) * 100));
    }
    case REG_A: {
        bool uip = running(r) && boundary_after(r, now_ns) - now_ns <= UIP_NS;
        return (uint8_t)(r->cmos[REG_A] | (uip ? A_UIP : 0));
    }
    case REG_C: { // read to clear: the line drops
        uint8_t f = flags_at(r, now_ns);
        fold(r, now_ns);
        r->flags = 0;
        return (uint8_t)(f | (f & r->cmos[REG_B] & 0x70 ? C_IRQF : 0));
    }
    case REG_D: return D_VRT;
    default: return r->cmos[reg & 0x7F];
    }
}

static void write_reg(struct rtc *r, unsigned reg, uint8_t v, uint64_t now_ns)
{
    fold(r, now_ns); // events so far count under the old settings
    switch (reg) {
    case 0x00:
    case 0x02:
    case 0x04:
    case 0x07:
    case 0x08:
    case 0x09:
    case CENTURY: write_time(r, reg, v, now_ns); break;
    case 0x06:
    case REG_C:
    case REG_D: return; // day of week is computed; C and D are read-only
    case REG_A:
    case REG_B: write_control(r, reg, v, now_ns); break;
    default: r->cmos[reg & 0x7F] = v; // the alarm bytes and plain CMOS
    }
    find_alarm(r);
}

uint8_t rtc_read(struct rtc *r, uint16_t port, uint64_t now_ns)
{
    if (port != 0x71) return 0xFF;
    return read_reg(r, r->index & 0x7F, now_ns);
}

void rtc_write(struct rtc *r, uint16_t port, uint8_t v, uint64_t now_ns)
{
    if (port == 0x70) {
        r->index = v & 0x7F;
        r->nmi_off = v >> 7;
    } else if (port == 0x71) {
        write_reg(r, r->index & 0x7F, v, now_ns);
    }
}

bool rtc_irq(const struct rtc *r, uint64_t now_ns)
{
    return flags_at(r, now_ns) & r->cmos[REG_B] & 0x70;
}

void rtc_advance(struct rtc *r, uint64_t now_ns) { fold(r, now_ns); }

uint64_t rtc_next_ns(const struct rtc *r)
{
    uint8_t en = r->cmos[REG_B] & 0x70;
    if (r->flags & en) return UINT64_MAX; // high until C is read
    uint64_t next = UINT64_MAX, p = periodic(r);
    if ((en & B_PIE) && p) {
        uint64_t t = div_time(r, (div_clocks(r, r->seen_ns) / p + 1) * p);
        if (t < next) next = t;
    }
    if ((en & B_UIE) && running(r)) {
        uint64_t t = boundary_after(r, r->seen_ns);
        if (t < next) next = t;
    }
    if ((en & C_AF) && r->alarm_ns < next) next = r->alarm_ns;
    return next;
}

void rtc_set_memory(struct rtc *r, uint64_t ram_bytes)
{
    uint64_t base = ram_bytes >= 640 << 10 ? 640 : ram_bytes >> 10;
    uint64_t ext = ram_bytes > 1 << 20 ? (ram_bytes - (1 << 20)) >> 10 : 0;
    uint64_t high = ram_bytes > 16 << 20 ? (ram_bytes - (16 << 20)) >> 16 : 0;
    if (ext > 0xFFFF) ext = 0xFFFF;
    if (high > 0xFFFF) high = 0xFFFF;
    r->cmos[0x15] = (uint8_t)base, r->cmos[0x16] = (uint8_t)(base >> 8);
    r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext;
    r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext >> 8);
    r->cmos[0x34] = (uint8_t)high, r->cmos[0x35] = (uint8_t)(high >> 8);
}
