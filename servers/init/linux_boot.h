/* SPDX-License-Identifier: MIT */
/* The Linux/x86 boot protocol (Documentation/arch/x86/boot.rst), as init's loader uses it: checks
 * a bzImage's setup header, places kernel, initrd, command line, zero page and GDT in guest RAM,
 * builds the zero page (struct boot_params) and the 32-bit entry state. Pure: no system calls, no
 * globals; every input (image, sizes, command line) may be hostile.
 *
 * Guest-physical layout (linux_boot_plan):
 *   0x00000 .. 0x00fff  left zero (real-mode IVT, BIOS data area: Linux reads the EBDA pointer)
 *   0x01000 .. 0x0101f  GDT: null, null, __BOOT_CS 0x10 (flat code), __BOOT_DS 0x18 (flat data)
 *   0x01020 .. 0x06fff  free; ESP starts at 0x7000 (the protocol needs no stack: a courtesy)
 *   0x07000 .. 0x07fff  zero page; ESI points here
 *   0x20000 ..          command line, NUL-terminated (at most LINUX_CMDLINE_MAX bytes)
 *   0x9fc00 .. 0xfffff  reserved in e820 (EBDA, VGA, BIOS: the VMM may put an MP table at 0xf0000)
 *   0x100000 ..         the protected-mode kernel (the image after its setup sectors), entry
 *   kernel_end          end of what the kernel decompresses into (LINUX_BOOT_KERNEL_END below)
 *   .. top of RAM       the initrd, page aligned, as high as RAM and initrd_addr_max allow
 *
 * A kernel may also be the uncompressed vmlinux ELF that a bzImage carries (the build extracts it,
 * guests/README.md): it is booted through the 64-bit entry (boot.rst, "64-bit boot protocol"), as
 * Firecracker boots a vmlinux. Its PT_LOAD segments go to their physical addresses (at or above
 * 1 MiB), the zero page is made by the loader (no setup header to copy), the GDT's 0x10 is a
 * 64-bit code segment, and page tables at LINUX_PT_GPA map all RAM 1:1 with 2 MiB pages:
 *   0x09000             PML4;  0x0a000  PDPT;  0x0b000 .. 0x0efff  one PD per GiB of RAM */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <resurgo/vcpu.h>

#define LINUX_GDT_GPA       0x1000ul
#define LINUX_STACK_GPA     0x7000ul
#define LINUX_ZERO_PAGE_GPA 0x7000ul
#define LINUX_CMDLINE_GPA   0x20000ul
#define LINUX_CMDLINE_MAX   0x10000ul /* bytes at LINUX_CMDLINE_GPA, the NUL included */
#define LINUX_LOW_RAM_END   0x9FC00ul /* 639 KiB: the last KiB of base memory is the EBDA's */
#define LINUX_KERNEL_GPA    0x100000ul
#define LINUX_ZERO_PAGE     4096
#define LINUX_GDT_ENTRIES   4
#define LINUX_BOOT_CS       0x10
#define LINUX_BOOT_DS       0x18
#define LINUX_E820_ENTRIES  3
#define LINUX_MIN_VERSION   0x020A   /* 2.10: pref_address and init_size, to place the initrd */
#define LINUX_MAX_SETUP     63       /* sectors: the real-mode part is at most 32 KiB */
#define LINUX_PT_GPA        0x9000ul /* 64-bit entry: PML4, PDPT, then LINUX_PT_PDS PDs */
#define LINUX_PT_PDS        4        /* one per GiB of RAM, up to RAM_MAX (4 GiB) */
#define LINUX_PT_PAGES      (2 + LINUX_PT_PDS)
#define LINUX_ELF_SEGMENTS  8      /* PT_LOAD segments a vmlinux may have (6.1 has 4) */
#define LINUX_ELF_CMDLINE   2048   /* COMMAND_LINE_SIZE of x86: no header says it for an ELF */
#define LINUX_ELF_VERSION   0x020F /* the protocol the loader's zero page follows (2.15) */

/* Offsets in the zero page (struct boot_params, Documentation/arch/x86/zero-page.rst) and in the
 * image's first sectors, where the setup header has the same offsets. */
