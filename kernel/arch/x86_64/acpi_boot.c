// SPDX-License-Identifier: MIT
// ACPI at boot: runs the parsers (acpi.c) over the physmap and logs what they found or why not.
#include "acpi_boot.h"
#include "../../console.h"

struct acpi_info acpi_info;

/* Only what the kernel's physmap covers can be read; anything else (or a range that wraps)
 * is unreachable, which the parsers report instead of faulting. */
static const void *map_phys(void *ctx, uint64_t pa, uint64_t len)
{
    uint64_t limit = *(const uint64_t *)ctx;
    if (pa >= limit || len > limit - pa) return NULL;
    return PHYS_TO_VIRT(pa);
}

static const char *polarity(uint16_t f)
{
    static const char *const p[] = {"bus polarity", "active high", "reserved polarity",
                                    "active low"};
    return p[f & 3];
}

static const char *trigger(uint16_t f)
{
    static const char *const t[] = {"bus trigger", "edge", "reserved trigger", "level"};
    return t[(f >> 2) & 3];
}

static void print_madt(const struct acpi_madt *m)
{
    kprintf("acpi: MADT: LAPIC at %lx%s, %u CPUs enabled (%u disabled), 8259 pair %s\n",
            m->lapic_addr, m->lapic_addr_override ? " (64-bit override)" : "", m->cpu_count,
            m->cpu_disabled, m->pcat_compat ? "present" : "absent");
    for (unsigned i = 0; i < m->ioapic_count; i++)
        kprintf("acpi: IO-APIC id %u at %x, GSI base %u\n", m->ioapic[i].id, m->ioapic[i].addr,
                m->ioapic[i].gsi_base);
    for (unsigned i = 0; i < m->override_count; i++)
        kprintf("acpi: override: ISA IRQ %u -> GSI %u, %s, %s\n", m->override[i].irq,
                m->override[i].gsi, polarity(m->override[i].flags), trigger(m->override[i].flags));
    if (m->dropped)
        kprintf("acpi: MADT: %u entries beyond the kernel's arrays ignored\n", m->dropped);
}

void arch_acpi_init(const struct boot_info *bi, uint64_t phys_limit)
{
    struct acpi_mem mem = {map_phys, &phys_limit};
    struct acpi_info *a = &acpi_info;
    int st = acpi_discover(&mem, bi->acpi_rsdp_len ? bi->acpi_rsdp : NULL, bi->acpi_rsdp_len, a);
    if (st == ACPI_NOT_FOUND) {
        kprintf("acpi: no RSDP (no multiboot2 ACPI tag; EBDA and 0xE0000-0xFFFFF scanned): "
                "using the PC defaults (LAPIC from IA32_APIC_BASE, 8259 PIC, PIT)\n");
        return;
    }
    if (st) {
        kprintf("acpi: RSDP from %s unusable: %s %s: using the PC defaults (LAPIC from "
                "IA32_APIC_BASE, 8259 PIC, PIT)\n",
                a->rsdp_source ? a->rsdp_source : "?",
                a->rsdp.xsdt || a->rsdp.rsdt ? "root table" : "RSDP", acpi_status_str(st));
        return;
    }
    kprintf("acpi: RSDP revision %u, OEM '%s', from %s; %s at %lx, %u tables\n", a->rsdp.revision,
            a->rsdp.oem, a->rsdp_source, a->xsdt ? "XSDT" : "RSDT", a->root_pa, a->table_count);
    for (unsigned i = 0; i < a->table_count; i++) {
        const struct acpi_table *t = &a->table[i];
        if (t->status)
            kprintf("acpi: table '%s' at %lx rejected: %s\n", t->sig, t->pa,
                    acpi_status_str(t->status));
    }
    if (a->tables_dropped) kprintf("acpi: %u more tables not examined\n", a->tables_dropped);
    if (a->madt_status == ACPI_OK) print_madt(&a->madt);
    else
        kprintf("acpi: MADT %s: assuming one CPU, no IO-APIC; IRQs through the 8259 PIC\n",
                acpi_status_str(a->madt_status));
    if (a->fadt_status == ACPI_OK) {
        const struct acpi_fadt *f = &a->fadt;
        kprintf("acpi: FADT: SCI IRQ %u, PM timer %s%x (%s), boot flags %x%s%s\n", f->sci_irq,
                f->pm_timer_port ? "port " : "none ", f->pm_timer_port,
                f->pm_timer_32bit ? "32-bit" : "24-bit", f->iapc_boot_arch,
                f->iapc_boot_arch & 2 ? " (8042)" : "", f->hw_reduced ? ", hardware-reduced" : "");
    }
    if (a->hpet_status == ACPI_OK)
        kprintf("acpi: HPET at %lx, %u comparators\n", a->hpet.addr,
                ((a->hpet.block_id >> 8) & 0x1F) + 1);
    if (a->dsdt_status == ACPI_OK)
        kprintf("acpi: DSDT at %lx, %u bytes (for init: PCI interrupt routing)\n", a->dsdt_pa,
                a->dsdt_len);
    else if (a->fadt_status == ACPI_OK)
        kprintf("acpi: DSDT at %lx unusable: %s: PCI devices keep their Interrupt Line\n",
                a->dsdt_pa, acpi_status_str(a->dsdt_status));
}

bool arch_acpi_ok(void) { return acpi_info.status == ACPI_OK; }

const void *arch_acpi_dsdt(uint32_t *len)
{
    if (acpi_info.status != ACPI_OK || acpi_info.dsdt_status != ACPI_OK) return NULL;
    *len = acpi_info.dsdt_len;
    return PHYS_TO_VIRT(acpi_info.dsdt_pa); // map_table checked it lies in the physmap
}
