// SPDX-License-Identifier: MIT
// The 8254 PIT (Intel 8254 datasheet, order 231164) as a function of guest time: a channel's
// state is the time it started counting, so its count and OUT at any now_ns are computed, not
// stepped. Channel 0 drives IRQ0, channel 1 (DRAM refresh on a PC) counts but drives nothing,
// channel 2's GATE is port 0x61 bit 0 and its OUT is read back in bit 5 (Linux calibrates the
// TSC against it: arch/x86/kernel/tsc.c).
//
// Choices where the datasheet leaves room: a count takes effect when written (the first clock's
// load delay is not modelled) and a new count in modes 2 and 3 restarts the period at once instead
// of at the next reload; counts 1 in modes 2 and 3 (illegal) behave as 2; port 0x43 reads 0xFF.
#include "pit.h"

#define NS         1000000000ull
#define PIT_CMD    0x43
#define PIT_PORT61 0x61
#define REFRESH_NS 15085ull /* port 0x61 bit 4 toggles at the DRAM refresh rate */

static uint64_t ticks_of(uint64_t ns) { return ns / NS * PIT_HZ + ns % NS * PIT_HZ / NS; }

/* The first time at which ticks_of() reaches t (rounded up), saturated. */
static uint64_t ns_of(uint64_t t)
{
    if (t / PIT_HZ >= UINT64_MAX / NS) return UINT64_MAX;
    return t / PIT_HZ * NS + (t % PIT_HZ * NS + PIT_HZ - 1) / PIT_HZ;
}

static unsigned mode(const struct pit_channel *c)
{
    unsigned m = (c->ctrl >> 1) & 7;
    return m > 5 ? m - 4 : m; // 6 and 7 are 2 and 3
}
/* A channel never programmed (ctrl 0: no control word has rw 0) reads and writes lo/hi. */
static unsigned access(const struct pit_channel *c)
{
    unsigned a = (c->ctrl >> 4) & 3;
    return a ? a : 3;
}
static bool bcd(const struct pit_channel *c) { return c->ctrl & 1; }
static uint32_t modulus(const struct pit_channel *c) { return bcd(c) ? 10000 : 65536; }
static uint32_t initial(const struct pit_channel *c) { return c->count ? c->count : modulus(c); }
/* Modes 2 and 3 divide by the count; 1 is illegal there and taken as 2. */
static uint32_t period(const struct pit_channel *c) { return initial(c) < 2 ? 2 : initial(c); }

static uint32_t from_bcd(uint32_t v)
{
    uint32_t r = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
        uint32_t d = (v >> shift) & 15;
        r = r * 10 + (d > 9 ? 9 : d); // invalid digits: 9 (defined, if not what a chip does)
    }
    return r;
}

static uint32_t to_bcd(uint32_t v)
{
    return v % 10 | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12;
}

/* Clock ticks counted since the count was loaded (or the trigger). */
static uint64_t elapsed(const struct pit_channel *c, uint64_t now_ns)
{
    if (!c->counting || now_ns <= c->start_ns) return c->base_ticks;
    return c->base_ticks + ticks_of(now_ns - c->start_ns);
}

/* The counting element's value at now_ns (binary). */
static uint32_t value(const struct pit_channel *c, uint64_t now_ns)
{
    uint32_t m = modulus(c), n = initial(c), p = period(c);
    if (!c->started) return n % m;
    uint64_t t = elapsed(c, now_ns);
    switch (mode(c)) {
    case 2: return (uint32_t)(p - t % p) % m; // p .. 1, reloaded at 1
    case 3: {                                 // down by two, once per half period
        uint32_t q = (uint32_t)(t % p), h = (p + 1) / 2;
        if (q >= h) q -= h;
        return ((p & ~1u) - 2 * q) % m;
    }
    default: return (uint32_t)((n + m - t % m) % m); // 0, 1, 4, 5: wraps on after terminal count
    }
}

static bool out(const struct pit_channel *c, uint64_t now_ns)
{
    if (!c->started) return mode(c) != 0 || !c->ctrl; // a mode 0 control word sets OUT low
    uint64_t t = elapsed(c, now_ns), n = initial(c), p = period(c);
    switch (mode(c)) {
    case 0:
    case 1: return t >= n;                              // high at terminal count
    case 2: return !c->counting || t % p != p - 1;      // low for the clock before each reload
    case 3: return !c->counting || t % p < (p + 1) / 2; // square wave, high half first
    default: return t != n; // 4, 5: a one-clock strobe at terminal count
    }
}

