// SPDX-License-Identifier: MIT
// Authority that used to come for free: the console and power-off need caps (DBG), the ports
// that reset or reroute the machine are withheld from IOPortControl (IOP), and RAM cannot be
// mapped with a cache type other than the physmap's write-back (CACHE).
#include "suites.h"

#define ME RS_INIT_CNODE
#define D  PS_DEPTH

/* ------------------------------------------------------------------ console and shutdown */

/* Raw console calls, so that the detail words (MR0, MR1) can be checked. */
static rs_word_t sys_putchar(rs_cptr_t c, char ch)
{
    rs_mr_set(0, (unsigned char)ch);
    return rs_syscall(RS_SYS_DEBUG_PUTCHAR, c, 0).error;
}
static rs_word_t sys_write(rs_cptr_t c, const char *text, size_t n)
{
    for (size_t i = 0; i < n; i++) rs_ipc_buffer()->debug_text[i] = text[i];
    rs_mr_set(0, n);
    return rs_syscall(RS_SYS_DEBUG_WRITE, c, 0).error;
}
static rs_word_t sys_getchar(rs_cptr_t c) { return rs_syscall(RS_SYS_DEBUG_GETCHAR, c, 0).error; }
static rs_word_t sys_shutdown(rs_cptr_t c) { return rs_syscall(RS_SYS_DEBUG_SHUTDOWN, c, 0).error; }

static void dbg_boot_caps(void)
{
    CHECK_EQ(cap_type(RS_INIT_CONSOLE), RS_CAP_CONSOLE);
    CHECK_EQ(cap_type(RS_INIT_SHUTDOWN), RS_CAP_SHUTDOWN);
    CHECK_EQ(cap_type(RS_INIT_IOPORT_PLATFORM), RS_CAP_IOPORT_CONTROL);
    CHECK(bootinfo->untyped.start >= RS_INIT_FIRST_FREE_FIXED);
    static const char line[] = "[dbg] init prints through its Console cap\n";
    CHECK_OK(sys_write(RS_INIT_CONSOLE, line, sizeof(line) - 1));
    CHECK_EQ(ps_mr(0), sizeof(line) - 1);   // all of it: it fits one chunk
    CHECK_OK(sys_getchar(RS_INIT_CONSOLE)); // nothing typed: -1, but allowed
}

/* Every console call and Shutdown without the cap they need: the exact error and detail. Had
 * Shutdown no check, the run would end here (and the harness would miss the done line). */
