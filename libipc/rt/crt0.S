/* SPDX-License-Identifier: MIT */
/* Program entry for every user program: the creator passes one argument in rdi (init: the
 * bootinfo; other programs: what their creator chose) and the IPC buffer's address in rsi (0 for
 * init, which finds it in the bootinfo). */
    .text
    .global _start
_start:
    xorl %ebp, %ebp
    andq $-16, %rsp
    call rt_main
1:  ud2
    jmp 1b

    .section .note.GNU-stack, "", @progbits
