/* SPDX-License-Identifier: MIT */
/* The PC a Linux guest expects (the "pc" platform, for guests loaded by the Linux boot protocol):
 * the 8259 pair, the 8254, the CMOS RTC, a local APIC and an IO-APIC described by an MP table,
 * and COM1, wired as on a PC (ISA IRQ n to PIC input n and IO-APIC pin n, but IRQ 0 to pin 2).
 * Guest time is the TSC's: now_ns counts from the VM's first start and keeps running while the
 * VMM restarts, as the guest's own TSC does. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "ioapic.h"
#include "lapic.h"
#include "pic.h"
#include "rtc.h"
#include "virtio_blk.h"
#include "virtio_net.h"

/* The virtio-mmio devices (acpi.h declares them in the DSDT): the disk at PC_BLK_BASE on IO-APIC
 * pin PC_BLK_GSI (level, active high; above the ISA pins). */
#define PC_BLK_BASE 0xD0000000ull
#define PC_BLK_GSI  16
/* The network card (virtio_net.h), present iff the VMM has a network link (struct vmm's net). */
#define PC_NET_BASE 0xD0001000ull
#define PC_NET_GSI  17

struct pc {
    struct pic_pair pic;
    struct rtc rtc;
    struct lapic lapic;
    struct ioapic ioapic;
    uint64_t tsc_base;    /* the host TSC at guest time 0 */
    uint64_t tsc_per_ms;  /* its rate */
    uint16_t lines;       /* the ISA IRQ lines' levels as last set */
    uint8_t initialised;  /* pc_reset done (the MP table is in guest RAM) */
    uint8_t reset_wanted; /* the guest asked for a reset (port 0x92, 0xCF9, keyboard controller) */
    uint8_t blk_present;  /* the VM has a disk (v->disk at power-on): the DSDT lists it */
    uint8_t blk_line;     /* its interrupt line as last set */
    uint8_t net_present;  /* the VM has a network link (v->net at power-on): the DSDT lists it */
    uint8_t net_line;
    /* the virtio devices last: each is a segment of its own (vmm.h, vmm_seg) */
    struct virtio_blk blk;
    struct virtio_net net;
};

struct vmm;
struct vmm_reply;
/* Power-on: devices reset, the RTC set to the wall clock, the MP table written into guest RAM,
 * and, if v->disk is set, the ACPI tables that list the virtio disk.
 * False if the RAM is too small for the tables. */
bool pc_reset(struct vmm *v, uint64_t tsc_now, uint64_t tsc_per_ms, uint64_t wall_unix,
              uint64_t wall_tsc);
/* The network link's news (its peer signalled): frames into the guest, completions taken. Once
 * per committed transaction; then virtio_net_committed with the committed device. */
void pc_net_poll(struct vmm *v);
/* Guest time now, from the TSC; every timed device catches up to it and the lines follow. */
void pc_sync(struct vmm *v);
/* Port I/O on the pc platform: true if a device answered (*value for IN). */
bool pc_io(struct vmm *v, uint16_t port, unsigned size, bool in, uint32_t *value);
/* MMIO: the local APIC and IO-APIC pages and the virtio disk's window. True if gpa is one of
 * theirs. */
bool pc_mmio(struct vmm *v, uint64_t gpa, unsigned size, bool write, uint64_t *value);
/* IA32_APIC_BASE. */
uint64_t pc_apic_base(const struct vmm *v);
bool pc_set_apic_base(struct vmm *v, uint64_t value);
/* Whether an interrupt waits for the CPU; pc_ack takes it (the vector to inject). */
bool pc_pending(const struct vmm *v);
uint8_t pc_ack(struct vmm *v);
/* The next guest time at which a device wants attention (UINT64_MAX: none), and its TSC value. */
uint64_t pc_next_ns(const struct vmm *v);
uint64_t pc_ns_to_tsc(const struct vmm *v, uint64_t ns);
