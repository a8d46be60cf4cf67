// SPDX-License-Identifier: MIT
// Host tests of the ACPI tables (servers/vmm/acpi.c): a checker of its own, written from ACPI
// 6.4 chapter 5, finds the RSDP the way Linux does (a scan of 0xE0000..0xFFFFF in 16-byte
// steps), checks every checksum, follows XSDT -> FADT -> DSDT and the MADT, and walks the DSDT's
// AML package by package (PkgLength, 20.2.4) down to each device's _HID and _CRS resources.
// When iasl (acpica-tools) is installed, it disassembles the DSDT too.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <resurgo/errors.h>
#include "vmm_fake.h"
#include "acpi_tables.h"
#include "ioapic.h"
#include "lapic.h"
#include "mptable.h"

TestSuite(acpi, .init = fake_setup);

static unsigned rd16(const uint8_t *p) { return p[0] | p[1] << 8; }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, unsigned n)
{
    uint8_t s = 0;
    while (n--) s = (uint8_t)(s + *p++);
    return s;
}

static const struct acpi_virtio devs[2] = {{0xD0000000u, 0x200, 16}, {0xD0001000u, 0x200, 17}};

/* Linux's acpi_find_root_pointer: "RSD PTR " on a 16-byte boundary, checksum of 20 bytes. */
static const uint8_t *find_rsdp(const uint8_t *ram)
{
    for (uint32_t a = 0xE0000; a < 0x100000; a += 16)
        if (!memcmp(ram + a, "RSD PTR ", 8) && !sum(ram + a, 20)) return ram + a;
    return NULL;
}

/* A table at gpa: signature, length within the BIOS area, checksum. */
static const uint8_t *table(const uint8_t *ram, uint64_t gpa, const char *sig)
{
    cr_assert(gpa >= 0xE0000 && gpa < 0x100000, "%s at 0x%lx", sig, gpa);
    const uint8_t *t = ram + gpa;
    cr_assert(!memcmp(t, sig, 4), "signature %.4s, want %s", (const char *)t, sig);
    uint32_t len = rd32(t + 4);
    cr_assert(len >= 36 && gpa + len <= 0x100000, "%s length %u", sig, len);
    cr_assert_eq(sum(t, len), 0, "%s checksum", sig);
    return t;
}

static const uint8_t *xsdt_entry(const uint8_t *ram, const char *sig)
{
    const uint8_t *r = find_rsdp(ram), *x = table(ram, rd64(r + 24), "XSDT");
    for (uint32_t off = 36; off + 8 <= rd32(x + 4); off += 8) {
        const uint8_t *t = ram + rd64(x + off);
        if (!memcmp(t, sig, 4)) return table(ram, rd64(x + off), sig);
    }
    return NULL;
}

/* PkgLength at p: its value (which counts its own bytes) and its size in *n. */
static uint32_t pkglen(const uint8_t *p, unsigned *n)
{
    unsigned follow = p[0] >> 6;
    *n = 1 + follow;
    if (!follow) return p[0] & 0x3F;
    uint32_t v = p[0] & 0xF;
    for (unsigned i = 0; i < follow; i++) v |= (uint32_t)p[1 + i] << (4 + 8 * i);
    return v;
}

struct dev {
    char name[5];
    char hid[16];
    uint32_t eisa;
    uint32_t mem_base, mem_len, gsi, gsi_flags;
    uint16_t io_port, irq_mask;
    uint8_t io_len;
};

