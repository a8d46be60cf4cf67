// SPDX-License-Identifier: MIT
// ACPI parsers (kernel/arch/x86_64/acpi.c) against real tables: QEMU pc and q35 under SeaBIOS
// and OVMF, and a Surface Laptop 4's MADT (test_acpi_data.h names the sources); then the same
// tables truncated, with bad checksums and malformed entries.
#include <criterion/criterion.h>
#include <string.h>
#include "acpi.h"
#include "test_acpi_data.h"

/* Fake physical memory: a few regions, each a buffer at a physical address. */
struct region {
    uint64_t pa;
    const uint8_t *p;
    size_t len;
};
struct fake_mem {
    struct region r[16];
    int n;
    int maps; /* calls, to show the parsers do not loop */
};

static const void *fake_map(void *ctx, uint64_t pa, uint64_t len)
{
    struct fake_mem *m = ctx;
    m->maps++;
    for (int i = 0; i < m->n; i++)
        if (pa >= m->r[i].pa && pa - m->r[i].pa <= m->r[i].len &&
            len <= m->r[i].len - (pa - m->r[i].pa))
            return m->r[i].p + (pa - m->r[i].pa);
    return NULL;
}

static void add(struct fake_mem *m, uint64_t pa, const void *p, size_t len)
{
    cr_assert_lt(m->n, 16);
    m->r[m->n++] = (struct region){pa, p, len};
}

static uint8_t bios_area[0x20000]; /* 0xE0000-0xFFFFF */
static uint8_t bda[0x100];         /* 0x400: the BIOS data area; EBDA segment at 0x40E */
static uint8_t ebda[1024];

/* A machine whose RSDP lies in the BIOS area, as SeaBIOS puts it. */
static void bios_machine(struct fake_mem *m, uint64_t rsdp_pa, const uint8_t *rsdp, size_t rlen)
{
    memset(m, 0, sizeof(*m));
    memset(bios_area, 0, sizeof(bios_area));
    memset(bda, 0, sizeof(bda));
    memcpy(bios_area + (rsdp_pa - 0xE0000), rsdp, rlen);
    add(m, 0x400, bda, sizeof(bda));
    add(m, 0xE0000, bios_area, sizeof(bios_area));
}

static void expect_qemu_madt(const struct acpi_madt *m)
{
    // QEMU's MADT (hw/i386/acpi-common.c): LAPIC at the default address, one CPU, one IO-APIC
    // (id 0 at fec00000, GSI 0), ISA IRQ 0 -> GSI 2 and SCI-capable IRQs 5, 9, 10, 11 level,
    // active high; one LAPIC NMI entry for LINT1; the 8259 pair present.
    cr_expect_eq(m->lapic_addr, 0xFEE00000);
    cr_expect(!m->lapic_addr_override);
    cr_expect(m->pcat_compat);
    cr_expect_eq(m->cpu_count, 1);
    cr_expect_eq(m->cpu_apic_id[0], 0);
    cr_expect_eq(m->ioapic_count, 1);
    cr_expect_eq(m->ioapic[0].id, 0);
    cr_expect_eq(m->ioapic[0].addr, 0xFEC00000);
    cr_expect_eq(m->ioapic[0].gsi_base, 0);
    cr_expect_eq(m->override_count, 5);
    uint16_t flags;
    cr_expect_eq(acpi_isa_gsi(m, 0, &flags), 2);
    cr_expect_eq(flags, 0);
    cr_expect_eq(acpi_isa_gsi(m, 9, &flags), 9);
    cr_expect_eq(flags, 0xD); // active high, level
    cr_expect_eq(acpi_isa_gsi(m, 4, &flags), 4);
    cr_expect_eq(flags, 0);
    cr_expect_eq(m->nmi_count, 1);
    cr_expect_eq(m->dropped, 0);
}

