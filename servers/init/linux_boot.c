// SPDX-License-Identifier: MIT
// The Linux/x86 boot protocol for init's loader: bzImage checks, guest-physical placement, the
// zero page and the 32-bit entry state (Documentation/arch/x86/boot.rst, zero-page.rst); and a
// vmlinux ELF booted through the 64-bit entry (its checks, page tables and entry state).
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

/* ELF64 header and program header fields (System V ABI, "ELF Header", "Program Header"). */
enum elf_field {
    ELF_CLASS = 4,      /* u8: 2 = 64-bit */
    ELF_DATA = 5,       /* u8: 1 = little-endian */
    ELF_TYPE = 16,      /* u16: 2 = ET_EXEC */
    ELF_MACHINE = 18,   /* u16: 62 = EM_X86_64 */
    ELF_ENTRY = 24,     /* u64 */
    ELF_PHOFF = 32,     /* u64 */
    ELF_PHENTSIZE = 54, /* u16 */
    ELF_PHNUM = 56,     /* u16 */
    ELF_HEADER_SIZE = 64,
    PH_TYPE = 0,    /* u32: 1 = PT_LOAD */
    PH_OFFSET = 8,  /* u64 */
    PH_PADDR = 24,  /* u64 */
    PH_FILESZ = 32, /* u64 */
    PH_MEMSZ = 40,  /* u64 */
    PH_SIZE = 56,
};

static const uint8_t elf_magic[4] = {0x7F, 'E', 'L', 'F'};

/* A vmlinux: a little-endian x86-64 executable whose PT_LOAD segments lie in the file, go at or
 * above 1 MiB (below is the loader's: zero page, GDT, page tables, command line) without
 * overlapping, and one of which holds the entry point. */
static enum linux_boot_error parse_elf(const uint8_t *image, size_t size, struct linux_image *o,
                                       const struct errbuf *b)
{
    if (size < ELF_HEADER_SIZE)
        return failv(LINUX_BOOT_TRUNCATED, b, "ELF of %lu bytes ends before its header",
                     (unsigned long)size);
    if (image[ELF_CLASS] != 2 || image[ELF_DATA] != 1 || le_get16(image + ELF_TYPE) != 2 ||
        le_get16(image + ELF_MACHINE) != 62)
        return failv(LINUX_BOOT_BAD_ELF, b,
                     "ELF class %u data %u type %u machine %u is not a little-endian x86-64 "
                     "executable (2 1 2 62)",
                     image[ELF_CLASS], image[ELF_DATA], le_get16(image + ELF_TYPE),
                     le_get16(image + ELF_MACHINE));
    uint64_t phoff = le_get64(image + ELF_PHOFF);
    unsigned phnum = le_get16(image + ELF_PHNUM), phentsize = le_get16(image + ELF_PHENTSIZE);
    if (phentsize != PH_SIZE)
        return failv(LINUX_BOOT_BAD_ELF, b, "ELF program header size %u is not %u", phentsize,
                     PH_SIZE);
    if (phoff > size || (uint64_t)phnum * PH_SIZE > size - phoff)
        return failv(LINUX_BOOT_TRUNCATED, b,
                     "truncated: %u program headers at 0x%lx beyond the ELF's %lu bytes", phnum,
                     phoff, (unsigned long)size);
    o->elf = true;
    o->entry = le_get64(image + ELF_ENTRY);
    bool entry_found = false;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = image + phoff + (uint64_t)i * PH_SIZE;
        if (le_get32(ph + PH_TYPE) != 1) continue;
        struct linux_segment g = {le_get64(ph + PH_OFFSET), le_get64(ph + PH_FILESZ),
                                  le_get64(ph + PH_PADDR), le_get64(ph + PH_MEMSZ)};
        if (o->segments == LINUX_ELF_SEGMENTS)
            return failv(LINUX_BOOT_BAD_ELF, b, "more than %u PT_LOAD segments",
                         LINUX_ELF_SEGMENTS);
        if (g.offset > size || g.filesz > size - g.offset)
            return failv(LINUX_BOOT_TRUNCATED, b,
                         "truncated: segment %u's %lu bytes at offset 0x%lx beyond the ELF's %lu "
                         "bytes",
                         i, g.filesz, g.offset, (unsigned long)size);
        if (g.filesz > g.memsz || g.paddr < LINUX_KERNEL_GPA || g.paddr >= RAM_MAX ||
            g.memsz > RAM_MAX - g.paddr)
            return failv(LINUX_BOOT_BAD_ELF, b,
                         "segment %u of 0x%lx bytes (0x%lx in the file) at physical 0x%lx: not "
                         "between 1 MiB and 4 GiB",
                         i, g.memsz, g.filesz, g.paddr);
        for (unsigned j = 0; j < o->segments; j++) {
            const struct linux_segment *h = &o->segment[j];
            if (g.paddr < h->paddr + h->memsz && h->paddr < g.paddr + g.memsz)
                return failv(LINUX_BOOT_BAD_ELF, b, "segment %u at 0x%lx overlaps one at 0x%lx", i,
                             g.paddr, h->paddr);
        }
        if (o->entry >= g.paddr && o->entry - g.paddr < g.filesz) entry_found = true;
        o->segment[o->segments++] = g;
    }
    if (!o->segments) return failv(LINUX_BOOT_BAD_ELF, b, "no PT_LOAD segment");
    if (!entry_found)
        return failv(LINUX_BOOT_BAD_ELF, b,
                     "entry point 0x%lx is in no segment's physical range (a vmlinux's entry is "
                     "physical)",
                     o->entry);
    o->version = LINUX_ELF_VERSION;
    o->cmdline_size = LINUX_ELF_CMDLINE;
    o->initrd_addr_max = 0x7FFFFFFF;
    return LINUX_BOOT_OK;
}

