/* SPDX-License-Identifier: MIT */
/* Program entry for every user program: the creator passes one argument in rdi (init: the
 * bootinfo; other servers: their start info). The stack is 16-byte aligned minus 8, as at a call. */
    .text
    .global _start
_start:
    xorl %ebp, %ebp
    andq $-16, %rsp
    call rt_main
1:  ud2
    jmp 1b

    .section .note.GNU-stack, "", @progbits