Test(acpi, qemu_pc_seabios_chain_from_bios_area)
{
    struct fake_mem mem;
    bios_machine(&mem, QEMU_PC_SEABIOS_RSDP_PA, qemu_pc_seabios_rsdp, sizeof(qemu_pc_seabios_rsdp));
    add(&mem, QEMU_PC_SEABIOS_RSDT_PA, qemu_pc_seabios_rsdt, sizeof(qemu_pc_seabios_rsdt));
    add(&mem, QEMU_PC_SEABIOS_FADT_PA, qemu_pc_seabios_fadt, sizeof(qemu_pc_seabios_fadt));
    add(&mem, QEMU_PC_SEABIOS_MADT_PA, qemu_pc_seabios_madt, sizeof(qemu_pc_seabios_madt));
    add(&mem, QEMU_PC_SEABIOS_HPET_PA, qemu_pc_seabios_hpet, sizeof(qemu_pc_seabios_hpet));
    struct acpi_mem am = {fake_map, &mem};
    static struct acpi_info a;
    cr_assert_eq(acpi_discover(&am, NULL, 0, &a), ACPI_OK);
    cr_expect_str_eq(a.rsdp_source, "BIOS area");
    cr_expect_eq(a.rsdp_pa, QEMU_PC_SEABIOS_RSDP_PA);
    cr_expect_eq(a.rsdp.revision, 0);
    cr_expect_str_eq(a.rsdp.oem, "BOCHS ");
    cr_expect(!a.xsdt);
    cr_expect_eq(a.root_pa, QEMU_PC_SEABIOS_RSDT_PA);
    cr_expect_eq(a.table_count, 4); // FACP APIC HPET WAET
    cr_expect_str_eq(a.table[0].sig, "FACP");
    cr_expect_str_eq(a.table[1].sig, "APIC");
    cr_expect_str_eq(a.table[2].sig, "HPET");
    cr_expect_eq(a.table[3].status, ACPI_UNREACHABLE); // WAET: not in the fake memory
    cr_assert_eq(a.madt_status, ACPI_OK);
    expect_qemu_madt(&a.madt);
    cr_assert_eq(a.fadt_status, ACPI_OK);
    cr_expect_eq(a.fadt.sci_irq, 9);
    cr_expect_eq(a.fadt.pm_timer_port, 0x608); // PIIX4 PM base 0x600 + 8
    cr_expect(!a.fadt.pm_timer_32bit);
    cr_expect(!a.fadt.hw_reduced);
    cr_assert_eq(a.hpet_status, ACPI_OK);
    cr_expect_eq(a.hpet.addr, 0xFED00000);
    cr_expect_eq(a.hpet.space, 0);
    cr_expect_eq(a.hpet.block_id, 0x8086A201);
}

Test(acpi, qemu_q35_seabios_chain_from_ebda)
{
    struct fake_mem mem;
    // The same tables found through the EBDA (its first KiB is scanned first, 5.2.5.1).
    bios_machine(&mem, 0xE0000, (const uint8_t *)"", 0);
    memcpy(ebda + 0x40, qemu_q35_seabios_rsdp, sizeof(qemu_q35_seabios_rsdp));
    bda[0xE] = (uint8_t)(0x9FC00 >> 4), bda[0xF] = (uint8_t)(0x9FC00 >> 12);
    add(&mem, 0x9FC00, ebda, sizeof(ebda));
    add(&mem, QEMU_Q35_SEABIOS_RSDT_PA, qemu_q35_seabios_rsdt, sizeof(qemu_q35_seabios_rsdt));
    add(&mem, QEMU_Q35_SEABIOS_FADT_PA, qemu_q35_seabios_fadt, sizeof(qemu_q35_seabios_fadt));
    add(&mem, QEMU_Q35_SEABIOS_MADT_PA, qemu_q35_seabios_madt, sizeof(qemu_q35_seabios_madt));
    add(&mem, QEMU_Q35_SEABIOS_HPET_PA, qemu_q35_seabios_hpet, sizeof(qemu_q35_seabios_hpet));
    struct acpi_mem am = {fake_map, &mem};
    static struct acpi_info a;
    cr_assert_eq(acpi_discover(&am, NULL, 0, &a), ACPI_OK);
    cr_expect_str_eq(a.rsdp_source, "EBDA");
    cr_expect_eq(a.rsdp_pa, 0x9FC40);
    cr_expect_eq(a.table_count, 5); // FACP APIC HPET MCFG WAET
    cr_assert_eq(a.madt_status, ACPI_OK);
    expect_qemu_madt(&a.madt);
    cr_assert_eq(a.fadt_status, ACPI_OK);
    cr_expect_eq(a.fadt.revision, 3);
    cr_expect_eq(a.fadt.sci_irq, 9);
    cr_expect_eq(a.fadt.pm_timer_port, 0x608); // ICH9 LPC PM base 0x600 + 8
    cr_expect_eq(a.fadt.iapc_boot_arch, 2);    // 8042 present (q35 sets it; pc is FADT rev 1)
    cr_assert_eq(a.hpet_status, ACPI_OK);
    cr_expect_eq(a.hpet.addr, 0xFED00000);
    // the DSDT the FADT names (8180 bytes, right below the FADT: test_prt_data.h) is not here
    cr_expect_eq(a.fadt.dsdt, 0x7fe0040);
    cr_expect_eq(a.dsdt_status, ACPI_UNREACHABLE);
    cr_expect_eq(a.dsdt_pa, 0x7fe0040);
}

