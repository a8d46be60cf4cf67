// SPDX-License-Identifier: MIT
// Host tests of the VMM's cache-flush exits (servers/vmm/cache.c, through exit.c): WBINVD,
// WBNOINVD and INVD are recognised by their bytes at RIP and skipped, logged once; any other
// unhandled exit still gets #UD.
#include <criterion/criterion.h>
#include "vmm_fake.h"
#include "vmm_exit_fake.h"

TestSuite(cache, .init = fake_setup);

/* An unhandled exit (the raw reason is the backend's) with `code` at RIP 0x100000. */
static enum vmm_action cache_exit_with(const uint8_t *code, size_t n)
{
    memcpy(fake_ram + 0x100000, code, n);
    exit_of(RS_EXIT_OTHER, 0);
    w[RS_EXIT_MR_RAW_REASON] = 0x36; // VMX WBINVD; the bytes decide, not the code
    return run();
}

static void expect_skipped(unsigned len)
{
    cr_assert_eq(flags(), RS_REPLY_SET_RIP);
    cr_assert_eq(r.w[RS_REPLY_MR_RIP], 0x100000 + len);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], 0, "nothing injected");
}

Test(cache, wbinvd_wbnoinvd_and_invd_are_skipped)
{
    static const uint8_t wbinvd[] = {0x0F, 0x09}, wbnoinvd[] = {0xF3, 0x0F, 0x09},
                         invd[] = {0x0F, 0x08};
    cr_assert_eq(cache_exit_with(wbinvd, sizeof(wbinvd)), VMM_REPLY);
    expect_skipped(2);
    cr_assert_eq(cache_exit_with(wbnoinvd, sizeof(wbnoinvd)), VMM_REPLY);
    expect_skipped(3);
    cr_assert_eq(cache_exit_with(invd, sizeof(invd)), VMM_REPLY);
    expect_skipped(2);
}

Test(cache, logged_once)
{
    static const uint8_t wbinvd[] = {0x0F, 0x09};
    cache_exit_with(wbinvd, sizeof(wbinvd));
    cr_assert(
        strstr(fake_out(), "vmm vm1: guest cache flush (WBINVD/INVD) at rip 0x100000: skipped"),
        "%s", fake_out());
    fake_st.out.len = 0;
    cache_exit_with(wbinvd, sizeof(wbinvd));
    expect_skipped(2);
    cr_assert_str_eq(fake_out(), "");
}

Test(cache, other_bytes_get_ud)
{
    static const uint8_t rdpmc[] = {0x0F, 0x33}, lone_prefix[] = {0xF3, 0x90}, ud2[] = {0x0F, 0x0B};
    const uint8_t *codes[] = {rdpmc, lone_prefix, ud2};
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(cache_exit_with(codes[i], 2), VMM_REPLY);
        cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_UD, "code %u", i);
        cr_assert_eq(flags() & RS_REPLY_SET_RIP, 0, "code %u", i);
    }
}

/* The bytes are read at CS.base + RIP outside 64-bit mode, where RIP is 32 bits wide. */
Test(cache, rip_is_relative_to_cs_base)
{
    static const uint8_t wbinvd[] = {0x0F, 0x09};
    memcpy(fake_ram + 0x110000, wbinvd, sizeof(wbinvd));
    fake_state.cs.base = 0x10000;
    exit_of(RS_EXIT_OTHER, 0);
    cr_assert_eq(run(), VMM_REPLY);
    expect_skipped(2);
}

/* The last byte of RAM cannot hold a two-byte instruction: no skip. */
Test(cache, a_fetch_cut_by_the_end_of_ram_is_not_a_flush)
{
    fake_ram[FAKE_RAM_SIZE - 1] = 0x0F;
    exit_of(RS_EXIT_OTHER, 0);
    w[RS_EXIT_MR_RIP] = FAKE_RAM_SIZE - 1;
    cr_assert_eq(run(), VMM_REPLY);
    cr_assert_eq(r.w[RS_REPLY_MR_INJECT], VMM_EVENT_UD);
}
