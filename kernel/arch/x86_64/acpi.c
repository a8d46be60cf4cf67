// SPDX-License-Identifier: MIT
// ACPI table parsers: every length, checksum and entry is checked before use (see acpi.h).
#include "acpi.h"
#include "le.h"

#define HDR_LEN 36 /* the common table header, ACPI 6.5 table 5.4 */

const char *acpi_status_str(int status)
{
    switch (status) {
    case ACPI_OK: return "ok";
    case ACPI_NOT_FOUND: return "not found";
    case ACPI_BAD_SIGNATURE: return "bad signature";
    case ACPI_BAD_CHECKSUM: return "checksum mismatch";
    case ACPI_TRUNCATED: return "truncated";
    case ACPI_UNREACHABLE: return "outside mapped memory";
    case ACPI_BAD_ENTRY: return "malformed entry";
    default: return "unknown error";
    }
}

uint8_t acpi_sum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++) s = (uint8_t)(s + b[i]);
    return s;
}

static bool same(const uint8_t *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)s[i]) return false;
    return true;
}

int acpi_rsdp_parse(const void *p, size_t avail, struct acpi_rsdp *out)
{
    const uint8_t *b = p;
    *out = (struct acpi_rsdp){0};
    if (!b || avail < 20) return ACPI_TRUNCATED;
    if (!same(b, "RSD PTR ", 8)) return ACPI_BAD_SIGNATURE;
    if (acpi_sum(b, 20)) return ACPI_BAD_CHECKSUM; // the ACPI 1.0 part (5.2.5.3)
    out->revision = b[15];
    for (int i = 0; i < 6; i++) out->oem[i] = (char)b[9 + i];
    out->rsdt = le_get32(b + 16);
    if (out->revision >= 2) {
        if (avail < 36) return ACPI_TRUNCATED;
        uint32_t len = le_get32(b + 20);
        if (len < 36 || len > avail) return ACPI_TRUNCATED;
        if (acpi_sum(b, len)) return ACPI_BAD_CHECKSUM;
        out->xsdt = le_get64(b + 24);
    }
    return ACPI_OK;
}

long acpi_rsdp_scan(const void *p, size_t len)
{
    const uint8_t *b = p;
    struct acpi_rsdp r;
    // 5.2.5.1: the RSDP lies on a 16-byte boundary
    for (size_t off = 0; off + 20 <= len; off += 16)
        if (acpi_rsdp_parse(b + off, len - off, &r) == ACPI_OK) return (long)off;
    return -1;
}

int acpi_table_check(const void *p, size_t avail, const char *sig)
{
    const uint8_t *b = p;
    if (!b || avail < HDR_LEN) return ACPI_TRUNCATED;
    if (sig && !same(b, sig, 4)) return ACPI_BAD_SIGNATURE;
    uint32_t len = le_get32(b + 4);
    if (len < HDR_LEN || len > avail) return ACPI_TRUNCATED;
    if (acpi_sum(b, len)) return ACPI_BAD_CHECKSUM;
    return ACPI_OK;
}

static void add_cpu(struct acpi_madt *m, uint32_t apic_id, uint32_t flags)
{
    // flags bit 0 enabled, bit 1 online capable (ACPI 6.5 table 5.23)
    if (!(flags & 3)) {
        m->cpu_disabled++;
        return;
    }
    if (m->cpu_count < ACPI_MAX_CPUS) m->cpu_apic_id[m->cpu_count++] = apic_id;
    else m->dropped++;
}

int acpi_madt_parse(const void *p, size_t avail, struct acpi_madt *out)
{
    const uint8_t *b = p;
    *out = (struct acpi_madt){0};
    int st = acpi_table_check(p, avail, "APIC");
    if (st) return st;
    uint32_t len = le_get32(b + 4);
    if (len < HDR_LEN + 8) return ACPI_TRUNCATED;
    out->lapic_addr = le_get32(b + 36);
    out->pcat_compat = le_get32(b + 40) & 1;
    for (uint32_t off = HDR_LEN + 8; off < len;) {
        if (len - off < 2) return ACPI_BAD_ENTRY;
        const uint8_t *e = b + off;
        uint8_t type = e[0], elen = e[1];
        // Each entry's minimum length by type (ACPI 6.5 tables 5.22-5.33); an entry that claims
        // less, or runs past the table, ends the parse: what follows cannot be trusted.
        static const uint8_t min_len[] = {8, 12, 10, 8, 6, 12, 16, 0, 0, 16, 12};
        uint8_t need = type < sizeof(min_len) && min_len[type] ? min_len[type] : 2;
        if (elen < need || elen > len - off) return ACPI_BAD_ENTRY;
        switch (type) {
        case 0: add_cpu(out, e[3], le_get32(e + 4)); break;            // processor local APIC
        case 9: add_cpu(out, le_get32(e + 4), le_get32(e + 8)); break; // processor x2APIC
        case 1:                                                        // I/O APIC
            if (out->ioapic_count < ACPI_MAX_IOAPICS)
                out->ioapic[out->ioapic_count++] =
                    (struct acpi_ioapic){e[2], le_get32(e + 4), le_get32(e + 8)};
            else out->dropped++;
            break;
        case 2: // interrupt source override
            if (out->override_count < ACPI_MAX_OVERRIDES)
                out->override[out->override_count++] =
                    (struct acpi_override){e[2], e[3], le_get16(e + 8), le_get32(e + 4)};
            else out->dropped++;
            break;
        case 4:
        case 0xA: out->nmi_count++; break;
        case 5: // 64-bit local APIC address override
            out->lapic_addr = le_get64(e + 4);
            out->lapic_addr_override = true;
            break;
        default: out->other_count++; break;
        }
        off += elen;
    }
    return ACPI_OK;
}

