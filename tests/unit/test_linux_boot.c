// SPDX-License-Identifier: MIT
// Host tests of init's Linux boot-protocol loader (servers/init/linux_boot.c) on synthetic
// bzImages: a good image's zero page, e820 map, placement and entry state; every rejection with
// its code and message; and a seeded fuzz of header bytes (ASan: no access outside the buffers).
#include "linux_boot_fixture.h"

static void header(uint8_t *p, unsigned sects, size_t pm)
{
    p[LBP_SETUP_SECTS] = (uint8_t)sects;
    le_put32(p + LBP_SYSSIZE, (uint32_t)(pm / 16));
    le_put16(p + LBP_BOOT_FLAG, 0xAA55);
    p[LBP_JUMP] = 0xEB;
    p[LBP_JUMP + 1] = 0x6A; // header ends at 0x26c
    le_put32(p + LBP_HEADER, LINUX_HDRS_MAGIC);
    le_put16(p + LBP_VERSION, 0x020F);
    p[LBP_LOADFLAGS] = LINUX_LOADED_HIGH;
    le_put32(p + LBP_CODE32_START, 0x100000);
    le_put32(p + LBP_INITRD_ADDR_MAX, 0x7FFFFFFF);
    le_put32(p + LBP_KERNEL_ALIGNMENT, 0x200000);
    p[LBP_RELOCATABLE] = 1;
    p[0x235] = 21; // min_alignment
    le_put32(p + LBP_CMDLINE_SIZE, 2047);
    le_put64(p + LBP_PREF_ADDRESS, 0x1000000);
    le_put32(p + LBP_INIT_SIZE, 0x3F98000);
    le_put16(p + LBP_SETUP_SECTS + 1, 0x1234); // root_flags: a field the loader copies untouched
    le_put32(p + 0x268, 0xC0FFEE);             // kernel_info_offset: the header's last field
    p[0x26C] = 0x5A;                           // beyond the header's end: not copied
}

/* A bzImage shaped like Debian 12's 6.1 kernel (protocol 2.15, relocatable, 2 MiB alignment,
 * LOAD_PHYSICAL_ADDR 16 MiB), with `sects` setup sectors and a protected-mode part of pm bytes.
 * Exactly `size` bytes are allocated (the tail cut off if size is smaller): ASan sees overreads. */
static struct img make(unsigned sects, size_t pm, size_t size)
{
    size_t full = ((sects ? sects : 4) + 1) * 512ul + pm;
    uint8_t *p = calloc(1, full > 4096 ? full : 4096);
    header(p, sects, pm);
    for (size_t i = 0; i < pm; i++) p[full - pm + i] = (uint8_t)(i * 7 + 1);
    struct img m = {calloc(1, size ? size : 1), size};
    memcpy(m.p, p, size < full ? size : full);
    free(p);
    return m;
}

static struct img good(void) { return make(4, 64 * 1024, 5 * 512 + 64 * 1024); }

/* ---- a good image ------------------------------------------------------------------------ */

Test(linux_boot, good_image_parses)
{
    struct img m = good();
    struct linux_image li;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(li.setup_size, 5 * 512);
    cr_assert_eq(li.kernel_size, 64 * 1024);
    cr_assert_eq(li.header_end, 0x26C);
    cr_assert_eq(li.version, 0x020F);
    cr_assert(li.relocatable);
    cr_assert_eq(li.kernel_alignment, 0x200000);
    cr_assert_eq(li.init_size, 0x3F98000);
    cr_assert_eq(li.cmdline_size, 2047);
    cr_assert_eq(li.initrd_addr_max, 0x7FFFFFFF);
    cr_assert_eq(li.pref_address, 0x1000000);
    free(m.p);
}

Test(linux_boot, setup_sects_zero_means_four)
{
    struct img m = make(0, 4096, 5 * 512 + 4096);
    struct linux_image li;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(li.setup_size, 5 * 512);
    cr_assert_eq(li.kernel_size, 4096);
    free(m.p);
}

