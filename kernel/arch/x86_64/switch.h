/* SPDX-License-Identifier: MIT */
/* Switching the machine to another user thread: entry stack, address space, TLS base, and the
 * FPU trap (CR0.TS, fpu.h). Inline, because the IPC fast path does it on every message. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "context.h"
#include "cpu.h"
#include "fpu.h"

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iopb_offset;
} __attribute__((packed));

extern struct tss tss;
extern uint64_t cur_ctx_top;  /* PTI: where `syscall` saves the frame (entry.S) */
extern uint64_t arch_cr3;     /* the loaded CR3, cached: reading CR3 is slow on real CPUs */
extern uint64_t arch_fs_base; /* the loaded FS base */

extern uint64_t user_cr3; /* PTI: the CR3 the exit path loads (entry.S) */
extern uint8_t pti_enabled;

/* Makes `ctx` the frame the next kernel entry saves into, loads the thread's VSpace (with PTI:
 * names it for the exit path; the kernel itself stays on its own page tables), and sets CR0.TS
 * unless the FPU registers hold the thread's own state. */
static inline __attribute__((always_inline)) void arch_switch_thread_in(struct user_context *ctx,
                                                                        uint64_t pml4_phys,
                                                                        bool pti)
{
    uint64_t top = (uint64_t)ctx + CTX_FRAME_END;
    if (pti) {
        cur_ctx_top = top;
        user_cr3 = pml4_phys;
    } else {
        // the syscall entry without PTI reads the frame's top from TSS.rsp0 (entry.S): one store
        tss.rsp[0] = top;
        if (pml4_phys != arch_cr3) {
            arch_cr3 = pml4_phys;
            write_cr3(pml4_phys);
        }
    }
    if (ctx->fs_base != arch_fs_base) {
        arch_fs_base = ctx->fs_base;
        wrmsr(MSR_FS_BASE, ctx->fs_base);
    }
    fpu_switch_thread(ctx->fpu);
}
/* The same in the mode the kernel runs in (the IPC fast path has a copy for each mode, with
 * `pti` a constant: arch_switch_thread_in). */
static inline __attribute__((always_inline)) void arch_switch_thread(struct user_context *ctx,
                                                                     uint64_t pml4_phys)
{
    arch_switch_thread_in(ctx, pml4_phys, pti_enabled);
}