/* Walks one Device package body [p, end): Name(_HID/_UID/_CRS) objects. */
static void parse_device(const uint8_t *p, const uint8_t *end, struct dev *d)
{
    memcpy(d->name, p, 4);
    p += 4;
    while (p < end) {
        cr_assert_eq(*p, 0x08, "NameOp expected, got 0x%x", *p);
        const uint8_t *seg = p + 1;
        p += 5;
        if (!memcmp(seg, "_HID", 4) && *p == 0x0D) {
            size_t k = strlen((const char *)p + 1);
            cr_assert_lt(k, sizeof(d->hid));
            memcpy(d->hid, p + 1, k + 1);
            p += 2 + k;
        } else if (!memcmp(seg, "_HID", 4) && *p == 0x0C) {
            d->eisa = rd32(p + 1);
            p += 5;
        } else if (!memcmp(seg, "_UID", 4)) {
            cr_assert_eq(*p, 0x0A);
            p += 2;
        } else if (!memcmp(seg, "_CRS", 4)) {
            cr_assert_eq(*p, 0x11, "BufferOp");
            unsigned n;
            uint32_t len = pkglen(p + 1, &n);
            const uint8_t *bend = p + 1 + len;
            cr_assert_eq(p[1 + n], 0x0A);
            unsigned bsize = p[2 + n];
            const uint8_t *r = p + 3 + n;
            cr_assert_eq(r + bsize, bend, "buffer size matches its package");
            for (;;) { // resource descriptors (6.4)
                cr_assert_lt(r, bend);
                if (r[0] == 0x79) break; // end tag
                if (r[0] == 0x47) d->io_port = rd16(r + 2), d->io_len = r[7], r += 8;
                else if (r[0] == 0x22) d->irq_mask = rd16(r + 1), r += 3;
                else if (r[0] == 0x86) {
                    cr_assert_eq(rd16(r + 1), 9);
                    d->mem_base = rd32(r + 4), d->mem_len = rd32(r + 8), r += 12;
                } else if (r[0] == 0x89) {
                    cr_assert_eq(rd16(r + 1), 6);
                    cr_assert_eq(r[4], 1, "one interrupt");
                    d->gsi_flags = r[3], d->gsi = rd32(r + 5), r += 9;
                } else cr_assert_fail("unknown descriptor 0x%x", r[0]);
            }
            cr_assert_eq(r + 2, bend, "end tag last");
            p = bend;
        } else cr_assert_fail("unexpected name %.4s", (const char *)seg);
    }
    cr_assert_eq(p, end, "device package ends exactly");
}

/* The DSDT: Scope(\_SB) { Device ... }; returns the number of devices. */
static unsigned parse_dsdt(const uint8_t *t, struct dev *d, unsigned max)
{
    const uint8_t *p = t + 36, *end = t + rd32(t + 4);
    cr_assert_eq(*p, 0x10, "ScopeOp");
    unsigned n;
    uint32_t len = pkglen(p + 1, &n);
    cr_assert_eq(p + 1 + len, end, "the scope fills the table");
    p += 1 + n;
    cr_assert(!memcmp(p, "\\_SB_", 5));
    p += 5;
    unsigned count = 0;
    while (p < end) {
        cr_assert(p[0] == 0x5B && p[1] == 0x82, "DeviceOp");
        len = pkglen(p + 2, &n);
        const uint8_t *dend = p + 2 + len;
        cr_assert_leq(dend, end);
        cr_assert_lt(count, max);
        memset(&d[count], 0, sizeof(d[count]));
        parse_device(p + 2 + n, dend, &d[count++]);
        p = dend;
    }
    return count;
}

Test(acpi, the_rsdp_is_where_linux_scans_and_points_at_the_xsdt)
{
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, devs, 1), 0);
    const uint8_t *r = find_rsdp(fake_ram);
    cr_assert_not_null(r);
    cr_assert_eq(r[15], 2, "revision 2: the XSDT is used");
    cr_assert_eq(rd32(r + 20), 36);
    cr_assert_eq(sum(r, 36), 0, "extended checksum");
    const uint8_t *x = table(fake_ram, rd64(r + 24), "XSDT");
    cr_assert_eq(rd32(x + 4), 36 + 16, "two entries: FADT and MADT");
    cr_assert_not_null(xsdt_entry(fake_ram, "FACP"));
    cr_assert_not_null(xsdt_entry(fake_ram, "APIC"));
}

