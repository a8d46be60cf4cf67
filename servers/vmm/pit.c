// SPDX-License-Identifier: MIT
// PIT channel 0 (ports 0x40-0x43) as a PC guest programs it: command byte, then the divisor's
// low and high bytes. Time is the VMM's guest time (init's ticks, 10 ms each), so the timer's
// resolution is one tick: a faster rate delivers one interrupt per tick, the others coalesced as
// a PIC does while its request bit is still set. Channels 1 and 2 and read-back are ignored.
#include "vmm.h"

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define NS      1000000000ull

static uint64_t divisor(const struct pit *p) { return p->reload ? p->reload : 65536; }
static bool periodic(const struct pit *p) { return p->mode == 2 || p->mode == 3; }

static void start(struct pit *p, uint64_t now_ns)
{
    p->period_ns = divisor(p) * NS / PIT_HZ;
    if (!p->period_ns) p->period_ns = 1;
    p->start_ns = now_ns;
}

/* The counter now: counts down from the divisor once per PIT clock. */
static uint16_t count(const struct pit *p, uint64_t now_ns)
{
    if (!p->period_ns || now_ns < p->start_ns) return (uint16_t)divisor(p);
    uint64_t into = (now_ns - p->start_ns) % p->period_ns; // < 55 ms: no overflow below
    return (uint16_t)(divisor(p) - into * PIT_HZ / NS % divisor(p));
}

static void command(struct pit *p, uint8_t value, uint64_t now_ns)
{
    if (value >> 6) return; // another channel, or read-back
    unsigned access = (value >> 4) & 3;
    if (!access) { // counter latch
        p->latch = count(p, now_ns);
        p->latched = 1;
        return;
    }
    p->access = (uint8_t)access;
    p->mode = (uint8_t)((value >> 1) & 7);
    if (p->mode > 5) p->mode -= 4; // 6 and 7 are 2 and 3
    p->write_high = p->read_high = p->latched = 0;
    p->period_ns = 0; // counting stops until the new divisor is written
}

void pit_write(struct pit *p, uint16_t port, uint8_t value, uint64_t now_ns)
{
    if (port == PIT_CMD) {
        command(p, value, now_ns);
        return;
    }
    if (port != PIT_CH0 || !p->access) return;
    if (p->access == 1) p->reload = value;
    else if (p->access == 2) p->reload = (uint32_t)value << 8;
    else if (!p->write_high) {
        p->low = value;
        p->write_high = 1;
        return;
    } else {
        p->reload = (uint32_t)p->low | (uint32_t)value << 8;
        p->write_high = 0;
    }
    start(p, now_ns);
}

uint8_t pit_read(struct pit *p, uint16_t port, uint64_t now_ns)
{
    if (port != PIT_CH0) return 0;
    uint16_t c = p->latched ? p->latch : count(p, now_ns);
    bool high = p->access == 2 || (p->access == 3 && p->read_high);
    if (p->access == 3) p->read_high = !p->read_high;
    if (p->access != 3 || !p->read_high) p->latched = 0; // a latch lasts for one whole read
    return high ? (uint8_t)(c >> 8) : (uint8_t)c;
}

bool pit_advance(struct pit *p, uint64_t now_ns)
{
    if (!p->period_ns || now_ns < p->start_ns + p->period_ns) return false;
    if (!periodic(p)) { // modes 0, 1, 4, 5: one interrupt, then the counter stops
        p->period_ns = 0;
        return true;
    }
    p->start_ns += (now_ns - p->start_ns) / p->period_ns * p->period_ns;
    return true;
}
