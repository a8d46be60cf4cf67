// SPDX-License-Identifier: MIT
// The pc platform (pc.h): port and MMIO dispatch to the device models, the ISA interrupt wiring,
// and which interrupt the CPU takes next. A device's output is a line level; the wiring turns
// levels into PIC and IO-APIC inputs after every access and every advance of time, so an edge
// the guest causes (an IIR read dropping IRQ 4, a THR write raising it) is seen in order.
#include "pc.h"
#include "acpi_tables.h"
#include "mptable.h"
#include "pit.h"
#include "vmm.h"

#define IRQ_PIT  0
#define IRQ_UART 4
#define IRQ_RTC  8

static uint64_t tsc_to_ns(const struct pc *pc, uint64_t tsc)
{
    uint64_t d = tsc - pc->tsc_base, r = pc->tsc_per_ms ? pc->tsc_per_ms : 1;
    return d / r * 1000000ull + d % r * 1000000ull / r;
}

uint64_t pc_ns_to_tsc(const struct vmm *v, uint64_t ns)
{
    const struct pc *pc = &v->st->pc;
    return pc->tsc_base + ns / 1000000ull * pc->tsc_per_ms +
           ns % 1000000ull * pc->tsc_per_ms / 1000000ull;
}

/* ISA IRQ n: PIC input n, IO-APIC pin n, except the PIT's IRQ 0 on pin 2 (the MP table's
 * interrupt source override, as on every PC since the IO-APIC's introduction). */
static void set_line(struct pc *pc, unsigned irq, bool level)
{
    pic_set_irq(&pc->pic, irq, level);
    ioapic_set_irq(&pc->ioapic, irq == IRQ_PIT ? MPTABLE_IRQ0_PIN : irq, level, &pc->lapic);
    if (level) pc->lines |= (uint16_t)(1u << irq);
    else pc->lines &= (uint16_t) ~(1u << irq);
}

/* The level-triggered sources' lines as the devices now drive them. */
static void update_lines(struct vmm *v)
{
    struct pc *pc = &v->st->pc;
    bool uart = uart_irq(&v->st->uart), rtc = rtc_irq(&pc->rtc, v->st->now_ns);
    if (uart != !!(pc->lines & (1u << IRQ_UART))) set_line(pc, IRQ_UART, uart);
    if (rtc != !!(pc->lines & (1u << IRQ_RTC))) set_line(pc, IRQ_RTC, rtc);
    bool blk = pc->blk_present && virtio_blk_irq(&pc->blk);
    if (blk != pc->blk_line) {
        ioapic_set_irq(&pc->ioapic, PC_BLK_GSI, blk, &pc->lapic);
        pc->blk_line = blk;
    }
    bool net = pc->net_present && virtio_net_irq(&pc->net);
    if (net != pc->net_line) {
        ioapic_set_irq(&pc->ioapic, PC_NET_GSI, net, &pc->lapic);
        pc->net_line = net;
    }
    int vector;
    for (unsigned n = 0; n < 256 && (vector = lapic_take_eoi(&pc->lapic)) >= 0; n++)
        ioapic_eoi(&pc->ioapic, (uint8_t)vector, &pc->lapic);
}

