// SPDX-License-Identifier: MIT
// The Linux/x86 boot protocol for init's loader: bzImage checks, guest-physical placement, the
// zero page and the 32-bit entry state (Documentation/arch/x86/boot.rst, zero-page.rst).
// Every field of the image is untrusted: each is bounded before it sizes or places anything.
#include "linux_boot.h"
#include "fmt.h"
#include "kstring.h"
#include "le.h"

#define PAGE_4K 0x1000ul
#define SECTOR  512u
#define GIB     (1ul << 30)
#define RAM_MAX (4ul << 30) /* the protocol's pointers (cmd_line_ptr, ramdisk_image) are 32-bit */
#define RAM_MIN (2ul << 20)

/* Where a rejection's one-line reason goes. */
struct errbuf {
    char *s;
    size_t n;
};

static enum linux_boot_error failv(enum linux_boot_error e, const struct errbuf *b, const char *fmt,
                                   ...) __attribute__((format(printf, 3, 4)));

static enum linux_boot_error failv(enum linux_boot_error e, const struct errbuf *b, const char *fmt,
                                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (b->n) fmt_vsnprintf(b->s, b->n, fmt, ap);
    va_end(ap);
    return e;
}

/* The magic, the protocol version and the flags: is this a bzImage we can load at all? */
static enum linux_boot_error check_header(const uint8_t *image, size_t size, const struct errbuf *b)
{
    if (size < LBP_HEADER_FIELDS_END)
        return failv(LINUX_BOOT_TRUNCATED, b, "image of %lu bytes ends before its setup header",
                     (unsigned long)size);
    uint16_t flag = le_get16(image + LBP_BOOT_FLAG);
    if (flag != 0xAA55) return failv(LINUX_BOOT_BAD_MAGIC, b, "boot_flag 0x%x is not 0xaa55", flag);
    uint32_t magic = le_get32(image + LBP_HEADER);
    if (magic != LINUX_HDRS_MAGIC)
        return failv(LINUX_BOOT_BAD_MAGIC, b, "header magic 0x%x is not 'HdrS'", magic);
    uint16_t v = le_get16(image + LBP_VERSION);
    if (v < LINUX_MIN_VERSION)
        return failv(LINUX_BOOT_OLD_PROTOCOL, b, "boot protocol %u.%02u older than 2.10", v >> 8,
                     v & 0xFF);
    uint8_t flags = image[LBP_LOADFLAGS];
    if (!(flags & LINUX_LOADED_HIGH))
        return failv(LINUX_BOOT_NOT_BZIMAGE, b,
                     "loadflags 0x%x without LOADED_HIGH: a zImage, not a bzImage", flags);
    // the short jump at 0x200 jumps over the header: its end (boot.rst, "64-bit boot protocol")
    unsigned end = LBP_HEADER + image[LBP_JUMP + 1];
    if (end < LBP_HEADER_FIELDS_END)
        return failv(LINUX_BOOT_BAD_HEADER, b,
                     "setup header ends at 0x%x, before init_size (0x%x) that 2.10 has", end,
                     LBP_HEADER_FIELDS_END);
    return LINUX_BOOT_OK;
}

/* setup_sects and syssize against the image's size. */
static enum linux_boot_error check_parts(const uint8_t *image, size_t size, struct linux_image *o,
                                         const struct errbuf *b)
{
    unsigned sects = image[LBP_SETUP_SECTS] ? image[LBP_SETUP_SECTS] : 4; // 0 means 4 (boot.rst)
    o->setup_size = (uint64_t)(sects + 1) * SECTOR;
    if (o->setup_size >= size)
        return failv(LINUX_BOOT_BAD_SETUP, b,
                     "setup_sects %u beyond the image (%lu bytes of setup, image %lu bytes)", sects,
                     o->setup_size, (unsigned long)size);
    if (sects > LINUX_MAX_SETUP)
        return failv(LINUX_BOOT_BAD_SETUP, b,
                     "setup_sects %u above %u (the real-mode part is at most 32 KiB)", sects,
                     LINUX_MAX_SETUP);
    o->kernel_size = size - o->setup_size;
    uint64_t claimed = (uint64_t)le_get32(image + LBP_SYSSIZE) * 16;
    if (claimed > o->kernel_size)
        return failv(LINUX_BOOT_TRUNCATED, b,
                     "truncated: protected-mode part of %lu bytes, syssize says %lu",
                     o->kernel_size, claimed);
    return LINUX_BOOT_OK;
}

