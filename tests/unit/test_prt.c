// SPDX-License-Identifier: MIT
// Host tests of init's _PRT reader (servers/init/aml_prt.c) on real DSDTs (QEMU 7.2 q35 and pc,
// test_prt_data.h) and iasl-compiled server forms, on hand-built tables probing each AML length
// and element check, on every truncation of q35's DSDT, on random tables and on seeded mutations
// of the real ones (ASan/UBSan catch any read outside the table).
#include <criterion/criterion.h>
#include <string.h>
#include "aml_prt.h"
#include "test_prt_data.h"
#include "xorshift.h"

static struct prt p;
static const char *why;

static void fix_checksum(uint8_t *t)
{
    uint32_t len =
        (uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 | (uint32_t)t[7] << 24;
    uint8_t sum = 0;
    t[9] = 0;
    for (uint32_t i = 0; i < len; i++) sum = (uint8_t)(sum + t[i]);
    t[9] = (uint8_t)-sum;
}

static unsigned gsi_of(unsigned dev, unsigned pin)
{
    const struct prt_entry *e = prt_lookup(&p, dev, pin);
    return e ? e->gsi : ~0u;
}

Test(prt, qemu_q35_apic_table_through_gsi_links)
{
    cr_assert_eq(prt_read(qemu_q35_dsdt, sizeof(qemu_q35_dsdt), &p, &why), 0, "%s", why);
    cr_expect_str_eq(
        p.form, "Method (_PRT) returning the APIC-mode Package, link devices with a static _CRS");
    cr_assert_eq(p.count, 128);
    // from the disassembly (iasl -d): PRTA's first entries {0xFFFF, Zero, GSIE, Zero} .. and
    // {0x001FFFFF, 3, GSID, Zero}; GSIA..GSIH's _CRS: Interrupt (Level, ActiveHigh) 0x10..0x17
    cr_expect_eq(gsi_of(0, 1), 20);
    cr_expect_eq(gsi_of(0, 2), 21);
    cr_expect_eq(gsi_of(1, 1), 21);
    cr_expect_eq(gsi_of(2, 1), 22);
    cr_expect_eq(gsi_of(3, 1), 23);
    cr_expect_eq(gsi_of(31, 4), 19);
    for (unsigned dev = 0; dev < 32; dev++)
        for (unsigned pin = 1; pin <= 4; pin++) {
            const struct prt_entry *e = prt_lookup(&p, dev, pin);
            cr_assert(e, "slot %u pin %u", dev, pin);
            cr_expect(e->gsi >= 16 && e->gsi <= 23, "slot %u pin %u: GSI %u", dev, pin, e->gsi);
            cr_expect_eq(e->flags, PRT_LEVEL, "QEMU's links say level, active high");
        }
    cr_expect_null(prt_lookup(&p, 0, 0), "pin 0: no interrupt pin");
    cr_expect_null(prt_lookup(&p, 0, 5));
    cr_expect_null(prt_lookup(&p, 32, 1));
}

Test(prt, qemu_pc_computed_table_is_refused)
{
    cr_expect_eq(prt_read(qemu_pc_dsdt, sizeof(qemu_pc_dsdt), &p, &why), -1);
    cr_expect_str_eq(why, "_PRT is a Method that computes the table (needs an AML interpreter)");
    cr_expect_eq(p.count, 0);
}

Test(prt, static_package_of_gsis)
{
    cr_assert_eq(prt_read(server_dsdt, sizeof(server_dsdt), &p, &why), 0, "%s", why);
    cr_expect_str_eq(p.form, "Name (_PRT, Package), GSIs");
    cr_assert_eq(p.count, 4);
    cr_expect_eq(gsi_of(3, 1), 22);
    cr_expect_eq(gsi_of(3, 2), 23);
    cr_expect_eq(gsi_of(4, 1), 16);
    cr_expect_eq(gsi_of(31, 4), 47);
    cr_expect_null(prt_lookup(&p, 3, 3));
    cr_expect_null(prt_lookup(&p, 5, 1));
    cr_expect_eq(prt_lookup(&p, 3, 1)->flags, PRT_LEVEL | PRT_ACTIVE_LOW,
                 "Source Zero: PCI default");
}

Test(prt, pic_flag_method_picks_the_apic_table)
{
    cr_assert_eq(prt_read(picm_dsdt, sizeof(picm_dsdt), &p, &why), 0, "%s", why);
    cr_expect_str_eq(p.form, "Method (_PRT) returning the APIC-mode Package, GSIs");
    cr_assert_eq(p.count, 3);
    cr_expect_eq(gsi_of(2, 1), 16);
    cr_expect_eq(gsi_of(3, 1), 17);
    cr_expect_eq(gsi_of(3, 2), 18);
}

/* Finds `pat` in t (len bytes) once, or fails. */
static size_t find_bytes(const uint8_t *t, size_t len, const void *pat, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(t + i, pat, n)) return i;
    cr_assert_fail("pattern not found");
    return 0;
}

