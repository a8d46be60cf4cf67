// SPDX-License-Identifier: MIT
// The ACPI tables (acpi.h), byte by byte in the ACPI 6.4 layouts: RSDP 5.2.5.3, the common header
// 5.2.6, XSDT 5.2.8, FADT 5.2.9 (table 5.9), MADT 5.2.12, and the DSDT's AML hand-encoded
// (chapter 20: DefScope, DefDevice, DefName, PkgLength 20.2.4) with resource descriptors of 6.4
// (I/O port 6.4.2.5, IRQ 6.4.2.1, Memory32Fixed 6.4.3.4, Extended Interrupt 6.4.3.6).
#include "acpi_tables.h"
#include <resurgo/errors.h>
#include "ioapic.h"
#include "lapic.h"
#include "le.h"
#include "mptable.h"

#define HDR_LEN          36
#define FADT_LEN         276 /* revision 6 */
#define FADT_HW_REDUCED  (1u << 20)
#define FADT_PWR_BUTTON  (1u << 4) /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON  (1u << 5)
#define BOOT_VGA_ABSENT  (1u << 2) /* IA-PC boot architecture flags (5.2.9.3); 8042 bit 1 clear */
#define BOOT_MSI_ABSENT  (1u << 3)
#define MADT_PCAT_COMPAT 1u
#define AML_BUF_MAX      (ACPI_END - ACPI_DSDT - HDR_LEN)

_Static_assert(ACPI_END <= MPTABLE_FLOAT, "the ACPI tables stay below the MP table");

static uint8_t checksum(const uint8_t *p, unsigned len)
{
    uint8_t sum = 0;
    for (unsigned i = 0; i < len; i++) sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

static void put_str(uint8_t *p, const char *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) p[i] = (uint8_t)s[i];
}

/* The common header; the checksum is set by seal() once the body is written. */
static void header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
    put_str(t, sig, 4);
    le_put32(t + 4, len);
    t[8] = rev;
    put_str(t + 10, "RESRGO", 6);
    put_str(t + 16, "RESURGOV", 8);
    le_put32(t + 24, 1);
    put_str(t + 28, "RSGO", 4);
    le_put32(t + 32, 1);
}

static void seal(uint8_t *t)
{
    t[9] = 0;
    t[9] = checksum(t, le_get32(t + 4));
}

/* ---- AML ---- */

struct aml {
    uint8_t *p;
    unsigned len, cap;
    int overflow;
};

static void emit(struct aml *a, const uint8_t *b, unsigned n)
{
    if (a->len + n > a->cap) {
        a->overflow = 1;
        return;
    }
    for (unsigned i = 0; i < n; i++) a->p[a->len++] = b[i];
}

static void emit1(struct aml *a, uint8_t b) { emit(a, &b, 1); }

/* Opens a package: reserves 3 PkgLength bytes at the mark, closed by pkg_close. */
static unsigned pkg_open(struct aml *a)
{
    unsigned mark = a->len;
    emit(a, (const uint8_t[3]){0}, 3);
    return mark;
}

/* Writes the PkgLength of the package from mark to here in its shortest encoding (20.2.4: one
 * byte up to 63, else a lead byte with the count of following bytes in bits 7:6 and the low
 * nibble, then 8 bits each), moving the body down over the unused reserved bytes. */
static void pkg_close(struct aml *a, unsigned mark)
{
    if (a->overflow) return;
    unsigned body = a->len - mark - 3, n = body + 1 <= 63 ? 1 : body + 2 <= 4095 ? 2 : 3;
    unsigned total = body + n;
    uint8_t enc[3];
    if (n == 1) enc[0] = (uint8_t)total;
    else {
        enc[0] = (uint8_t)((n - 1) << 6 | (total & 0xF));
        enc[1] = (uint8_t)(total >> 4);
        enc[2] = (uint8_t)(total >> 12);
    }
    for (unsigned i = 0; i < body; i++) a->p[mark + n + i] = a->p[mark + 3 + i];
    for (unsigned i = 0; i < n; i++) a->p[mark + i] = enc[i];
    a->len = mark + n + body;
}

static void name_seg(struct aml *a, const char *s) { emit(a, (const uint8_t *)s, 4); }