enum linux_bp {
    LBP_E820_ENTRIES = 0x1E8, /* u8 */
    LBP_SETUP_SECTS = 0x1F1,  /* u8, the header starts here */
    LBP_SYSSIZE = 0x1F4,      /* u32, protected-mode size in 16-byte units */
    LBP_BOOT_FLAG = 0x1FE,    /* u16 0xAA55 */
    LBP_JUMP = 0x200,         /* u16; its second byte + 0x202 is the header's end */
    LBP_HEADER = 0x202,       /* u32 "HdrS" */
    LBP_VERSION = 0x206,      /* u16 */
    LBP_TYPE_OF_LOADER = 0x210,
    LBP_LOADFLAGS = 0x211,
    LBP_CODE32_START = 0x214,
    LBP_RAMDISK_IMAGE = 0x218,
    LBP_RAMDISK_SIZE = 0x21C,
    LBP_HEAP_END_PTR = 0x224,      /* u16 */
    LBP_CMD_LINE_PTR = 0x228,      /* u32 */
    LBP_INITRD_ADDR_MAX = 0x22C,   /* u32 */
    LBP_KERNEL_ALIGNMENT = 0x230,  /* u32 */
    LBP_RELOCATABLE = 0x234,       /* u8 */
    LBP_CMDLINE_SIZE = 0x238,      /* u32 */
    LBP_PREF_ADDRESS = 0x258,      /* u64 */
    LBP_INIT_SIZE = 0x260,         /* u32 */
    LBP_HEADER_FIELDS_END = 0x264, /* end of init_size: what a 2.10 header has at least */
    LBP_HEADER_MAX_END = 0x290,    /* boot_params has room for the header up to here */
    LBP_E820_TABLE = 0x2D0,        /* 20-byte entries: u64 address, u64 size, u32 type */
};

#define LINUX_HDRS_MAGIC     0x53726448u /* "HdrS" */
#define LINUX_LOADED_HIGH    0x01
#define LINUX_CAN_USE_HEAP   0x80
#define LINUX_HEAP_END       0xFE00 /* heap_end_ptr: the usual end of the real-mode heap */
#define LINUX_LOADER_UNKNOWN 0xFF   /* type_of_loader: a boot loader without an assigned id */
#define LINUX_E820_RAM       1
#define LINUX_E820_RESERVED  2

enum linux_boot_error {
    LINUX_BOOT_OK,
    LINUX_BOOT_TRUNCATED,      /* the image ends before its header, setup or protected-mode part */
    LINUX_BOOT_BAD_MAGIC,      /* boot_flag is not 0xAA55 or the header is not "HdrS" */
    LINUX_BOOT_BAD_SETUP,      /* setup_sects beyond the image or above LINUX_MAX_SETUP */
    LINUX_BOOT_OLD_PROTOCOL,   /* version below LINUX_MIN_VERSION */
    LINUX_BOOT_NOT_BZIMAGE,    /* loadflags without LOADED_HIGH (a zImage) */
    LINUX_BOOT_BAD_HEADER,     /* alignment, pref_address or init_size make no sense */
    LINUX_BOOT_KERNEL_TOO_BIG, /* kernel and its decompression buffer do not fit in RAM */
    LINUX_BOOT_INITRD_TOO_BIG, /* the initrd does not fit in the RAM the kernel leaves */
    LINUX_BOOT_CMDLINE_TOO_LONG, /* longer than the kernel's cmdline_size (or ours) */
    LINUX_BOOT_BAD_RAM,          /* RAM size not a multiple of 4 KiB or not in 2 MiB .. 4 GiB */
    LINUX_BOOT_BAD_ELF, /* an ELF that is not a loadable x86-64 vmlinux (class, type, segments) */
};

/* A PT_LOAD segment of a vmlinux ELF: file bytes [offset, offset + filesz) go to guest-physical
 * paddr, followed by memsz - filesz zero bytes. */
struct linux_segment {
    uint64_t offset, filesz, paddr, memsz;
};

/* What linux_boot_parse found in an image. */
struct linux_image {
    uint64_t setup_size;  /* bytes before the protected-mode part: (setup_sects + 1) * 512 */
    uint64_t kernel_size; /* the protected-mode part: the rest of the image */
    uint32_t header_end;  /* the setup header is image[LBP_SETUP_SECTS .. header_end) */
    uint16_t version;
    bool relocatable;
    uint32_t kernel_alignment, init_size, cmdline_size, initrd_addr_max;
    uint64_t pref_address;
    // a vmlinux ELF (elf set): its segments and 64-bit entry point; the fields above are then the
    // loader's own (cmdline_size LINUX_ELF_CMDLINE, initrd_addr_max 0x7fffffff, the rest 0)
    bool elf;
    unsigned segments;
    struct linux_segment segment[LINUX_ELF_SEGMENTS];
    uint64_t entry;
};