Test(prt, a_flag_other_than_the_one_pic_sets_is_refused)
{
    uint8_t t[sizeof(picm_dsdt)];
    memcpy(t, picm_dsdt, sizeof(t));
    size_t at = find_bytes(t, sizeof(t), "\x70\x68PICM", 6); // _PIC: Store (Arg0, PICM)
    t[at + 5] = 'X';                                         // now stores to PICX (undeclared)
    fix_checksum(t);
    cr_expect_eq(prt_read(t, sizeof(t), &p, &why), -1);
    cr_expect_str_eq(why, "_PRT's Method tests something other than the _PIC flag");
    memcpy(t, picm_dsdt, sizeof(t));
    t[at + 1] = 0x69; // Store (Arg1, PICM)
    fix_checksum(t);
    cr_expect_eq(prt_read(t, sizeof(t), &p, &why), -1);
    cr_expect_str_eq(why, "_PRT's Method tests a flag, but \\_PIC is not a plain store of it");
}

Test(prt, q35_link_with_a_crs_method_is_refused)
{
    uint8_t t[sizeof(qemu_q35_dsdt)];
    memcpy(t, qemu_q35_dsdt, sizeof(t));
    // GSIE's devices are found by name: rename the first _CRS Name inside GSIE to _CRX, and
    // turn LNKx (PRTP) aside: then GSIE has no _CRS at all
    size_t dev = find_bytes(t, sizeof(t), "GSIE\x08_HID", 9);
    size_t crs = dev + find_bytes(t + dev, sizeof(t) - dev, "\x08_CRS", 5);
    t[crs + 4] = 'X';
    fix_checksum(t);
    cr_expect_eq(prt_read(t, sizeof(t), &p, &why), -1);
    cr_expect_str_eq(why, "a link device has no _CRS");
}

Test(prt, header_length_and_checksum)
{
    uint8_t t[sizeof(server_dsdt)];
    memcpy(t, server_dsdt, sizeof(t));
    cr_expect_eq(prt_read(t, 35, &p, &why), -1);
    cr_expect_str_eq(why, "no DSDT");
    cr_expect_eq(prt_read(t, sizeof(t) - 1, &p, &why), -1);
    cr_expect_str_eq(why, "the DSDT's length is wrong");
    t[40] ^= 1;
    cr_expect_eq(prt_read(t, sizeof(t), &p, &why), -1);
    cr_expect_str_eq(why, "the DSDT's checksum is wrong");
    memcpy(t, server_dsdt, sizeof(t));
    t[0] = 'S';
    cr_expect_eq(prt_read(t, sizeof(t), &p, &why), -1);
    cr_expect_str_eq(why, "no DSDT");
}