/* Name(seg, "string") */
static void name_string(struct aml *a, const char *seg, const char *s)
{
    emit1(a, 0x08); // NameOp
    name_seg(a, seg);
    emit1(a, 0x0D); // StringPrefix
    while (*s) emit1(a, (uint8_t)*s++);
    emit1(a, 0);
}

/* Name(seg, dword) */
static void name_dword(struct aml *a, const char *seg, uint32_t v)
{
    uint8_t b[5] = {0x0C}; // DWordPrefix
    le_put32(b + 1, v);
    emit1(a, 0x08);
    name_seg(a, seg);
    emit(a, b, 5);
}

/* Name(seg, byte) */
static void name_byte(struct aml *a, const char *seg, uint8_t v)
{
    emit1(a, 0x08);
    name_seg(a, seg);
    emit(a, (const uint8_t[2]){0x0A, v}, 2); // BytePrefix
}

/* Name(_CRS, ResourceTemplate() { res[0..n) EndTag }) */
static void name_crs(struct aml *a, const uint8_t *res, unsigned n)
{
    emit1(a, 0x08);
    name_seg(a, "_CRS");
    emit1(a, 0x11); // BufferOp
    unsigned mark = pkg_open(a);
    emit(a, (const uint8_t[2]){0x0A, (uint8_t)(n + 2)}, 2); // BufferSize
    emit(a, res, n);
    emit(a, (const uint8_t[2]){0x79, 0}, 2); // End tag, checksum 0: "treated as summing to 0"
    pkg_close(a, mark);
}

/* Device(name) { _HID, _UID, _CRS } */
static void device(struct aml *a, const char *name, const char *hid_str, uint32_t hid_eisa,
                   uint8_t uid, const uint8_t *res, unsigned n)
{
    emit(a, (const uint8_t[2]){0x5B, 0x82}, 2); // DeviceOp
    unsigned mark = pkg_open(a);
    name_seg(a, name);
    if (hid_str) name_string(a, "_HID", hid_str);
    else name_dword(a, "_HID", hid_eisa);
    name_byte(a, "_UID", uid);
    name_crs(a, res, n);
    pkg_close(a, mark);
}

/* EISA ID "PNPdddd" compressed (6.1.5): three 5-bit letters, then four hex digits, big-endian
 * in the byte order, so 32-bit little-endian value bytes are {hi, lo, d0d1, d2d3}. */
static uint32_t eisa_pnp(uint16_t product)
{
    uint16_t vendor = (uint16_t)(('P' - 0x40) << 10 | ('N' - 0x40) << 5 | ('P' - 0x40));
    return (uint32_t)(vendor >> 8) | (uint32_t)(vendor & 0xFF) << 8 |
           (uint32_t)(product >> 8) << 16 | (uint32_t)(product & 0xFF) << 24;
}

/* I/O port descriptor (16-bit decode) + IRQ descriptor without flags (edge, active high). */
static unsigned isa_res(uint8_t *r, uint16_t port, uint8_t len, unsigned irq)
{
    r[0] = 0x47;
    r[1] = 1;
    le_put16(r + 2, port);
    le_put16(r + 4, port);
    r[6] = 1;
    r[7] = len;
    r[8] = 0x22;
    le_put16(r + 9, (uint16_t)(1u << irq));
    return 11;
}

/* Memory32Fixed (read-write) + Extended Interrupt (consumer, level, active high, exclusive). */
static unsigned mmio_res(uint8_t *r, const struct acpi_virtio *d)
{
    r[0] = 0x86;
    le_put16(r + 1, 9);
    r[3] = 1;
    le_put32(r + 4, d->base);
    le_put32(r + 8, d->size);
    r[12] = 0x89;
    le_put16(r + 13, 6);
    r[15] = 0x01; // consumer; level-triggered (bit 1 clear); active high; exclusive
    r[16] = 1;
    le_put32(r + 17, d->gsi);
    return 21;
}