Test(linux_boot, placement_in_128_mib)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 128 * MIB, 5000, 19, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.ram_size, 128 * MIB);
    cr_assert_eq(l.kernel_gpa, 0x100000);
    cr_assert_eq(l.kernel_size, 64 * 1024);
    // relocatable, loaded at 1 MiB: it decompresses at LOAD_PHYSICAL_ADDR = pref_address
    cr_assert_eq(l.kernel_end, 0x1000000 + 0x3F98000);
    // the initrd as high as RAM allows, page aligned
    cr_assert_eq(l.initrd_gpa, (128 * MIB - 5000) & ~0xFFFul);
    cr_assert_eq(l.initrd_size, 5000);
    cr_assert_eq(l.cmdline_gpa, LINUX_CMDLINE_GPA);
    cr_assert_eq(l.cmdline_len, 19);
    cr_assert_eq(l.zero_page_gpa, 0x7000);
    cr_assert_eq(l.gdt_gpa, 0x1000);
    free(m.p);
}

Test(linux_boot, zero_page)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 256 * MIB, 3 * MIB, 100, &l), LINUX_BOOT_OK, "%s", err);
    uint8_t *zp = malloc(LINUX_ZERO_PAGE);
    memset(zp, 0xEE, LINUX_ZERO_PAGE); // all of it is written
    linux_boot_zero_page(m.p, &li, &l, zp);
    // the setup header, copied
    cr_assert_eq(zp[LBP_SETUP_SECTS], 4);
    cr_assert_eq(le_get16(zp + LBP_SETUP_SECTS + 1), 0x1234);
    cr_assert_eq(le_get16(zp + LBP_BOOT_FLAG), 0xAA55);
    cr_assert_eq(le_get32(zp + LBP_HEADER), LINUX_HDRS_MAGIC);
    cr_assert_eq(le_get16(zp + LBP_VERSION), 0x020F);
    cr_assert_eq(le_get32(zp + LBP_SYSSIZE), 64 * 1024 / 16);
    cr_assert_eq(le_get32(zp + LBP_CMDLINE_SIZE), 2047);
    cr_assert_eq(le_get32(zp + LBP_INIT_SIZE), 0x3F98000);
    cr_assert_eq(le_get32(zp + 0x268), 0xC0FFEE, "the header's last field");
    cr_assert_eq(zp[0x26C], 0, "beyond the header's end (0x202 + jump byte): not copied");
    // the loader's fields
    cr_assert_eq(zp[LBP_TYPE_OF_LOADER], 0xFF);
    cr_assert_eq(zp[LBP_LOADFLAGS], LINUX_LOADED_HIGH | LINUX_CAN_USE_HEAP);
    cr_assert_eq(le_get16(zp + LBP_HEAP_END_PTR), 0xFE00);
    cr_assert_eq(le_get32(zp + LBP_CODE32_START), 0x100000);
    cr_assert_eq(le_get32(zp + LBP_CMD_LINE_PTR), 0x20000);
    cr_assert_eq(le_get32(zp + LBP_RAMDISK_IMAGE), 253 * MIB);
    cr_assert_eq(le_get32(zp + LBP_RAMDISK_SIZE), 3 * MIB);
    // e820: low RAM, the legacy hole, RAM from 1 MiB to the end; nothing else
    cr_assert_eq(zp[LBP_E820_ENTRIES], 3);
    static const uint64_t want[3][3] = {
        {0, 0x9FC00, 1}, {0x9FC00, 0x100000 - 0x9FC00, 2}, {0x100000, 255 * MIB, 1}};
    for (unsigned i = 0; i < 3; i++) {
        const uint8_t *e = zp + LBP_E820_TABLE + 20 * i;
        cr_assert_eq(le_get64(e), want[i][0], "entry %u", i);
        cr_assert_eq(le_get64(e + 8), want[i][1], "entry %u", i);
        cr_assert_eq(le_get32(e + 16), want[i][2], "entry %u", i);
    }
    // everything else is zero: before the header, between the header and the table, after it
    for (unsigned i = 0; i < LINUX_ZERO_PAGE; i++) {
        bool header = i >= LBP_SETUP_SECTS && i < 0x26C;
        bool e820 = i >= LBP_E820_TABLE && i < LBP_E820_TABLE + 3 * 20;
        if (!header && !e820 && i != LBP_E820_ENTRIES) cr_assert_eq(zp[i], 0, "byte 0x%x", i);
    }
    free(zp);
    free(m.p);
}

