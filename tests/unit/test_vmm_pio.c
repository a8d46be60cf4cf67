// SPDX-License-Identifier: MIT
// Host tests of string port I/O (servers/vmm/pio.c): INS and OUTS with and without REP between
// fake guest RAM and a fake port, in every address size, with DF, segment overrides, page-
// crossing elements, the per-exit bound, faults; and through exit.c to the UART.
#include <criterion/criterion.h>
#include "pio.h"
#include "vmm_exit_fake.h"

#define CODE_GPA 0x100000
#define PORT     0x1234
#define MMIO     0x30000000ull
#define ACC_MAX  1024

struct pacc {
    uint16_t port;
    unsigned size;
    bool in;
    uint32_t value;
};
static struct pacc acc[ACC_MAX];
static unsigned nacc, nmem;
static int port_token, mem_token;

static void port(void *ctx, uint16_t p, unsigned size, bool in, uint32_t *value)
{
    cr_assert_eq(ctx, &port_token);
    cr_assert(size == 1 || size == 2 || size == 4);
    if (in) *value = 0xA1B2C300u + nacc; // a FIFO: each read its own value
    if (nacc < ACC_MAX) acc[nacc++] = (struct pacc){p, size, in, *value};
}

static void mem(void *ctx, uint64_t gpa, unsigned size, bool write, uint64_t *value)
{
    cr_assert_eq(ctx, &mem_token);
    cr_assert(gpa >= MMIO && gpa < MMIO + 0x1000 && size >= 1 && size <= 8);
    nmem++;
    if (!write) *value = 0x5A5A5A5A5A5A5A5Aull;
}

static void setup(void)
{
    fake_setup();
    nacc = nmem = 0;
}
TestSuite(pio, .init = setup);

/* A string I/O exit for the instruction bytes given, at RIP 0x100000 (flat code). */
static void io_exit(bool in, unsigned size, bool rep, const uint8_t *code, size_t n)
{
    exit_of(RS_EXIT_IO, rs_io_qual(PORT, size, in, true, rep));
    w[RS_EXIT_MR_INSN_LEN] = n;
    memcpy(fake_ram + CODE_GPA, code, n);
}
#define IO_EXIT(in, size, rep, ...)                                                                \
    do {                                                                                           \
        static const uint8_t c_[] = {__VA_ARGS__};                                                 \
        io_exit(in, size, rep, c_, sizeof(c_));                                                    \
    } while (0)

static void emulate(void)
{
    nacc = 0;
    fake_writes = 0;
    fake_st.out.len = 0;
    memset(&r, 0xCC, sizeof(r));
    fake_exit_cpu(w);
    cr_assert_eq(pio_string(&fake_vmm, w, port, &port_token, mem, &mem_token, &r), VMM_REPLY);
    cr_assert_eq(r.label, 0);
}

static uint64_t reg(unsigned n)
{
    return flags() & RS_REPLY_SET_GPRS && r.len > RS_REPLY_MR_GPR + n ? r.w[RS_REPLY_MR_GPR + n]
                                                                      : w[RS_EXIT_MR_GPR + n];
}
static bool advanced(void) { return flags() & RS_REPLY_ADVANCE_RIP; }

Test(pio, rep_outsb_sends_each_byte_in_order)
{
    IO_EXIT(false, 1, true, 0xF3, 0x6E); // rep outsb
    memcpy(fake_ram + 0x5000, "hello", 5);
    w[RS_EXIT_MR_RSI] = 0x5000;
    w[RS_EXIT_MR_RCX] = 5;
    emulate();
    cr_assert_eq(nacc, 5);
    for (unsigned i = 0; i < 5; i++)
        cr_assert(acc[i].port == PORT && acc[i].size == 1 && !acc[i].in &&
                  acc[i].value == (uint8_t) "hello"[i]);
    cr_assert(reg(6) == 0x5005 && reg(1) == 0);
    cr_assert_eq(reg(7), w[RS_EXIT_MR_RDI], "RDI untouched");
    cr_assert(advanced());
}

Test(pio, rep_insw_with_df_set_fills_downwards)
{
    IO_EXIT(true, 2, true, 0x66, 0xF3, 0x6D); // rep insw
    w[RS_EXIT_MR_RFLAGS] = IF_ON | INSN_DF;
    w[RS_EXIT_MR_RDI] = 0x6004;
    w[RS_EXIT_MR_RCX] = 3;
    emulate();
    cr_assert_eq(nacc, 3);
    uint16_t got[3];
    memcpy(got, fake_ram + 0x6000, 6);
    cr_assert(got[2] == 0xC300 && got[1] == 0xC301 && got[0] == 0xC302, "%x %x %x", got[0], got[1],
              got[2]);
    cr_assert(reg(7) == 0x5FFE && reg(1) == 0 && advanced());
    cr_assert_eq(reg(6), w[RS_EXIT_MR_RSI], "RSI untouched");
}