static void dbg_refusals(void)
{
    rs_cptr_t empty = new_slot(), ep = new_object(RS_OBJ_ENDPOINT, 0), ro = new_slot(),
              wo = new_slot();
    REQUIRE(empty && ep && ro && wo);
    REQUIRE_OK(ps_cnode_mint(ME, ro, D, ME, RS_INIT_CONSOLE, D, RS_RIGHT_READ, 0));
    REQUIRE_OK(ps_cnode_mint(ME, wo, D, ME, RS_INIT_CONSOLE, D, RS_RIGHT_WRITE, 0));
    static const char text[] = "[dbg] this line must not be printed\n";

    CHECK_ERR(sys_putchar(empty, 'X'), RS_FAILED_LOOKUP);
    CHECK_ERR(sys_write(empty, text, sizeof(text) - 1), RS_FAILED_LOOKUP);
    CHECK_ERR(sys_getchar(empty), RS_FAILED_LOOKUP);
    CHECK_ERR(sys_shutdown(empty), RS_FAILED_LOOKUP);

    CHECK_ERR(sys_putchar(ep, 'X'), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_ERR(sys_write(ep, text, sizeof(text) - 1), RS_INVALID_CAPABILITY);
    CHECK_ERR(sys_getchar(ep), RS_INVALID_CAPABILITY);
    CHECK_ERR(sys_shutdown(ep), RS_INVALID_CAPABILITY);
    CHECK_ERR(sys_shutdown(RS_INIT_CONSOLE), RS_INVALID_CAPABILITY); // a Console cannot power off
    CHECK_EQ(ps_mr(0), 0);
    CHECK_ERR(sys_write(RS_INIT_SHUTDOWN, text, sizeof(text) - 1), RS_INVALID_CAPABILITY);

    CHECK_ERR(sys_write(ro, text, sizeof(text) - 1), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(0), 0);
    CHECK_EQ(ps_mr(1), RS_RIGHT_WRITE);
    CHECK_ERR(sys_putchar(ro, 'X'), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(1), RS_RIGHT_WRITE);
    CHECK_ERR(sys_getchar(wo), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(1), RS_RIGHT_READ);
    CHECK_OK(sys_getchar(ro));
    static const char ok[] = "[dbg] a write-only copy of the Console cap prints\n";
    CHECK_OK(sys_write(wo, ok, sizeof(ok) - 1));
}

/* A child holding a write-only Console cap in CHILD_SLOT_A and nothing else of the kind. */
static void child_console(uint64_t arg)
{
    static const char line[] = "[dbg] a child prints through the cap init gave it\n";
    rs_word_t w = rs_console_write(CHILD_SLOT_A, line, sizeof(line) - 1);
    rs_word_t g = rs_syscall(RS_SYS_DEBUG_GETCHAR, CHILD_SLOT_A, 0).error;
    rs_word_t s1 = rs_shutdown(CHILD_SLOT_A);
    rs_word_t s2 = rs_shutdown(CHILD_SLOT_FREE);
    rs_mr_set(0, 'X');
    rs_word_t p = rs_syscall(RS_SYS_DEBUG_PUTCHAR, CHILD_SLOT_FREE, 0).error;
    child_report(1, w, g, s1, s2);
    child_report(2, p, 0, 0, 0);
}

static void dbg_child(void)
{
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report);
    ps_process_t p;
    REQUIRE_OK(child_create(&p, child_console, 0, report));
    REQUIRE_OK(ps_process_give(&p, CHILD_SLOT_A, RS_INIT_CONSOLE, RS_RIGHT_WRITE, 0));
    REQUIRE_OK(ps_process_start(&p));
    uint64_t mr[4];
    if (!expect_report(report, 1, mr)) return;
    CHECK_ERR(mr[0], RS_OK);                  // write: allowed
    CHECK_ERR(mr[1], RS_INSUFFICIENT_RIGHTS); // read: init kept that right
    CHECK_ERR(mr[2], RS_INVALID_CAPABILITY);  // shutdown with a Console cap
    CHECK_ERR(mr[3], RS_FAILED_LOOKUP);       // shutdown with nothing
    if (!expect_report(report, 2, mr)) return;
    CHECK_ERR(mr[0], RS_FAILED_LOOKUP); // putchar with nothing
}

/* ps_process_create with a console: the child gets a write-only copy in PS_SLOT_CONSOLE. */
static void dbg_process_console(void)
{
    rs_cptr_t copy = new_slot();
    REQUIRE(copy);
    ps_process_t p;
    ps_process_config_t cfg = {.elf = (const void *)bootinfo->modules[0].vaddr,
                               .elf_size = bootinfo->modules[0].size,
                               .entry = child_console,
                               .priority = TEST_PRIO,
                               .console = RS_INIT_CONSOLE};
    REQUIRE_OK(ps_process_create(&p, env, &cfg));
    CHECK_OK(ps_cnode_copy(ME, copy, D, p.cnode, PS_SLOT_CONSOLE, D));
    CHECK_EQ(cap_type(copy), RS_CAP_CONSOLE);
    CHECK_ERR(sys_getchar(copy), RS_INSUFFICIENT_RIGHTS);
    static const char line[] = "[dbg] the copy ps_process_create made prints\n";
    CHECK_OK(sys_write(copy, line, sizeof(line) - 1));
    CHECK_OK(ps_process_destroy(&p));
}

