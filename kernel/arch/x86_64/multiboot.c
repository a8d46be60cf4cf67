// SPDX-License-Identifier: MIT
// Reads the memory map, modules and command line from multiboot 1 (QEMU -kernel) or multiboot2
// (GRUB) into one boot_info. Only the first 4 GiB are reachable here (boot page tables).
#include "arch.h"
#include "../../console.h"
#include "kstring.h"
#include "fbcon.h"

#define MB1_BOOT_MAGIC 0x2BADB002
#define MB2_BOOT_MAGIC 0x36D76289

static void copy_name(char *dst, size_t n, const char *src)
{
    // A module's name is the last word of its command line, without directories: QEMU passes
    // "path name", GRUB's module2 passes what follows the path.
    const char *base = src;
    for (const char *p = src; *p; p++)
        if ((*p == ' ' || *p == '/') && p[1] && p[1] != ' ') base = p + 1;
    size_t i = 0;
    for (; base[i] && base[i] != ' ' && i + 1 < n; i++) dst[i] = base[i];
    dst[i] = 0;
}

static void add_ram(struct boot_info *bi, uint64_t base, uint64_t size)
{
    if (bi->ram_count < BOOT_MAX_REGIONS)
        bi->ram[bi->ram_count++] = (struct boot_region){base, size};
}

static void add_module(struct boot_info *bi, uint64_t start, uint64_t end, const char *cmd)
{
    if (bi->module_count >= BOOT_MAX_MODULES) return;
    struct boot_module *m = &bi->modules[bi->module_count++];
    m->base = start;
    m->size = end - start;
    copy_name(m->name, sizeof(m->name), cmd ? cmd : "");
}

static void parse_mb1(const uint32_t *info, struct boot_info *bi)
{
    uint32_t flags = info[0];
    bi->loader = "multiboot";
    if (flags & (1 << 2) && info[4]) {
        const char *c = PHYS_TO_VIRT(info[4]);
        size_t i = 0;
        for (; c[i] && i + 1 < sizeof(bi->cmdline); i++) bi->cmdline[i] = c[i];
        bi->cmdline[i] = 0;
    }
    if (flags & (1 << 3)) {
        const uint32_t *mods = PHYS_TO_VIRT(info[6]);
        for (uint32_t i = 0; i < info[5]; i++)
            add_module(bi, mods[i * 4], mods[i * 4 + 1],
                       mods[i * 4 + 2] ? PHYS_TO_VIRT(mods[i * 4 + 2]) : NULL);
    }
    if (flags & (1 << 6)) {
        uint64_t p = info[12], end = p + info[11];
        while (p < end) {
            const uint8_t *e = PHYS_TO_VIRT(p);
            uint32_t size = *(const uint32_t *)e;
            uint64_t base, len;
            memcpy(&base, e + 4, 8);
            memcpy(&len, e + 12, 8);
            if (*(const uint32_t *)(e + 20) == 1) add_ram(bi, base, len);
            p += size + 4;
        }
    }
    if (flags & (1 << 12)) { // framebuffer (multiboot 1 info offsets 88..115)
        const uint8_t *f = (const uint8_t *)info + 88;
        struct fbcon_mode m = {
            .pitch = info[24], .width = info[25], .height = info[26], .bpp = f[20], .type = f[21]};
        memcpy(&m.addr, f, 8);
        fbcon_colours(&m, f + 22);
        fbcon_setup(&m);
    }
}

static void parse_mb2(const uint8_t *info, struct boot_info *bi)
{
    uint32_t total = *(const uint32_t *)info;
    bi->loader = "multiboot2";
    for (uint32_t off = 8; off + 8 <= total;) {
        const uint8_t *tag = info + off;
        uint32_t type = *(const uint32_t *)tag, size = *(const uint32_t *)(tag + 4);
        if (type == 0) break;
        if (type == 1) { // command line
            const char *c = (const char *)tag + 8;
            size_t i = 0;
            for (; c[i] && i + 1 < sizeof(bi->cmdline); i++) bi->cmdline[i] = c[i];
            bi->cmdline[i] = 0;
        } else if (type == 3) { // module
            add_module(bi, *(const uint32_t *)(tag + 8), *(const uint32_t *)(tag + 12),
                       (const char *)tag + 16);
        } else if (type == 6) { // memory map
            uint32_t esize = *(const uint32_t *)(tag + 8);
            for (uint32_t e = 16; e + esize <= size; e += esize) {
                uint64_t base, len;
                memcpy(&base, tag + e, 8);
                memcpy(&len, tag + e + 8, 8);
                if (*(const uint32_t *)(tag + e + 16) == 1) add_ram(bi, base, len);
            }
        } else if (type == 8 && size >= 38) { // framebuffer: addr, pitch, w, h, bpp, type, colours
            const uint32_t *w = (const uint32_t *)(tag + 16);
            struct fbcon_mode m = {
                .pitch = w[0], .width = w[1], .height = w[2], .bpp = tag[28], .type = tag[29]};
            memcpy(&m.addr, tag + 8, 8);
            fbcon_colours(&m, tag + 32);
            fbcon_setup(&m);
        }
        off += (size + 7) & ~7u;
    }
}

void arch_parse_boot_info(uint32_t magic, uint64_t info_pa, struct boot_info *bi)
{
    memset(bi, 0, sizeof(*bi));
    if (magic == MB1_BOOT_MAGIC) parse_mb1(PHYS_TO_VIRT(info_pa), bi);
    else if (magic == MB2_BOOT_MAGIC) parse_mb2(PHYS_TO_VIRT(info_pa), bi);
    else panic("unknown boot loader magic %x", magic);
}