/* Rising edges of OUT at elapsed ticks in (a, b]. */
static uint64_t edges(const struct pit_channel *c, uint64_t a, uint64_t b)
{
    if (!c->started || b <= a) return 0;
    uint64_t n = initial(c), p = period(c);
    switch (mode(c)) {
    case 2:
    case 3: return c->counting ? b / p - a / p : 0;
    case 0:
    case 1: return a < n && n <= b;
    default: return a < n + 1 && n + 1 <= b;
    }
}

/* Channel 0's edges up to now_ns, counted into pending. */
static void accumulate(struct pit *p, uint64_t now_ns)
{
    uint64_t t = elapsed(&p->ch[0], now_ns);
    if (t <= p->adv_ticks) return;
    uint64_t e = edges(&p->ch[0], p->adv_ticks, t);
    p->pending = e > UINT32_MAX - p->pending ? UINT32_MAX : p->pending + (uint32_t)e;
    p->adv_ticks = t;
}

/* GATE: wired high on channels 0 and 1, port 0x61 bit 0 on channel 2. */
static bool gate(const struct pit *p, const struct pit_channel *c)
{
    return c != &p->ch[2] || (p->port61 & 1);
}

static void restart(struct pit *p, struct pit_channel *c, uint64_t now_ns)
{
    c->started = 1;
    c->counting = gate(p, c) || mode(c) == 1 || mode(c) == 5;
    c->base_ticks = 0;
    c->start_ns = now_ns;
    if (c == &p->ch[0]) p->adv_ticks = 0;
}

/* Channel 2's GATE changed to `high` (port61 already holds it). */
static void gate_edge(struct pit *p, struct pit_channel *c, bool high, uint64_t now_ns)
{
    unsigned m = mode(c);
    if (high) {
        if (m == 0 || m == 4) { // resumes where it stopped
            if (c->started && !c->counting) c->start_ns = now_ns, c->counting = 1;
        } else if (c->loaded) { // 1, 5: the trigger; 2, 3: a reload
            restart(p, c, now_ns);
        }
    } else if (m == 0 || m == 2 || m == 3 || m == 4) { // 1, 5: the gate only triggers
        c->base_ticks = elapsed(c, now_ns);
        c->counting = 0; // 2, 3: OUT goes high, and the next rising edge reloads
    }
}

static void write_count(struct pit *p, struct pit_channel *c, uint8_t v, uint64_t now_ns)
{
    uint32_t count;
    switch (access(c)) {
    case 1: count = v; break;
    case 2: count = (uint32_t)v << 8; break;
    default:
        if (!c->write_high) {
            c->low = v;
            c->write_high = 1;
            if (mode(c) == 0) { // the first byte stops counting and sets OUT low
                c->started = c->counting = 0, c->base_ticks = 0;
                if (c == &p->ch[0]) p->adv_ticks = 0;
            }
            return;
        }
        count = c->low | (uint32_t)v << 8;
        c->write_high = 0;
    }
    c->count = bcd(c) ? from_bcd(count) % 10000 : count;
    c->loaded = 1;
    if (mode(c) != 1 && mode(c) != 5) restart(p, c, now_ns); // 1, 5 wait for a trigger
}

static uint8_t status(const struct pit_channel *c, uint64_t now_ns)
{
    return (uint8_t)(out(c, now_ns) << 7 | !c->started << 6 | (c->ctrl & 0x3F));
}

static void latch_count(struct pit_channel *c, uint64_t now_ns)
{
    if (c->latch_bytes) return; // a latch not yet read stays (datasheet: further latches ignored)
    uint32_t v = value(c, now_ns);
    c->latch = (uint16_t)(bcd(c) ? to_bcd(v) : v);
    c->latch_bytes = access(c) == 3 ? 2 : 1;
}

static void command(struct pit *p, uint8_t v, uint64_t now_ns)
{
    unsigned sc = v >> 6;
    if (sc == 3) { // read-back: bit 5 clear latches counts, bit 4 clear latches status
        for (unsigned i = 0; i < 3; i++) {
            if (!(v & 2u << i)) continue;
            struct pit_channel *c = &p->ch[i];
            if (!(v & 0x20)) latch_count(c, now_ns);
            if (!(v & 0x10) && !c->status_latched)
                c->status = status(c, now_ns), c->status_latched = 1;
        }
        return;
    }
    struct pit_channel *c = &p->ch[sc];
    if (!(v & 0x30)) {
        latch_count(c, now_ns);
        return;
    }
    c->ctrl = v & 0x3F;
    c->loaded = c->started = c->counting = 0;
    c->write_high = c->read_high = c->latch_bytes = c->status_latched = 0;
    c->base_ticks = 0;
    if (sc == 0) p->adv_ticks = 0;
}

