// SPDX-License-Identifier: MIT
// Reads the memory map, modules and command line from multiboot 1 (QEMU -kernel) or multiboot2
// (GRUB) into one boot_info. Only the first 4 GiB are reachable here (boot page tables); the
// loaders put their information there.
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

/* Adds a usable region, keeping ram[] sorted by base and merging regions that touch or overlap
 * (firmware maps, EFI's above all, list many adjacent pieces). A region that does not fit is
 * counted in ram_dropped, never written past the array. */
static void add_ram(struct boot_info *bi, uint64_t base, uint64_t len)
{
    if (!len) return;
    uint64_t end = base + len;
    if (end < base) end = UINT64_MAX & ~0xFFFull; // wraps: keep what is addressable
    int i = 0;
    while (i < bi->ram_count && bi->ram[i].base + bi->ram[i].size < base) i++;
    // ram[i] is the first region ending at or after base: merge with it and its successors
    // as long as they touch [base, end).
    if (i < bi->ram_count && bi->ram[i].base <= end) {
        uint64_t b = bi->ram[i].base < base ? bi->ram[i].base : base;
        uint64_t e = bi->ram[i].base + bi->ram[i].size;
        if (e < end) e = end;
        int j = i + 1;
        while (j < bi->ram_count && bi->ram[j].base <= e) {
            uint64_t ej = bi->ram[j].base + bi->ram[j].size;
            if (ej > e) e = ej;
            j++;
        }
        bi->ram[i] = (struct boot_region){b, e - b};
        int gone = j - i - 1;
        for (int k = i + 1; k + gone < bi->ram_count; k++) bi->ram[k] = bi->ram[k + gone];
        bi->ram_count -= gone;
        return;
    }
    if (bi->ram_count >= BOOT_MAX_REGIONS) {
        bi->ram_dropped++;
        return;
    }
    for (int k = bi->ram_count; k > i; k--) bi->ram[k] = bi->ram[k - 1];
    bi->ram[i] = (struct boot_region){base, end - base};
    bi->ram_count++;
}

/* Records a region that is not free RAM but is something (see boot_info.used). */
static void add_used(struct boot_info *bi, uint64_t base, uint64_t len)
{
    if (!len) return;
    if (bi->used_count >= BOOT_MAX_REGIONS) {
        bi->used_dropped++;
        return;
    }
    uint64_t end = base + len < base ? UINT64_MAX : base + len;
    bi->used[bi->used_count++] = (struct boot_region){base, end - base};
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
            else add_used(bi, base, len);
            p += size + 4;
        }
        bi->memory_map = "multiboot memory map";
    }
    if (flags & (1 << 12)) { // framebuffer (multiboot 1 info offsets 88..115)
        const uint8_t *f = (const uint8_t *)info + 88;
        struct fbcon_mode m = {
            .pitch = info[24], .width = info[25], .height = info[26], .bpp = f[20], .type = f[21]};
        memcpy(&m.addr, f, 8);
        fbcon_colours(&m, f + 22);
        add_used(bi, m.addr, (uint64_t)m.pitch * m.height); // the kernel's console may map it
        fbcon_setup(&m);
    }
}

/* The multiboot2 memory map (tag 6): type 1 is usable RAM (multiboot2 spec 3.6.8). */
static void mb2_mmap(const uint8_t *tag, uint32_t size, struct boot_info *bi)
{
    uint32_t esize = *(const uint32_t *)(tag + 8);
    if (esize < 24) return; // base, length, type: an entry smaller cannot be read
    for (uint32_t e = 16; e + esize <= size; e += esize) {
        uint64_t base, len;
        memcpy(&base, tag + e, 8);
        memcpy(&len, tag + e + 8, 8);
        if (*(const uint32_t *)(tag + e + 16) == 1) add_ram(bi, base, len);
        else add_used(bi, base, len);
    }
}

/* The EFI memory map (tag 17), used when the loader gave no multiboot2 map. After
 * ExitBootServices, loader and boot-services code/data and conventional memory are free RAM
 * (UEFI 2.10 section 7.2, EFI_MEMORY_TYPE); the kernel and modules are reserved separately.
 * The descriptor size comes from the tag, never from the structure (it grows between versions). */
