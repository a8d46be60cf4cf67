// SPDX-License-Identifier: MIT
// Host tests of init's vmlinux loader (servers/init/linux_boot.c, the 64-bit entry): a synthetic
// vmlinux ELF shaped like Debian 6.1's (four PT_LOAD segments from 16 MiB, entry 0x1000000): its
// segments, placement, zero page, page tables, GDT and entry state; every rejection with its
// code and message; and a seeded fuzz of the headers (ASan: no access outside the buffer).
#include "linux_boot_fixture.h"

#define PH 64 /* program headers right after the ELF header */

/* Program header i: type, file offset, physical address, sizes. */
static void phdr(uint8_t *p, unsigned i, uint32_t type, uint64_t off, uint64_t paddr,
                 uint64_t filesz, uint64_t memsz)
{
    uint8_t *h = p + PH + 56 * i;
    le_put32(h, type);
    le_put32(h + 4, 5); // flags R X: not looked at
    le_put64(h + 8, off);
    le_put64(h + 16, 0xFFFFFFFF81000000ull + paddr); // vaddr: not looked at
    le_put64(h + 24, paddr);
    le_put64(h + 32, filesz);
    le_put64(h + 40, memsz);
}

/* Four PT_LOAD segments (text at 16 MiB holding the entry, data, percpu, init+bss with a big
 * zero tail) and a PT_NOTE, in an image of exactly 4096 bytes. */
static struct img good(void)
{
    struct img m = {calloc(1, 4096), 4096};
    uint8_t *p = m.p;
    memcpy(p,
           "\x7f"
           "ELF",
           4);
    p[4] = 2; // ELFCLASS64
    p[5] = 1; // little-endian
    p[6] = 1;
    le_put16(p + 16, 2);  // ET_EXEC
    le_put16(p + 18, 62); // EM_X86_64
    le_put64(p + 24, 0x1000000);
    le_put64(p + 32, PH);
    le_put16(p + 54, 56);
    le_put16(p + 56, 5);
    phdr(p, 0, 1, 0x400, 0x1000000, 0x400, 0x400);
    phdr(p, 1, 1, 0x800, 0x1A00000, 0x100, 0x644000);
    phdr(p, 2, 4, 0x900, 0x1400000, 0x10, 0x10); // PT_NOTE: skipped
    phdr(p, 3, 1, 0xA00, 0x2044000, 0x200, 0x35000);
    phdr(p, 4, 1, 0xC00, 0x2079000, 0x400, 0x1987000);
    for (unsigned i = 0x400; i < 4096; i++) p[i] = (uint8_t)(i * 13 + 5);
    return m;
}

Test(linux_elf, good_vmlinux_parses)
{
    struct img m = good();
    struct linux_image li;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert(li.elf);
    cr_assert_eq(li.entry, 0x1000000);
    cr_assert_eq(li.segments, 4, "the PT_NOTE is not loaded");
    static const struct linux_segment want[4] = {{0x400, 0x400, 0x1000000, 0x400},
                                                 {0x800, 0x100, 0x1A00000, 0x644000},
                                                 {0xA00, 0x200, 0x2044000, 0x35000},
                                                 {0xC00, 0x400, 0x2079000, 0x1987000}};
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_eq(li.segment[i].offset, want[i].offset, "segment %u", i);
        cr_assert_eq(li.segment[i].filesz, want[i].filesz, "segment %u", i);
        cr_assert_eq(li.segment[i].paddr, want[i].paddr, "segment %u", i);
        cr_assert_eq(li.segment[i].memsz, want[i].memsz, "segment %u", i);
    }
    cr_assert_eq(li.cmdline_size, 2048);
    cr_assert_eq(li.version, 0x020F);
    free(m.p);
}