Test(linux_boot, start_state_and_gdt)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 128 * MIB, 0, 0, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.initrd_gpa, 0);
    cr_assert_eq(l.initrd_size, 0);
    rs_vcpu_state_t st;
    memset(&st, 0x55, sizeof(st));
    linux_boot_start_state(&l, &st);
    cr_assert_eq(st.rip, 0x100000);
    cr_assert_eq(st.rsi, 0x7000);
    cr_assert_eq(st.rbx, 0);
    cr_assert_eq(st.rbp, 0);
    cr_assert_eq(st.rdi, 0);
    cr_assert_eq(st.rflags, 0x2, "IF = 0");
    cr_assert_eq(st.cr0, 0x11, "PE and ET, no PG");
    cr_assert_eq(st.cr4, 0);
    cr_assert_eq(st.efer, 0);
    cr_assert_eq(st.cs.selector, 0x10);
    cr_assert_eq(st.cs.attrib, 0xC9B);
    cr_assert_eq(st.cs.limit, 0xFFFFFFFF);
    cr_assert_eq(st.cs.base, 0);
    const struct rs_segment *data[] = {&st.ds, &st.es, &st.ss, &st.fs, &st.gs};
    for (unsigned i = 0; i < 5; i++) {
        cr_assert_eq(data[i]->selector, 0x18);
        cr_assert_eq(data[i]->attrib, 0xC93);
        cr_assert_eq(data[i]->limit, 0xFFFFFFFF);
        cr_assert_eq(data[i]->base, 0);
    }
    cr_assert_eq(st.gdtr_base, 0x1000);
    cr_assert_eq(st.gdtr_limit, 31);
    cr_assert_eq(st.pending_event, 0);
    uint64_t gdt[LINUX_GDT_ENTRIES];
    linux_boot_gdt(gdt);
    cr_assert_eq(gdt[0], 0);
    cr_assert_eq(gdt[1], 0);
    cr_assert_eq(gdt[2], 0x00CF9B000000FFFFull, "__BOOT_CS: flat 4 GiB execute/read");
    cr_assert_eq(gdt[3], 0x00CF93000000FFFFull, "__BOOT_DS: flat 4 GiB read/write");
    // the cached attributes are the descriptors' bits 40..55 minus the limit's top nibble
    cr_assert_eq((gdt[2] >> 40 & 0xFF) | (gdt[2] >> 52 & 0xF) << 8, st.cs.attrib);
    cr_assert_eq((gdt[3] >> 40 & 0xFF) | (gdt[3] >> 52 & 0xF) << 8, st.ds.attrib);
    free(m.p);
}

Test(linux_boot, initrd_below_initrd_addr_max)
{
    struct img m = good();
    le_put32(m.p + LBP_INITRD_ADDR_MAX, 0x5FFFFFF); // the last byte it may occupy: 96 MiB - 1
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 256 * MIB, 8192, 0, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.initrd_gpa, 96 * MIB - 8192);
    free(m.p);
}

Test(linux_boot, decompression_base)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    // relocatable with pref_address below the aligned load address: the aligned load address
    le_put64(m.p + LBP_PREF_ADDRESS, 0x100000);
    le_put32(m.p + LBP_INIT_SIZE, 0x300000);
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 8 * MIB, 0, 0, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.kernel_end, 0x200000 + 0x300000);
    // not relocatable: at pref_address
    m.p[LBP_RELOCATABLE] = 0;
    le_put32(m.p + LBP_KERNEL_ALIGNMENT, 12345); // ignored when not relocatable
    le_put64(m.p + LBP_PREF_ADDRESS, 0x180000);
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 8 * MIB, 0, 0, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.kernel_end, 0x180000 + 0x300000);
    // a protected-mode part larger than init_size: its own end counts
    le_put32(m.p + LBP_INIT_SIZE, 0x1000);
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 8 * MIB, 0, 0, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.kernel_end, 0x181000);
    free(m.p);
}

/* ---- rejected images --------------------------------------------------------------------- */

Test(linux_boot, truncated)
{
    refused(make(4, 4096, 0), LINUX_BOOT_TRUNCATED,
            "image of 0 bytes ends before its setup header");
    refused(make(4, 4096, 0x263), LINUX_BOOT_TRUNCATED,
            "image of 611 bytes ends before its setup header");
    // cut inside the protected-mode part: syssize says more
    refused(make(4, 64 * 1024, 5 * 512 + 64 * 1024 - 1), LINUX_BOOT_TRUNCATED,
            "truncated: protected-mode part of 65535 bytes, syssize says 65536");
    // cut right after the setup: no protected-mode part at all
    refused(make(4, 4096, 5 * 512), LINUX_BOOT_BAD_SETUP,
            "setup_sects 4 beyond the image (2560 bytes of setup, image 2560 bytes)");
}