bool pc_reset(struct vmm *v, uint64_t tsc_now, uint64_t tsc_per_ms, uint64_t wall_unix,
              uint64_t wall_tsc)
{
    struct pc *pc = &v->st->pc;
    *pc = (struct pc){.tsc_base = tsc_now, .tsc_per_ms = tsc_per_ms ? tsc_per_ms : 1};
    v->st->now_ns = 0;
    pic_reset(&pc->pic);
    pit_reset(&v->st->pit);
    uart_reset(&v->st->uart);
    lapic_reset(&pc->lapic, 0);
    ioapic_reset(&pc->ioapic, MPTABLE_IOAPIC_ID);
    // the wall clock at guest time 0: the host's, moved on by the TSC since it was read
    uint64_t wall = wall_unix ? wall_unix + (tsc_now - wall_tsc) / pc->tsc_per_ms / 1000 : 0;
    rtc_reset(&pc->rtc, wall, 0);
    rtc_set_memory(&pc->rtc, v->ram_size);
    virtio_blk_reset(&pc->blk);
    pc->blk_present = v->disk != NULL;
    pc->net_present = v->net != NULL;
    if (v->net) virtio_net_reset(&pc->net, v->net->mac);
    struct acpi_virtio devs[2];
    unsigned ndevs = 0;
    if (pc->blk_present)
        devs[ndevs++] = (struct acpi_virtio){(uint32_t)PC_BLK_BASE, VIRTIO_MMIO_SIZE, PC_BLK_GSI};
    if (pc->net_present)
        devs[ndevs++] = (struct acpi_virtio){(uint32_t)PC_NET_BASE, VIRTIO_MMIO_SIZE, PC_NET_GSI};
    // ACPI (hardware-reduced: no PIT, no 8259 for the OS) only for a VM with virtio devices,
    // which Linux finds nowhere else; the others keep the MP-table PC system-linux checks
    if (mptable_build(v->ram, v->ram_size) ||
        (ndevs && acpi_build(v->ram, v->ram_size, devs, ndevs)))
        return false;
    pc->initialised = 1;
    return true;
}

void pc_net_poll(struct vmm *v)
{
    struct pc *pc = &v->st->pc;
    if (!pc->net_present) return;
    v->st->dirty |= VMM_DIRTY(VMM_SEG_NET);
    const struct vq_ram ram = {v->ram, v->ram_size};
    virtio_net_poll(&pc->net, &ram, v->net);
    update_lines(v);
}

void pc_sync(struct vmm *v)
{
    struct pc *pc = &v->st->pc;
    uint64_t now = tsc_to_ns(pc, v->ops->host_tsc());
    if (now > v->st->now_ns) v->st->now_ns = now; // never backwards (a TSC the host reset)
    now = v->st->now_ns;
    if (pit_advance(&v->st->pit, now)) { // an edge on IRQ 0 (several coalesce, as in the PIC)
        set_line(pc, IRQ_PIT, true);
        set_line(pc, IRQ_PIT, false);
    }
    lapic_advance(&pc->lapic, now);
    rtc_advance(&pc->rtc, now);
    update_lines(v);
}

/* One byte-wide device register; false if no device decodes the port. */
static bool port_byte(struct vmm *v, uint16_t port, bool in, uint8_t *b)
{
    struct pc *pc = &v->st->pc;
    uint64_t now = v->st->now_ns;
    switch (port) {
    case 0x20:
    case 0x21:
    case 0xA0:
    case 0xA1:
    case 0x4D0:
    case 0x4D1:
        if (in) *b = pic_read(&pc->pic, port);
        else pic_write(&pc->pic, port, *b);
        return true;
    case 0x40:
    case 0x41:
    case 0x42:
    case 0x43:
    case 0x61:
        if (in) *b = pit_read(&v->st->pit, port, now);
        else pit_write(&v->st->pit, port, *b, now);
        return true;
    case 0x70:
    case 0x71:
        if (in) *b = rtc_read(&pc->rtc, port, now);
        else rtc_write(&pc->rtc, port, *b, now);
        return true;
    case 0x92: // system control port A: A20 always on; bit 0 asks for a reset
        if (in) *b = 0x02;
        else if (*b & 1) pc->reset_wanted = 1;
        return true;
    case 0x80: // POST codes and the I/O delay port: nothing there but a sink
        if (in) *b = 0xFF;
        return true;
    default: return false;
    }
}

