/* SPDX-License-Identifier: MIT */
/* The hostile guest's assembly: the 32-bit entry, the IDT stubs and hostile_try, which runs one
 * operation and, if an exception cuts it short, comes back with the stack as it was.
 * Start state (guests/README.md): 32-bit protected mode, paging off, flat segments, IF = 0,
 * ESP = 0x100000, EBX = RAM size in bytes; this file's first byte runs first. The guest stays in
 * 32-bit protected mode without paging, so a linear address is the guest-physical one. */

#include "../common/long_mode.inc"

#define SEL_CODE 0x08
#define SEL_DATA 0x10

    .section .text.entry, "ax"
    .code32
    .global _start
_start:
    cld
    movl %ebx, %ebp                     /* the RAM size, kept while .bss is zeroed */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    /* Our own GDT: the IDT's gates name a code selector, and what the start state's selectors
     * index (if anything) is not part of the contract. */
    lgdt gdtr
    ljmp $SEL_CODE, $1f
1:  movw $SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    pushl %ebp
    call hostile_main
1:  cli
    hlt
    jmp 1b

/* int hostile_try(void (*op)(struct op *), struct op *o): runs op(o) and returns 0, or 1 if an
 * exception ended it (exc_common unwinds to here). One level only: not reentrant. */
    .global hostile_try
hostile_try:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, try_esp
    pushl 24(%esp)
    call *24(%esp)                      /* 20 + the 4 just pushed */
    addl $4, %esp
    xorl %eax, %eax
try_out:
    movl $0, try_esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

/* Exception stubs: each pushes an error code (the CPU's or a zero) and its vector, so
 * hostile_exception gets one frame layout: vector, error, EIP, CS, EFLAGS. */
.macro exc_stub vec
exc_\vec:
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushl $0
    .endif
    pushl $\vec
    jmp exc_common
.endm
    .altmacro
.macro exc_stubs from, to
    exc_stub %from
    .if \to - \from
    exc_stubs %(\from + 1), \to
    .endif
.endm
    exc_stubs 0, 31

/* An exception outside hostile_try is a bug of ours: hostile_exception then reports it and
 * never returns. Inside, the operation is abandoned: the stack goes back to hostile_try's. */
exc_common:
    cld
    pushl %esp
    call hostile_exception
    movl try_esp, %esp
    movl $1, %eax
    jmp try_out

/* Vectors 32-255: nothing here enables interrupts, so one arriving means the VMM injected it
 * anyway. Count it and go on. */
    .global stray_stub
stray_stub:
    incl stray_interrupts
    iret

    .section .rodata
    .global exc_stub_table
    .balign 4
.macro exc_entry vec
    .long exc_\vec
.endm
.macro exc_entries from, to
    exc_entry %from
    .if \to - \from
    exc_entries %(\from + 1), \to
    .endif
.endm
exc_stub_table:
    exc_entries 0, 31
    .noaltmacro

    flat_gdt32

    .bss
    .global try_esp, stray_interrupts
    .balign 4
try_esp:            .skip 4
stray_interrupts:   .skip 4

    .section .note.GNU-stack, "", @progbits
