/* SPDX-License-Identifier: MIT */
/* What the kernel hands the root task (init): its initial caps and the machine's resources. */
#pragma once
#include "types.h"

/* Fixed slots in init's root CNode. */
enum rs_init_slot {
    RS_INIT_NULL = 0,
    RS_INIT_TCB = 1,
    RS_INIT_CNODE = 2,
    RS_INIT_VSPACE = 3,
    RS_INIT_IRQ_CONTROL = 4,
    RS_INIT_IOPORT_CONTROL = 5,
    RS_INIT_BOOTINFO_FRAME = 6,
    RS_INIT_IPC_BUFFER = 7,
    RS_INIT_CONSOLE = 8,          /* Console cap, READ and WRITE */
    RS_INIT_SHUTDOWN = 9,         /* Shutdown cap */
    RS_INIT_IOPORT_PLATFORM = 10, /* IOPortControl that may also issue the platform ranges */
    RS_INIT_FIRST_FREE_FIXED = 11,
};

#define RS_BOOTINFO_VADDR   0x7FFF0000000ul      /* where init finds this structure */
#define RS_BOOTINFO_MAGIC   0x5245535552474F31ul /* "RESURGO1" */
#define RS_BOOT_MAX_UNTYPED 128
#define RS_BOOT_MAX_MODULES 16

typedef struct rs_slot_range {
    rs_cptr_t start, end; /* [start, end) */
} rs_slot_range_t;

typedef struct rs_untyped_desc {
    uint64_t paddr;
    uint8_t size_bits;
    uint8_t is_device; /* device memory: only Frames may be made from it (MMIO) */
    uint8_t pad[6];
} rs_untyped_desc_t;

typedef struct rs_boot_module {
    char name[32];
    uint64_t vaddr; /* mapped read-only into init at this address */
    uint64_t size;
} rs_boot_module_t;

typedef struct rs_bootinfo {
    uint64_t magic;
    uint64_t cnode_radix;    /* init's root CNode has 2^cnode_radix slots, guard makes depth 64 */
    rs_slot_range_t empty;   /* free slots in init's CNode */
    rs_slot_range_t untyped; /* untyped caps, described by untyped_list in the same order */
    rs_untyped_desc_t untyped_list[RS_BOOT_MAX_UNTYPED];
    uint64_t module_count;
    rs_boot_module_t modules[RS_BOOT_MAX_MODULES];
    uint64_t ipc_buffer_vaddr;
    uint64_t tsc_per_ms;    /* calibrated TSC rate, for timestamps in logs */
    uint64_t timer_tick_us; /* scheduler tick */
    char cmdline[128];      /* the kernel command line */
    /* Kept up to date by the kernel (read with volatile loads): how late each timer tick was
     * taken, in TSC cycles after the LAPIC timer expired, for the last RS_TICK_LATENCY_LOG
     * ticks; tick n is in tick_latency[n % RS_TICK_LATENCY_LOG], tick_count ticks so far. A late
     * tick means interrupts were off that long (or the emulator was not running). */
    uint64_t tick_count;
    uint32_t tick_latency[64];
    /* A read-only copy of the ACPI DSDT (AML; init reads PCI interrupt routing, _PRT, from it)
     * with its signature, length and checksum checked; size 0: none (no ACPI, broken, or longer
     * than RS_BOOT_MAX_DSDT). */
    uint64_t acpi_dsdt_vaddr, acpi_dsdt_size;
} rs_bootinfo_t;
#define RS_BOOT_MAX_DSDT    (512u << 10)
#define RS_TICK_LATENCY_LOG 64
