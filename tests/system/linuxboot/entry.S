/* SPDX-License-Identifier: MIT */
/* bootcheck's entry: the first byte of the protected-mode part of a synthetic bzImage, entered by
 * the Linux 32-bit boot protocol. It records the registers the protocol defines before touching
 * any of them (and before it has a stack of its own), then calls bootcheck_main. */

    .section .text.entry, "ax"
    .code32
    .global _start
_start:
    movl %esi, entry_regs + 0
    movl %ebx, entry_regs + 4
    movl %ebp, entry_regs + 8
    movl %edi, entry_regs + 12
    movl $stack_top, %esp
    pushfl                              /* nothing above has changed a flag */
    popl entry_regs + 16
    movl %cs, %eax
    movl %eax, entry_regs + 20
    movl %ds, %eax
    movl %eax, entry_regs + 24
    movl %es, %eax
    movl %eax, entry_regs + 28
    movl %ss, %eax
    movl %eax, entry_regs + 32
    movl %cr0, %eax
    movl %eax, entry_regs + 36
    sgdt entry_gdtr
    cld
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    call bootcheck_main
1:  cli
    hlt
    jmp 1b

    .data
    .balign 4
    .global entry_regs, entry_gdtr
entry_regs: .space 40                   /* esi ebx ebp edi eflags cs ds es ss cr0 */
entry_gdtr: .space 8

    .bss
    .balign 16
stack:  .space 8192
stack_top:
    .section .note.GNU-stack, "", @progbits