Test(acpi, the_fadt_is_hardware_reduced_and_points_at_the_dsdt)
{
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, devs, 1), 0);
    const uint8_t *f = xsdt_entry(fake_ram, "FACP");
    cr_assert_eq(rd32(f + 4), 276, "revision 6 length");
    cr_assert_eq(f[8], 6);
    cr_assert(rd32(f + 112) & (1u << 20), "HW_REDUCED_ACPI");
    cr_assert_eq(rd16(f + 109) & 2, 0, "no 8042 (the VMM has none)");
    cr_assert_eq(rd16(f + 109) & (1u << 5), 0, "the CMOS RTC is present");
    cr_assert_eq(rd64(f + 140), rd32(f + 40), "X_DSDT and DSDT agree");
    table(fake_ram, rd64(f + 140), "DSDT");
}

Test(acpi, the_madt_matches_the_apics_and_the_mp_table)
{
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, devs, 1), 0);
    const uint8_t *m = xsdt_entry(fake_ram, "APIC");
    cr_assert_eq(rd32(m + 36), (uint32_t)LAPIC_BASE);
    unsigned lapics = 0, ioapics = 0, isos = 0, nmis = 0;
    for (uint32_t off = 44; off < rd32(m + 4);) {
        const uint8_t *e = m + off;
        cr_assert_geq(e[1], 2);
        switch (e[0]) {
        case 0:
            lapics++;
            cr_assert_eq(e[3], 0, "APIC ID 0");
            cr_assert_eq(rd32(e + 4) & 1, 1, "enabled");
            break;
        case 1:
            ioapics++;
            cr_assert_eq(e[2], MPTABLE_IOAPIC_ID);
            cr_assert_eq(rd32(e + 4), (uint32_t)IOAPIC_BASE);
            cr_assert_eq(rd32(e + 8), 0, "GSI base");
            break;
        case 2:
            isos++;
            cr_assert_eq(e[3], 0, "ISA IRQ 0");
            cr_assert_eq(rd32(e + 4), MPTABLE_IRQ0_PIN, "to GSI 2, as the MP table says");
            break;
        case 4:
            nmis++;
            cr_assert_eq(e[5], 1, "LINT1");
            break;
        default: cr_assert_fail("entry type %u", e[0]);
        }
        off += e[1];
        cr_assert_leq(off, rd32(m + 4));
    }
    cr_assert_eq(lapics, 1);
    cr_assert_eq(ioapics, 1);
    cr_assert_eq(isos, 1);
    cr_assert_eq(nmis, 1);
}

Test(acpi, the_dsdt_lists_com1_the_rtc_and_each_virtio_mmio_device)
{
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, devs, 2), 0);
    const uint8_t *f = xsdt_entry(fake_ram, "FACP");
    struct dev d[8];
    unsigned n = parse_dsdt(table(fake_ram, rd64(f + 140), "DSDT"), d, 8);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(d[0].name, "COM1");
    cr_assert_eq(d[0].eisa, 0x0105D041u, "EisaId(PNP0501)");
    cr_assert_eq(d[0].io_port, 0x3F8);
    cr_assert_eq(d[0].io_len, 8);
    cr_assert_eq(d[0].irq_mask, 1u << 4);
    cr_assert_str_eq(d[1].name, "RTC_");
    cr_assert_eq(d[1].eisa, 0x000BD041u, "EisaId(PNP0B00)");
    cr_assert_eq(d[1].io_port, 0x70);
    cr_assert_eq(d[1].irq_mask, 1u << 8);
    for (unsigned i = 0; i < 2; i++) {
        cr_assert_str_eq(d[2 + i].hid, "LNRO0005");
        cr_assert_eq(d[2 + i].mem_base, devs[i].base);
        cr_assert_eq(d[2 + i].mem_len, devs[i].size);
        cr_assert_eq(d[2 + i].gsi, devs[i].gsi);
        cr_assert_eq(d[2 + i].gsi_flags, 1, "consumer, level, active high, exclusive");
    }
}