/* Long text goes out in chunks of at most RS_CONSOLE_CHUNK bytes, cut after a newline where one
 * fits, so interrupts stay off for a bounded time and lines stay whole. */
static void dbg_chunks(void)
{
    char text[3 * 101];
    for (unsigned l = 0; l < 3; l++) { // three lines of 101 bytes
        char *t = text + l * 101;
        memcpy(t, "[dbg] chunk ", 12);
        for (unsigned i = 12; i < 100; i++) t[i] = (char)('a' + l);
        t[100] = '\n';
    }
    CHECK_OK(sys_write(RS_INIT_CONSOLE, text, sizeof(text)));
    CHECK_EQ(ps_mr(0), 101); // the second newline lies beyond the chunk
    CHECK_OK(rs_console_write(RS_INIT_CONSOLE, text + 101, sizeof(text) - 101)); // the rest
    char longline[RS_CONSOLE_CHUNK + 11];
    memcpy(longline, "[dbg] long ", 11);
    for (unsigned i = 11; i < sizeof(longline) - 1; i++) longline[i] = 'z';
    longline[sizeof(longline) - 1] = '\n';
    CHECK_OK(sys_write(RS_INIT_CONSOLE, longline, sizeof(longline)));
    CHECK_EQ(ps_mr(0), RS_CONSOLE_CHUNK); // no newline in the first chunk: a full chunk
    CHECK_OK(sys_write(RS_INIT_CONSOLE, longline + RS_CONSOLE_CHUNK,
                       sizeof(longline) - RS_CONSOLE_CHUNK));
    CHECK_EQ(ps_mr(0), sizeof(longline) - RS_CONSOLE_CHUNK);
    // a length beyond the buffer is clamped to it, and still printed one chunk at a time
    for (unsigned i = 0; i < RS_DEBUG_TEXT_MAX; i++)
        rs_ipc_buffer()->debug_text[i] = i % 80 == 79 ? '\n' : i % 80 < 6 ? "[dbg] "[i % 80] : '-';
    rs_mr_set(0, 100000);
    CHECK_ERR(rs_syscall(RS_SYS_DEBUG_WRITE, RS_INIT_CONSOLE, 0).error, RS_OK);
    CHECK_EQ(ps_mr(0), 160); // two 80-byte lines
}

/* ------------------------------------------------------------------ I/O ports */

static const struct {
    uint16_t first, last;         /* a range asked for */
    uint16_t res_first, res_last; /* the reserved range the kernel names */
} platform_ranges[] = {
    {0x40, 0x40, 0x40, 0x43},         {0x30, 0x50, 0x40, 0x43},
    {0x43, 0x43, 0x40, 0x43},         {0x60, 0x60, 0x60, 0x64},
    {0x61, 0x61, 0x60, 0x64},         {0x64, 0x64, 0x60, 0x64},
    {0x92, 0x92, 0x92, 0x92},         {0xB2, 0xB3, 0xB2, 0xB3},
    {0x604, 0x605, 0x600, 0x67F},     {0xCF8, 0xCFB, 0xCF8, 0xCFF},
    {0xCF9, 0xCF9, 0xCF8, 0xCFF},     {0xCFC, 0xCFF, 0xCF8, 0xCFF},
    {0xC00, 0xD00, 0xCF8, 0xCFF},     {0xAFE0, 0xAFE0, 0xAFE0, 0xAFE3},
    {0xB004, 0xB005, 0xB000, 0xB03F},
};

static const struct {
    uint16_t first, last, res_first, res_last;
} kernel_ranges[] = {
    {0x20, 0x21, 0x20, 0x21},     {0x21, 0x21, 0x20, 0x21}, {0xA0, 0xA1, 0xA0, 0xA1},
    {0x4D0, 0x4D0, 0x4D0, 0x4D1}, {0xF7, 0xF7, 0xF4, 0xF7}, {0x8900, 0x8900, 0x8900, 0x8900},
    {0x3F8, 0x3F8, 0x3F8, 0x3FF}, {0, 0xFFFF, 0x20, 0x21},  {0x90, 0xAF, 0xA0, 0xA1},
};

