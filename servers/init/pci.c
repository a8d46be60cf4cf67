// SPDX-License-Identifier: MIT
// PCI configuration space: enumeration of buses and functions, BAR sizing, and the manifest's
// names for devices. No system calls here (device.c gives the port access).
#include "pci.h"

#define PCI_COMMAND     0x04
#define PCI_CMD_DECODE  0x3u /* I/O and memory space */
#define PCI_CMD_ENABLE  0x7u /* and bus master */
#define PCI_HEADER_TYPE 0x0C /* byte 2 of this register */
#define PCI_BAR0        0x10
#define PCI_SECONDARY   0x18 /* type 1: byte 1 is the secondary bus */
#define PCI_INTERRUPT   0x3C /* byte 0 line, byte 1 pin */
#define PCI_MAX_BUSES   32

static uint32_t rd(const struct pci_ops *o, const struct pci_device *d, unsigned off)
{
    return o->read32(o->ctx, d->bus, d->dev, d->fn, off);
}
static void wr(const struct pci_ops *o, const struct pci_device *d, unsigned off, uint32_t v)
{
    o->write32(o->ctx, d->bus, d->dev, d->fn, off, v);
}

void pci_size_bars(const struct pci_ops *ops, struct pci_device *d)
{
    uint32_t cmd = rd(ops, d, PCI_COMMAND);
    wr(ops, d, PCI_COMMAND, (cmd & 0xFFFF) & ~PCI_CMD_DECODE);
    for (unsigned i = 0; i < PCI_BARS; i++) {
        struct pci_bar *b = &d->bar[i];
        *b = (struct pci_bar){0};
        unsigned off = PCI_BAR0 + 4 * i;
        uint32_t orig = rd(ops, d, off);
        wr(ops, d, off, 0xFFFFFFFFu);
        uint32_t mask = rd(ops, d, off);
        wr(ops, d, off, orig);
        if (orig & 1) { // I/O BAR: bits 31..2 address (16 bits on a PC)
            uint32_t m = (mask & ~3u) | 0xFFFF0000u;
            b->io = true;
            b->base = orig & ~3u & 0xFFFF;
            b->size = m == 0xFFFF0000u ? 0 : (uint64_t)(~m + 1) & 0xFFFF;
            continue;
        }
        uint64_t base = orig & ~0xFull, m = mask & ~0xFull;
        b->prefetch = orig & 8;
        if (((orig >> 1) & 3) == 2 && i + 1 < PCI_BARS) { // 64-bit: the next BAR is the top half
            unsigned hi_off = off + 4;
            uint32_t hi = rd(ops, d, hi_off);
            wr(ops, d, hi_off, 0xFFFFFFFFu);
            uint32_t hmask = rd(ops, d, hi_off);
            wr(ops, d, hi_off, hi);
            base |= (uint64_t)hi << 32;
            m |= (uint64_t)hmask << 32;
            b->is64 = true;
            d->bar[i + 1] = (struct pci_bar){0};
            b->base = base;
            b->size = m ? ~m + 1 : 0;
            i++;
            continue;
        }
        b->base = base;
        b->size = m ? (uint64_t)(uint32_t)(~(uint32_t)m + 1) : 0;
    }
    wr(ops, d, PCI_COMMAND, cmd & 0xFFFF);
}

void pci_enable(const struct pci_ops *ops, const struct pci_device *d)
{
    uint32_t cmd = rd(ops, d, PCI_COMMAND);
    wr(ops, d, PCI_COMMAND, (cmd & 0xFFFF) | PCI_CMD_ENABLE);
}

unsigned pci_scan(const struct pci_ops *ops, struct pci_device *out, unsigned max)
{
    uint8_t queue[PCI_MAX_BUSES];
    bool seen[256] = {false};
    unsigned nq = 0, n = 0;
    queue[nq++] = 0;
    seen[0] = true;
    for (unsigned q = 0; q < nq; q++) {
        unsigned bus = queue[q];
        for (unsigned dev = 0; dev < 32; dev++) {
            for (unsigned fn = 0; fn < 8; fn++) {
                uint32_t id = ops->read32(ops->ctx, bus, dev, fn, 0);
                if ((id & 0xFFFF) == 0xFFFF) {
                    if (fn == 0) break; // no device: its other functions do not exist either
                    continue;
                }
                uint8_t hdr = (uint8_t)(ops->read32(ops->ctx, bus, dev, fn, PCI_HEADER_TYPE) >> 16);
                if ((hdr & 0x7F) == 1) { // PCI-to-PCI bridge: walk its secondary bus too
                    uint8_t sec =
                        (uint8_t)(ops->read32(ops->ctx, bus, dev, fn, PCI_SECONDARY) >> 8);
                    if (!seen[sec] && nq < PCI_MAX_BUSES) seen[sec] = true, queue[nq++] = sec;
                } else if ((hdr & 0x7F) == 0 && n < max) {
                    struct pci_device *d = &out[n++];
                    *d = (struct pci_device){.bus = (uint8_t)bus,
                                             .dev = (uint8_t)dev,
                                             .fn = (uint8_t)fn,
                                             .vendor = (uint16_t)id,
                                             .device = (uint16_t)(id >> 16)};
                    uint32_t cls = rd(ops, d, 0x08), irq = rd(ops, d, PCI_INTERRUPT);
                    d->class_code = (uint8_t)(cls >> 24);
                    d->subclass = (uint8_t)(cls >> 16);
                    d->prog_if = (uint8_t)(cls >> 8);
                    d->irq_line = (uint8_t)irq;
                    d->irq_pin = (uint8_t)(irq >> 8);
                    pci_size_bars(ops, d);
                }
                if (fn == 0 && !(hdr & 0x80)) break; // single-function device
            }
        }
    }
    return n;
}

static int hex16(const char *s, unsigned len, uint16_t *out)
{
    unsigned v = 0;
    if (len == 0 || len > 4) return -1;
    for (unsigned i = 0; i < len; i++) {
        char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d > 15) return -1;
        v = v * 16 + d;
    }
    *out = (uint16_t)v;
    return 0;
}

int pci_parse_spec(const char *spec, uint16_t *vendor, uint16_t *device)
{
    static const struct {
        const char *name;
        uint16_t vendor, device;
    } names[] = {{"virtio-blk", 0x1AF4, 0x1001}, {"virtio-net", 0x1AF4, 0x1000}};
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *a = names[i].name, *b = spec;
        while (*a && *a == *b) a++, b++;
        if (!*a && !*b) {
            *vendor = names[i].vendor;
            *device = names[i].device;
            return 0;
        }
    }
    if (spec[0] != 'p' || spec[1] != 'c' || spec[2] != 'i' || spec[3] != ':') return -1;
    const char *v = spec + 4, *colon = v;
    while (*colon && *colon != ':') colon++;
    if (*colon != ':') return -1;
    const char *dv = colon + 1, *end = dv;
    while (*end) end++;
    if (hex16(v, (unsigned)(colon - v), vendor) || hex16(dv, (unsigned)(end - dv), device))
        return -1;
    return 0;
}
