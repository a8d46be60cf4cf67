// SPDX-License-Identifier: MIT
// Host tests of the MP table (servers/vmm/mptable.c): a small checker of its own, written from the
// MP specification 1.4 chapter 4, finds the floating pointer the way Linux does (a scan of
// 0xF0000..0xFFFFF in 16-byte steps) and parses the table back.
#include <criterion/criterion.h>
#include <resurgo/errors.h>
#include "vmm_fake.h"
#include "ioapic.h"
#include "mptable.h"

TestSuite(mptable, .init = fake_setup);

static unsigned rd16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }

static uint8_t sum(const uint8_t *p, unsigned n)
{
    uint8_t s = 0;
    while (n--) s = (uint8_t)(s + *p++);
    return s;
}

/* Linux's smp_scan_config(): "_MP_", length 1, checksum, revision 1 or 4. */
static const uint8_t *find_float(const uint8_t *ram)
{
    for (uint32_t a = 0xF0000; a < 0x100000; a += 16) {
        const uint8_t *f = ram + a;
        if (!memcmp(f, "_MP_", 4) && f[8] == 1 && !sum(f, 16) && (f[9] == 1 || f[9] == 4)) return f;
    }
    return NULL;
}

struct parsed {
    unsigned cpus, bsp_id, cpu_ver, buses, ioapics, ioapic_id, ioints, lints;
    uint32_t ioapic_addr;
    int irq_pin[16]; /* ISA IRQ -> IO-APIC pin (-1: none) */
    unsigned irq_flags[16];
    int lint_extint, lint_nmi; /* the LINT# ExtINT and NMI go to */
};

/* Parses the configuration table at cfg; fails the test on any malformed byte. */
static void parse(const uint8_t *ram, const uint8_t *cfg, struct parsed *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; i < 16; i++) out->irq_pin[i] = -1;
    out->lint_extint = out->lint_nmi = -1;
    cr_assert_eq(memcmp(cfg, "PCMP", 4), 0, "4.2: signature");
    unsigned len = rd16(cfg + 4), count = rd16(cfg + 34);
    cr_assert_eq(cfg[6], 4, "revision 1.4");
    cr_assert_eq(sum(cfg, len), 0, "base table checksum");
    cr_assert_eq(rd32(cfg + 36), 0xFEE00000, "local APIC address");
    cr_assert_eq(rd32(cfg + 28), 0, "no OEM table");
    cr_assert_eq(rd16(cfg + 40), 0, "no extended table");
    cr_assert_leq((size_t)(cfg - ram) + len, 0x100000, "inside the BIOS area");
    const uint8_t *p = cfg + 44, *end = cfg + len;
    unsigned last_type = 0;
    for (unsigned n = 0; n < count; n++) {
        cr_assert_lt(p, end, "entry %u inside the table", n);
        cr_assert_geq(p[0], last_type, "4.3: entries sorted by type");
        last_type = p[0];
        switch (p[0]) {
        case 0: // processor, 20 bytes
            out->cpus++;
            out->cpu_ver = p[2];
            cr_assert(p[3] & 1, "enabled");
            if (p[3] & 2) out->bsp_id = p[1];
            p += 20;
            break;
        case 1: // bus
            cr_assert_eq(memcmp(p + 2, "ISA   ", 6), 0);
            cr_assert_eq(p[1], 0);
            out->buses++;
            p += 8;
            break;
        case 2: // IO-APIC
            out->ioapics++;
            out->ioapic_id = p[1];
            cr_assert_eq(p[2], 0x11);
            cr_assert(p[3] & 1, "enabled");
            out->ioapic_addr = rd32(p + 4);
            p += 8;
            break;
        case 3: // I/O interrupt assignment
            out->ioints++;
            cr_assert_eq(p[1], 0, "INT");
            cr_assert_eq(p[4], 0, "source: the ISA bus");
            cr_assert_lt(p[5], 16);
            cr_assert_eq(p[6], out->ioapic_id, "to the IO-APIC listed before");
            cr_assert_lt(p[7], IOAPIC_PINS);
            cr_assert_eq(out->irq_pin[p[5]], -1, "one entry per IRQ");
            out->irq_pin[p[5]] = p[7];
            out->irq_flags[p[5]] = rd16(p + 2);
            p += 8;
            break;
        case 4: // local interrupt assignment
            out->lints++;
            cr_assert_eq(p[6], 0xFF, "every local APIC");
            if (p[1] == 3) out->lint_extint = p[7];
            if (p[1] == 1) out->lint_nmi = p[7];
            p += 8;
            break;
        default: cr_assert_fail("entry type %u", p[0]);
        }
    }
    cr_assert_eq(p, end, "the length covers exactly the entries");
}

Test(mptable, parses_back)
{
    cr_assert_eq(mptable_build(fake_ram, FAKE_RAM_SIZE), 0);
    const uint8_t *f = find_float(fake_ram);
    cr_assert_not_null(f, "the floating pointer is in 0xF0000..0xFFFFF");
    cr_assert_eq(f[11], 0, "feature byte 1: a table, not a default configuration");
    cr_assert_eq(f[12] & 0x80, 0, "feature byte 2: virtual wire mode, no IMCR");
    uint32_t at = rd32(f + 4);
    cr_assert(at >= 0xF0000 && at < 0x100000);
    struct parsed t;
    parse(fake_ram, fake_ram + at, &t);
    cr_assert_eq(t.cpus, 1);
    cr_assert_eq(t.bsp_id, 0, "the BSP is LAPIC 0");
    cr_assert_eq(t.cpu_ver, 0x14, "the LAPIC's version (Linux fixes up 0)");
    cr_assert_eq(t.buses, 1);
    cr_assert_eq(t.ioapics, 1);
    cr_assert_eq(t.ioapic_id, MPTABLE_IOAPIC_ID);
    cr_assert_neq(t.ioapic_id, t.bsp_id, "IDs are unique");
    cr_assert_eq(t.ioapic_addr, 0xFEC00000);
    cr_assert_eq(t.ioints, 15);
    cr_assert_eq(t.irq_pin[0], 2, "IRQ 0 (the PIT) on pin 2: check_timer's first path");
    cr_assert_eq(t.irq_pin[2], -1, "the cascade has none");
    for (unsigned irq = 1; irq < 16; irq++) {
        if (irq != 2) cr_assert_eq(t.irq_pin[irq], (int)irq, "IRQ %u on its own pin", irq);
        cr_assert_eq(t.irq_flags[irq], 0, "conforming: ISA edge, active high");
    }
    cr_assert_eq(t.lints, 2);
    cr_assert_eq(t.lint_extint, 0, "ExtINT on LINT0");
    cr_assert_eq(t.lint_nmi, 1, "NMI on LINT1");
}

Test(mptable, too_little_ram)
{
    cr_assert_eq(mptable_build(fake_ram, 0xF0000), RS_RANGE_ERROR);
    cr_assert_eq(mptable_build(fake_ram, MPTABLE_END - 1), RS_RANGE_ERROR);
    cr_assert_eq(mptable_build(NULL, FAKE_RAM_SIZE), RS_RANGE_ERROR);
    cr_assert_null(find_float(fake_ram), "nothing written");
    cr_assert_eq(mptable_build(fake_ram, MPTABLE_END), 0, "just enough");
    cr_assert_not_null(find_float(fake_ram));
}
