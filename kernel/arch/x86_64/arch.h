/* SPDX-License-Identifier: MIT */
/* The interface between generic kernel code and the x86-64 machine layer. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include "layout.h"
#include "context.h"

#define PHYS_TO_VIRT(p) ((void *)((uintptr_t)(p) + PHYSMAP_BASE))
#define VIRT_TO_PHYS(v) ((uint64_t)(uintptr_t)(v)-PHYSMAP_BASE)

/* Boot: what the boot loader told us. */
#define BOOT_MAX_REGIONS 64
#define BOOT_MAX_MODULES 16
struct boot_region {
    uint64_t base, size;
};
struct boot_module {
    uint64_t base, size;
    char name[32];
};
struct boot_info {
    struct boot_region ram[BOOT_MAX_REGIONS];
    int ram_count;
    struct boot_module modules[BOOT_MAX_MODULES];
    int module_count;
    char cmdline[128];
    const char *loader;
    const char *memory_map; /* which map the usable regions came from */
    unsigned ram_dropped;   /* usable regions that did not fit into ram[] (lost) */
    /* Every other region the memory map lists (reserved, ACPI, NVS, bad, ...) and the loader's
     * framebuffer: never device memory handed to init. A region that does not fit sets
     * used_dropped, and then no device memory is handed out at all (it could overlap). */
    struct boot_region used[BOOT_MAX_REGIONS];
    int used_count;
    unsigned used_dropped;
    uint8_t acpi_rsdp[36]; /* the RSDP the loader copied (multiboot2 tags 14/15), or none */
    uint8_t acpi_rsdp_len;
};
/* Parses multiboot 1 or 2 information; panics only if the magic is neither (no way to go on). */
void arch_parse_boot_info(uint32_t magic, uint64_t info_pa, struct boot_info *bi);

void arch_gdt_init(void);
/* EFER.SCE, STAR, SFMASK and LSTAR (the PTI entry point when pti_enabled: set that first). */
void arch_syscall_init(void);

/* Paging of the kernel: builds the final kernel page tables (physmap up to max_phys); the
 * tables come from alloc_page (boot allocator). */
void arch_paging_init(uint64_t max_phys, uint64_t (*alloc_page)(void));
uint64_t *arch_kernel_pml4(void);
extern uint64_t kernel_cr3; /* physical address of the kernel-only PML4 (0 before paging init) */
/* Page-table isolation against Meltdown (entry.S, paging.c): chosen before arch_gdt_init. */
extern uint8_t pti_enabled;
/* What a new VSpace's PML4 entries 256..511 are: the kernel's, or with PTI the skim window. */
const uint64_t *arch_user_kernel_half(void);
void arch_switch_vspace(uint64_t pml4_phys);

/* Interrupts: device IRQ lines 0..15 are ISA IRQs (vectors 0x20..0x2F; through the 8259 or the
 * IO-APIC pin the MADT's overrides name), lines 16..IRQ_COUNT-1 are GSIs 16 and up (IO-APIC only;
 * PCI INTx: level, active low; vectors 0x40 + GSI - 16); LAPIC timer. */
#define IRQ_VECTOR_BASE     0x20
#define IRQ_ISA_COUNT       16
#define IRQ_COUNT           48
#define IRQ_GSI_VECTOR_BASE 0x40
static inline unsigned irq_vector(unsigned irq)
{
    return irq < IRQ_ISA_COUNT ? IRQ_VECTOR_BASE + irq : IRQ_GSI_VECTOR_BASE + irq - IRQ_ISA_COUNT;
}
/* The lines IRQControl may issue are 0..arch_irq_lines()-1: 16 with the 8259; with the IO-APIC
 * also every GSI from 16 up to the first one without an IO-APIC pin (at most IRQ_COUNT - 1). */
unsigned arch_irq_lines(void);
/* The DSDT the FADT names, checked (signature, length, checksum) and in the physmap: a kernel
 * pointer and *len, or NULL. */
const void *arch_acpi_dsdt(uint32_t *len);
/* False for a line below arch_irq_lines() that cannot be issued: ISA IRQ 2 (the cascade), a GSI
 * an ISA IRQ's override already routes (reached through that ISA number). */
bool arch_irq_line_usable(unsigned irq);
#define TIMER_VECTOR    0x30
#define SPURIOUS_VECTOR 0xFF
void arch_pic_init(void);
void arch_pic_mask(unsigned irq, bool masked);
void arch_pic_eoi(unsigned irq);
/* An interrupt on ISA line irq arrived: false if it is an edge the line's mask holds back (IO-APIC
 * routing: latched, acknowledged, and raised again when the line is unmasked), true to deliver. */
bool arch_pic_accept(unsigned irq);
uint16_t arch_pic_isr(void);     /* in-service bits, to tell spurious IRQ 7 from a real one */
uint16_t arch_pic_pending(void); /* requested, unmasked lines not yet delivered */
/* True if an interrupt is waiting for IF=1 (LAPIC IRR or an unmasked 8259 request): the
 * kernel's preemption points poll it with interrupts off. */
bool arch_irq_pending(void);
/* Calibrates the LAPIC timer and TSC against the PIT and starts the scheduler tick (every
 * tick_us, on the TSC) with the LAPIC timer in one-shot mode. */
void arch_timer_init(unsigned tick_us);
/* The clock arch_timer_init calibrates against: CALIB_AUTO (the HPET, else the ACPI PM timer,
 * else the PIT) or the one forced by calib=hpet|pmtimer|pit (the others if it is missing). */
enum { CALIB_AUTO, CALIB_HPET, CALIB_PMTIMER, CALIB_PIT };
extern int arch_calib_source;
/* The kernel's clock: the TSC (user code reads the same with rdtsc). */
uint64_t arch_timer_now(void);
/* The earliest kernel timer deadline (TSC; UINT64_MAX: none): the LAPIC timer is set for the
 * earlier of it and the next tick. */
void arch_timer_set_deadline(uint64_t tsc);
/* The timer interrupt at TSC `now`: acknowledges it; if the scheduler tick is due, records how
 * late it was taken into *arch_tick_latency_out (a ring of RS_TICK_LATENCY_LOG, e.g. in init's
 * bootinfo) and the count into *arch_tick_count_out, and returns true. The LAPIC timer then
 * stands still until the caller's next arch_timer_set_deadline, which it must make. */
bool arch_timer_ack(uint64_t now);
extern volatile uint64_t *arch_tick_count_out;
extern volatile uint32_t *arch_tick_latency_out;
extern uint64_t arch_tsc_per_ms;

/* CPU features found at boot. */
struct cpu_features {
    char vendor[13];
    char brand[49];
    bool svm, npt, vmx, ept, vpid, unrestricted;
    bool smep, smap;
    bool meltdown; /* Intel without IA32_ARCH_CAPABILITIES.RDCL_NO: user mode can read the kernel */
    unsigned svm_asids;
};
extern struct cpu_features cpu_features;
void arch_cpu_probe(void);
/* Switches on SMEP and SMAP where arch_cpu_probe found them (after the kernel's page tables). */
void arch_cpu_protect(void);

void arch_shutdown(void);
/* Halts with interrupts enabled until one interrupt has been handled. */
void arch_idle_wait(void);
void arch_dump_context(const struct user_context *c);