static void mb2_efi_mmap(const uint8_t *tag, uint32_t size, struct boot_info *bi)
{
    uint32_t dsize = *(const uint32_t *)(tag + 8);
    if (dsize < 32) return;
    for (uint32_t e = 16; e + dsize <= size; e += dsize) {
        uint32_t type = *(const uint32_t *)(tag + e);
        uint64_t base, pages;
        memcpy(&base, tag + e + 8, 8);
        memcpy(&pages, tag + e + 24, 8);
        if (pages > (UINT64_MAX >> 12)) continue;
        if (type == 1 || type == 2 || type == 3 || type == 4 || type == 7)
            add_ram(bi, base, pages << 12);
        else add_used(bi, base, pages << 12); // MMIO descriptors too: firmware owns them
    }
}

/* An RSDP copy (tag 14: ACPI 1.0, 20 bytes; tag 15: ACPI 2.0+, 36 bytes): the newer wins. */
static void mb2_rsdp(const uint8_t *tag, uint32_t size, struct boot_info *bi, bool newer)
{
    uint32_t n = size > 8 ? size - 8 : 0;
    if (n > sizeof(bi->acpi_rsdp)) n = sizeof(bi->acpi_rsdp);
    if (bi->acpi_rsdp_len && !newer) return;
    memcpy(bi->acpi_rsdp, tag + 8, n);
    bi->acpi_rsdp_len = (uint8_t)n;
}

/* True if `word` is one of the space-separated words of `s`. */
static bool has_word(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = s; *p; p++)
        if ((p == s || p[-1] == ' ') && !strncmp(p, word, n) && (p[n] == ' ' || !p[n])) return true;
    return false;
}

static void parse_mb2(const uint8_t *info, struct boot_info *bi)
{
    uint32_t total = *(const uint32_t *)info;
    const uint8_t *mmap = NULL, *efi_mmap = NULL;
    uint32_t mmap_size = 0, efi_mmap_size = 0;
    bi->loader = "multiboot2";
    for (uint32_t off = 8; off + 8 <= total;) {
        const uint8_t *tag = info + off;
        uint32_t type = *(const uint32_t *)tag, size = *(const uint32_t *)(tag + 4);
        if (type == 0 || size < 8 || size > total - off) break; // end tag, or a broken one
        switch (type) {
        case 1: { // command line
            const char *c = (const char *)tag + 8;
            size_t i = 0;
            for (; i + 8 < size && c[i] && i + 1 < sizeof(bi->cmdline); i++) bi->cmdline[i] = c[i];
            bi->cmdline[i] = 0;
            break;
        }
        case 3: // module
            if (size >= 16)
                add_module(bi, *(const uint32_t *)(tag + 8), *(const uint32_t *)(tag + 12),
                           (const char *)tag + 16);
            break;
        case 6: // memory map: read after the loop (see below)
            if (size >= 16) mmap = tag, mmap_size = size;
            break;
        case 8: // framebuffer: addr, pitch, w, h, bpp, type, colours (multiboot2 spec 3.6.12)
            if (size >= 38) {
                const uint32_t *w = (const uint32_t *)(tag + 16);
                struct fbcon_mode m = {
                    .pitch = w[0], .width = w[1], .height = w[2], .bpp = tag[28], .type = tag[29]};
                memcpy(&m.addr, tag + 8, 8);
                fbcon_colours(&m, tag + 32);
                add_used(bi, m.addr, (uint64_t)m.pitch * m.height); // see parse_mb1
                fbcon_setup(&m);
            }
            break;
        case 14: mb2_rsdp(tag, size, bi, false); break;
        case 15: mb2_rsdp(tag, size, bi, true); break;
        case 17: // EFI memory map
            if (size >= 16) efi_mmap = tag, efi_mmap_size = size;
            break;
        default: break;
        }
        off += (size + 7) & ~7u;
    }
    // GRUB gives both maps under UEFI (the multiboot2 one made from the EFI one); the EFI map
    // is read when it is the only one, or when the command line says memmap=efi (so that a
    // test can exercise it where both exist).
    if (efi_mmap && (!mmap || has_word(bi->cmdline, "memmap=efi"))) {
        mb2_efi_mmap(efi_mmap, efi_mmap_size, bi);
        bi->memory_map = "EFI memory map";
    } else if (mmap) {
        mb2_mmap(mmap, mmap_size, bi);
        bi->memory_map = "multiboot2 memory map";
    }
}

void arch_parse_boot_info(uint32_t magic, uint64_t info_pa, struct boot_info *bi)
{
    memset(bi, 0, sizeof(*bi));
    if (magic == MB1_BOOT_MAGIC) parse_mb1(PHYS_TO_VIRT(info_pa), bi);
    else if (magic == MB2_BOOT_MAGIC) parse_mb2(PHYS_TO_VIRT(info_pa), bi);
    else panic("unknown boot loader magic %x", magic);
    if (!bi->memory_map) bi->memory_map = "none";
}