static void iop_platform_refused(void)
{
    rs_cptr_t s = new_slot();
    REQUIRE(s);
    for (unsigned i = 0; i < sizeof(platform_ranges) / sizeof(platform_ranges[0]); i++) {
        CHECK_ERR(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, platform_ranges[i].first,
                                  platform_ranges[i].last, ME, s, D),
                  RS_INSUFFICIENT_RIGHTS);
        CHECK_EQ(ps_mr(0), 0);
        CHECK_EQ(ps_mr(1), platform_ranges[i].res_first);
        CHECK_EQ(ps_mr(2), platform_ranges[i].res_last);
        CHECK_EQ(cap_type(s), RS_CAP_NULL);
    }
}

static void iop_kernel_refused(void)
{
    rs_cptr_t s = new_slot();
    REQUIRE(s);
    const rs_cptr_t controls[] = {RS_INIT_IOPORT_CONTROL, RS_INIT_IOPORT_PLATFORM};
    for (unsigned c = 0; c < 2; c++)
        for (unsigned i = 0; i < sizeof(kernel_ranges) / sizeof(kernel_ranges[0]); i++) {
            CHECK_ERR(ps_ioport_issue(controls[c], kernel_ranges[i].first, kernel_ranges[i].last,
                                      ME, s, D),
                      RS_ILLEGAL_OPERATION);
            CHECK_EQ(ps_mr(0), 0);
            CHECK_EQ(ps_mr(1), kernel_ranges[i].res_first);
            CHECK_EQ(ps_mr(2), kernel_ranges[i].res_last);
            CHECK_EQ(cap_type(s), RS_CAP_NULL);
        }
}

static void iop_allowed(void)
{
    // the ordinary control still issues the ports around the reserved ones
    const uint16_t ok[][2] = {{0x44, 0x5F},   {0x65, 0x6F},    {0x70, 0x71},   {0x80, 0x91},
                              {0x93, 0x9F},   {0x3F0, 0x3F7},  {0x5FF, 0x5FF}, {0x680, 0xCF7},
                              {0xD00, 0xD0F}, {0xB040, 0xB0FF}};
    for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        rs_cptr_t s = new_slot();
        REQUIRE(s);
        CHECK_OK(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, ok[i][0], ok[i][1], ME, s, D));
        CHECK_EQ(cap_type(s), RS_CAP_IOPORT);
    }
    // the platform control issues PCI configuration space (for the PCI bus code), and it works:
    // the address register reads back what was written (PCI local bus spec. 3.2.2.3.2)
    rs_cptr_t pci = new_slot(), copy = new_slot(), pit = new_slot();
    REQUIRE(pci && copy && pit);
    CHECK_OK(ps_ioport_issue(RS_INIT_IOPORT_PLATFORM, 0xCF8, 0xCFF, ME, pci, D));
    CHECK_EQ(cap_type(pci), RS_CAP_IOPORT);
    uint32_t v = 0;
    CHECK_OK(ps_ioport_out(pci, 4, 0xCF8, 0x80000000u)); // bus 0, device 0, function 0, reg 0
    CHECK_OK(ps_ioport_in(pci, 4, 0xCF8, &v));
    CHECK_EQ(v, 0x80000000u);
    CHECK_OK(ps_ioport_in(pci, 4, 0xCFC, &v)); // vendor and device ID of the host bridge
    CHECK(v != 0xFFFFFFFFu && v != 0);
    CHECK_OK(ps_ioport_out(pci, 4, 0xCF8, 0));
    CHECK_OK(ps_ioport_issue(RS_INIT_IOPORT_PLATFORM, 0x40, 0x43, ME, pit, D));
    // a copy of the platform control keeps its power; init decides who gets one
    CHECK_OK(ps_cnode_copy(ME, copy, D, ME, RS_INIT_IOPORT_PLATFORM, D));
    rs_cptr_t s = new_slot();
    REQUIRE(s);
    CHECK_OK(ps_ioport_issue(copy, 0x92, 0x92, ME, s, D));
}