Test(pio, single_insl_and_outsl_without_rep_leave_rcx)
{
    IO_EXIT(true, 4, false, 0x6D); // insl
    w[RS_EXIT_MR_RDI] = 0x6000;
    emulate();
    cr_assert_eq(nacc, 1);
    cr_assert_eq(*(uint32_t *)(fake_ram + 0x6000), 0xA1B2C300u);
    cr_assert(reg(7) == 0x6004 && reg(1) == w[RS_EXIT_MR_RCX] && advanced());
    IO_EXIT(false, 4, false, 0x6F); // outsl
    w[RS_EXIT_MR_RSI] = 0x6000;
    emulate();
    cr_assert(nacc == 1 && acc[0].value == 0xA1B2C300u && reg(6) == 0x6004);
}

Test(pio, address_size_and_segment_override_come_from_the_prefixes)
{
    IO_EXIT(false, 1, true, 0x67, 0xF3, 0x6E); // rep outsb with SI and CX in 32-bit code
    fake_state.ds.base = 0x7000;
    fake_ram[0x7000 + 0xFFFF] = 'a', fake_ram[0x7000] = 'b';
    w[RS_EXIT_MR_RSI] = 0x99990000FFFFull;
    w[RS_EXIT_MR_RCX] = 0x55550000002ull;
    emulate();
    cr_assert(nacc == 2 && acc[0].value == 'a' && acc[1].value == 'b', "SI wraps at 64 KiB");
    cr_assert_eq(reg(6), 0x999900000001ull);
    cr_assert_eq(reg(1), 0x55550000000ull);
    IO_EXIT(false, 1, false, 0x64, 0x6E); // outsb %fs:(%esi)
    fake_state.fs.base = 0x8000;
    fake_ram[0x8010] = 'f';
    w[RS_EXIT_MR_RSI] = 0x10;
    emulate();
    cr_assert_eq(acc[0].value, 'f');
    IO_EXIT(true, 1, false, 0x64, 0x6C); // insb: ES always (an override is ignored)
    fake_state.es.base = 0x9000;
    w[RS_EXIT_MR_RDI] = 0x10;
    emulate();
    cr_assert_eq(fake_ram[0x9010], 0x00);
    // 64-bit code with 0x67: ECX, EDI, and their upper halves cleared
    fake_state.cs.attrib = 0xA9B, fake_state.efer = 0x500; // long mode without paging is not
    fake_state.cr0 = 0x80000011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20; // allowed: map
    fake_ram[0x1000] = 0x03, fake_ram[0x1001] = 0x20, fake_ram[0x2000] = 0x83;
    IO_EXIT(true, 1, true, 0x67, 0xF3, 0x6C);
    w[RS_EXIT_MR_RDI] = 0xFFFF000000009000ull;
    w[RS_EXIT_MR_RCX] = 0xFFFF000000000002ull;
    emulate();
    cr_assert(nacc == 2 && reg(7) == 0x9002 && reg(1) == 0);
}

Test(pio, iterations_per_exit_are_bounded)
{
    IO_EXIT(false, 1, true, 0xF3, 0x6E);
    w[RS_EXIT_MR_RSI] = 0x10000;
    w[RS_EXIT_MR_RCX] = 600;
    emulate();
    cr_assert_eq(nacc, EMU_REP_MAX);
    cr_assert(!advanced(), "RIP stays: the guest runs it again");
    cr_assert(reg(1) == 600 - EMU_REP_MAX && reg(6) == 0x10000 + EMU_REP_MAX);
    unsigned total = nacc, exits = 1;
    while (!advanced()) {
        for (unsigned i = 0; i < RS_GPR_COUNT; i++) w[RS_EXIT_MR_GPR + i] = reg(i);
        emulate();
        total += nacc, exits++;
        cr_assert(exits < 10);
    }
    cr_assert(total == 600 && exits == 3 && reg(1) == 0 && reg(6) == 0x10000 + 600);
    w[RS_EXIT_MR_RCX] = 0; // nothing to do: the next instruction
    emulate();
    cr_assert(nacc == 0 && advanced());
}

/* 32-bit paging: la 0x400000 -> RAM 0x8000, la 0x401000 -> RAM 0xA000 (supervisor), la
 * 0x402000 not present; the code identity-mapped by a 4 MiB page. */
static void paged(void)
{
    uint32_t pde0 = 0x87, pde1 = 0x3007, pte0 = 0x8007, pte1 = 0xA003;
    memcpy(fake_ram + 0x2000, &pde0, 4); // PD at 0x2000: la 0..4 MiB, large
    memcpy(fake_ram + 0x2004, &pde1, 4); // la 4..8 MiB -> PT at 0x3000
    memcpy(fake_ram + 0x3000, &pte0, 4); // la 0x400000
    memcpy(fake_ram + 0x3004, &pte1, 4); // la 0x401000
    fake_state.cr0 = 0x80010011, fake_state.cr3 = 0x2000, fake_state.cr4 = 0x10; // PSE
}