Test(linux_elf, placement_zero_page_and_entry)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 256 * MIB, 3 * MIB, 100, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.kernel_end, 0x2079000 + 0x1987000, "the end of the highest segment");
    cr_assert_eq(l.initrd_gpa, 253 * MIB);
    cr_assert_eq(l.initrd_size, 3 * MIB);
    cr_assert_eq(l.cmdline_gpa, 0x20000);
    cr_assert_eq(l.zero_page_gpa, 0x7000);
    uint8_t *zp = malloc(LINUX_ZERO_PAGE);
    memset(zp, 0xEE, LINUX_ZERO_PAGE);
    linux_boot_zero_page(m.p, &li, &l, zp);
    cr_assert_eq(le_get16(zp + LBP_BOOT_FLAG), 0xAA55);
    cr_assert_eq(le_get32(zp + LBP_HEADER), LINUX_HDRS_MAGIC);
    cr_assert_eq(le_get16(zp + LBP_VERSION), 0x020F);
    cr_assert_eq(zp[LBP_SETUP_SECTS], 0, "no setup header copied from an ELF");
    cr_assert_eq(zp[LBP_TYPE_OF_LOADER], 0xFF);
    cr_assert_eq(zp[LBP_LOADFLAGS], LINUX_LOADED_HIGH | LINUX_CAN_USE_HEAP);
    cr_assert_eq(le_get32(zp + LBP_CODE32_START), 0, "no 32-bit entry");
    cr_assert_eq(le_get32(zp + LBP_CMD_LINE_PTR), 0x20000);
    cr_assert_eq(le_get32(zp + LBP_CMDLINE_SIZE), 2048);
    cr_assert_eq(le_get32(zp + LBP_RAMDISK_IMAGE), 253 * MIB);
    cr_assert_eq(le_get32(zp + LBP_RAMDISK_SIZE), 3 * MIB);
    cr_assert_eq(zp[LBP_E820_ENTRIES], 3);
    cr_assert_eq(le_get64(zp + LBP_E820_TABLE + 40), 0x100000);
    cr_assert_eq(le_get64(zp + LBP_E820_TABLE + 48), 255 * MIB);
    free(zp);

    rs_vcpu_state_t st;
    memset(&st, 0x55, sizeof(st));
    linux_boot_start_state64(&li, &l, &st);
    cr_assert_eq(st.rip, 0x1000000, "the ELF's entry");
    cr_assert_eq(st.rsi, 0x7000, "the zero page");
    cr_assert_eq(st.rflags, 0x2, "IF = 0");
    cr_assert_eq(st.cr0, 0x80000011, "PG, PE, ET");
    cr_assert_eq(st.cr3, LINUX_PT_GPA);
    cr_assert_eq(st.cr4, 0x20, "PAE");
    cr_assert_eq(st.efer, 0x100, "LME");
    cr_assert_eq(st.cs.selector, 0x10);
    cr_assert_eq(st.cs.attrib, 0xA9B, "64-bit code: L set, D clear");
    cr_assert_eq(st.ds.selector, 0x18);
    cr_assert_eq(st.ss.selector, 0x18);
    cr_assert_eq(st.ss.attrib, 0xC93);
    cr_assert_eq(st.gdtr_base, 0x1000);
    cr_assert_eq(st.gdtr_limit, 31);
    uint64_t gdt[LINUX_GDT_ENTRIES];
    linux_boot_gdt64(gdt);
    cr_assert_eq(gdt[0], 0);
    cr_assert_eq(gdt[2], 0x00AF9B000000FFFFull);
    cr_assert_eq(gdt[3], 0x00CF93000000FFFFull);
    free(m.p);
}