bool pc_io(struct vmm *v, uint16_t port, unsigned size, bool in, uint32_t *value)
{
    if (port == 0xCF9 && !in && size == 1) { // the reset control register
        if (*value & 4) v->st->pc.reset_wanted = 1;
        return true;
    }
    bool any = false;
    uint32_t result = 0;
    for (unsigned k = 0; k < size && k < 4; k++) { // a wider access is one per byte port
        uint8_t b = in ? 0xFF : (uint8_t)(*value >> (8 * k));
        any |= port_byte(v, (uint16_t)(port + k), in, &b);
        result |= (uint32_t)b << (8 * k);
    }
    if (in) *value = result;
    update_lines(v);
    return any;
}

bool pc_mmio(struct vmm *v, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    struct pc *pc = &v->st->pc;
    if (pc->blk_present && gpa - PC_BLK_BASE < VIRTIO_MMIO_SIZE &&
        VIRTIO_MMIO_SIZE - (gpa - PC_BLK_BASE) >= size) {
        const struct vq_ram ram = {v->ram, v->ram_size};
        v->st->dirty |= VMM_DIRTY_DISK; // the device and its requests at fs
        virtio_blk_access(&pc->blk, &ram, v->disk, (uint32_t)(gpa - PC_BLK_BASE), size, write,
                          value);
        update_lines(v);
        return true;
    }
    if (pc->net_present && gpa - PC_NET_BASE < VIRTIO_MMIO_SIZE &&
        VIRTIO_MMIO_SIZE - (gpa - PC_NET_BASE) >= size) {
        const struct vq_ram ram = {v->ram, v->ram_size};
        v->st->dirty |= VMM_DIRTY(VMM_SEG_NET);
        virtio_net_access(&pc->net, &ram, v->net, (uint32_t)(gpa - PC_NET_BASE), size, write,
                          value);
        update_lines(v);
        return true;
    }
    uint64_t apic = lapic_base_msr(&pc->lapic) & ~0xFFFull;
    bool is_apic = gpa - apic < 4096, is_ioapic = gpa - IOAPIC_BASE < 4096;
    if (!is_apic && !is_ioapic) return false;
    // Both are 32-bit register files: an access of another size or alignment reads 0 and
    // writes nothing (the SDM calls it undefined; Linux never does it).
    uint32_t off = (uint32_t)(gpa & 0xFFF);
    if (size != 4 || (off & 3)) {
        if (!write) *value = 0;
        return true;
    }
    if (is_apic) {
        if (write) lapic_write(&pc->lapic, off, (uint32_t)*value, v->st->now_ns);
        else *value = lapic_read(&pc->lapic, off, v->st->now_ns);
    } else {
        if (write) ioapic_write(&pc->ioapic, off, (uint32_t)*value, &pc->lapic);
        else *value = ioapic_read(&pc->ioapic, off);
    }
    update_lines(v);
    return true;
}

uint64_t pc_apic_base(const struct vmm *v) { return lapic_base_msr(&v->st->pc.lapic); }

bool pc_set_apic_base(struct vmm *v, uint64_t value)
{
    bool ok = lapic_set_base_msr(&v->st->pc.lapic, value);
    update_lines(v);
    return ok;
}

bool pc_pending(const struct vmm *v)
{
    const struct pc *pc = &v->st->pc;
    return lapic_pending(&pc->lapic) >= 0 || (lapic_extint(&pc->lapic) && pic_intr(&pc->pic));
}

uint8_t pc_ack(struct vmm *v)
{
    struct pc *pc = &v->st->pc;
    int vector = lapic_pending(&pc->lapic);
    if (vector >= 0) lapic_deliver(&pc->lapic, (uint8_t)vector);
    else vector = pic_inta(&pc->pic); // the 8259's INTA cycle: through LINT0 in ExtINT mode
    update_lines(v);
    return (uint8_t)vector;
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

uint64_t pc_next_ns(const struct vmm *v)
{
    const struct pc *pc = &v->st->pc;
    return min64(min64(pit_next_ns(&v->st->pit), rtc_next_ns(&pc->rtc)), lapic_next_ns(&pc->lapic));
}
