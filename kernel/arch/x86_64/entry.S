/* SPDX-License-Identifier: MIT */
/* Kernel entry and exit: syscall, interrupt/exception stubs, return to user. The user frame is
 * pushed into the current TCB's user_context (see context.h); then we switch to the one kernel
 * stack: the kernel is event-driven and never blocks on its stack.
 * With page-table isolation (pti_enabled, see paging.c) user threads run on page tables that map
 * only this file's .entry.text/.entry.data pages and the GDT, IDT and TSS (the "skim window", as
 * in seL4): entry switches to the kernel's page tables before it touches anything else, and the
 * CPU pushes an interrupt frame onto entry_stack (TSS.rsp0), from which it is copied into the
 * TCB; exit copies the frame back to entry_stack, loads the user's CR3 and leaves from there. */
#include "layout.h"
#include "context.h"

.macro PUSH_GPRS
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
.endm

/* Where PUSH_GPRS leaves each register in the frame (struct user_context, context.h). */
#define CTX_OFF_R15 (0 * 8)
#define CTX_OFF_R14 (1 * 8)
#define CTX_OFF_R13 (2 * 8)
#define CTX_OFF_R12 (3 * 8)
#define CTX_OFF_R10 (5 * 8)
#define CTX_OFF_R9  (6 * 8)
#define CTX_OFF_R8  (7 * 8)
#define CTX_OFF_RBP (8 * 8)
#define CTX_OFF_RDI (9 * 8)
#define CTX_OFF_RSI (10 * 8)
#define CTX_OFF_RDX (11 * 8)
#define CTX_OFF_RBX (13 * 8)
#define CTX_OFF_RAX (14 * 8)

.macro POP_GPRS
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
.endm

    .section .entry.text, "ax", @progbits
    /* IF is already clear (SFMASK). rcx = user rip, r11 = user rflags. LSTAR names one of these
     * two entry points (arch_syscall_init), so that the path without PTI has no test for it. */
    .global syscall_entry, syscall_entry_pti

/* Frame offsets from its end (cur_ctx_top), where the syscall entry has its stack pointer. */
#define F(off) ((off) - CTX_FRAME_END)(%rsp)
#define CTX_OFF_RCX (12 * 8)
#define CTX_OFF_R11 (4 * 8)

/* Saves the user's registers into the frame that ends at `top` (cur_ctx_top with PTI; without,
 * TSS.rsp0, which is the same there: switch.h stores only that one), by stores (a push each
 * would also write the error code and the constant CS and SS, which tcb_init set and the iret
 * exit sets again); rcx and r11 hold the user's RIP and RFLAGS (syscall put them there) and go
 * to both places, as pushes would have left them. The vector is not stored: while a thread runs
 * in user mode its frame says VECTOR_SYSCALL already (an interrupt entry overwrites it, and
 * the iret exit puts it back). Then the kernel stack and rdi = cur. */
.macro SYSCALL_SAVE top
    movq \top(%rip), %rsp
    movq %rcx, F(CTX_OFF_RIP)
    movq %rcx, F(CTX_OFF_RCX)
    movq %r11, F(CTX_OFF_RIP + 16)
    movq %r11, F(CTX_OFF_R11)
    movq user_rsp_scratch(%rip), %rcx
    movq %rcx, F(CTX_OFF_RIP + 24)
    movq %rax, F(CTX_OFF_RAX)
    movq %rbx, F(CTX_OFF_RBX)
    movq %rdx, F(CTX_OFF_RDX)
    movq %rsi, F(CTX_OFF_RSI)
    movq %rdi, F(CTX_OFF_RDI)
    movq %rbp, F(CTX_OFF_RBP)
    movq %r8, F(CTX_OFF_R8)
    movq %r9, F(CTX_OFF_R9)
    movq %r10, F(CTX_OFF_R10)
    movq %r12, F(CTX_OFF_R12)
    movq %r13, F(CTX_OFF_R13)
    movq %r14, F(CTX_OFF_R14)
    movq %r15, F(CTX_OFF_R15)
    movabsq $kernel_stack_top, %rsp
    movq cur(%rip), %rdi
.endm

syscall_entry_pti:
    movq %rsp, user_rsp_scratch(%rip)
    leaq entry_stack_top(%rip), %rsp
    pushq %rax
    movq kernel_cr3(%rip), %rax
    movq %rax, %cr3
    popq %rax
    SYSCALL_SAVE cur_ctx_top
    cmpq $1, %rax                 /* RS_SYS_CALL */
    je fastpath_call_pti          /* C, never returns; falls back to syscall_slowpath */
    cmpq $2, %rax                 /* RS_SYS_REPLY_RECV */
    je fastpath_reply_recv_pti
    cmpq $3, %rax                 /* RS_SYS_SEND: Signal */
    je fastpath_send               /* (one copy: it leaves by the mode it finds) */
    jmp syscall_slowpath          /* C, never returns */
