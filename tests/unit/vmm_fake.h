/* SPDX-License-Identifier: MIT */
/* What the VMM host tests share: a VMM context (servers/vmm/vmm.h) over fake VCPU operations,
 * a fake host CPUID (all bits set, so that every bit the VMM clears shows) and a zeroed RAM. */
#pragma once
#include <stdlib.h>
#include <string.h>
#include <resurgo/errors.h>
#include "vmm.h"

#define FAKE_RAM_SIZE (4ul << 20)
#define FAKE_TSC      0x123456789ull

static rs_vcpu_state_t fake_state; /* what ReadState returns and WriteState changes */
static unsigned fake_writes;       /* WriteState calls */
static int fake_write_error;       /* WriteState's answer */
static struct vmm_state fake_st;
static uint8_t *fake_ram;
static struct vmm fake_vmm;

static inline int fake_read_state(void *ctx, rs_vcpu_state_t *s)
{
    (void)ctx;
    *s = fake_state;
    return 0;
}

static inline int fake_write_state(void *ctx, const rs_vcpu_state_t *s)
{
    (void)ctx;
    fake_writes++;
    if (!fake_write_error) fake_state = *s;
    return fake_write_error;
}

static inline void fake_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    (void)leaf, (void)sub;
    r[0] = r[1] = r[2] = r[3] = 0xFFFFFFFFu;
}

static inline uint64_t fake_tsc(void) { return FAKE_TSC; }

static const struct vmm_ops fake_ops = {fake_read_state, fake_write_state, fake_cpuid, fake_tsc};

/* The exit's segment words (RS_EXIT_MR_SEG .. RS_EXIT_MR_GS_BASE) as a backend gives them for
 * fake_state (kernel/vcpu_exit.c): the VMM's instruction emulation reads these, not ReadState.
 * The interrupt-state bits a test put in w[RS_EXIT_MR_SEG] stay. */
static inline void fake_exit_seg(uint64_t *w)
{
    const rs_vcpu_state_t *s = &fake_state;
    w[RS_EXIT_MR_SEG] = (w[RS_EXIT_MR_SEG] & (7ull << 40)) | (s->cs.attrib & 0xFFF) |
                        (s->ss.attrib & 0xFFF) << 16 | ((s->ss.attrib >> 5) & 3) << 32;
    w[RS_EXIT_MR_CS_SS_BASE] = (uint32_t)s->cs.base | (uint64_t)(uint32_t)s->ss.base << 32;
    w[RS_EXIT_MR_DS_ES_BASE] = (uint32_t)s->ds.base | (uint64_t)(uint32_t)s->es.base << 32;
    w[RS_EXIT_MR_FS_BASE] = s->fs.base;
    w[RS_EXIT_MR_GS_BASE] = s->gs.base;
}

/* All the exit words that come from fake_state: the paging registers and the segment words. */
static inline void fake_exit_cpu(uint64_t *w)
{
    w[RS_EXIT_MR_CR0] = fake_state.cr0;
    w[RS_EXIT_MR_CR3] = fake_state.cr3;
    w[RS_EXIT_MR_CR4] = fake_state.cr4;
    w[RS_EXIT_MR_EFER] = fake_state.efer;
    fake_exit_seg(w);
}

/* A fresh VMM: state zero, RAM zero, the vCPU in 32-bit flat protected mode without paging. */
static inline void fake_setup(void)
{
    memset(&fake_st, 0, sizeof(fake_st));
    uart_reset(&fake_st.uart);
    if (!fake_ram) fake_ram = malloc(FAKE_RAM_SIZE);
    memset(fake_ram, 0, FAKE_RAM_SIZE);
    fake_state = (rs_vcpu_state_t){.cr0 = 0x11, .cs = {0x08, 0, 0xFFFFFFFF, 0xC9B}};
    fake_writes = 0;
    fake_write_error = 0;
    fake_vmm = (struct vmm){.name = "vm1",
                            .ram = fake_ram,
                            .ram_size = FAKE_RAM_SIZE,
                            .st = &fake_st,
                            .ops = &fake_ops};
}

/* The output the current transaction produced, as a string. */
static inline const char *fake_out(void)
{
    static char buf[VMM_OUT_MAX + 1];
    memcpy(buf, fake_st.out.text, fake_st.out.len);
    buf[fake_st.out.len] = 0;
    return buf;
}
