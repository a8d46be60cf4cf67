// SPDX-License-Identifier: MIT
// PCI enumeration and BAR sizing (servers/init/pci.c) against a fake configuration space that
// behaves like the hardware: BARs keep only their address bits, absent functions read all ones.
#include <criterion/criterion.h>
#include <string.h>
#include "pci.h"

struct fake_fn {
    bool present;
    uint32_t reg[64];
    uint32_t bar_mask[6];           /* writable bits of each BAR (0: none) */
    unsigned writes_with_decode_on; /* BAR writes while the command register decoded */
};

struct fake {
    struct fake_fn fn[4][32][8];
};

static uint32_t f_read(void *ctx, unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    struct fake *f = ctx;
    if (bus >= 4 || !f->fn[bus][dev][fn].present) return 0xFFFFFFFFu;
    return f->fn[bus][dev][fn].reg[off / 4];
}

static void f_write(void *ctx, unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v)
{
    struct fake *f = ctx;
    if (bus >= 4 || !f->fn[bus][dev][fn].present) return;
    struct fake_fn *x = &f->fn[bus][dev][fn];
    unsigned r = off / 4;
    if (r >= 4 && r < 10) {
        if (x->reg[1] & 3) x->writes_with_decode_on++;
        uint32_t m = x->bar_mask[r - 4];
        x->reg[r] = (x->reg[r] & ~m) | (v & m); // the low type bits are read-only
        return;
    }
    if (r == 1) x->reg[1] = (x->reg[1] & 0xFFFF0000u) | (v & 0xFFFF);
    else x->reg[r] = v;
}

static struct fake fake;
static struct pci_ops ops = {f_read, f_write, &fake};

static struct fake_fn *add(unsigned bus, unsigned dev, unsigned fn, uint16_t vendor,
                           uint16_t device, uint8_t hdr)
{
    struct fake_fn *x = &fake.fn[bus][dev][fn];
    x->present = true;
    x->reg[0] = (uint32_t)device << 16 | vendor;
    x->reg[1] = 0x00100000u; // status bits set: the command half must not be disturbed
    x->reg[3] = (uint32_t)hdr << 16;
    return x;
}

static void setup(void)
{
    memset(&fake, 0, sizeof(fake));
    add(0, 0, 0, 0x8086, 0x1237, 0);                          // host bridge, no BARs
    struct fake_fn *isa = add(0, 1, 0, 0x8086, 0x7000, 0x80); // multi-function
    (void)isa;
    add(0, 1, 1, 0x8086, 0x7010, 0);
    struct fake_fn *blk = add(0, 4, 0, 0x1AF4, 0x1001, 0);
    blk->reg[2] = 0x01000000u; // class 1 (storage)
    blk->reg[4] = 0xC041;      // I/O BAR at 0xC040, 64 ports
    blk->bar_mask[0] = 0xFFFFFFC0u;
    blk->reg[5] = 0xFEBF1000u; // 4 KiB memory BAR
    blk->bar_mask[1] = 0xFFFFF000u;
    blk->reg[8] = 0xFE00000Cu; // 64-bit prefetchable, 16 KiB, at 0x1_FE000000
    blk->bar_mask[4] = 0xFFFFC000u;
    blk->reg[9] = 0x1;
    blk->bar_mask[5] = 0xFFFFFFFFu;
    blk->reg[15] = 0x010B; // pin A, line 11
    blk->reg[1] |= 0x1;
    struct fake_fn *br = add(0, 5, 0, 0x1B36, 0x0001, 1); // PCI-to-PCI bridge to bus 2
    br->reg[6] = 0x00020200u;
    add(2, 3, 0, 0x1AF4, 0x1000, 0);
    struct fake_fn *loop = add(2, 7, 0, 0x1B36, 0x0001, 1); // a bridge back to bus 0: no loop
    loop->reg[6] = 0x00000002u;
}

TestSuite(pci, .init = setup);

Test(pci, scan_finds_functions_behind_bridges_once)
{
    struct pci_device d[PCI_MAX_DEVICES];
    unsigned n = pci_scan(&ops, d, PCI_MAX_DEVICES);
    cr_assert_eq(n, 5u); // 0:0, 1:0, 1:1, 4:0, bus 2 3:0 (bridges are not devices)
    cr_assert_eq(d[2].fn, 1);
    cr_assert_eq(d[3].vendor, 0x1AF4);
    cr_assert_eq(d[3].device, 0x1001);
    cr_assert_eq(d[3].class_code, 1);
    cr_assert_eq(d[3].irq_line, 11);
    cr_assert_eq(d[3].irq_pin, 1);
    cr_assert_eq(d[4].bus, 2);
    cr_assert_eq(d[4].device, 0x1000);
    cr_assert_eq(pci_scan(&ops, d, 2), 2u, "never more than max");
}

Test(pci, bars_are_sized_with_decoding_off_and_restored)
{
    struct pci_device d[PCI_MAX_DEVICES];
    pci_scan(&ops, d, PCI_MAX_DEVICES);
    const struct pci_device *b = &d[3];
    cr_assert(b->bar[0].io);
    cr_assert_eq(b->bar[0].base, 0xC040);
    cr_assert_eq(b->bar[0].size, 64);
    cr_assert(!b->bar[1].io);
    cr_assert_eq(b->bar[1].base, 0xFEBF1000u);
    cr_assert_eq(b->bar[1].size, 4096);
    cr_assert_eq(b->bar[2].size, 0);
    cr_assert(b->bar[4].is64 && b->bar[4].prefetch);
    cr_assert_eq(b->bar[4].base, 0x1FE000000ull);
    cr_assert_eq(b->bar[4].size, 16384);
    cr_assert_eq(b->bar[5].size, 0, "the top half of a 64-bit BAR is no BAR");
    const struct fake_fn *x = &fake.fn[0][4][0];
    cr_assert_eq(x->writes_with_decode_on, 0u);
    cr_assert_eq(x->reg[4], 0xC041u);
    cr_assert_eq(x->reg[8], 0xFE00000Cu);
    cr_assert_eq(x->reg[9], 1u);
    cr_assert_eq(x->reg[1] & 0xFFFF, 1u, "the command register is restored");
    pci_enable(&ops, b);
    cr_assert_eq(x->reg[1] & 0xFFFF, 7u);
}

Test(pci, cf8_address_format)
{
    cr_assert_eq(pci_cf8(0, 4, 0, 0x10), 0x80002010u);
    cr_assert_eq(pci_cf8(2, 31, 7, 0x3F), 0x8002FF3Cu);
}

Test(pci, manifest_device_specs)
{
    uint16_t v = 0, d = 0;
    cr_assert_eq(pci_parse_spec("virtio-blk", &v, &d), 0);
    cr_assert(v == 0x1AF4 && d == 0x1001);
    cr_assert_eq(pci_parse_spec("pci:8086:100e", &v, &d), 0);
    cr_assert(v == 0x8086 && d == 0x100E);
    cr_assert_eq(pci_parse_spec("pci:1AF4:1042", &v, &d), 0);
    cr_assert(v == 0x1AF4 && d == 0x1042);
    const char *bad[] = {"",          "virtio",    "virtio-blkx", "pci:",          "pci:1af4",
                         "pci:1af4:", "pci::1001", "pci:12345:1", "pci:1af4:10g1", "PCI:1af4:1001"};
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(pci_parse_spec(bad[i], &v, &d), -1, "'%s' accepted", bad[i]);
}