Test(linux_elf, page_tables_map_all_ram)
{
    static uint64_t pt[LINUX_PT_PAGES][512];
    struct linux_layout l = {.ram_size = 1024 * MIB + 4096}; // a part of a 2 MiB page counts
    memset(pt, 0xEE, sizeof(pt));
    linux_boot_page_tables(&l, pt);
    cr_assert_eq(pt[0][0], (LINUX_PT_GPA + 0x1000) | 3, "PML4[0] -> PDPT");
    for (unsigned i = 1; i < 512; i++) cr_assert_eq(pt[0][i], 0);
    cr_assert_eq(pt[1][0], (LINUX_PT_GPA + 0x2000) | 3, "PDPT[0] -> PD 0");
    cr_assert_eq(pt[1][1], (LINUX_PT_GPA + 0x3000) | 3, "PDPT[1] -> PD 1");
    cr_assert_eq(pt[1][2], 0);
    for (unsigned i = 0; i < 512; i++)
        cr_assert_eq(pt[2][i], ((uint64_t)i << 21) | 0x83, "2 MiB page %u", i);
    cr_assert_eq(pt[3][0], (1ull << 30) | 0x83, "the 2 MiB page holding RAM's last 4 KiB");
    cr_assert_eq(pt[3][1], 0);
    for (unsigned i = 0; i < 512; i++) cr_assert_eq(pt[5][i], 0);
}

/* ---- rejections ---------------------------------------------------------------------------- */

static struct img cut(size_t size)
{
    struct img m = good();
    uint8_t *p = malloc(size);
    memcpy(p, m.p, size);
    free(m.p);
    return (struct img){p, size};
}

Test(linux_elf, truncated_header)
{
    refused(cut(40), LINUX_BOOT_TRUNCATED, "ELF of 40 bytes ends before its header");
}

Test(linux_elf, truncated_program_headers)
{
    refused(cut(300), LINUX_BOOT_TRUNCATED,
            "truncated: 5 program headers at 0x40 beyond the ELF's 300 bytes");
}

Test(linux_elf, truncated_segment)
{
    refused(cut(0xF00), LINUX_BOOT_TRUNCATED,
            "truncated: segment 4's 1024 bytes at offset 0xc00 beyond the ELF's 3840 bytes");
}

/* Not a little-endian x86-64 executable: ELF32, AArch64, a relocatable object. */
Test(linux_elf, not_an_x86_64_executable)
{
    static const struct {
        unsigned at, size, value;
        const char *msg;
    } bad[] = {
        {4, 1, 1, "ELF class 1 data 1 type 2 machine 62"},
        {18, 2, 183, "ELF class 2 data 1 type 2 machine 183"}, // EM_AARCH64
        {16, 2, 1, "ELF class 2 data 1 type 1 machine 62"},    // ET_REL
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct img m = good();
        if (bad[i].size == 1) m.p[bad[i].at] = (uint8_t)bad[i].value;
        else le_put16(m.p + bad[i].at, (uint16_t)bad[i].value);
        char msg[160];
        snprintf(msg, sizeof(msg), "%s is not a little-endian x86-64 executable (2 1 2 62)",
                 bad[i].msg);
        refused(m, LINUX_BOOT_BAD_ELF, msg);
    }
}

Test(linux_elf, program_header_size)
{
    struct img m = good();
    le_put16(m.p + 54, 32);
    refused(m, LINUX_BOOT_BAD_ELF, "ELF program header size 32 is not 56");
}

Test(linux_elf, no_load_segment)
{
    struct img m = good();
    le_put16(m.p + 56, 0);
    refused(m, LINUX_BOOT_BAD_ELF, "no PT_LOAD segment");
}

Test(linux_elf, segment_below_1_mib)
{
    struct img m = good();
    le_put64(m.p + PH + 56 * 3 + 24, 0x7000); // over the zero page
    refused(m, LINUX_BOOT_BAD_ELF,
            "segment 3 of 0x35000 bytes (0x200 in the file) at physical 0x7000: not between "
            "1 MiB and 4 GiB");
}

Test(linux_elf, filesz_above_memsz)
{
    struct img m = good();
    le_put64(m.p + PH + 56 * 0 + 40, 0x3FF);
    refused(m, LINUX_BOOT_BAD_ELF,
            "segment 0 of 0x3ff bytes (0x400 in the file) at physical 0x1000000: not between "
            "1 MiB and 4 GiB");
}

