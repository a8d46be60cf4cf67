// SPDX-License-Identifier: MIT
// Host tests of the VMM's MMIO exits (servers/vmm/mmio.c, through exit.c): the instruction at
// RIP is in the fake RAM (32-bit flat, no paging unless a test sets it up): the info device,
// unbacked addresses, what cannot be emulated, faults while delivering an event, accesses
// straddling the end of RAM or a page.
#include <criterion/criterion.h>
#include "vmm_fake.h"
#include "vmm_exit_fake.h"

TestSuite(mmio, .init = fake_setup);

static void mmio_exit_at(uint64_t gpa, uint64_t qual, const uint8_t *code, size_t n)
{
    memcpy(fake_ram + 0x100000, code, n);
    exit_of(RS_EXIT_GUEST_FAULT, qual);
    w[RS_EXIT_MR_GPA] = gpa;
    w[RS_EXIT_MR_INSN_LEN] = 0;
    run();
}

Test(mmio, the_info_device)
{
    static const uint8_t load[] = {0x8B, 0x02}, load16[] = {0x66, 0x8B, 0x0A},
                         store[] = {0x89, 0x02};
    mmio_exit_at(INFO_GPA, 1, load, sizeof(load));
    cr_assert_eq(flags(), RS_REPLY_SET_RIP | RS_REPLY_SET_GPRS);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100002);
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], INFO_MAGIC);
    cr_assert(r.len > RS_REPLY_MR_RIP);
    fake_st.irqs = 0x123456;
    mmio_exit_at(INFO_GPA + 4, 1, load16, sizeof(load16));
    cr_assert_eq(r.w[RS_REPLY_MR_RCX], (w[RS_EXIT_MR_RCX] & ~0xFFFFull) | 0x3456);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100003);
    mmio_exit_at(INFO_GPA + 8, 2, store, sizeof(store));
    w[RS_EXIT_MR_RAX] = 0xBEEF;
    fake_st.out.len = 0;
    run();
    cr_assert_str_eq(fake_out(), "[vm1] mmio: 0xbeef\n");
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
}

Test(mmio, elsewhere_reads_are_all_ones_writes_dropped_and_each_page_logged_once)
{
    static const uint8_t loadb[] = {0x8A, 0x22}, store[] = {0x89, 0x02};
    mmio_exit_at(0xFEE00030, 1, loadb, sizeof(loadb)); // mov (%edx), %ah
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], (w[RS_EXIT_MR_RAX] & ~0xFF00ull) | 0xFF00);
    cr_assert(strstr(fake_out(), "vmm vm1: read at unmapped gpa 0xfee00030 (rip 0x100000)"));
    fake_st.out.len = 0;
    mmio_exit_at(0xFEE00040, 2, store, sizeof(store));
    cr_assert_str_eq(fake_out(), "", "the same page: not again");
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
    for (unsigned i = 0; i < VMM_ONCE_MAX + 5; i++)
        mmio_exit_at(0x80000000 + i * 4096ull, 2, store, sizeof(store));
    cr_assert_eq(fake_st.once.n, VMM_ONCE_MAX, "the log of pages is bounded");
}

Test(mmio, what_cannot_be_emulated)
{
    static const uint8_t div[] = {0xF7, 0x32}; // div (%edx)
    mmio_exit_at(0xFEE00000, 2, div, sizeof(div));
    cr_assert_eq(flags(), RS_REPLY_INJECT);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP);
    cr_assert(strstr(fake_out(), "cannot emulate the instruction at rip 0x100000"));
    fake_state.cs.attrib = 0xA9B; // 64-bit code: the same with a REX prefix
    fake_state.efer = 0x500;
    static const uint8_t rex_div[] = {0x48, 0xF7, 0x32};
    mmio_exit_at(0xFEE00000, 2, rex_div, sizeof(rex_div));
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_GP);
    mmio_exit_at(0xFEE00000, 4, div, sizeof(div)); // executing there
    cr_assert_eq(r.label, 1);
}

/* Issue 16 item 11: a guest fault taken while the CPU delivered an event (the IST stack, IDT or
 * GDT outside RAM) is no access of the instruction at RIP. The VMM used to emulate that
 * instruction (a MOV: skipped as if it had been the access) or inject #GP behind the event the
 * kernel delivers again, which faults again: the guest looped through the VMM for ever. Now the
 * guest stops, as for a triple fault. */