/* The DSDT is checked (signature, length, checksum) for init, which reads its AML. */
Test(acpi, dsdt_checked_for_init)
{
    static uint8_t dsdt[64];
    static const struct {
        const char *sig;
        uint8_t len, sum_fix;
        int status;
    } cases[] = {{"DSDT", 64, 1, ACPI_OK},
                 {"DSDT", 64, 0, ACPI_BAD_CHECKSUM},
                 {"SSDT", 64, 1, ACPI_BAD_SIGNATURE},
                 {"DSDT", 20, 1, ACPI_TRUNCATED}};
    for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct fake_mem mem;
        bios_machine(&mem, 0xE0000, qemu_q35_seabios_rsdp, sizeof(qemu_q35_seabios_rsdp));
        add(&mem, QEMU_Q35_SEABIOS_RSDT_PA, qemu_q35_seabios_rsdt, sizeof(qemu_q35_seabios_rsdt));
        add(&mem, QEMU_Q35_SEABIOS_FADT_PA, qemu_q35_seabios_fadt, sizeof(qemu_q35_seabios_fadt));
        memset(dsdt, 0, sizeof(dsdt));
        memcpy(dsdt, cases[c].sig, 4);
        dsdt[4] = cases[c].len;
        dsdt[36] = 0x5B; // whatever AML: the kernel does not read it
        if (cases[c].sum_fix) dsdt[9] = (uint8_t)-acpi_sum(dsdt, cases[c].len);
        add(&mem, 0x7fe0040, dsdt, sizeof(dsdt));
        struct acpi_mem am = {fake_map, &mem};
        static struct acpi_info a;
        cr_assert_eq(acpi_discover(&am, NULL, 0, &a), ACPI_OK);
        cr_expect_eq(a.dsdt_status, cases[c].status, "case %u", c);
        if (cases[c].status == ACPI_OK) cr_expect_eq(a.dsdt_len, 64);
    }
}

/* OVMF: the RSDP comes as a loader's copy (as GRUB's multiboot2 tag hands it over). */
static void ovmf_chain(const uint8_t *rsdp, size_t rlen, uint64_t rsdt_pa, const uint8_t *rsdt,
                       size_t rsdt_len, uint64_t madt_pa, const uint8_t *madt, size_t madt_len,
                       uint64_t fadt_pa, const uint8_t *fadt, size_t fadt_len, unsigned fadt_rev)
{
    struct fake_mem mem = {0};
    add(&mem, rsdt_pa, rsdt, rsdt_len);
    add(&mem, madt_pa, madt, madt_len);
    add(&mem, fadt_pa, fadt, fadt_len);
    struct acpi_mem am = {fake_map, &mem};
    static struct acpi_info a;
    cr_assert_eq(acpi_discover(&am, rsdp, rlen, &a), ACPI_OK);
    cr_expect_str_eq(a.rsdp_source, "multiboot2 tag");
    cr_expect_eq(a.rsdp_pa, 0);
    cr_expect_eq(a.root_pa, rsdt_pa);
    cr_assert_eq(a.madt_status, ACPI_OK);
    expect_qemu_madt(&a.madt);
    cr_assert_eq(a.fadt_status, ACPI_OK);
    cr_expect_eq(a.fadt.revision, fadt_rev);
    // listed in the RSDT but not in the fake memory: unreadable, so not known to be the HPET
    cr_expect_eq(a.hpet_status, ACPI_NOT_FOUND);
    cr_expect_str_eq(a.table[2].sig, "????");
    cr_expect_eq(a.table[2].status, ACPI_UNREACHABLE);
}