void pit_reset(struct pit *p) { *p = (struct pit){0}; }

void pit_write(struct pit *p, uint16_t port, uint8_t v, uint64_t now_ns)
{
    if (port != PIT_PORT61 && (port < 0x40 || port > PIT_CMD)) return;
    // Channel 0's edges so far are counted under the old programming; a write that raises OUT0
    // (a new control word or count ends a low phase) is an edge too.
    accumulate(p, now_ns);
    bool before = out(&p->ch[0], now_ns);
    if (port == PIT_PORT61) {
        bool was = p->port61 & 1;
        p->port61 = v & 0x0F;
        if (was != (v & 1)) gate_edge(p, &p->ch[2], v & 1, now_ns);
    } else if (port == PIT_CMD) {
        command(p, v, now_ns);
    } else {
        write_count(p, &p->ch[port - 0x40], v, now_ns);
    }
    if (!before && out(&p->ch[0], now_ns) && p->pending < UINT32_MAX) p->pending++;
}

uint8_t pit_read(struct pit *p, uint16_t port, uint64_t now_ns)
{
    if (port == PIT_PORT61)
        return (uint8_t)(p->port61 | (now_ns / REFRESH_NS & 1) << 4 | out(&p->ch[2], now_ns) << 5);
    if (port < 0x40 || port >= PIT_CMD) return 0xFF;
    struct pit_channel *c = &p->ch[port - 0x40];
    if (c->status_latched) {
        c->status_latched = 0;
        return c->status;
    }
    unsigned a = access(c);
    if (c->latch_bytes) {
        bool high = a == 2 || (a == 3 && c->latch_bytes == 1);
        c->latch_bytes--;
        return (uint8_t)(high ? c->latch >> 8 : c->latch);
    }
    uint32_t v = value(c, now_ns);
    if (bcd(c)) v = to_bcd(v);
    bool high = a == 2 || (a == 3 && c->read_high);
    if (a == 3) c->read_high = !c->read_high;
    return (uint8_t)(high ? v >> 8 : v);
}

bool pit_out0(const struct pit *p, uint64_t now_ns) { return out(&p->ch[0], now_ns); }

unsigned pit_advance(struct pit *p, uint64_t now_ns)
{
    accumulate(p, now_ns);
    unsigned n = p->pending;
    p->pending = 0;
    return n;
}

uint64_t pit_next_ns(const struct pit *p)
{
    if (p->pending) return 0;
    const struct pit_channel *c = &p->ch[0];
    if (!c->started || !c->counting) return UINT64_MAX;
    uint64_t a = p->adv_ticks, n = initial(c), per = period(c), t;
    switch (mode(c)) {
    case 2:
    case 3: t = (a / per + 1) * per; break;
    case 0:
    case 1:
        if (a >= n) return UINT64_MAX;
        t = n;
        break;
    default:
        if (a >= n + 1) return UINT64_MAX;
        t = n + 1;
    }
    if (t <= c->base_ticks) return c->start_ns;
    uint64_t d = ns_of(t - c->base_ticks);
    return d > UINT64_MAX - c->start_ns ? UINT64_MAX : c->start_ns + d;
}

/* A channel's timing fields agree with guest time now_ns (pit_consistent). */
static bool channel_consistent(const struct pit *p, const struct pit_channel *c, uint64_t now_ns)
{
    if (!c->started) return true;
    if (c->start_ns > now_ns) return false; // counting starts when written, at a past now_ns
    if (c != &p->ch[0]) return true;
    if (p->adv_ticks > elapsed(c, now_ns)) return false; // edges counted ahead of time
    uint64_t next = pit_next_ns(p);
    return next == UINT64_MAX || next <= now_ns || next - now_ns <= PIT_MAX_WAIT_NS;
}

bool pit_consistent(const struct pit *p, uint64_t now_ns)
{
    for (unsigned i = 0; i < 3; i++)
        if (!channel_consistent(p, &p->ch[i], now_ns)) return false;
    return true;
}

unsigned pit_repair(struct pit *p, uint64_t now_ns)
{
    unsigned n = 0;
    for (unsigned i = 0; i < 3; i++) {
        struct pit_channel *c = &p->ch[i];
        if (channel_consistent(p, c, now_ns)) continue;
        // what the guest programmed stays; when it started counting is lost: now
        c->start_ns = now_ns;
        c->base_ticks = 0;
        if (i == 0) p->adv_ticks = 0, p->pending = 0;
        n++;
    }
    return n;
}