syscall_entry:
    movq %rsp, user_rsp_scratch(%rip)
    SYSCALL_SAVE tss+4                  /* TSS.rsp0 (switch.h: struct tss) */
    cmpq $1, %rax
    je fastpath_call
    cmpq $2, %rax
    je fastpath_reply_recv
    cmpq $3, %rax
    je fastpath_send
    jmp syscall_slowpath

/* Exception/interrupt stubs: push a dummy error code when the CPU pushes none. */
/* Vectors 8, 10-14, 17, 21, 29, 30 push an error code themselves (Intel SDM vol. 3 6.13). */
.macro ISR n
    .align 16
isr_\n:
    .if (\n != 8) && (\n < 10 || \n > 14) && (\n != 17) && (\n != 21) && (\n != 29) && (\n != 30)
    pushq $0
    .endif
    pushq $\n
    jmp isr_common
.endm
.macro ISR_PTR n
    .quad isr_\n
.endm

.altmacro
.set i, 0
.rept 256
    ISR %i
    .set i, i + 1
.endr

isr_common:
    PUSH_GPRS
    cld                               /* the C ABI wants DF clear; a user's DF=1 survives delivery */
    testb $3, CTX_OFF_RIP + 8(%rsp)   /* cs of the interrupted code */
    jz 1f
    testb $1, pti_enabled(%rip)
    jz 4f
    movq kernel_cr3(%rip), %rax       /* rax is saved in the frame already */
    movq %rax, %cr3
    movq %rsp, %rsi                   /* the frame: entry_stack (or an IST stack) -> the TCB */
    movq cur_ctx_top(%rip), %rdi
    subq $CTX_FRAME_END, %rdi
    movl $CTX_FRAME_END / 8, %ecx
    rep movsq                         /* (leaves rdi = cur_ctx_top) */
    jmp 5f
4:  movq tss+4(%rip), %rdi           /* without PTI the frame's top is TSS.rsp0 (switch.h) */
5:  /* from user: the CPU does not clear RFLAGS.AC on interrupts, and AC=1 would switch SMAP off
     * in the kernel (Intel SDM vol. 3A 4.6.1); syscall clears it through SFMASK */
    testb $1, smap_enabled(%rip)
    jz 3f
    clac
3:  movabsq $kernel_stack_top, %rsp   /* from user: frame is in the TCB, go to kernel stack */
    subq $CTX_FRAME_END, %rdi
    jmp trap_from_user                /* C, never returns */
1:  /* from the kernel: an interrupt (the idle halt, a host interrupt after a VM exit) is handled
     * on this stack; a CPU exception is a kernel bug */
    cmpq $32, CTX_OFF_VECTOR(%rsp)
    jb kernel_exception
    movq %rsp, %rdi
    call trap_from_kernel
    POP_GPRS
    addq $16, %rsp
    iretq

/* A CPU exception in the kernel: report it once and stop. The stack it came on (or the page
 * tables) may be what is broken, so the report runs on a stack of its own with the kernel's own
 * page tables; an exception while doing so (or during any panic) just halts, so that a broken
 * panic path cannot fault in a loop. */
kernel_exception:
    cli
    movq kernel_cr3(%rip), %rax
    testq %rax, %rax                  /* 0 until the kernel's page tables are built */
    jz 2f
    movq %rax, %cr3                   /* (it may have come from the exit path, on user tables) */
2:  lock btsl $0, panicking(%rip)
    jc panic_halt
    movq %rsp, %rdi                   /* the frame, for the report */
    movabsq $panic_stack_top, %rsp
    call kernel_exception_report      /* C, never returns */

    .global panic_halt
panic_halt:
    cli
    hlt
    jmp panic_halt

    .global arch_restore_user
arch_restore_user:
    /* The RIP must be canonical and in the lower half: iretq and sysretq to a non-canonical RIP
     * raise #GP in ring 0 (Intel SDM vol. 2A IRET, vol. 2B SYSRET), with RSP already pointing at
     * the user's frame. Every path that sets a RIP keeps it below USER_TOP, and nothing can be
     * mapped where an instruction could end past USER_TOP (a syscall or trap at the end of the
     * last page returns to USER_TOP itself, which is canonical); this catches anything that
     * slipped through: the thread takes a #GP of its own instead (both exits below check). */
    testb $1, pti_enabled(%rip)
    jnz restore_pti
    /* Entered here when the caller knows PTI is off (the IPC fast path, fastpath.h). */
    .global arch_restore_user_nopti