/* Hand-built tables: DSDT header, Scope (\_SB.PCI0) { Name (_PRT, <pkg>) }. */
static uint8_t built[4096];
static size_t build(const uint8_t *pkg, size_t n)
{
    uint8_t *t = built;
    memset(t, 0, sizeof(built));
    memcpy(t, "DSDT", 4);
    t[8] = 2;
    size_t scope_len = 2 + 10 + 5 + n; // PkgLength (2 bytes), \_SB.PCI0, Name _PRT, the Package
    size_t len = 36 + 1 + scope_len;
    t[4] = (uint8_t)len, t[5] = (uint8_t)(len >> 8);
    uint8_t *q = t + 36;
    *q++ = 0x10;
    *q++ = (uint8_t)(0x40 | (scope_len & 0xF));
    *q++ = (uint8_t)(scope_len >> 4);
    memcpy(q, "\\\x2E_SB_PCI0", 10);
    q += 10;
    memcpy(q, "\x08_PRT", 5);
    q += 5;
    memcpy(q, pkg, n);
    fix_checksum(t);
    return len;
}

/* A Package (4) {DWord addr, Byte pin, Zero, Byte gsi}: 13 bytes. */
static size_t entry(uint8_t *q, uint32_t addr, uint8_t pin, uint8_t gsi)
{
    const uint8_t e[] = {0x12,
                         12,
                         4,
                         0x0C,
                         (uint8_t)addr,
                         (uint8_t)(addr >> 8),
                         (uint8_t)(addr >> 16),
                         (uint8_t)(addr >> 24),
                         0x0A,
                         pin,
                         0x00,
                         0x0A,
                         gsi};
    memcpy(q, e, sizeof(e));
    return sizeof(e);
}

/* Package (n) { entries } with a 1-byte PkgLength. */
static size_t outer(uint8_t *q, uint8_t num, const uint8_t *ents, size_t n)
{
    q[0] = 0x12, q[1] = (uint8_t)(2 + n), q[2] = num;
    memcpy(q + 3, ents, n);
    return 3 + n;
}

static int read_built(const uint8_t *ents, size_t n, uint8_t num)
{
    uint8_t pkg[512];
    size_t len = build(pkg, outer(pkg, num, ents, n));
    return prt_read(built, len, &p, &why);
}

Test(prt, built_tables_each_check)
{
    uint8_t e[256];
    size_t n = entry(e, 0x0005FFFF, 0, 20);
    n += entry(e + n, 0x0005FFFF, 1, 21);
    cr_assert_eq(read_built(e, n, 2), 0, "%s", why);
    cr_expect_eq(gsi_of(5, 1), 20);
    cr_expect_eq(gsi_of(5, 2), 21);
    cr_expect_eq(read_built(e, n, 1), -1, "more entries than declared");
    cr_expect_str_eq(why, "_PRT has more entries than its Package declares");
    cr_expect_eq(read_built(e, 0, 0), -1);
    cr_expect_str_eq(why, "_PRT is empty");

    struct {
        uint32_t addr;
        uint8_t pin;
        const char *why;
    } bad[] = {
        {0x00050000, 0, "a _PRT entry's Address or Pin is out of range"}, // names a function
        {0x0020FFFF, 0, "a _PRT entry's Address or Pin is out of range"}, // slot 32
        {0x0005FFFF, 4, "a _PRT entry's Address or Pin is out of range"},
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t k = entry(e, bad[i].addr, bad[i].pin, 20);
        cr_expect_eq(read_built(e, k, 1), -1, "case %u", i);
        cr_expect_str_eq(why, bad[i].why, "case %u", i);
    }
    n = entry(e, 0x0005FFFF, 0, 20);
    n += entry(e + n, 0x0005FFFF, 0, 21);
    cr_expect_eq(read_built(e, n, 2), -1);
    cr_expect_str_eq(why, "_PRT has two GSIs for one pin");
    n = entry(e, 0x0005FFFF, 0, 20);
    n += entry(e + n, 0x0005FFFF, 0, 20);
    cr_expect_eq(read_built(e, n, 2), 0, "a repeated, identical entry is fine");
    cr_expect_eq(p.count, 1);

    n = entry(e, 0x0005FFFF, 0, 20);
    e[1] = 13, e[2] = 5, e[n++] = 0x00; // five elements
    cr_expect_eq(read_built(e, n, 1), -1);
    cr_expect_str_eq(why, "a _PRT entry is not a Package of 4");
    n = entry(e, 0x0005FFFF, 0, 20);
    e[10] = 0x01; // Source One
    cr_expect_eq(read_built(e, n, 1), -1);
    cr_expect_str_eq(why, "a _PRT entry's Source is neither Zero nor a name");
    n = entry(e, 0x0005FFFF, 0, 20);
    e[1] = 11; // the entry's PkgLength ends before its last element
    cr_expect_eq(read_built(e, n, 1), -1);
    cr_expect_str_eq(why, "a _PRT entry's Source is neither Zero nor a name");
    n = entry(e, 0x0005FFFF, 0, 20);
    e[1] = 40; // ... or runs past the outer Package
    cr_expect_eq(read_built(e, n, 1), -1);
    cr_expect_str_eq(why, "a _PRT entry is not a Package of 4");
    // a GSI beyond 32 bits (QWordConst)
    const uint8_t q[] = {0x12, 18, 4, 0x0C, 0xFF, 0xFF, 5, 0, 0x00, 0x00,
                         0x0E, 0,  0, 0,    0,    1,    0, 0, 0};
    cr_expect_eq(read_built(q, sizeof(q), 1), -1);
    cr_expect_str_eq(why, "a _PRT entry's GSI is out of range");
}

