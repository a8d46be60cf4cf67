/* SPDX-License-Identifier: MIT */
/* The VMM exit tests' exit words and reply (test_vmm_exit.c, test_vmm_mmio.c): an exit is built
 * in `w`, vmm_exit answers into `r`. */
#pragma once
#include <criterion/criterion.h>
#include "vmm_fake.h"

#define IF_ON 0x202ull

static uint64_t w[RS_EXIT_MR_COUNT];
static struct vmm_reply r;

/* An exit of `reason` with qualification qual at rip 0x100000, IF set, rax..r15 = 0xA0 + index. */
static inline void exit_of(uint64_t reason, uint64_t qual)
{
    memset(w, 0, sizeof(w));
    w[RS_EXIT_MR_REASON] = reason;
    w[RS_EXIT_MR_QUAL] = qual;
    w[RS_EXIT_MR_RIP] = 0x100000;
    w[RS_EXIT_MR_RFLAGS] = IF_ON;
    w[RS_EXIT_MR_INSN_LEN] = 2;
    for (unsigned i = RS_EXIT_MR_GPR; i < RS_EXIT_MR_GPR + RS_GPR_COUNT; i++) w[i] = 0xA0 + i;
}

/* vmm_exit on w; an exit whose instruction the VMM emulates or reads (MMIO, I/O, the others)
 * carries the vCPU's modes and segments, here from fake_state. */
static inline enum vmm_action run(void)
{
    uint64_t reason = w[RS_EXIT_MR_REASON];
    if (reason == RS_EXIT_GUEST_FAULT || reason == RS_EXIT_IO || reason == RS_EXIT_OTHER)
        fake_exit_cpu(w);
    return vmm_exit(&fake_vmm, w, &r);
}
static inline uint64_t flags(void) { return r.w[RS_REPLY_MR_FLAGS]; }
