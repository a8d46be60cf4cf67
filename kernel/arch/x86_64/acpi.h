/* SPDX-License-Identifier: MIT */
/* ACPI discovery: the RSDP, RSDT/XSDT, MADT, FADT and HPET tables, parsed without trusting them.
 * Pure code (no globals, no allocation): physical memory is read through a caller's map
 * function, so the host unit tests (tests/unit/test_acpi.c) run it over real table dumps.
 * References: ACPI 6.5 spec, sections 5.2.5 (RSDP), 5.2.6 (header), 5.2.7/5.2.8 (RSDT/XSDT),
 * 5.2.9 (FADT), 5.2.12 (MADT); IA-PC HPET spec 1.0a, section 3.2.4. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_IOAPICS   8
#define ACPI_MAX_OVERRIDES 16
#define ACPI_MAX_CPUS      64
#define ACPI_MAX_TABLES    32
#define ACPI_MAX_TABLE_LEN (1u << 20) /* longer tables are treated as corrupt */

enum acpi_status {
    ACPI_OK = 0,
    ACPI_NOT_FOUND, /* no RSDP, or no such table */
    ACPI_BAD_SIGNATURE,
    ACPI_BAD_CHECKSUM,
    ACPI_TRUNCATED,   /* length field shorter than the structure, or longer than what is there */
    ACPI_UNREACHABLE, /* the physical address is outside what the map function can read */
    ACPI_BAD_ENTRY,   /* a MADT entry whose length is impossible */
};
/* A short English phrase for a status ("checksum mismatch"). */
const char *acpi_status_str(int status);

/* Sum of `len` bytes modulo 256; a table is valid when it is 0. */
uint8_t acpi_sum(const void *p, size_t len);

struct acpi_rsdp {
    uint8_t revision; /* 0: ACPI 1.0 (RSDT only); 2 and above: XSDT too */
    char oem[7];
    uint32_t rsdt;
    uint64_t xsdt; /* 0 when revision < 2 */
};
/* Checks an RSDP of `avail` bytes at p: signature "RSD PTR ", the 20-byte checksum, and for
 * revision >= 2 the extended length and checksum. */
int acpi_rsdp_parse(const void *p, size_t avail, struct acpi_rsdp *out);
/* Offset of the first valid RSDP on a 16-byte boundary in [p, p + len), or -1. */
long acpi_rsdp_scan(const void *p, size_t len);

/* Checks a system description table of `avail` readable bytes: its signature (if sig is not
 * NULL), that its length is at least the 36-byte header and at most avail, and its checksum. */
int acpi_table_check(const void *p, size_t avail, const char *sig);

struct acpi_ioapic {
    uint8_t id;
    uint32_t addr;
    uint32_t gsi_base;
};
/* An interrupt source override: ISA IRQ `irq` arrives on `gsi`; flags: MPS INTI flags
 * (bits 1:0 polarity, 3:2 trigger mode; 0 = conforms to the bus, i.e. ISA: high, edge). */
struct acpi_override {
    uint8_t bus, irq;
    uint16_t flags;
    uint32_t gsi;
};
struct acpi_madt {
    uint64_t lapic_addr;      /* the 64-bit override (entry type 5) if present */
    bool lapic_addr_override; /* type 5 seen */
    bool pcat_compat;         /* flags bit 0: the 8259 pair is present (and must be masked) */
    unsigned cpu_count;       /* enabled or online-capable processor LAPIC / x2APIC entries */
    unsigned cpu_disabled;    /* present but neither enabled nor online-capable */
    uint32_t cpu_apic_id[ACPI_MAX_CPUS];
    unsigned ioapic_count;
    struct acpi_ioapic ioapic[ACPI_MAX_IOAPICS];
    unsigned override_count;
    struct acpi_override override[ACPI_MAX_OVERRIDES];
    unsigned nmi_count;   /* LAPIC NMI entries (types 4 and 0xA) */
    unsigned other_count; /* entries of other types, skipped */
    unsigned dropped;     /* CPUs / IO-APICs / overrides beyond the arrays above */
};
/* Parses a checked MADT ("APIC") of `avail` bytes; entries are walked by their own length,
 * and one running past the table's end or shorter than its type needs is ACPI_BAD_ENTRY. */
int acpi_madt_parse(const void *p, size_t avail, struct acpi_madt *out);
/* The GSI an ISA IRQ arrives on (identity unless an override says otherwise) and its MPS
 * flags through *flags (may be NULL). */
uint32_t acpi_isa_gsi(const struct acpi_madt *m, unsigned irq, uint16_t *flags);

struct acpi_fadt {
    uint16_t sci_irq;
    uint32_t pm_timer_port;  /* 0: none */
    bool pm_timer_32bit;     /* flags bit 8 TMR_VAL_EXT */
    uint16_t iapc_boot_arch; /* bit 0 legacy devices, bit 1 8042, bit 2 no VGA (ACPI 2.0+) */
    bool hw_reduced;         /* flags bit 20: no PM timer, no legacy hardware */
    uint8_t revision;
    uint64_t dsdt; /* X_DSDT (offset 140) when the FADT has it and it is not 0, else DSDT (40) */
};
int acpi_fadt_parse(const void *p, size_t avail, struct acpi_fadt *out);

struct acpi_hpet {
    uint64_t addr; /* the event timer block's base */
    uint8_t space; /* 0: memory */
    uint8_t number;
    uint16_t min_tick;
    uint32_t block_id; /* the general capabilities register's low half, as the firmware saw it */
};
int acpi_hpet_parse(const void *p, size_t avail, struct acpi_hpet *out);

/* Reads physical memory: a pointer to `len` readable bytes at `pa`, or NULL (outside RAM the
 * kernel maps, or an overflowing range). */
struct acpi_mem {
    const void *(*map)(void *ctx, uint64_t pa, uint64_t len);
    void *ctx;
};

struct acpi_table {
    char sig[5];
    uint64_t pa;
    uint32_t len;
    int status; /* ACPI_OK or why the table was rejected */
};
struct acpi_info {
    int status;              /* of the root: RSDP and RSDT/XSDT */
    const char *rsdp_source; /* "multiboot2 tag", "EBDA", "BIOS area" */
    uint64_t rsdp_pa;        /* 0 when the loader handed over a copy */
    struct acpi_rsdp rsdp;
    bool xsdt; /* the XSDT (64-bit entries) was used */
    uint64_t root_pa;
    unsigned table_count; /* entries of the RSDT/XSDT, up to ACPI_MAX_TABLES */
    unsigned tables_dropped;
    struct acpi_table table[ACPI_MAX_TABLES];
    int madt_status, fadt_status, hpet_status; /* ACPI_NOT_FOUND when absent */
    int dsdt_status; /* of the FADT's DSDT (signature, length, checksum); NOT_FOUND: no FADT */
    uint64_t dsdt_pa;
    uint32_t dsdt_len;
    struct acpi_madt madt;
    struct acpi_fadt fadt;
    struct acpi_hpet hpet;
};
/* Finds and parses the tables. `rsdp_copy`/`rsdp_len`: the RSDP a loader copied (multiboot2
 * tags 14/15), or NULL/0: then the first KiB of the EBDA (segment at 0x40E) and 0xE0000-0xFFFFF
 * are scanned. Returns out->status: ACPI_OK when the RSDP and the RSDT or XSDT are valid (the
 * other tables' statuses are in out); never loops on any input. */
int acpi_discover(const struct acpi_mem *mem, const void *rsdp_copy, size_t rsdp_len,
                  struct acpi_info *out);