Test(pio, an_element_crossing_pages_is_split)
{
    paged();
    IO_EXIT(true, 4, false, 0x6D); // insl at la 0x400FFE
    w[RS_EXIT_MR_RDI] = 0x400FFE;
    emulate();
    cr_assert(fake_ram[0x8FFE] == 0x00 && fake_ram[0x8FFF] == 0xC3);
    cr_assert(fake_ram[0xA000] == 0xB2 && fake_ram[0xA001] == 0xA1);
    cr_assert_eq(reg(7), 0x401002);
}

Test(pio, a_fault_loses_no_data_and_becomes_the_guests_page_fault)
{
    paged();
    IO_EXIT(true, 4, true, 0xF3, 0x6D); // rep insl up to the page that is not there
    w[RS_EXIT_MR_RDI] = 0x401FF8;
    w[RS_EXIT_MR_RCX] = 5;
    emulate();
    cr_assert_eq(nacc, 2, "the port is not read for an element that has nowhere to go");
    cr_assert(reg(1) == 3 && reg(7) == 0x402000 && !advanced());
    cr_assert(!(flags() & RS_REPLY_INJECT));
    for (unsigned i = 0; i < RS_GPR_COUNT; i++) w[RS_EXIT_MR_GPR + i] = reg(i);
    emulate();
    cr_assert_eq(nacc, 0);
    cr_assert_eq(flags(), RS_REPLY_INJECT);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(14, 3), 2),
                 "#PF: not present, a write");
    cr_assert_eq(fake_state.cr2, 0x402000);
    cr_assert(strstr(fake_out(), "la 0x402000 does not translate: #PF"), "%s", fake_out());
    // user mode reading a supervisor page: present, user
    fake_state.ss.attrib = 0xCF3;
    IO_EXIT(false, 1, false, 0x6E);
    w[RS_EXIT_MR_RSI] = 0x401000;
    emulate();
    cr_assert_eq(nacc, 0);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(14, 3), 5));
}

Test(pio, memory_outside_ram_goes_to_the_mmio_callback)
{
    IO_EXIT(false, 2, true, 0x66, 0xF3, 0x6F); // rep outsw from MMIO (as odd as it is)
    w[RS_EXIT_MR_RSI] = MMIO;
    w[RS_EXIT_MR_RCX] = 2;
    emulate();
    cr_assert(nmem == 2 && nacc == 2 && acc[1].value == 0x5A5A);
}

Test(pio, bytes_that_are_no_ins_or_outs_get_the_defaults_and_a_log_line)
{
    IO_EXIT(false, 1, true, 0x90, 0x90); // (the guest rewrote its code)
    memcpy(fake_ram + 0x5000, "xy", 2);
    w[RS_EXIT_MR_RSI] = 0x5000;
    w[RS_EXIT_MR_RCX] = 2;
    emulate();
    cr_assert(nacc == 2 && acc[1].value == 'y' && advanced());
    cr_assert(strstr(fake_out(), "no INS/OUTS there"), "%s", fake_out());
}

/* Through exit.c: rep outsb to the UART prints the line (it used to be skipped and lost). */
Test(pio, rep_outsb_to_the_uart_through_vmm_exit)
{
    static const uint8_t code[] = {0xF3, 0x6E};
    exit_of(RS_EXIT_IO, rs_io_qual(UART_BASE, 1, false, true, true));
    memcpy(fake_ram + CODE_GPA, code, 2);
    memcpy(fake_ram + 0x5000, "hi there\n", 9);
    w[RS_EXIT_MR_RSI] = 0x5000;
    w[RS_EXIT_MR_RCX] = 9;
    run();
    cr_assert_str_eq(fake_out(), "[vm1] hi there\n");
    cr_assert(flags() & RS_REPLY_ADVANCE_RIP);
    cr_assert_eq(r.w[RS_REPLY_MR_RCX], 0);
    cr_assert_eq(r.w[RS_REPLY_MR_RSI], 0x5009);
    static const uint8_t ins[] = {0xF3, 0x6C};
    exit_of(RS_EXIT_IO, rs_io_qual(0x2F8, 1, true, true, true)); // no device: all ones
    memcpy(fake_ram + CODE_GPA, ins, 2);
    w[RS_EXIT_MR_RDI] = 0x5000;
    w[RS_EXIT_MR_RCX] = 3;
    run();
    cr_assert(fake_ram[0x5000] == 0xFF && fake_ram[0x5002] == 0xFF && fake_ram[0x5003] == 't');
}