Test(acpi, qemu_pc_ovmf_chain_from_loader_copy)
{
    ovmf_chain(qemu_pc_ovmf_rsdp, sizeof(qemu_pc_ovmf_rsdp), QEMU_PC_OVMF_RSDT_PA,
               qemu_pc_ovmf_rsdt, sizeof(qemu_pc_ovmf_rsdt), QEMU_PC_OVMF_MADT_PA,
               qemu_pc_ovmf_madt, sizeof(qemu_pc_ovmf_madt), QEMU_PC_OVMF_FADT_PA,
               qemu_pc_ovmf_fadt, sizeof(qemu_pc_ovmf_fadt), 1);
}

Test(acpi, qemu_q35_ovmf_chain_from_loader_copy)
{
    ovmf_chain(qemu_q35_ovmf_rsdp, sizeof(qemu_q35_ovmf_rsdp), QEMU_Q35_OVMF_RSDT_PA,
               qemu_q35_ovmf_rsdt, sizeof(qemu_q35_ovmf_rsdt), QEMU_Q35_OVMF_MADT_PA,
               qemu_q35_ovmf_madt, sizeof(qemu_q35_ovmf_madt), QEMU_Q35_OVMF_FADT_PA,
               qemu_q35_ovmf_fadt, sizeof(qemu_q35_ovmf_fadt), 3);
}

Test(acpi, surface_laptop4_madt)
{
    struct acpi_madt m;
    cr_assert_eq(acpi_madt_parse(surface_laptop4_amd_madt, sizeof(surface_laptop4_amd_madt), &m),
                 ACPI_OK);
    cr_expect_eq(m.lapic_addr, 0xFEE00000);
    cr_expect(m.pcat_compat);
    cr_expect_eq(m.cpu_count, 16);
    // APIC IDs 0, 2, ..., 14 then 1, 3, ..., 15 (the SMT siblings listed last)
    for (unsigned i = 0; i < 8; i++) {
        cr_expect_eq(m.cpu_apic_id[i], 2 * i);
        cr_expect_eq(m.cpu_apic_id[8 + i], 2 * i + 1);
    }
    cr_expect_eq(m.ioapic_count, 2);
    cr_expect_eq(m.ioapic[0].id, 0x21);
    cr_expect_eq(m.ioapic[0].addr, 0xFEC00000);
    cr_expect_eq(m.ioapic[0].gsi_base, 0);
    cr_expect_eq(m.ioapic[1].id, 0x22);
    cr_expect_eq(m.ioapic[1].addr, 0xFEC01000);
    cr_expect_eq(m.ioapic[1].gsi_base, 24);
    cr_expect_eq(m.override_count, 2);
    uint16_t flags;
    cr_expect_eq(acpi_isa_gsi(&m, 0, &flags), 2);
    cr_expect_eq(acpi_isa_gsi(&m, 9, &flags), 9);
    cr_expect_eq(flags, 0xF); // active low, level
    cr_expect_eq(m.nmi_count, 1);
}

/* A copy of a table in a buffer with room to spare, its checksum fixed after an edit. */
static uint8_t buf[4096];
static void fix_checksum(uint8_t *t)
{
    uint32_t len = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24;
    t[9] = 0;
    t[9] = (uint8_t)(0x100 - acpi_sum(t, len));
}