uint32_t acpi_isa_gsi(const struct acpi_madt *m, unsigned irq, uint16_t *flags)
{
    for (unsigned i = 0; i < m->override_count; i++)
        if (m->override[i].bus == 0 && m->override[i].irq == irq) {
            if (flags) *flags = m->override[i].flags;
            return m->override[i].gsi;
        }
    if (flags) *flags = 0;
    return irq;
}

int acpi_fadt_parse(const void *p, size_t avail, struct acpi_fadt *out)
{
    const uint8_t *b = p;
    *out = (struct acpi_fadt){0};
    int st = acpi_table_check(p, avail, "FACP");
    if (st) return st;
    uint32_t len = le_get32(b + 4);
    // ACPI 1.0's FADT is 116 bytes; the fields read here all lie in them but IAPC_BOOT_ARCH
    // (offset 109, reserved in 1.0: zero there).
    if (len < 116) return ACPI_TRUNCATED;
    out->revision = b[8];
    out->sci_irq = le_get16(b + 46);
    out->pm_timer_port = le_get32(b + 76);
    if (b[91] < 4) out->pm_timer_port = 0; // PM_TMR_LEN must be 4 when there is a timer
    uint32_t flags = le_get32(b + 112);
    out->pm_timer_32bit = flags & (1u << 8);
    out->hw_reduced = flags & (1u << 20);
    if (out->revision >= 2) out->iapc_boot_arch = le_get16(b + 109);
    out->dsdt = le_get32(b + 40);
    if (len >= 148 && le_get64(b + 140)) out->dsdt = le_get64(b + 140); // ACPI 6.5 5.2.9
    return ACPI_OK;
}

int acpi_hpet_parse(const void *p, size_t avail, struct acpi_hpet *out)
{
    const uint8_t *b = p;
    *out = (struct acpi_hpet){0};
    int st = acpi_table_check(p, avail, "HPET");
    if (st) return st;
    if (le_get32(b + 4) < 56) return ACPI_TRUNCATED;
    out->block_id = le_get32(b + 36);
    out->space = b[40]; // a Generic Address Structure (5.2.3.2) at 40; address at 44
    out->addr = le_get64(b + 44);
    out->number = b[52];
    out->min_tick = le_get16(b + 53);
    return ACPI_OK;
}

static const uint8_t *map(const struct acpi_mem *m, uint64_t pa, uint64_t len)
{
    if (!pa || pa + len < pa) return NULL;
    return m->map(m->ctx, pa, len);
}

/* Maps a table's header, then the whole table once its length is known and sane. */
static const uint8_t *map_table(const struct acpi_mem *m, uint64_t pa, uint32_t *len, int *st)
{
    const uint8_t *h = map(m, pa, HDR_LEN);
    *len = 0;
    if (!h) {
        *st = ACPI_UNREACHABLE;
        return NULL;
    }
    *len = le_get32(h + 4);
    if (*len < HDR_LEN || *len > ACPI_MAX_TABLE_LEN) {
        *st = ACPI_TRUNCATED;
        return NULL;
    }
    const uint8_t *t = map(m, pa, *len);
    *st = t ? acpi_table_check(t, *len, NULL) : ACPI_UNREACHABLE;
    return *st == ACPI_OK ? t : NULL;
}