Test(linux_elf, segment_wraps)
{
    struct img m = good();
    le_put64(m.p + PH + 56 * 4 + 40, UINT64_MAX - 0x1000);
    refused(m, LINUX_BOOT_BAD_ELF,
            "segment 4 of 0xffffffffffffefff bytes (0x400 in the file) at physical 0x2079000: "
            "not between 1 MiB and 4 GiB");
}

Test(linux_elf, overlapping_segments)
{
    struct img m = good();
    le_put64(m.p + PH + 56 * 3 + 24, 0x1A10000); // inside segment 1's memory
    refused(m, LINUX_BOOT_BAD_ELF, "segment 3 at 0x1a10000 overlaps one at 0x1a00000");
}

Test(linux_elf, entry_outside_segments)
{
    struct img m = good();
    le_put64(m.p + 24, 0xFFFFFFFF81000000ull); // the virtual address: not what a loader jumps to
    refused(m, LINUX_BOOT_BAD_ELF,
            "entry point 0xffffffff81000000 is in no segment's physical range (a vmlinux's "
            "entry is physical)");
}

Test(linux_elf, too_many_segments)
{
    struct img m = good();
    le_put16(m.p + 56, 10);
    for (unsigned i = 0; i < 10; i++) phdr(m.p, i, 1, 0x400, 0x1000000 + i * MIB, 0x10, 0x10);
    refused(m, LINUX_BOOT_BAD_ELF, "more than 8 PT_LOAD segments");
}

Test(linux_elf, kernel_larger_than_ram)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 32 * MIB, 0, 10, &l), LINUX_BOOT_KERNEL_TOO_BIG);
    cr_assert_str_eq(err, "kernel larger than RAM: segment of 0x644000 bytes at 0x1a00000, RAM "
                          "ends at 0x2000000");
    free(m.p);
}

Test(linux_elf, initrd_larger_than_what_is_left)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 64 * MIB, 32 * MIB, 10, &l), LINUX_BOOT_INITRD_TOO_BIG);
    cr_assert_str_eq(err, "initrd of 33554432 bytes larger than the RAM left for it (6291456 "
                          "bytes from 0x3a00000 to 0x4000000)");
    free(m.p);
}

Test(linux_elf, command_line_longer_than_2048)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 64 * MIB, 0, 2049, &l), LINUX_BOOT_CMDLINE_TOO_LONG);
    cr_assert_str_eq(err, "command line of 2049 bytes longer than the kernel's cmdline_size 2048");
    free(m.p);
}

/* Seeded random bytes over the ELF and program headers: parse and plan either refuse with a
 * reason or give segments inside the image and a layout inside RAM. */
Test(linux_elf, fuzz_headers)
{
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (unsigned round = 0; round < 20000; round++) {
        struct img m = good();
        unsigned n = 1 + round % 8;
        for (unsigned k = 0; k < n; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            unsigned at = (unsigned)(x % (PH + 56 * 5));
            m.p[at] = (uint8_t)(x >> 32);
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x % 4) { // truncated anywhere, in a buffer of exactly that size (ASan: no overread)
            size_t size = 1 + x % 4095;
            uint8_t *p = malloc(size);
            memcpy(p, m.p, size);
            free(m.p);
            m = (struct img){p, size};
        }
        struct linux_image li;
        struct linux_layout l;
        if (parse(m, &li) != LINUX_BOOT_OK) {
            cr_assert(err[0], "a refusal says why");
        } else if (li.elf) {
            for (unsigned i = 0; i < li.segments; i++) {
                cr_assert_leq(li.segment[i].offset + li.segment[i].filesz, m.size);
                cr_assert_geq(li.segment[i].paddr, 0x100000);
            }
            if (plan(&li, 256 * MIB, 4096, 10, &l) == LINUX_BOOT_OK) {
                cr_assert_leq(l.kernel_end, 256 * MIB);
                cr_assert_geq(l.initrd_gpa, l.kernel_end);
            }
        }
        free(m.p);
    }
}