enum linux_boot_error linux_boot_parse(const uint8_t *image, size_t size, struct linux_image *out,
                                       char *err, size_t errlen)
{
    const struct errbuf b = {err, errlen};
    struct linux_image o = {0};
    enum linux_boot_error e;
    if (size >= sizeof(elf_magic) && !memcmp(image, elf_magic, sizeof(elf_magic))) {
        if ((e = parse_elf(image, size, &o, &b))) return e;
        *out = o;
        return LINUX_BOOT_OK;
    }
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

static enum linux_boot_error place_initrd(const struct linux_image *img, uint64_t initrd_size,
                                          struct linux_layout *lp, struct linux_layout *out,
                                          const struct errbuf *bp);

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
    if (img->elf) {
        // every segment where it says (parse_elf: each below 4 GiB, so no sum overflows)
        for (unsigned i = 0; i < img->segments; i++) {
            const struct linux_segment *g = &img->segment[i];
            if (g->paddr + g->memsz > ram_size)
                return failv(LINUX_BOOT_KERNEL_TOO_BIG, &b,
                             "kernel larger than RAM: segment of 0x%lx bytes at 0x%lx, RAM ends "
                             "at 0x%lx",
                             g->memsz, g->paddr, ram_size);
            if (g->paddr + g->memsz > l.kernel_end) l.kernel_end = g->paddr + g->memsz;
        }
        l.kernel_gpa = img->entry;
        l.kernel_size = 0;
        l.kernel_end = (l.kernel_end + PAGE_4K - 1) & ~(PAGE_4K - 1);
        return place_initrd(img, initrd_size, &l, out, &b);
    }
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
    return place_initrd(img, initrd_size, &l, out, &b);
}

/* The initrd as high as possible above l->kernel_end (boot.rst: the kernel may use the memory
 * below it), wholly at or below initrd_addr_max; then the layout is final. */
static enum linux_boot_error place_initrd(const struct linux_image *img, uint64_t initrd_size,
                                          struct linux_layout *lp, struct linux_layout *out,
                                          const struct errbuf *bp)
{
    struct linux_layout l = *lp;
    const struct errbuf b = *bp;
    uint64_t ram_size = l.ram_size;
    if (initrd_size) {
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
    if (img->elf) {
        // no setup header to copy: the fields a header always has, as Firecracker gives a vmlinux
        le_put16(zp + LBP_BOOT_FLAG, 0xAA55);
        le_put32(zp + LBP_HEADER, LINUX_HDRS_MAGIC);
        le_put16(zp + LBP_VERSION, img->version);
        le_put32(zp + LBP_CMDLINE_SIZE, img->cmdline_size);
        le_put32(zp + LBP_INITRD_ADDR_MAX, img->initrd_addr_max);
    } else {
        // the setup header as the image has it (linux_boot_parse: header_end <= 0x290 <
        // setup_size)
        memcpy(zp + LBP_SETUP_SECTS, image + LBP_SETUP_SECTS, img->header_end - LBP_SETUP_SECTS);
    }
    zp[LBP_TYPE_OF_LOADER] = LINUX_LOADER_UNKNOWN;
    // ours alone: no QUIET_FLAG, no KEEP_SEGMENTS (the kernel loads its own segments)
    zp[LBP_LOADFLAGS] = LINUX_LOADED_HIGH | LINUX_CAN_USE_HEAP;
    le_put16(zp + LBP_HEAP_END_PTR, LINUX_HEAP_END);
    if (!img->elf) le_put32(zp + LBP_CODE32_START, (uint32_t)l->kernel_gpa);
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

void linux_boot_gdt64(uint64_t gdt[LINUX_GDT_ENTRIES])
{
    linux_boot_gdt(gdt);
    gdt[LINUX_BOOT_CS / 8] = 0x00AF9B000000FFFFull; // L set, D clear: 64-bit code (SDM 3A 5.2.1)
}

void linux_boot_page_tables(const struct linux_layout *l, uint64_t pt[LINUX_PT_PAGES][512])
{
    // PML4 -> PDPT -> PDs with PS entries (SDM 3A 4.5, tables 4-15, 4-17): present, writable
    const uint64_t p_rw = 0x3, ps = 0x80, pdpt = LINUX_PT_GPA + PAGE_4K;
    memset(pt, 0, LINUX_PT_PAGES * PAGE_4K);
    pt[0][0] = pdpt | p_rw;
    uint64_t pages = (l->ram_size + (2ul << 20) - 1) >> 21; // <= 2048 (RAM_MAX)
    for (uint64_t i = 0; i < pages; i++) {
        if (i % 512 == 0) pt[1][i / 512] = (pdpt + PAGE_4K * (1 + i / 512)) | p_rw;
        pt[2 + i / 512][i % 512] = (i << 21) | p_rw | ps;
    }
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

void linux_boot_start_state64(const struct linux_image *img, const struct linux_layout *l,
                              rs_vcpu_state_t *st)
{
    linux_boot_start_state(l, st);
    st->cr0 = 0x80000011;   // PG, PE, ET
    st->cr3 = LINUX_PT_GPA; // linux_boot_page_tables
    st->cr4 = 0x20;         // PAE
    st->efer = 0x100;       // LME; LMA follows from LME and PG (the backends set it)
    st->cs.attrib = 0xA9B;  // as linux_boot_gdt64's: L, G, present, execute/read, accessed
    st->rip = img->entry;
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
        [LINUX_BOOT_BAD_ELF] = "bad ELF",
    };
    return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}