static int build_dsdt(uint8_t *t, const struct acpi_virtio *devs, unsigned n)
{
    struct aml a = {t + HDR_LEN, 0, AML_BUF_MAX, 0};
    uint8_t res[32];
    emit1(&a, 0x10); // ScopeOp
    unsigned mark = pkg_open(&a);
    emit(&a, (const uint8_t *)"\\_SB_", 5);
    device(&a, "COM1", NULL, eisa_pnp(0x0501), 1, res, isa_res(res, 0x3F8, 8, 4));
    device(&a, "RTC_", NULL, eisa_pnp(0x0B00), 0, res, isa_res(res, 0x70, 2, 8));
    for (unsigned i = 0; i < n; i++) {
        char name[5] = {'V', 'R', (char)('0' + i / 10), (char)('0' + i % 10), 0};
        device(&a, name, "LNRO0005", 0, (uint8_t)i, res, mmio_res(res, &devs[i]));
    }
    pkg_close(&a, mark);
    if (a.overflow) return RS_RANGE_ERROR;
    header(t, "DSDT", HDR_LEN + a.len, 2);
    seal(t);
    return 0;
}

static void build_fadt(uint8_t *t)
{
    header(t, "FACP", FADT_LEN, 6);
    le_put32(t + 40, ACPI_DSDT);                          // DSDT (32-bit)
    le_put16(t + 109, BOOT_VGA_ABSENT | BOOT_MSI_ABSENT); // IAPC_BOOT_ARCH: no 8042
    le_put32(t + 112, FADT_HW_REDUCED | FADT_PWR_BUTTON | FADT_SLP_BUTTON);
    t[131] = 4;                      // FADT minor version (6.4)
    le_put64(t + 140, ACPI_DSDT);    // X_DSDT
    put_str(t + 268, "RESURGO ", 8); // hypervisor vendor identity
    seal(t);
}

static void build_madt(uint8_t *t)
{
    uint8_t *p = t + HDR_LEN + 8;
    le_put32(t + HDR_LEN, (uint32_t)LAPIC_BASE);
    le_put32(t + HDR_LEN + 4, MADT_PCAT_COMPAT); // the 8259s are there (masked by the OS)
    // processor local APIC: UID 0, APIC ID 0, enabled
    p[0] = 0, p[1] = 8, p[2] = 0, p[3] = 0;
    le_put32(p + 4, 1);
    p += 8;
    // IO-APIC: its ID, address, GSI base 0
    p[0] = 1, p[1] = 12, p[2] = MPTABLE_IOAPIC_ID, p[3] = 0;
    le_put32(p + 4, (uint32_t)IOAPIC_BASE);
    le_put32(p + 8, 0);
    p += 12;
    // interrupt source override: ISA IRQ 0 -> GSI 2, flags 0 (conforming: edge, high)
    p[0] = 2, p[1] = 10, p[2] = 0, p[3] = 0;
    le_put32(p + 4, ACPI_IRQ0_GSI);
    le_put16(p + 8, 0);
    p += 10;
    // local APIC NMI: all processors (UID 0xFF), LINT1, conforming
    p[0] = 4, p[1] = 6, p[2] = 0xFF;
    le_put16(p + 3, 0);
    p[5] = 1;
    p += 6;
    header(t, "APIC", (uint32_t)(p - t), 5);
    seal(t);
}

int acpi_build(uint8_t *ram, uint64_t ram_size, const struct acpi_virtio *devs, unsigned n)
{
    if (!ram || ram_size < ACPI_END || n > ACPI_DEVS_MAX || (n && !devs)) return RS_RANGE_ERROR;
    for (unsigned i = ACPI_RSDP; i < ACPI_END; i++) ram[i] = 0;
    if (build_dsdt(ram + ACPI_DSDT, devs, n)) return RS_RANGE_ERROR;
    build_fadt(ram + ACPI_FADT);
    build_madt(ram + ACPI_MADT);
    uint8_t *x = ram + ACPI_XSDT;
    header(x, "XSDT", HDR_LEN + 16, 1);
    le_put64(x + HDR_LEN, ACPI_FADT);
    le_put64(x + HDR_LEN + 8, ACPI_MADT);
    seal(x);
    // RSDP revision 2: the first 20 bytes have their checksum, all 36 the extended one
    uint8_t *r = ram + ACPI_RSDP;
    put_str(r, "RSD PTR ", 8);
    put_str(r + 9, "RESRGO", 6);
    r[15] = 2;
    le_put32(r + 16, 0); // no RSDT: the XSDT is used from revision 2 on
    le_put32(r + 20, 36);
    le_put64(r + 24, ACPI_XSDT);
    r[8] = checksum(r, 20);
    r[32] = checksum(r, 36);
    return 0;
}
