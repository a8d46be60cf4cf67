/* SPDX-License-Identifier: MIT */
/* PCI enumeration through configuration space (mechanism #1: address at port 0xCF8, data at
 * 0xCFC; PCI Local Bus Specification 3.0, 3.2.2.3.2). The pure part: the access itself is a
 * pair of callbacks, so that the host tests run it against a fake configuration space. Init
 * alone holds ports 0xCF8-0xCFF and hands each driver only its own device (device.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_DEVICES 32
#define PCI_BARS        6

/* Configuration space access: a 32-bit register of function (bus, dev, fn) at offset (a
 * multiple of 4). */
struct pci_ops {
    uint32_t (*read32)(void *ctx, unsigned bus, unsigned dev, unsigned fn, unsigned off);
    void (*write32)(void *ctx, unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v);
    void *ctx;
};

struct pci_bar {
    uint64_t base, size; /* size 0: no BAR here */
    bool io, is64, prefetch;
};

struct pci_device {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint8_t class_code, subclass, prog_if;
    uint8_t irq_line,
        irq_pin; /* interrupt line as the firmware routed it (0xFF: none); pin 0: none */
    struct pci_bar bar[PCI_BARS];
};

/* The CF8 address of a register: enable bit, bus, device, function, register (PCI 3.0
 * 3.2.2.3.2). */
static inline uint32_t pci_cf8(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    return 0x80000000u | (bus & 0xFF) << 16 | (dev & 0x1F) << 11 | (fn & 7) << 8 | (off & 0xFC);
}

/* Finds the functions on bus 0 and on the buses behind PCI-to-PCI bridges (at most
 * 32 buses, each once), reading each one's identity, class, interrupt and BARs (sized:
 * pci_size_bars). Returns how many it stored in out (at most max). */
unsigned pci_scan(const struct pci_ops *ops, struct pci_device *out, unsigned max);
/* Sizes the BARs of a type-0 function by writing all ones and reading back, with decoding off
 * in the command register meanwhile, then restores BARs and command (PCI 3.0 6.2.5.1). */
void pci_size_bars(const struct pci_ops *ops, struct pci_device *d);
/* Turns on I/O space, memory space and bus mastering (command register bits 0-2). */
void pci_enable(const struct pci_ops *ops, const struct pci_device *d);
/* Parses a manifest device= value: "pci:VVVV:DDDD" (hex vendor and device id) or a name:
 * "virtio-blk" (1af4:1001, the transitional device), "virtio-net" (1af4:1000). Returns 0 and
 * the ids, or -1. */
int pci_parse_spec(const char *spec, uint16_t *vendor, uint16_t *device);