Test(linux_boot, wrong_magic)
{
    struct img m = good();
    le_put16(m.p + LBP_BOOT_FLAG, 0xAA56);
    refused(m, LINUX_BOOT_BAD_MAGIC, "boot_flag 0xaa56 is not 0xaa55");
    m = good();
    m.p[LBP_HEADER + 3] = 'T';
    refused(m, LINUX_BOOT_BAD_MAGIC, "header magic 0x54726448 is not 'HdrS'");
    // the ELF magic makes it a vmlinux (test_linux_elf.c), and this is no x86-64 ELF
    m = good();
    memcpy(m.p,
           "\x7f"
           "ELF",
           4);
    memset(m.p + 0x1F0, 0, 0x20);
    refused(m, LINUX_BOOT_BAD_ELF,
            "ELF class 0 data 0 type 0 machine 0 is not a little-endian x86-64 executable "
            "(2 1 2 62)");
}

Test(linux_boot, absurd_setup_sects)
{
    struct img m = good();
    m.p[LBP_SETUP_SECTS] = 200;
    refused(m, LINUX_BOOT_BAD_SETUP,
            "setup_sects 200 beyond the image (102912 bytes of setup, image 68096 bytes)");
    m = make(64, 4096, 65 * 512 + 4096);
    refused(m, LINUX_BOOT_BAD_SETUP,
            "setup_sects 64 above 63 (the real-mode part is at most 32 KiB)");
    m = make(63, 4096, 64 * 512 + 4096);
    struct linux_image li;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "63 is the most: %s", err);
    free(m.p);
}

Test(linux_boot, protocol_too_old)
{
    struct img m = good();
    le_put16(m.p + LBP_VERSION, 0x0209);
    refused(m, LINUX_BOOT_OLD_PROTOCOL, "boot protocol 2.09 older than 2.10");
    m = good();
    le_put16(m.p + LBP_VERSION, 0x0206);
    refused(m, LINUX_BOOT_OLD_PROTOCOL, "boot protocol 2.06 older than 2.10");
    m = good();
    le_put16(m.p + LBP_VERSION, 0x020A);
    struct linux_image li;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "2.10 is enough: %s", err);
    free(m.p);
}

Test(linux_boot, bad_header_fields)
{
    struct img m = good();
    m.p[LBP_LOADFLAGS] = 0x80;
    refused(m, LINUX_BOOT_NOT_BZIMAGE,
            "loadflags 0x80 without LOADED_HIGH: a zImage, not a bzImage");
    m = good();
    m.p[LBP_JUMP + 1] = 0x61;
    refused(m, LINUX_BOOT_BAD_HEADER,
            "setup header ends at 0x263, before init_size (0x264) that 2.10 has");
    m = good();
    le_put32(m.p + LBP_KERNEL_ALIGNMENT, 0x300000);
    refused(m, LINUX_BOOT_BAD_HEADER,
            "kernel_alignment 0x300000 is not a power of two from 4 KiB to 1 GiB");
    m = good();
    le_put32(m.p + LBP_KERNEL_ALIGNMENT, 0);
    refused(m, LINUX_BOOT_BAD_HEADER,
            "kernel_alignment 0x0 is not a power of two from 4 KiB to 1 GiB");
    m = good();
    le_put32(m.p + LBP_KERNEL_ALIGNMENT, 0x80000000);
    refused(m, LINUX_BOOT_BAD_HEADER,
            "kernel_alignment 0x80000000 is not a power of two from 4 KiB to 1 GiB");
    m = good();
    m.p[LBP_RELOCATABLE] = 0;
    le_put64(m.p + LBP_PREF_ADDRESS, 0x90000);
    refused(m, LINUX_BOOT_BAD_HEADER, "pref_address 0x90000 below 1 MiB (not relocatable)");
    m = good();
    le_put32(m.p + LBP_INIT_SIZE, 0);
    refused(m, LINUX_BOOT_BAD_HEADER, "init_size is 0");
    // a jump byte past the room boot_params has: the copy stops at 0x290
    m = good();
    m.p[LBP_JUMP + 1] = 0xFF;
    struct linux_image li;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(li.header_end, 0x290);
    free(m.p);
}