/* ------------------------------------------------------------------ cache attributes */

static void cache_ram_frames(void)
{
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), big = new_object(RS_OBJ_LARGE_FRAME, 0);
    REQUIRE(f && big);
    uint64_t va = 0x0000430000000000ul, big_va = 0x0000430000200000ul;
    // make the tables first, so that the attribute is what the kernel looks at
    REQUIRE_OK(ps_map_frame(env, RS_INIT_VSPACE, f, va, RS_RIGHT_READ, RS_ATTR_DEFAULT));
    REQUIRE_OK(ps_frame_unmap(f));
    const unsigned attrs[] = {RS_ATTR_UNCACHED, RS_ATTR_WRITECOMBINE};
    for (unsigned i = 0; i < 2; i++) {
        CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, va, RS_RIGHT_READ | RS_RIGHT_WRITE, attrs[i]),
                  RS_RANGE_ERROR);
        CHECK_EQ(ps_mr(0), 2); // the attributes argument
        CHECK_EQ(ps_mr(1), 0);
        CHECK_EQ(ps_mr(2), RS_ATTR_DEFAULT); // RAM: write-back only
        CHECK_ERR(ps_map_frame(env, RS_INIT_VSPACE, big, big_va, RS_RIGHT_READ, attrs[i]),
                  RS_RANGE_ERROR);
        CHECK_EQ(ps_mr(2), RS_ATTR_DEFAULT);
    }
    CHECK_OK(ps_frame_map(f, RS_INIT_VSPACE, va, RS_RIGHT_READ | RS_RIGHT_WRITE, RS_ATTR_DEFAULT));
    *(volatile uint64_t *)va = 0x1234;
    CHECK_EQ(*(volatile uint64_t *)va, 0x1234);
    CHECK_OK(ps_map_frame(env, RS_INIT_VSPACE, big, big_va, RS_RIGHT_READ, RS_ATTR_DEFAULT));
    CHECK_EQ(*(volatile uint64_t *)big_va, 0);
}

const struct test hard_caps_tests[] = {
    {"DBG-0001",
     "init holds Console, Shutdown and platform IOPortControl caps and prints with them",
     dbg_boot_caps},
    {"DBG-0002",
     "console calls and Shutdown without the cap fail: RS_FAILED_LOOKUP, RS_INVALID_CAPABILITY, "
     "RS_INSUFFICIENT_RIGHTS (MR1 = the right)",
     dbg_refusals},
    {"DBG-0003", "a child with a write-only Console prints but cannot read or power off",
     dbg_child},
    {"DBG-0004", "ps_process_create gives a write-only Console copy in PS_SLOT_CONSOLE",
     dbg_process_console},
    {"DBG-0005", "console writes go out in chunks of at most RS_CONSOLE_CHUNK, cut after a newline",
     dbg_chunks},
    {"IOP-0001",
     "IOPortControl refuses PIT, i8042, port 0x92, SMI, ACPI PM and PCI config ranges with "
     "RS_INSUFFICIENT_RIGHTS naming the range",
     iop_platform_refused},
    {"IOP-0002",
     "no IOPortControl issues the PIC, ELCR, COM1 or emulator exit ports "
     "(RS_ILLEGAL_OPERATION naming the range)",
     iop_kernel_refused},
    {"IOP-0003",
     "ports around the reserved ranges are issued; the platform control issues PCI "
     "configuration space, which then works",
     iop_allowed},
    {"CACHE-0001", "RAM frames map write-back only: UC and WC fail with RS_RANGE_ERROR (2: 0..0)",
     cache_ram_frames},
    {0},
};