Test(prt, pkglength_encodings)
{
    uint8_t e[64], pkg[128];
    size_t n = entry(e, 0x0005FFFF, 0, 20);
    // the outer Package with a 4-byte PkgLength (lead 0xC0 | low nibble, then 3 bytes)
    size_t len = 5 + n;
    pkg[0] = 0x12, pkg[1] = (uint8_t)(0xC0 | (len & 0xF)), pkg[2] = (uint8_t)(len >> 4);
    pkg[3] = 0, pkg[4] = 0, pkg[5] = 1;
    memcpy(pkg + 6, e, n);
    cr_assert_eq(prt_read(built, build(pkg, 6 + n), &p, &why), 0, "%s", why);
    cr_expect_eq(gsi_of(5, 1), 20);
    pkg[1] |= 0x10; // reserved bits 5:4 of a multi-byte lead
    cr_expect_eq(prt_read(built, build(pkg, 6 + n), &p, &why), -1);
    cr_expect_str_eq(why, "_PRT is not a Package");
    pkg[1] = (uint8_t)(0xC0 | (len & 0xF)), pkg[4] = 1; // 1 MiB longer than the table
    cr_expect_eq(prt_read(built, build(pkg, 6 + n), &p, &why), -1);
    cr_expect_str_eq(why, "_PRT is not a Package");
    pkg[4] = 0, pkg[1] = 0xC0, pkg[2] = 0; // shorter than its own encoding
    cr_expect_eq(prt_read(built, build(pkg, 6 + n), &p, &why), -1);
    cr_expect_str_eq(why, "_PRT is not a Package");
    // the enclosing Scope's PkgLength past the table: the scope is not read at all
    size_t tl = build(pkg, outer(pkg, 1, e, n));
    built[38] = 0x7F;
    fix_checksum(built);
    cr_expect_eq(prt_read(built, tl, &p, &why), -1);
    cr_expect_str_eq(why, "no \\_SB.PCI0._PRT among the declarations read");
}

/* The outcome of a read that succeeded must be q35's full table: a cut never invents entries. */
static struct prt full;
Test(prt, every_cut_of_q35)
{
    cr_assert_eq(prt_read(qemu_q35_dsdt, sizeof(qemu_q35_dsdt), &full, &why), 0);
    static uint8_t t[sizeof(qemu_q35_dsdt)];
    unsigned ok = 0;
    for (size_t cut = 0; cut < sizeof(qemu_q35_dsdt); cut += 3) {
        cr_expect_eq(prt_read(qemu_q35_dsdt, cut, &p, &why), -1, "cut %zu",
                     cut); // the header says more
        if (cut < 36) continue;
        memcpy(t, qemu_q35_dsdt, cut);
        t[4] = (uint8_t)cut, t[5] = (uint8_t)(cut >> 8), t[6] = t[7] = 0; // a shorter table
        fix_checksum(t);
        if (prt_read(t, cut, &p, &why)) {
            cr_assert_not_null(why);
            cr_assert_eq(p.count, 0);
            continue;
        }
        ok++;
        cr_assert_eq(p.count, full.count, "cut %zu", cut);
        cr_assert(!memcmp(p.e, full.e, sizeof(p.e[0]) * p.count), "cut %zu", cut);
    }
    cr_expect_gt(ok, 0, "the links come last: the longest cuts still read the table");
}