/* ---- what does not fit ------------------------------------------------------------------- */

Test(linux_boot, kernel_larger_than_ram)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    // 16 MiB + init_size 0x3F98000 ends at 0x4F98000 (79.6 MiB)
    cr_assert_eq(plan(&li, 64 * MIB, 0, 0, &l), LINUX_BOOT_KERNEL_TOO_BIG);
    cr_assert_str_eq(err, "kernel larger than RAM: 65536 bytes at 0x100000, init_size 0x3f98000 "
                          "at 0x1000000, RAM ends at 0x4000000");
    cr_assert_eq(plan(&li, 0x4F98000, 0, 0, &l), LINUX_BOOT_OK, "exactly: %s", err);
    cr_assert_eq(l.kernel_end, 0x4F98000);
    cr_assert_eq(plan(&li, 0x4F97000, 0, 0, &l), LINUX_BOOT_KERNEL_TOO_BIG);
    // pref_address beyond RAM, and one whose sum with init_size would wrap
    le_put64(m.p + LBP_PREF_ADDRESS, 0xFFFFFFFFFFFFF000ull);
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 1024 * MIB, 0, 0, &l), LINUX_BOOT_KERNEL_TOO_BIG);
    // a protected-mode part that alone does not fit
    free(m.p);
    m = make(4, 3 * MIB, 5 * 512 + 3 * MIB);
    le_put32(m.p + LBP_INIT_SIZE, 0x1000);
    le_put64(m.p + LBP_PREF_ADDRESS, 0x100000);
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 4 * MIB, 0, 0, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 2 * MIB, 0, 0, &l), LINUX_BOOT_KERNEL_TOO_BIG);
    free(m.p);
}

Test(linux_boot, initrd_larger_than_ram_left)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    uint64_t left = 128 * MIB - 0x4F98000;
    cr_assert_eq(plan(&li, 128 * MIB, left, 0, &l), LINUX_BOOT_OK, "exactly: %s", err);
    cr_assert_eq(l.initrd_gpa, 0x4F98000, "right above the kernel's buffer");
    cr_assert_eq(plan(&li, 128 * MIB, left + 1, 0, &l), LINUX_BOOT_INITRD_TOO_BIG);
    cr_assert_str_eq(err, "initrd of 50757633 bytes larger than the RAM left for it (50757632 "
                          "bytes from 0x4f98000 to 0x8000000)");
    cr_assert_eq(plan(&li, 128 * MIB, 200 * MIB, 0, &l), LINUX_BOOT_INITRD_TOO_BIG);
    // initrd_addr_max below the kernel's end: no room at all
    le_put32(m.p + LBP_INITRD_ADDR_MAX, 0xFFFFFF);
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 128 * MIB, 1, 0, &l), LINUX_BOOT_INITRD_TOO_BIG);
    cr_assert_str_eq(err, "initrd of 1 bytes larger than the RAM left for it (0 bytes from "
                          "0x4f98000 to 0x4f98000)");
    free(m.p);
}

Test(linux_boot, command_line_too_long)
{
    struct img m = good();
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 128 * MIB, 0, 2047, &l), LINUX_BOOT_OK, "exactly: %s", err);
    cr_assert_eq(plan(&li, 128 * MIB, 0, 2048, &l), LINUX_BOOT_CMDLINE_TOO_LONG);
    cr_assert_str_eq(err, "command line of 2048 bytes longer than the kernel's cmdline_size 2047");
    // a kernel that claims any length still gets no more than our region
    le_put32(m.p + LBP_CMDLINE_SIZE, 0xFFFFFFFF);
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 128 * MIB, 0, LINUX_CMDLINE_MAX - 1, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 128 * MIB, 0, LINUX_CMDLINE_MAX, &l), LINUX_BOOT_CMDLINE_TOO_LONG);
    free(m.p);
}

