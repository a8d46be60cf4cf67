/* SPDX-License-Identifier: MIT */
/* nethostile's entry: the first byte of the protected-mode part of a synthetic bzImage (Linux
 * 32-bit boot protocol, as tests/system/linuxboot's bootcheck): a stack, a clear .bss, main. */

    .section .text.entry, "ax"
    .code32
    .global _start
_start:
    movl $stack_top, %esp
    cld
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    call nethostile_main
1:  cli
    hlt
    jmp 1b

    .bss
    .balign 16
stack:  .space 8192
stack_top:
    .section .note.GNU-stack, "", @progbits