Test(acpi, truncated_tables)
{
    struct acpi_madt m;
    const size_t n = sizeof(qemu_q35_seabios_madt);
    // fewer bytes readable than the length field says
    cr_expect_eq(acpi_madt_parse(qemu_q35_seabios_madt, n - 1, &m), ACPI_TRUNCATED);
    cr_expect_eq(acpi_madt_parse(qemu_q35_seabios_madt, 35, &m), ACPI_TRUNCATED);
    cr_expect_eq(acpi_table_check(qemu_q35_seabios_madt, 0, NULL), ACPI_TRUNCATED);
    // a length field below the header's 36 bytes
    memcpy(buf, qemu_q35_seabios_madt, n);
    buf[4] = 20, buf[5] = 0;
    fix_checksum(buf);
    cr_expect_eq(acpi_madt_parse(buf, n, &m), ACPI_TRUNCATED);
    // a MADT cut inside its last entry (length 118: the NMI entry's last 2 bytes gone)
    memcpy(buf, qemu_q35_seabios_madt, n);
    buf[4] = (uint8_t)(n - 2);
    fix_checksum(buf);
    cr_expect_eq(acpi_madt_parse(buf, n, &m), ACPI_BAD_ENTRY);
    // an FADT shorter than ACPI 1.0's 116 bytes, an HPET shorter than its 56
    memcpy(buf, qemu_pc_seabios_fadt, 116);
    buf[4] = 100;
    fix_checksum(buf);
    struct acpi_fadt f;
    cr_expect_eq(acpi_fadt_parse(buf, 116, &f), ACPI_TRUNCATED);
    memcpy(buf, qemu_pc_seabios_hpet, 56);
    buf[4] = 52;
    fix_checksum(buf);
    struct acpi_hpet h;
    cr_expect_eq(acpi_hpet_parse(buf, 56, &h), ACPI_TRUNCATED);
    // an RSDP cut short; a revision 2 RSDP whose length exceeds what is there
    struct acpi_rsdp r;
    cr_expect_eq(acpi_rsdp_parse(qemu_pc_seabios_rsdp, 19, &r), ACPI_TRUNCATED);
}

Test(acpi, checksum_failures)
{
    struct acpi_madt m;
    const size_t n = sizeof(qemu_pc_seabios_madt);
    memcpy(buf, qemu_pc_seabios_madt, n);
    cr_assert_eq(acpi_madt_parse(buf, n, &m), ACPI_OK);
    buf[36] ^= 0x10; // LAPIC address fee00000 -> fee00010, checksum not fixed
    cr_expect_eq(acpi_madt_parse(buf, n, &m), ACPI_BAD_CHECKSUM);
    cr_expect_eq(m.ioapic_count, 0); // nothing from a rejected table
    struct acpi_rsdp r;
    memcpy(buf, qemu_pc_seabios_rsdp, 20);
    buf[16] ^= 1;
    cr_expect_eq(acpi_rsdp_parse(buf, 20, &r), ACPI_BAD_CHECKSUM);
    cr_expect_eq(acpi_rsdp_scan(buf, 20), -1);
    memcpy(buf, qemu_pc_seabios_rsdp, 20);
    buf[0] = 'X';
    cr_expect_eq(acpi_rsdp_parse(buf, 20, &r), ACPI_BAD_SIGNATURE);
    // a FADT under the MADT's name: right checksum, wrong signature
    cr_expect_eq(acpi_madt_parse(qemu_pc_seabios_fadt, sizeof(qemu_pc_seabios_fadt), &m),
                 ACPI_BAD_SIGNATURE);
}

Test(acpi, malformed_madt_entries)
{
    struct acpi_madt m;
    const size_t n = sizeof(qemu_pc_seabios_madt);
    // The first entry (processor LAPIC at offset 44) claiming length 0, 1 and 7 (< 8): each
    // would stall or misread a naive walker.
    for (uint8_t bad = 0; bad < 8; bad++) {
        memcpy(buf, qemu_pc_seabios_madt, n);
        buf[45] = bad;
        fix_checksum(buf);
        cr_expect_eq(acpi_madt_parse(buf, n, &m), ACPI_BAD_ENTRY, "entry length %u", bad);
    }
    // an entry running past the end of the table
    memcpy(buf, qemu_pc_seabios_madt, n);
    buf[45] = 200;
    fix_checksum(buf);
    cr_expect_eq(acpi_madt_parse(buf, n, &m), ACPI_BAD_ENTRY);
}