enum linux_boot_error linux_boot_parse(const uint8_t *image, size_t size, struct linux_image *out,
                                       char *err, size_t errlen)
{
    const struct errbuf b = {err, errlen};
    struct linux_image o = {0};
    enum linux_boot_error e;
    if ((e = check_header(image, size, &b)) || (e = check_parts(image, size, &o, &b))) return e;
    o.version = le_get16(image + LBP_VERSION);
    o.header_end = LBP_HEADER + image[LBP_JUMP + 1];
    if (o.header_end > LBP_HEADER_MAX_END) o.header_end = LBP_HEADER_MAX_END;
    o.relocatable = image[LBP_RELOCATABLE] != 0;
    o.kernel_alignment = le_get32(image + LBP_KERNEL_ALIGNMENT);
    o.init_size = le_get32(image + LBP_INIT_SIZE);
    o.cmdline_size = le_get32(image + LBP_CMDLINE_SIZE);
    o.initrd_addr_max = le_get32(image + LBP_INITRD_ADDR_MAX);
    o.pref_address = le_get64(image + LBP_PREF_ADDRESS);
    uint32_t a = o.kernel_alignment;
    if (o.relocatable && (a < PAGE_4K || a > GIB || (a & (a - 1))))
        return failv(LINUX_BOOT_BAD_HEADER, &b,
                     "kernel_alignment 0x%x is not a power of two from 4 KiB to 1 GiB", a);
    // not relocatable: it decompresses to pref_address, over our zero page if that is low
    if (!o.relocatable && o.pref_address < LINUX_KERNEL_GPA)
        return failv(LINUX_BOOT_BAD_HEADER, &b, "pref_address 0x%lx below 1 MiB (not relocatable)",
                     o.pref_address);
    if (!o.init_size) return failv(LINUX_BOOT_BAD_HEADER, &b, "init_size is 0");
    *out = o;
    return LINUX_BOOT_OK;
}

/* Where the kernel decompresses to when loaded at LINUX_KERNEL_GPA: a relocatable kernel at the
 * load address rounded up to kernel_alignment, but not below pref_address (LOAD_PHYSICAL_ADDR);
 * any other at pref_address (arch/x86/boot/compressed/head_64.S, startup_32). */
static uint64_t decompress_base(const struct linux_image *img)
{
    if (!img->relocatable) return img->pref_address;
    uint64_t a = img->kernel_alignment, at = (LINUX_KERNEL_GPA + a - 1) & ~(a - 1);
    return at > img->pref_address ? at : img->pref_address;
}

enum linux_boot_error linux_boot_plan(const struct linux_image *img, uint64_t ram_size,
                                      uint64_t initrd_size, uint64_t cmdline_len,
                                      struct linux_layout *out, char *err, size_t errlen)
{
    const struct errbuf b = {err, errlen};
    if (ram_size % PAGE_4K || ram_size < RAM_MIN || ram_size > RAM_MAX)
        return failv(LINUX_BOOT_BAD_RAM, &b, "RAM of %lu bytes: 2 MiB to 4 GiB in 4 KiB pages",
                     ram_size);
    if (cmdline_len > img->cmdline_size || cmdline_len >= LINUX_CMDLINE_MAX)
        return failv(LINUX_BOOT_CMDLINE_TOO_LONG, &b,
                     "command line of %lu bytes longer than the kernel's cmdline_size %u",
                     cmdline_len, img->cmdline_size);
    struct linux_layout l = {.ram_size = ram_size,
                             .kernel_gpa = LINUX_KERNEL_GPA,
                             .kernel_size = img->kernel_size,
                             .cmdline_gpa = LINUX_CMDLINE_GPA,
                             .cmdline_len = cmdline_len,
                             .zero_page_gpa = LINUX_ZERO_PAGE_GPA,
                             .gdt_gpa = LINUX_GDT_GPA};
    // the image as loaded, and the buffer it decompresses into; compared without overflow
    uint64_t base = decompress_base(img);
    if (img->kernel_size > ram_size - LINUX_KERNEL_GPA || base > ram_size ||
        img->init_size > ram_size - base)
        return failv(LINUX_BOOT_KERNEL_TOO_BIG, &b,
                     "kernel larger than RAM: %lu bytes at 0x%lx, init_size 0x%x at 0x%lx, RAM "
                     "ends at 0x%lx",
                     img->kernel_size, LINUX_KERNEL_GPA, img->init_size, base, ram_size);
    l.kernel_end = LINUX_KERNEL_GPA + img->kernel_size;
    if (base + img->init_size > l.kernel_end) l.kernel_end = base + img->init_size;
    l.kernel_end = (l.kernel_end + PAGE_4K - 1) & ~(PAGE_4K - 1); // <= ram_size: it is aligned
    if (initrd_size) {
        // as high as possible (boot.rst: the kernel may use the memory below it), wholly at or
        // below initrd_addr_max
        uint64_t top = (uint64_t)img->initrd_addr_max + 1;
        if (top > ram_size) top = ram_size;
        top &= ~(PAGE_4K - 1);
        uint64_t room = top > l.kernel_end ? top - l.kernel_end : 0;
        if (initrd_size > room)
            return failv(LINUX_BOOT_INITRD_TOO_BIG, &b,
                         "initrd of %lu bytes larger than the RAM left for it (%lu bytes from "
                         "0x%lx to 0x%lx)",
                         initrd_size, room, l.kernel_end, l.kernel_end + room);
        l.initrd_gpa = (top - initrd_size) & ~(PAGE_4K - 1);
        l.initrd_size = initrd_size;
    }
    *out = l;
    return LINUX_BOOT_OK;
}

