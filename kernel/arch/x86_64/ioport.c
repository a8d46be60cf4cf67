// SPDX-License-Identifier: MIT
// I/O-port capabilities on the PC: which port ranges IOPortControl may issue, and port access
// through a range cap. Ports that reset, stop or reroute the machine are withheld (table below).
#include "../../irq.h"
#include "../../cnode.h"
#include "cpu.h"
#include <resurgo/invocation.h>

/* Who may be issued a reserved range: nobody (the kernel drives it), or only through the
 * platform IOPortControl (init hands it to the component meant to own the device, e.g. the
 * PCI bus code for configuration space). */
enum owner { KERNEL, PLATFORM };

/* Reserved port ranges, inclusive, each owner's in address order (a refusal names the lowest
 * range in the way). No ACPI tables are read yet, so the PM ranges are the ones
 * QEMU's and Bochs' firmware use (docs/capabilities.md lists and explains each). */
static const struct reserved_range {
    uint16_t first, last;
    enum owner owner;
} reserved[] = {
    {0x0020, 0x0021, KERNEL},   // master 8259 PIC: the kernel masks and acknowledges lines
    {0x00A0, 0x00A1, KERNEL},   // slave 8259 PIC
    {0x00F4, 0x00F7, KERNEL},   // QEMU isa-debug-exit (iosize=4 as run): exits the emulator
    {0x03F8, 0x03FF, KERNEL},   // COM1: the kernel's console
    {0x04D0, 0x04D1, KERNEL},   // PIC edge/level control (ELCR)
    {0x8900, 0x8900, KERNEL},   // Bochs power-off port (shutdown path)
    {0x0040, 0x0043, PLATFORM}, // 8254 PIT (init's timer; the kernel calibrates with it at boot)
    {0x0060, 0x0064, PLATFORM}, // i8042 (0x64 command 0xFE resets the CPU), port B 0x61 (NMI)
    {0x0092, 0x0092, PLATFORM}, // system control port A: fast A20, bit 0 resets the CPU
    {0x00B2, 0x00B3, PLATFORM}, // APM control / SMI command: writes enter SMM
    {0x0600, 0x067F, PLATFORM}, // ACPI PM block of QEMU's PIIX4 / ICH9 (PM1 control: sleep, off)
    {0x0CF8, 0x0CFF, PLATFORM}, // PCI configuration mechanism 1; 0xCF9 is the reset control
    {0xAFE0, 0xAFE3, PLATFORM}, // ACPI GPE0 block of QEMU's PIIX4
    {0xB000, 0xB03F, PLATFORM}, // ACPI PM block where Bochs' BIOS (and older QEMU) put it
};

/* The first reserved range owned by `owner` that [first, last] overlaps, or NULL. */
static const struct reserved_range *overlap(uint64_t first, uint64_t last, enum owner owner)
{
    for (unsigned i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        const struct reserved_range *r = &reserved[i];
        if (r->owner == owner && first <= r->last && last >= r->first) return r;
    }
    return NULL;
}

int ioport_control_decode(struct invocation *inv)
{
    if (inv->label != RS_IOPORT_CONTROL_ISSUE) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    INV_NEED_ARGS(inv, 4);
    INV_NEED_CAPS(inv, 1);
    uint64_t first = inv_arg(inv, 0), last = inv_arg(inv, 1);
    if (first > 0xFFFF) return inv_error(inv, RS_RANGE_ERROR, 0, 0, 0xFFFF);
    if (last > 0xFFFF || last < first) return inv_error(inv, RS_RANGE_ERROR, 1, first, 0xFFFF);
    const struct reserved_range *r = overlap(first, last, KERNEL);
    if (r) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, r->first, r->last); // nobody's to have
    r = overlap(first, last, PLATFORM);
    if (r && inv->cap->small != IOPORT_CONTROL_PLATFORM)
        return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 0, r->first, r->last);
    int err;
    struct slot *dst = inv_dest_slot(inv, inv->extra[0], inv_arg(inv, 2), inv_arg(inv, 3), 2, &err);
    if (!dst) return err;
    dst->cap =
        (struct cap){.type = RS_CAP_IOPORT, .rights = RS_RIGHTS_ALL, .w2 = first | (last << 16)};
    cdt_insert(inv->slot, dst);
    return RS_OK;
}

int ioport_decode(struct invocation *inv)
{
    uint64_t label = inv->label;
    if (label < RS_IOPORT_IN8 || label > RS_IOPORT_OUT32)
        return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    bool out = label >= RS_IOPORT_OUT8;
    unsigned width = 1u << ((label - (out ? RS_IOPORT_OUT8 : RS_IOPORT_IN8)));
    INV_NEED_ARGS(inv, out ? 2 : 1);
    uint64_t port = inv_arg(inv, 0), first = inv->cap->w2 & 0xFFFF, last = inv->cap->w2 >> 16;
    if (port < first || port + width - 1 > last)
        return inv_error(inv, RS_RANGE_ERROR, 0, first, last + 1 - width);
    if (out) {
        uint64_t v = inv_arg(inv, 1);
        if (width == 1) outb((uint16_t)port, (uint8_t)v);
        else if (width == 2) outw((uint16_t)port, (uint16_t)v);
        else outl((uint16_t)port, (uint32_t)v);
    } else {
        uint64_t v = width == 1   ? inb((uint16_t)port)
                     : width == 2 ? inw((uint16_t)port)
                                  : inl((uint16_t)port);
        inv_result(inv, 0, v);
    }
    return RS_OK;
}