arch_restore_user_nopti:
    movq CTX_OFF_RIP(%rdi), %rax
    shrq $47, %rax
    jnz bad_user_rip
    cmpq $VECTOR_SYSCALL, CTX_OFF_VECTOR(%rdi)
    jne 2f
sysret_tail:
    /* rdi = the frame. Loads instead of pops: rcx and r11 take RIP and RFLAGS (sysret's own
     * registers, not preserved by syscall), so they are never loaded from the frame, and RSP is
     * loaded once, last but rdi (the base); interrupts are off, NMIs run on their IST stack. */
    movq CTX_OFF_R15(%rdi), %r15
    movq CTX_OFF_R14(%rdi), %r14
    movq CTX_OFF_R13(%rdi), %r13
    movq CTX_OFF_R12(%rdi), %r12
    movq CTX_OFF_R10(%rdi), %r10
    movq CTX_OFF_R9(%rdi), %r9
    movq CTX_OFF_R8(%rdi), %r8
    movq CTX_OFF_RBP(%rdi), %rbp
    movq CTX_OFF_RSI(%rdi), %rsi
    movq CTX_OFF_RDX(%rdi), %rdx
    movq CTX_OFF_RBX(%rdi), %rbx
    movq CTX_OFF_RAX(%rdi), %rax
    movq CTX_OFF_RIP(%rdi), %rcx
    movq CTX_OFF_RIP + 16(%rdi), %r11          /* rflags */
    movq CTX_OFF_RIP + 24(%rdi), %rsp          /* user rsp */
    movq CTX_OFF_RDI(%rdi), %rdi
    sysretq
2:  movq %rdi, %rsp
    movq $GDT_USER_CS, CTX_OFF_RIP + 8(%rsp)      /* user segments whatever the frame says */
    movq $GDT_USER_DS, CTX_OFF_RIP + 32(%rsp)
    movq $VECTOR_SYSCALL, CTX_OFF_VECTOR(%rsp)    /* what a syscall entry leaves (it skips it) */
iret_tail:
    POP_GPRS
    addq $16, %rsp
    iretq
restore_pti:
    /* PTI: the TCB is not mapped on the user's tables: leave from a copy on entry_stack */
    movq CTX_OFF_RIP(%rdi), %rax
    shrq $47, %rax
    jnz bad_user_rip
    movq $GDT_USER_CS, CTX_OFF_RIP + 8(%rdi)
    movq $GDT_USER_DS, CTX_OFF_RIP + 32(%rdi)
    movq CTX_OFF_VECTOR(%rdi), %rdx                /* how it leaves, decided here: */
    movq $VECTOR_SYSCALL, CTX_OFF_VECTOR(%rdi)     /* what a syscall entry leaves (it skips it) */
    movq %rdi, %rsi
    leaq entry_stack_top - CTX_FRAME_END(%rip), %rdi
    movl $CTX_FRAME_END / 8, %ecx
    rep movsq
    leaq entry_stack_top - CTX_FRAME_END(%rip), %rsp
    movq user_cr3(%rip), %rax
    movq %rax, %cr3
    cmpq $VECTOR_SYSCALL, %rdx
    jne iret_tail
    movq %rsp, %rdi
    jmp sysret_tail
bad_user_rip:
    movabsq $kernel_stack_top, %rsp
    jmp trap_bad_user_rip             /* C, never returns */

    .section .rodata
    .global isr_table
    .align 8
isr_table:
.set i, 0
.rept 256
    ISR_PTR %i
    .set i, i + 1
.endr

    /* What entry and exit touch before (or after) the CR3 switch: in the skim window. */
    .section .entry.data, "aw", @progbits
    .align 8
    .global cur_ctx_top, user_cr3, pti_enabled
cur_ctx_top:      .quad 0
user_rsp_scratch: .quad 0
user_cr3:         .quad 0   /* PTI: the CR3 to leave with (the current thread's VSpace) */
pti_enabled:      .byte 0
    .align 16
    .global entry_stack_top
entry_stack:      .skip 1024
entry_stack_top:

    .bss
    .align 16
panic_stack:      .skip 8192
panic_stack_top:

    .section .note.GNU-stack, "", @progbits