Test(linux_boot, ram_sizes)
{
    struct img m = make(4, 4096, 5 * 512 + 4096);
    le_put32(m.p + LBP_INIT_SIZE, 0x1000);
    le_put64(m.p + LBP_PREF_ADDRESS, 0x100000);
    le_put32(m.p + LBP_KERNEL_ALIGNMENT, 0x1000); // decompressed where it was loaded
    struct linux_image li;
    struct linux_layout l;
    cr_assert_eq(parse(m, &li), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(plan(&li, 2 * MIB, 0, 0, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.kernel_end, 0x101000);
    cr_assert_eq(plan(&li, 1024 * MIB, 4096, 0, &l), LINUX_BOOT_OK, "%s", err);
    cr_assert_eq(l.initrd_gpa, 1024 * MIB - 4096);
    cr_assert_eq(plan(&li, 2 * MIB - 4096, 0, 0, &l), LINUX_BOOT_BAD_RAM);
    cr_assert_str_eq(err, "RAM of 2093056 bytes: 2 MiB to 4 GiB in 4 KiB pages");
    cr_assert_eq(plan(&li, 4 * MIB + 1, 0, 0, &l), LINUX_BOOT_BAD_RAM);
    cr_assert_eq(plan(&li, 8ul << 30, 0, 0, &l), LINUX_BOOT_BAD_RAM);
    free(m.p);
}

Test(linux_boot, error_names)
{
    cr_assert_str_eq(linux_boot_error_name(LINUX_BOOT_TRUNCATED), "truncated");
    cr_assert_str_eq(linux_boot_error_name(LINUX_BOOT_BAD_RAM), "bad RAM size");
    cr_assert_str_eq(linux_boot_error_name((enum linux_boot_error)99), "?");
}

/* ---- fuzz ---------------------------------------------------------------------------------- */

static uint64_t rng;
static uint64_t next(void) // xorshift64*
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

/* Random header bytes over a good image of random length (every buffer exactly its size, so
 * ASan reports any access outside it): parse must answer, and what it accepts must plan and
 * build a zero page whose placement keeps the rules. */
Test(linux_boot, fuzz_headers)
{
    static const uint64_t seeds[] = {1, 0x9E3779B97F4A7C15ull, 0xDEADBEEF, 42};
    unsigned accepted = 0, placed = 0;
    for (unsigned s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        rng = seeds[s];
        for (unsigned it = 0; it < 20000; it++) {
            size_t pm = next() % 8192, size = next() % 4 ? 5 * 512 + pm : next() % 12000;
            struct img m = make((unsigned)(next() % 8), pm, size);
            unsigned flips = (unsigned)(next() % 12);
            for (unsigned f = 0; f < flips && size; f++) {
                // mostly the header (0x1e0 .. 0x270), sometimes anywhere
                size_t at = next() % 4 ? 0x1E0 + next() % 0x90 : next() % size;
                if (at < size) m.p[at] = (uint8_t)next();
            }
            struct linux_image li;
            if (linux_boot_parse(m.p, m.size, &li, err, sizeof(err)) != LINUX_BOOT_OK) {
                cr_assert(err[0], "a rejection says why");
                free(m.p);
                continue;
            }
            accepted++;
            cr_assert_leq(li.setup_size + li.kernel_size, size);
            cr_assert_leq(li.header_end, LBP_HEADER_MAX_END);
            uint64_t ram = ((next() % 512) + 1) * 2 * MIB, initrd = next() % (8 * MIB);
            struct linux_layout l;
            if (linux_boot_plan(&li, ram, initrd, next() % 4096, &l, err, sizeof(err)) ==
                LINUX_BOOT_OK) {
                placed++;
                cr_assert_leq(l.kernel_end, ram);
                cr_assert_geq(l.kernel_end, l.kernel_gpa + l.kernel_size);
                if (initrd) {
                    cr_assert_eq(l.initrd_gpa % 4096, 0);
                    cr_assert_geq(l.initrd_gpa, l.kernel_end);
                    cr_assert_leq(l.initrd_gpa + l.initrd_size, ram);
                    cr_assert_leq(l.initrd_gpa + l.initrd_size - 1, li.initrd_addr_max);
                }
                cr_assert_leq(l.cmdline_len, li.cmdline_size);
                uint8_t *zp = malloc(LINUX_ZERO_PAGE);
                linux_boot_zero_page(m.p, &li, &l, zp);
                cr_assert_eq(le_get32(zp + LBP_HEADER), LINUX_HDRS_MAGIC);
                free(zp);
            }
            free(m.p);
        }
    }
    // the fuzz reaches the end: some images pass every check and get placed
    cr_assert_gt(accepted, 1000, "accepted %u", accepted);
    cr_assert_gt(placed, 100, "placed %u", placed);
}