Test(acpi, lapic_address_override_and_x2apic)
{
    // QEMU's pc MADT with two entries appended: a 64-bit LAPIC address override (type 5, 12
    // bytes) and a processor x2APIC (type 9, 16 bytes, APIC ID 0x100, enabled); plus an unknown
    // type 0x7F of 4 bytes, skipped.
    const size_t n = sizeof(qemu_pc_seabios_madt);
    memcpy(buf, qemu_pc_seabios_madt, n);
    uint8_t extra[] = {5,    12,   0, 0, 0x00, 0x00, 0xE0, 0xFE, 0x01, 0, 0, 0, 9,    16, 0, 0,
                       0x00, 0x01, 0, 0, 1,    0,    0,    0,    7,    0, 0, 0, 0x7F, 4,  0, 0};
    memcpy(buf + n, extra, sizeof(extra));
    uint32_t len = (uint32_t)(n + sizeof(extra));
    buf[4] = (uint8_t)len, buf[5] = (uint8_t)(len >> 8);
    fix_checksum(buf);
    struct acpi_madt m;
    cr_assert_eq(acpi_madt_parse(buf, len, &m), ACPI_OK);
    cr_expect(m.lapic_addr_override);
    cr_expect_eq(m.lapic_addr, 0x1FEE00000ull);
    cr_expect_eq(m.cpu_count, 2);
    cr_expect_eq(m.cpu_apic_id[1], 0x100);
    cr_expect_eq(m.other_count, 1);
}

Test(acpi, xsdt_above_4g_preferred_over_rsdt)
{
    // An ACPI 2.0 RSDP (36 bytes) naming both QEMU's RSDT and an XSDT at 5 GiB whose one entry
    // is the q35 MADT copied to 6 GiB: the XSDT wins, 64-bit pointers are followed.
    static uint8_t rsdp[36], xsdt[44], madt[sizeof(qemu_q35_seabios_madt)];
    memcpy(madt, qemu_q35_seabios_madt, sizeof(madt));
    memcpy(xsdt, "XSDT", 4);
    xsdt[4] = sizeof(xsdt);
    xsdt[8] = 1;
    uint64_t madt_pa = 6ull << 30;
    for (int i = 0; i < 8; i++) xsdt[36 + i] = (uint8_t)(madt_pa >> (8 * i));
    fix_checksum(xsdt);
    memcpy(rsdp, qemu_q35_seabios_rsdp, 20);
    rsdp[15] = 2;
    rsdp[20] = 36;
    uint64_t xsdt_pa = 5ull << 30;
    for (int i = 0; i < 8; i++) rsdp[24 + i] = (uint8_t)(xsdt_pa >> (8 * i));
    rsdp[8] = 0;
    rsdp[8] = (uint8_t)(0x100 - acpi_sum(rsdp, 20));
    rsdp[32] = 0;
    rsdp[32] = (uint8_t)(0x100 - acpi_sum(rsdp, 36));
    struct fake_mem mem = {0};
    add(&mem, xsdt_pa, xsdt, sizeof(xsdt));
    add(&mem, madt_pa, madt, sizeof(madt));
    struct acpi_mem am = {fake_map, &mem};
    static struct acpi_info a;
    cr_assert_eq(acpi_discover(&am, rsdp, sizeof(rsdp), &a), ACPI_OK);
    cr_expect(a.xsdt);
    cr_expect_eq(a.root_pa, xsdt_pa);
    cr_expect_eq(a.table_count, 1);
    cr_expect_eq(a.table[0].pa, madt_pa);
    cr_assert_eq(a.madt_status, ACPI_OK);
    expect_qemu_madt(&a.madt);
    // the extended checksum broken: the copy is rejected and, with no BIOS area, nothing found
    rsdp[33] ^= 1;
    cr_expect_eq(acpi_discover(&am, rsdp, sizeof(rsdp), &a), ACPI_NOT_FOUND);
}

