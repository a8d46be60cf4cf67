/* SPDX-License-Identifier: MIT */
/* The fake machine the host tests run the kernel on (fake_arch.c): its recorded state, and RUN,
 * which runs a kernel entry that may leave the kernel. */
#pragma once
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "arch/x86_64/arch.h"

extern jmp_buf *fake_exit;
extern struct user_context *fake_restored; /* the context the kernel last left into */
extern int fake_idle_waits;
extern uint64_t fake_free_asids;
extern uint32_t fake_next_asid;
extern int fake_vspaces_finalised;
extern bool fake_pic_masked[IRQ_COUNT];
extern unsigned fake_irq_lines, fake_irq_isa_gsi; /* what arch_irq_lines/_line_usable answer */
extern unsigned fake_irq_pending_every; /* every n-th poll of arch_irq_pending says yes (0: none) */
extern unsigned long fake_irq_polls;
extern uint64_t fake_tsc;            /* what arch_timer_now answers */
extern uint64_t fake_timer_deadline; /* the last arch_timer_set_deadline (UINT64_MAX: none) */
extern unsigned long fake_timer_sets;
extern char fake_console[];
extern size_t fake_console_len;

/* How a kernel entry ended: it left into user mode, or idled (or returned, which it must not). */
enum { STAYED, LEFT_USER, LEFT_IDLE };

/* Runs `call` as a kernel entry that may leave the kernel; sets `how`. Leaving longjmps back here
 * (see arch_restore_user in fake_arch.c). */
#define RUN(how, call)                                                                             \
    do {                                                                                           \
        jmp_buf jb_;                                                                               \
        fake_exit = &jb_;                                                                          \
        switch (setjmp(jb_)) {                                                                     \
        case 0:                                                                                    \
            call;                                                                                  \
            (how) = STAYED;                                                                        \
            break;                                                                                 \
        case 1: (how) = LEFT_USER; break;                                                          \
        default: (how) = LEFT_IDLE; break;                                                         \
        }                                                                                          \
        fake_exit = NULL;                                                                          \
    } while (0)