static void e820(uint8_t *zp, unsigned i, uint64_t addr, uint64_t size, uint32_t type)
{
    uint8_t *e = zp + LBP_E820_TABLE + i * 20;
    le_put64(e, addr);
    le_put64(e + 8, size);
    le_put32(e + 16, type);
}

void linux_boot_zero_page(const uint8_t *image, const struct linux_image *img,
                          const struct linux_layout *l, uint8_t zp[LINUX_ZERO_PAGE])
{
    memset(zp, 0, LINUX_ZERO_PAGE);
    // the setup header as the image has it (linux_boot_parse: header_end <= 0x290 < setup_size)
    memcpy(zp + LBP_SETUP_SECTS, image + LBP_SETUP_SECTS, img->header_end - LBP_SETUP_SECTS);
    zp[LBP_TYPE_OF_LOADER] = LINUX_LOADER_UNKNOWN;
    // ours alone: no QUIET_FLAG, no KEEP_SEGMENTS (the kernel loads its own segments)
    zp[LBP_LOADFLAGS] = LINUX_LOADED_HIGH | LINUX_CAN_USE_HEAP;
    le_put16(zp + LBP_HEAP_END_PTR, LINUX_HEAP_END);
    le_put32(zp + LBP_CODE32_START, (uint32_t)l->kernel_gpa);
    le_put32(zp + LBP_CMD_LINE_PTR, (uint32_t)l->cmdline_gpa);
    le_put32(zp + LBP_RAMDISK_IMAGE, (uint32_t)l->initrd_gpa);
    le_put32(zp + LBP_RAMDISK_SIZE, (uint32_t)l->initrd_size);
    // low RAM, the legacy hole (EBDA, VGA, option and BIOS ROMs), RAM from 1 MiB
    zp[LBP_E820_ENTRIES] = LINUX_E820_ENTRIES;
    e820(zp, 0, 0, LINUX_LOW_RAM_END, LINUX_E820_RAM);
    e820(zp, 1, LINUX_LOW_RAM_END, LINUX_KERNEL_GPA - LINUX_LOW_RAM_END, LINUX_E820_RESERVED);
    e820(zp, 2, LINUX_KERNEL_GPA, l->ram_size - LINUX_KERNEL_GPA, LINUX_E820_RAM);
}

void linux_boot_gdt(uint64_t gdt[LINUX_GDT_ENTRIES])
{
    // base 0, limit 0xFFFFF in 4 KiB units, present, DPL 0, accessed (so the CPU never writes
    // the GDT), G and D/B (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors")
    gdt[0] = gdt[1] = 0;
    gdt[LINUX_BOOT_CS / 8] = 0x00CF9B000000FFFFull; // execute/read
    gdt[LINUX_BOOT_DS / 8] = 0x00CF93000000FFFFull; // read/write
}

void boot_flat32_state(rs_vcpu_state_t *st, uint16_t cs, uint16_t ds)
{
    // type/S/DPL/P | AVL/L/D/G << 8: a flat execute/read and read/write segment, accessed
    const struct rs_segment code = {cs, 0, 0xFFFFFFFF, 0xC9B}, data = {ds, 0, 0xFFFFFFFF, 0xC93};
    *st = (rs_vcpu_state_t){
        .rflags = 0x2,
        .cr0 = 0x11, // PE, ET; no paging
        .cs = code,
        .ds = data,
        .es = data,
        .fs = data,
        .gs = data,
        .ss = data,
        .tr = {0, 0, 0xFFFF, 0x8B},
        .ldtr = {0, 0, 0xFFFF, 0x82},
        .pat = RS_VCPU_PAT_RESET,
    };
}

void linux_boot_start_state(const struct linux_layout *l, rs_vcpu_state_t *st)
{
    boot_flat32_state(st, LINUX_BOOT_CS, LINUX_BOOT_DS); // as the GDT above holds them
    st->rsi = l->zero_page_gpa;
    st->rsp = LINUX_STACK_GPA;
    st->rip = l->kernel_gpa;
    st->gdtr_base = l->gdt_gpa;
    st->gdtr_limit = LINUX_GDT_ENTRIES * 8 - 1;
}

const char *linux_boot_error_name(enum linux_boot_error e)
{
    static const char *const names[] = {
        [LINUX_BOOT_OK] = "ok",
        [LINUX_BOOT_TRUNCATED] = "truncated",
        [LINUX_BOOT_BAD_MAGIC] = "bad magic",
        [LINUX_BOOT_BAD_SETUP] = "bad setup_sects",
        [LINUX_BOOT_OLD_PROTOCOL] = "protocol too old",
        [LINUX_BOOT_NOT_BZIMAGE] = "not a bzImage",
        [LINUX_BOOT_BAD_HEADER] = "bad header",
        [LINUX_BOOT_KERNEL_TOO_BIG] = "kernel too big",
        [LINUX_BOOT_INITRD_TOO_BIG] = "initrd too big",
        [LINUX_BOOT_CMDLINE_TOO_LONG] = "command line too long",
        [LINUX_BOOT_BAD_RAM] = "bad RAM size",
    };
    return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}