static int find_rsdp(const struct acpi_mem *m, const void *copy, size_t copy_len,
                     struct acpi_info *out)
{
    if (copy && acpi_rsdp_parse(copy, copy_len, &out->rsdp) == ACPI_OK) {
        out->rsdp_source = "multiboot2 tag";
        return ACPI_OK;
    }
    // 5.2.5.1: the first KiB of the EBDA, whose segment is the BIOS data area's word at 0x40E,
    // then the BIOS read-only area 0xE0000-0xFFFFF.
    const uint8_t *bda = map(m, 0x40E, 2);
    uint64_t ebda = bda ? (uint64_t)le_get16(bda) << 4 : 0;
    struct {
        uint64_t base, len;
        const char *name;
    } areas[] = {{ebda, 1024, "EBDA"}, {0xE0000, 0x20000, "BIOS area"}};
    for (unsigned i = 0; i < 2; i++) {
        if (areas[i].base < 0x400 || areas[i].base >= 0x100000) continue;
        const uint8_t *a = map(m, areas[i].base, areas[i].len);
        long off = a ? acpi_rsdp_scan(a, areas[i].len) : -1;
        if (off < 0) continue;
        out->rsdp_pa = areas[i].base + (uint64_t)off;
        out->rsdp_source = areas[i].name;
        return acpi_rsdp_parse(a + off, areas[i].len - (uint64_t)off, &out->rsdp);
    }
    return ACPI_NOT_FOUND;
}

int acpi_discover(const struct acpi_mem *m, const void *rsdp_copy, size_t rsdp_len,
                  struct acpi_info *out)
{
    *out = (struct acpi_info){0};
    out->madt_status = out->fadt_status = out->hpet_status = out->dsdt_status = ACPI_NOT_FOUND;
    out->status = find_rsdp(m, rsdp_copy, rsdp_len, out);
    if (out->status) return out->status;

    // The XSDT when there is one (ACPI 2.0+), else, or if it is broken, the RSDT.
    const uint8_t *root = NULL;
    uint32_t len = 0;
    int st = ACPI_NOT_FOUND;
    if (out->rsdp.xsdt) {
        root = map_table(m, out->rsdp.xsdt, &len, &st);
        if (root && acpi_table_check(root, len, "XSDT")) root = NULL, st = ACPI_BAD_SIGNATURE;
        if (root) out->xsdt = true, out->root_pa = out->rsdp.xsdt;
    }
    if (!root && out->rsdp.rsdt) {
        int st32;
        root = map_table(m, out->rsdp.rsdt, &len, &st32);
        if (root && acpi_table_check(root, len, "RSDT")) root = NULL, st32 = ACPI_BAD_SIGNATURE;
        if (root) out->root_pa = out->rsdp.rsdt;
        else if (!out->rsdp.xsdt) st = st32;
    }
    if (!root) return out->status = st;

    unsigned esize = out->xsdt ? 8 : 4;
    for (uint32_t off = HDR_LEN; off + esize <= len; off += esize) {
        uint64_t pa = out->xsdt ? le_get64(root + off) : le_get32(root + off);
        if (out->table_count >= ACPI_MAX_TABLES) {
            out->tables_dropped++;
            continue;
        }
        struct acpi_table *t = &out->table[out->table_count++];
        t->pa = pa;
        const uint8_t *h = map(m, pa, HDR_LEN);
        for (int i = 0; i < 4; i++) t->sig[i] = h ? (char)h[i] : '?';
        uint32_t tlen;
        const uint8_t *tab = map_table(m, pa, &tlen, &t->status);
        t->len = tlen;
        // The first valid table of each kind counts; a later duplicate is listed only. A
        // rejected one leaves its reason in the kind's status unless a valid one was found.
        int *kind = same((const uint8_t *)t->sig, "APIC", 4)   ? &out->madt_status
                    : same((const uint8_t *)t->sig, "FACP", 4) ? &out->fadt_status
                    : same((const uint8_t *)t->sig, "HPET", 4) ? &out->hpet_status
                                                               : NULL;
        if (!kind || *kind == ACPI_OK) continue;
        if (!tab) *kind = t->status;
        else if (kind == &out->madt_status) *kind = acpi_madt_parse(tab, tlen, &out->madt);
        else if (kind == &out->fadt_status) *kind = acpi_fadt_parse(tab, tlen, &out->fadt);
        else *kind = acpi_hpet_parse(tab, tlen, &out->hpet);
    }
    // The DSDT (AML: PCI interrupt routing, _PRT) is only checked here; init reads it.
    if (out->fadt_status == ACPI_OK && out->fadt.dsdt) {
        const uint8_t *d = map_table(m, out->fadt.dsdt, &out->dsdt_len, &out->dsdt_status);
        if (d && !same(d, "DSDT", 4)) out->dsdt_status = ACPI_BAD_SIGNATURE;
        out->dsdt_pa = out->fadt.dsdt;
    }
    return ACPI_OK;
}