/* Where everything goes in guest-physical memory (linux_boot_plan). */
struct linux_layout {
    uint64_t ram_size;
    uint64_t kernel_gpa, kernel_size;  /* the protected-mode part, copied from the image */
    uint64_t kernel_end;               /* first byte above everything the kernel may use */
    uint64_t initrd_gpa, initrd_size;  /* 0, 0 without an initrd */
    uint64_t cmdline_gpa, cmdline_len; /* cmdline_len without the NUL */
    uint64_t zero_page_gpa, gdt_gpa;
};

/* Checks the bzImage (or vmlinux ELF, told by its magic) of `size` bytes at `image` and describes
 * it in *out. Returns LINUX_BOOT_OK, or an error with a one-line reason in err (e.g. "setup_sects
 * 200 beyond the image ..."). */
enum linux_boot_error linux_boot_parse(const uint8_t *image, size_t size, struct linux_image *out,
                                       char *err, size_t errlen);
/* Places a parsed kernel, an initrd of initrd_size bytes (0: none) and a command line of
 * cmdline_len bytes (without its NUL) in ram_size bytes of guest RAM. Returns LINUX_BOOT_OK, or
 * KERNEL_TOO_BIG, INITRD_TOO_BIG, CMDLINE_TOO_LONG or BAD_RAM with a reason in err. */
enum linux_boot_error linux_boot_plan(const struct linux_image *img, uint64_t ram_size,
                                      uint64_t initrd_size, uint64_t cmdline_len,
                                      struct linux_layout *out, char *err, size_t errlen);
/* Fills zp (LINUX_ZERO_PAGE bytes) with the zero page for a layout: zeroes, the image's setup
 * header, the loader's fields and the e820 map. image and img as linux_boot_parse accepted them. */
void linux_boot_zero_page(const uint8_t *image, const struct linux_image *img,
                          const struct linux_layout *l, uint8_t zp[LINUX_ZERO_PAGE]);
/* The GDT to copy to l->gdt_gpa: flat 4 GiB code at LINUX_BOOT_CS, data at LINUX_BOOT_DS. */
void linux_boot_gdt(uint64_t gdt[LINUX_GDT_ENTRIES]);
/* The GDT of a vmlinux's 64-bit entry: LINUX_BOOT_CS a 64-bit code segment, the rest as above. */
void linux_boot_gdt64(uint64_t gdt[LINUX_GDT_ENTRIES]);
/* The page tables of a vmlinux's 64-bit entry, LINUX_PT_PAGES pages to copy to LINUX_PT_GPA: all
 * of l->ram_size (rounded up to 2 MiB) mapped 1:1, writable, with 2 MiB pages. */
void linux_boot_page_tables(const struct linux_layout *l, uint64_t pt[LINUX_PT_PAGES][512]);
/* The 32-bit boot protocol's entry state: protected mode without paging, IF = 0, CS/DS/ES/SS
 * the GDT's flat segments, ESI = the zero page, EIP = the kernel, EBP = EDI = EBX = 0. */
void linux_boot_start_state(const struct linux_layout *l, rs_vcpu_state_t *st);
/* A vmlinux's (img->elf) 64-bit entry state: long mode with paging on linux_boot_page_tables
 * (CR3 = LINUX_PT_GPA, CR4.PAE, EFER.LME), IF = 0, CS the 64-bit LINUX_BOOT_CS of
 * linux_boot_gdt64, DS/ES/SS LINUX_BOOT_DS, RSI = the zero page, RIP = the ELF's entry. */
void linux_boot_start_state64(const struct linux_image *img, const struct linux_layout *l,
                              rs_vcpu_state_t *st);
/* The state both kinds of guest start from: 32-bit protected mode, no paging, IF = 0, flat 4 GiB
 * segments with selectors cs and ds (the hidden parts as a flat GDT holds them), PAT at its
 * power-on value; the caller sets the registers its boot contract names. */
void boot_flat32_state(rs_vcpu_state_t *st, uint16_t cs, uint16_t ds);
/* A name for an error code ("truncated", ...). */
const char *linux_boot_error_name(enum linux_boot_error e);