Test(mmio, a_fault_while_delivering_an_event_stops_the_guest)
{
    static const uint8_t store[] = {0x89, 0x02}, ud2[] = {0x0F, 0x0B};
    uint64_t gp = RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0) | RS_EVENT_VALID;
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    exit_of(RS_EXIT_GUEST_FAULT, 2); // the push of the exception frame, on a stack above RAM
    w[RS_EXIT_MR_GPA] = 0x7FFFF8;
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_EVENT] = gp;
    run();
    cr_assert_eq(r.label, 1, "not emulated as the MOV at RIP");
    cr_assert(fake_st.stopped);
    cr_assert_eq(fake_st.stop_reason, RS_EXIT_GUEST_FAULT);
    cr_assert(strstr(fake_out(), "vmm vm1: event 0x80000b0d being delivered touched gpa 0x7ffff8 "
                                 "outside RAM (its IDT, GDT or stack)"),
              "%s", fake_out());
    cr_assert(strstr(fake_out(), "vmm vm1: guest fault while delivering an event at rip "
                                 "0x100000: stopped"));
    // an instruction that is no MOV (it used to get #GP behind the event: the loop)
    fake_setup();
    memcpy(fake_ram + 0x100000, ud2, sizeof(ud2));
    w[RS_EXIT_MR_QUAL] = 1; // reading the IDT entry
    w[RS_EXIT_MR_EVENT] = RS_EVENT_MAKE(0x20, RS_EVENT_EXTINT) | RS_EVENT_VALID;
    run();
    cr_assert_eq(r.label, 1);
    cr_assert(!(r.w[RS_REPLY_MR_FLAGS] & RS_REPLY_INJECT));
    // the same fault without an event in delivery is the MOV's own access, as before
    fake_setup();
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    w[RS_EXIT_MR_QUAL] = 2;
    w[RS_EXIT_MR_EVENT] = 0;
    run();
    cr_assert_eq(r.label, 0);
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100002);
}

/* Issue 16 item 11: an access that straddles the end of RAM faults on its outside part only;
 * the VMM emulates the whole instruction, so it must do the RAM part itself. It used to send the
 * whole access to the device at the exit's address and drop the RAM half of a store. */
Test(mmio, a_store_straddling_the_end_of_ram_writes_the_ram_part)
{
    static const uint8_t store[] = {0x89, 0x02}; // mov %eax, (%edx)
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    exit_of(RS_EXIT_GUEST_FAULT, 2);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = FAKE_RAM_SIZE; // the part outside RAM is what faulted
    w[RS_EXIT_MR_RDX] = FAKE_RAM_SIZE - 2;
    w[RS_EXIT_MR_RAX] = 0x11223344;
    run();
    cr_assert_eq(r.label, 0);
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100002);
    cr_assert(fake_ram[FAKE_RAM_SIZE - 2] == 0x44 && fake_ram[FAKE_RAM_SIZE - 1] == 0x33,
              "the RAM half: %02x %02x", fake_ram[FAKE_RAM_SIZE - 2], fake_ram[FAKE_RAM_SIZE - 1]);
    cr_assert(strstr(fake_out(), "write at unmapped gpa 0x400000"), "%s", fake_out());
}

/* Long mode, identity-mapped by one 1 GiB page (PML4 at 0x1000, PDPT at 0x2000). */
static void long_mode_identity(void)
{
    fake_ram[0x1000] = 0x03, fake_ram[0x1001] = 0x20; // PML4[0] -> 0x2000, present, writable
    fake_ram[0x2000] = 0x83;                          // PDPT[0]: 1 GiB page at 0
    fake_state.cr0 = 0x80000011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20;
    fake_state.efer = 0x500, fake_state.cs.attrib = 0xA9B;
}

Test(mmio, an_8_byte_store_straddling_the_end_of_ram)
{
    static const uint8_t store[] = {0x48, 0x89, 0x44, 0x8A, 0x10}; // mov %rax, 16(%rdx,%rcx,4)
    long_mode_identity();
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    exit_of(RS_EXIT_GUEST_FAULT, 2);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = FAKE_RAM_SIZE + 1; // any byte of the outside part
    w[RS_EXIT_MR_RDX] = FAKE_RAM_SIZE - 4 - 16 - 40;
    w[RS_EXIT_MR_RCX] = 10;
    w[RS_EXIT_MR_RAX] = 0x1122334455667788ull;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100005);
    cr_assert_eq(memcmp(fake_ram + FAKE_RAM_SIZE - 4, "\x88\x77\x66\x55", 4), 0,
                 "the low four bytes went to RAM");
}

