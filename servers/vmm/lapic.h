/* SPDX-License-Identifier: MIT */
/* The guest's local APIC: one xAPIC in MMIO mode at LAPIC_BASE (Intel SDM vol. 3 ch. 11), as a
 * single-CPU Linux guest uses it: ID, version, TPR/APR/PPR, EOI, LDR/DFR, SVR, ISR/TMR/IRR, ESR,
 * ICR (fixed self-IPIs), the six LVT entries and the timer (one-shot and periodic).
 *
 * Not modelled: x2APIC and the TSC-deadline timer (CPUID hides both), relocation of the base,
 * NMI/SMI/INIT/SIPI messages (one CPU: INIT and SIPI to others go nowhere; NMIs through LINT1 or
 * the ICR are dropped), the CMCI LVT (the version register says 6 LVT entries), remote read.
 * Pure C, plain data: the state lives in the VMM's persistent state and is copied on every exit. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define LAPIC_BASE     0xFEE00000ull
#define LAPIC_SIZE     0x1000ull
/* The APIC bus clock the timer counts at before the divider: 1 GHz, so one count is one
 * nanosecond of guest time at divide-by-1 (KVM and QEMU use the same). Linux does not trust the
 * value: it calibrates the timer against its global clock event device (the PIT). */
#define LAPIC_TIMER_HZ 1000000000ull

/* register offsets in the 4 KiB page (SDM vol. 3 table 11-1) */
#define LAPIC_ID      0x020
#define LAPIC_VER     0x030
#define LAPIC_TPR     0x080
#define LAPIC_APR     0x090
#define LAPIC_PPR     0x0A0
#define LAPIC_EOI     0x0B0
#define LAPIC_RRD     0x0C0
#define LAPIC_LDR     0x0D0
#define LAPIC_DFR     0x0E0
#define LAPIC_SVR     0x0F0
#define LAPIC_ISR     0x100 /* 8 registers, 0x10 apart */
#define LAPIC_TMR     0x180
#define LAPIC_IRR     0x200
#define LAPIC_ESR     0x280
#define LAPIC_ICR_LO  0x300
#define LAPIC_ICR_HI  0x310
#define LAPIC_LVT_TMR 0x320
#define LAPIC_LVT_THM 0x330
#define LAPIC_LVT_PMC 0x340
#define LAPIC_LVT0    0x350
#define LAPIC_LVT1    0x360
#define LAPIC_LVT_ERR 0x370
#define LAPIC_TMICT   0x380
#define LAPIC_TMCCT   0x390
#define LAPIC_TDCR    0x3E0

/* version register: version 0x14 (an integrated xAPIC), max LVT entry 5 (six entries) */
#define LAPIC_VERSION 0x00050014u
#define LAPIC_NLVT    6

/* IA32_APIC_BASE (MSR 0x1B, SDM vol. 3 11.4.4) */
#define LAPIC_MSR_BSP    (1ull << 8)
#define LAPIC_MSR_X2APIC (1ull << 10)
#define LAPIC_MSR_ENABLE (1ull << 11)

/* LVT bits (SDM vol. 3 figure 11-8) */
#define LAPIC_LVT_MASKED   (1u << 16)
#define LAPIC_LVT_PERIODIC (1u << 17)
#define LAPIC_DM_EXTINT    7u
#define LAPIC_SVR_ENABLE   (1u << 8)

/* ESR bits (SDM vol. 3 figure 11-9) */
#define LAPIC_ESR_SEND_ILLEGAL (1u << 5)
#define LAPIC_ESR_RECV_ILLEGAL (1u << 6)

struct lapic {
    uint32_t irr[8], isr[8], tmr[8]; /* bit v % 32 of word v / 32: vector v */
    uint32_t eoi[8];                 /* level-triggered vectors EOI'd, not yet taken */
    uint32_t lvt[LAPIC_NLVT];        /* timer, thermal, perf, LINT0, LINT1, error */
    uint32_t icr_lo, icr_hi;
    uint32_t svr, tpr, ldr, dfr;
    uint32_t esr;         /* what ESR reads: the errors latched by the last write to it */
    uint32_t esr_pending; /* errors since that write */
    uint32_t tmict;       /* timer initial count */
    uint32_t tdcr;        /* timer divide configuration (bits 0, 1, 3) */
    uint32_t count0;      /* the current count at timer_start_ns */
    uint8_t id;
    uint8_t enabled;       /* IA32_APIC_BASE bit 11 */
    uint8_t timer_running; /* counting down; at 0 it fires (and reloads, if periodic) */
    uint8_t pad;
    uint64_t timer_start_ns;
};

/* Power-on state (SDM vol. 3 11.4.7.1) with APIC ID id, globally enabled, software disabled. */
void lapic_reset(struct lapic *a, uint32_t id);
/* A 32-bit read at offset (within the 4 KiB page): unaligned, unknown or write-only: 0. The
 * timer is brought up to now_ns first (which may raise its interrupt). */
uint32_t lapic_read(struct lapic *a, uint32_t offset, uint64_t now_ns);
/* A 32-bit write: reserved and read-only bits are ignored; unaligned or unknown offsets too. */
void lapic_write(struct lapic *a, uint32_t offset, uint32_t v, uint64_t now_ns);
/* IA32_APIC_BASE as the guest reads it: 0xFEE00000 | BSP | enable. */
uint64_t lapic_base_msr(const struct lapic *a);
/* A guest's WRMSR to IA32_APIC_BASE. False (the guest gets #GP): a base other than LAPIC_BASE,
 * x2APIC enable, a reserved bit. Clearing the enable bit disables the APIC; setting it again
 * gives the power-on state (SDM vol. 3 11.4.3). */
bool lapic_set_base_msr(struct lapic *a, uint64_t v);
/* True if the APIC takes fixed interrupts now: globally and software enabled. */
bool lapic_accepting(const struct lapic *a);
/* A fixed interrupt with this vector reaches the APIC (level: TMR set, else cleared). Dropped
 * while the APIC is disabled; a vector below 16 only sets ESR bit 6 (SDM vol. 3 11.5.3). */
void lapic_accept(struct lapic *a, uint8_t vector, bool level);
/* The vector to deliver now: the highest in IRR whose class is above PPR's; -1 none. */
int lapic_pending(const struct lapic *a);
/* The CPU took vector (from lapic_pending): its IRR bit moves to ISR. No-op if not in IRR. */
void lapic_deliver(struct lapic *a, uint8_t vector);
/* A level-triggered vector the guest EOI'd since the last call (for ioapic_eoi), -1 none. */
int lapic_take_eoi(struct lapic *a);
/* True if the 8259's INTR reaches the CPU: LVT LINT0 unmasked in ExtINT mode, or the APIC
 * globally or software disabled (then the PIC is wired straight to the CPU). */
bool lapic_extint(const struct lapic *a);
/* Brings the timer to now_ns: at expiry the LVT timer vector is raised (unless masked), a
 * periodic timer reloads (periods missed are coalesced into one interrupt). */
void lapic_advance(struct lapic *a, uint64_t now_ns);
/* When the timer next raises its interrupt; UINT64_MAX if never (stopped or masked). */
uint64_t lapic_next_ns(const struct lapic *a);
/* True if a message to dest (physical APIC ID, or logical with the LDR/DFR) reaches this APIC
 * (SDM vol. 3 11.6.2); 0xFF is the broadcast in both modes. */
bool lapic_match_dest(const struct lapic *a, uint8_t dest, bool logical);
