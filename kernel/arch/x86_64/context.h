/* SPDX-License-Identifier: MIT */
/* The saved user registers: the pushed frame, whose tail is the hardware interrupt frame so that
 * the CPU pushes straight into the current thread's TCB (TSS.rsp0 points just past it, as in
 * seL4), then what is not pushed: the FS base and the FPU/SSE image. */
#pragma once

#ifndef __ASSEMBLER__
#include <stdint.h>

struct user_context {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector; /* VECTOR_SYSCALL when entered by `syscall`: may leave by `sysret` */
    uint64_t error;
    uint64_t rip, cs, rflags, rsp, ss; /* hardware frame */
    uint64_t fs_base;                  /* not pushed; kept beside the frame */
    /* FPU/SSE registers (FXSAVE image), not pushed either: switched lazily (fpu.h) */
    uint8_t fpu[512] __attribute__((aligned(16)));
};
#endif

#define VECTOR_SYSCALL 0x100

#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10
#define GDT_USER_DS   0x1B
#define GDT_USER_CS   0x23
#define GDT_TSS       0x28

#define CTX_OFF_VECTOR (15 * 8)
#define CTX_OFF_RIP    (17 * 8)
#define CTX_FRAME_END  (22 * 8) /* offset just past ss: TSS.rsp0 / syscall stack top */

#ifndef __ASSEMBLER__
_Static_assert(__builtin_offsetof(struct user_context, vector) == CTX_OFF_VECTOR, "ctx layout");
_Static_assert(__builtin_offsetof(struct user_context, fs_base) == CTX_FRAME_END, "ctx layout");

/* Leaves the kernel into the given context (sysret when it came from syscall, else iret). */
_Noreturn void arch_restore_user(struct user_context *ctx);
#endif