Test(mmio, a_load_straddling_the_end_of_ram_or_two_device_pages)
{
    static const uint8_t load[] = {0x8B, 0x02}; // mov (%edx), %eax
    memcpy(fake_ram + 0x100000, load, sizeof(load));
    fake_ram[FAKE_RAM_SIZE - 1] = 0xAB;
    exit_of(RS_EXIT_GUEST_FAULT, 1);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = FAKE_RAM_SIZE;
    w[RS_EXIT_MR_RDX] = FAKE_RAM_SIZE - 1;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0xFFFFFFABull, "RAM byte, then open bus");
    // the info device's last two bytes (0) and the open bus after it (all ones)
    exit_of(RS_EXIT_GUEST_FAULT, 1);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = INFO_GPA + 0x1000;
    w[RS_EXIT_MR_RDX] = INFO_GPA + 0xFFE;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0xFFFF0000ull);
    // the first page of an access that crosses pages is the one reported: the same result
    w[RS_EXIT_MR_GPA] = INFO_GPA + 0xFFE;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], 0xFFFF0000ull);
    // a 32-bit info register read that starts in the device page: unchanged
    w[RS_EXIT_MR_RDX] = w[RS_EXIT_MR_GPA] = INFO_GPA;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RAX], INFO_MAGIC);
}

/* A page-crossing store from an unmapped page into a RAM page: the CPU faulted on the first
 * page before it checked the guest's rights on the second, so the VMM checks them: a user-mode
 * store must not reach a supervisor page (nor any store a read-only one, with CR0.WP). */
Test(mmio, a_page_crossing_store_into_ram_keeps_the_guests_page_rights)
{
    static const uint8_t store[] = {0x89, 0x02}; // mov %eax, (%rdx)
    uint64_t e[][2] = {{0x1000, 0x2007},         // PML4[0]
                       {0x2000, 0x4007},         // PDPT[0]
                       {0x4000, 0x87},           // PD[0]: 2 MiB user page at 0 (the code)
                       {0x4008, 0x5007},         // PD[1] -> PT at 0x5000
                       {0x5000, 0x500007},       // la 0x200000: outside RAM, user
                       {0x5008, 0x6003}};        // la 0x201000: RAM 0x6000, supervisor only
    for (unsigned i = 0; i < 6; i++) memcpy(fake_ram + e[i][0], &e[i][1], 8);
    fake_state.cr0 = 0x80010011, fake_state.cr3 = 0x1000, fake_state.cr4 = 0x20;
    fake_state.efer = 0x500, fake_state.cs.attrib = 0xAFB, fake_state.ss.attrib = 0xCF3; // CPL 3
    memcpy(fake_ram + 0x100000, store, sizeof(store));
    exit_of(RS_EXIT_GUEST_FAULT, 2);
    w[RS_EXIT_MR_INSN_LEN] = 0;
    w[RS_EXIT_MR_GPA] = 0x500FFE;
    w[RS_EXIT_MR_RDX] = 0x200FFE;
    w[RS_EXIT_MR_RAX] = 0x11223344;
    run();
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100002);
    cr_assert(fake_ram[0x6000] == 0 && fake_ram[0x6001] == 0, "user mode: not a supervisor page");
    fake_state.ss.attrib = 0xC93; // CPL 0, CR0.WP: the page is writable, so it is written
    run();
    cr_assert(fake_ram[0x6000] == 0x22 && fake_ram[0x6001] == 0x11);
    memset(fake_ram + 0x6000, 0, 2);
    uint64_t ro = 0x6001; // read-only
    memcpy(fake_ram + 0x5008, &ro, 8);
    run();
    cr_assert(fake_ram[0x6000] == 0, "CR0.WP: supervisor writes respect read-only pages");
    fake_state.cr0 = 0x80000011; // WP clear: they do not
    run();
    cr_assert(fake_ram[0x6000] == 0x22);
}