static void check_outcome(int rc, unsigned iter)
{
    if (rc) {
        cr_assert_not_null(why, "iteration %u", iter);
        cr_assert_eq(p.count, 0);
        return;
    }
    cr_assert_not_null(p.form);
    cr_assert(p.count > 0 && p.count <= PRT_MAX, "iteration %u: %u", iter, p.count);
    for (unsigned i = 0; i < p.count; i++)
        cr_assert(p.e[i].dev < 32 && p.e[i].pin < 4, "iteration %u", iter);
}

Test(prt, random_tables)
{
    uint64_t x = 0x243F6A8885A308D3ull;
    static uint8_t t[2048];
    for (unsigned iter = 0; iter < 20000; iter++) {
        size_t len = 36 + xorshift64(&x) % (sizeof(t) - 36);
        for (size_t i = 0; i < len; i++) t[i] = (uint8_t)xorshift64(&x);
        // mostly AML-ish bytes: opcodes this reader follows, names, small lengths
        static const uint8_t ops[] = {0x10, 0x08, 0x14, 0x12, 0x5B, 0x82,
                                      0x2E, 0x5C, 0x0A, 0x00, 0xA0};
        for (size_t i = 36; i < len; i++)
            if (xorshift64(&x) % 3 == 0) t[i] = ops[xorshift64(&x) % sizeof(ops)];
        memcpy(t, "DSDT", 4);
        t[4] = (uint8_t)len, t[5] = (uint8_t)(len >> 8), t[6] = t[7] = 0;
        fix_checksum(t);
        check_outcome(prt_read(t, len, &p, &why), iter);
    }
}

/* Seeded mutations of the real tables: a few bytes changed (lengths, opcodes, names), the
 * checksum fixed so that the AML is what is tested. */
static void mutate_fuzz(const uint8_t *src, size_t len, unsigned iters, uint64_t seed)
{
    static uint8_t t[sizeof(qemu_q35_dsdt)];
    cr_assert_leq(len, sizeof(t));
    uint64_t x = seed;
    for (unsigned iter = 0; iter < iters; iter++) {
        memcpy(t, src, len);
        unsigned n = 1 + (unsigned)(xorshift64(&x) % 8);
        for (unsigned k = 0; k < n; k++) {
            size_t at = 36 + xorshift64(&x) % (len - 36);
            switch (xorshift64(&x) % 4) {
            case 0: t[at] = (uint8_t)xorshift64(&x); break;
            case 1: t[at] ^= (uint8_t)(1u << (xorshift64(&x) % 8)); break;
            case 2: t[at] = (uint8_t)(t[at] + 1); break;
            default: t[at] = (uint8_t)(t[at] - 1); break;
            }
        }
        fix_checksum(t);
        check_outcome(prt_read(t, len, &p, &why), iter);
    }
}

Test(prt, fuzz_q35, .timeout = 300) { mutate_fuzz(qemu_q35_dsdt, sizeof(qemu_q35_dsdt), 3000, 1); }
Test(prt, fuzz_pc, .timeout = 300) { mutate_fuzz(qemu_pc_dsdt, sizeof(qemu_pc_dsdt), 3000, 2); }
Test(prt, fuzz_server) { mutate_fuzz(server_dsdt, sizeof(server_dsdt), 30000, 3); }
Test(prt, fuzz_picm) { mutate_fuzz(picm_dsdt, sizeof(picm_dsdt), 30000, 4); }