Test(acpi, missing_and_broken_roots_fail_cleanly)
{
    struct fake_mem mem;
    static struct acpi_info a;
    struct acpi_mem am = {fake_map, &mem};
    // nothing anywhere
    bios_machine(&mem, 0xE0000, (const uint8_t *)"", 0);
    cr_expect_eq(acpi_discover(&am, NULL, 0, &a), ACPI_NOT_FOUND);
    // an RSDP whose RSDT lies outside readable memory
    bios_machine(&mem, QEMU_PC_SEABIOS_RSDP_PA, qemu_pc_seabios_rsdp, sizeof(qemu_pc_seabios_rsdp));
    cr_expect_eq(acpi_discover(&am, NULL, 0, &a), ACPI_UNREACHABLE);
    cr_expect_eq(a.madt_status, ACPI_NOT_FOUND);
    // an RSDT with a broken checksum
    memcpy(buf, qemu_pc_seabios_rsdt, sizeof(qemu_pc_seabios_rsdt));
    buf[40] ^= 4;
    add(&mem, QEMU_PC_SEABIOS_RSDT_PA, buf, sizeof(qemu_pc_seabios_rsdt));
    cr_expect_eq(acpi_discover(&am, NULL, 0, &a), ACPI_BAD_CHECKSUM);
    // a good RSDT whose MADT is corrupt: the root is fine, the MADT's status says why
    memcpy(buf, qemu_pc_seabios_rsdt, sizeof(qemu_pc_seabios_rsdt));
    static uint8_t madt[sizeof(qemu_pc_seabios_madt)];
    memcpy(madt, qemu_pc_seabios_madt, sizeof(madt));
    madt[50] ^= 1;
    add(&mem, QEMU_PC_SEABIOS_MADT_PA, madt, sizeof(madt));
    cr_expect_eq(acpi_discover(&am, NULL, 0, &a), ACPI_OK);
    cr_expect_eq(a.madt_status, ACPI_BAD_CHECKSUM);
    cr_expect_eq(a.table[1].status, ACPI_BAD_CHECKSUM);
    cr_expect_eq(a.fadt_status, ACPI_NOT_FOUND);
    cr_expect_eq(a.madt.cpu_count, 0);
    // a table claiming 4 GiB of length is not mapped whole
    madt[4] = 0xFF, madt[5] = 0xFF, madt[6] = 0xFF, madt[7] = 0xFF;
    cr_expect_eq(acpi_discover(&am, NULL, 0, &a), ACPI_OK);
    cr_expect_eq(a.madt_status, ACPI_TRUNCATED);
}

Test(acpi, random_bytes_never_crash)
{
    // Random tables behind a valid header: the parsers must return, touching only the buffer
    // (ASan watches), whatever the entries say.
    uint64_t x = 0x9E3779B97F4A7C15ull;
    struct acpi_madt m;
    for (int round = 0; round < 20000; round++) {
        size_t n = 44 + (size_t)(round % 200);
        uint8_t *t = malloc(n);
        memcpy(t, qemu_pc_seabios_madt, 44);
        for (size_t i = 44; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t[i] = (uint8_t)(round & 1 ? x % 12 : x);
        }
        t[4] = (uint8_t)n, t[5] = (uint8_t)(n >> 8), t[6] = t[7] = 0;
        fix_checksum(t);
        int st = acpi_madt_parse(t, n, &m);
        cr_assert(st == ACPI_OK || st == ACPI_BAD_ENTRY);
        cr_assert_leq(m.ioapic_count, ACPI_MAX_IOAPICS);
        cr_assert_leq(m.override_count, ACPI_MAX_OVERRIDES);
        cr_assert_leq(m.cpu_count, ACPI_MAX_CPUS);
        free(t);
    }
}