Test(acpi, a_long_dsdt_gets_multi_byte_package_lengths)
{
    const struct acpi_virtio four[4] = {{0xD0000000u, 0x200, 16},
                                        {0xD0001000u, 0x200, 17},
                                        {0xD0002000u, 0x200, 18},
                                        {0xD0003000u, 0x200, 19}};
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, four, 4), 0);
    const uint8_t *t = table(fake_ram, ACPI_DSDT, "DSDT");
    cr_assert_gt(rd32(t + 4), 36 + 64, "the scope needs a 2-byte PkgLength");
    struct dev d[8];
    cr_assert_eq(parse_dsdt(t, d, 8), 6);
    cr_assert_eq(d[5].gsi, 19);
}

Test(acpi, without_devices_the_tables_still_describe_the_pc)
{
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, NULL, 0), 0);
    struct dev d[8];
    cr_assert_eq(parse_dsdt(table(fake_ram, ACPI_DSDT, "DSDT"), d, 8), 2);
}

Test(acpi, the_tables_stay_clear_of_the_mp_table)
{
    cr_assert_eq(mptable_build(fake_ram, FAKE_RAM_SIZE), 0);
    uint8_t mp[MPTABLE_END - MPTABLE_FLOAT];
    memcpy(mp, fake_ram + MPTABLE_FLOAT, sizeof(mp));
    memset(fake_ram + ACPI_END, 0xAA, 0x100); // what lies between must stay
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, devs, 2), 0);
    cr_assert(!memcmp(mp, fake_ram + MPTABLE_FLOAT, sizeof(mp)), "the MP table is untouched");
    for (unsigned i = 0; i < 0x100; i++) cr_assert_eq(fake_ram[ACPI_END + i], 0xAA);
    cr_assert_eq(rd32(fake_ram + ACPI_DSDT + 4) + ACPI_DSDT <= ACPI_END, 1);
}

Test(acpi, bad_arguments_are_refused)
{
    cr_assert_eq(acpi_build(fake_ram, ACPI_END - 1, devs, 1), RS_RANGE_ERROR);
    cr_assert_eq(acpi_build(NULL, FAKE_RAM_SIZE, devs, 1), RS_RANGE_ERROR);
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, devs, ACPI_DEVS_MAX + 1), RS_RANGE_ERROR);
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, NULL, 1), RS_RANGE_ERROR);
}

/* iasl -d on the DSDT (and FADT, MADT): ACPICA's own parser must accept every byte and print
 * the devices back. Skipped when acpica-tools is not installed (tools/deps.sh installs it). */
Test(acpi, iasl_disassembles_the_tables)
{
    if (system("command -v iasl >/dev/null 2>&1") != 0) cr_skip_test("iasl not installed");
    cr_assert_eq(acpi_build(fake_ram, FAKE_RAM_SIZE, devs, 1), 0);
    char dir[] = "/tmp/acpi-test-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    const struct {
        const char *name;
        uint32_t gpa;
    } t[] = {{"dsdt", ACPI_DSDT}, {"facp", ACPI_FADT}, {"apic", ACPI_MADT}};
    for (unsigned i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/%s.dat", dir, t[i].name);
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        fwrite(fake_ram + t[i].gpa, 1, rd32(fake_ram + t[i].gpa + 4), f);
        fclose(f);
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "cd %s && iasl -d dsdt.dat facp.dat apic.dat >log 2>&1 && "
             "grep -q 'Device (VR00)' dsdt.dsl && grep -q '\"LNRO0005\"' dsdt.dsl && "
             "grep -q 'Memory32Fixed (ReadWrite' dsdt.dsl && grep -qi '0xD0000000' dsdt.dsl && "
             "grep -q 'Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive' dsdt.dsl && "
             "grep -q 'PNP0501' dsdt.dsl && "
             "grep -qi 'Hardware Reduced (V5) : 1' facp.dsl && "
             "! grep -qi 'error\\|warning' log facp.dsl apic.dsl dsdt.dsl",
             dir);
    int rc = system(cmd);
    if (rc) {
        snprintf(cmd, sizeof(cmd), "cat %s/log %s/dsdt.dsl %s/facp.dsl >&2", dir, dir, dir);
        (void)system(cmd);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    (void)system(cmd);
    cr_assert_eq(rc, 0, "iasl accepts the tables and shows the devices");
}
