/* SPDX-License-Identifier: MIT */
/* The echo guest: a terminal program on COM1 for init's `attach` and clients' VMM_INPUT
 * (tests/system/vm, system-vm-console and system-vm-input). It prints "echo: ready", then reads
 * COM1 by polling LSR.DR, echoes each byte typed and, at the end of a line (CR or LF), prints
 * "echo: N: <line>", N counting the lines (a line repeated or lost shows). The line "later" is
 * answered only after LATER_POLLS reads of the scratch register (exits that take a second or
 * more under QEMU), so that a test can detach meanwhile and see the answer come back in line mode.
 * Start state (guests/README.md): 32-bit protected mode, paging off, flat segments, IF = 0,
 * ESP = 0x100000; this file's first byte runs first. No interrupts: it only polls. */

#include "../common/long_mode.inc"

#define COM1        0x3F8
#define LINE_MAX    64
#define LATER_POLLS 20000

    .section .text.entry, "ax"
    .code32
    .global _start
_start:
    cld
    movl $0, lines
    movw $COM1 + 2, %dx                 /* FCR: FIFOs on and cleared, as a driver does */
    movb $0x07, %al
    outb %al, %dx
    movl $msg_ready, %esi
    call puts
new_line:
    xorl %ebx, %ebx                     /* EBX: bytes in line */
next:
    call getc
    cmpb $'\r', %al
    je end_of_line
    cmpb $'\n', %al
    je end_of_line
    call putc                           /* the echo a terminal expects */
    cmpl $LINE_MAX, %ebx
    jae next                            /* the rest of a long line is echoed, not kept */
    movb %al, line(%ebx)
    incl %ebx
    jmp next
end_of_line:
    movl $msg_crlf, %esi
    call puts
    cmpl $5, %ebx                       /* "later": wait first */
    jne 2f
    movl $line, %esi
    movl $str_later, %edi
    movl $5, %ecx
    repe cmpsb
    jne 2f
    movl $LATER_POLLS, %ecx
    movw $COM1 + 7, %dx
1:  inb %dx, %al                        /* each read of SCR is an exit: time passes */
    loop 1b
    movl $msg_later, %esi
    call puts
    jmp new_line
2:  movl $msg_echo, %esi
    call puts
    incl lines
    movl lines, %eax
    call putdec
    movl $msg_colon, %esi
    call puts
    xorl %ecx, %ecx
3:  cmpl %ebx, %ecx
    jae 4f
    movb line(%ecx), %al
    call putc
    incl %ecx
    jmp 3b
4:  movl $msg_crlf, %esi
    call puts
    jmp new_line

/* AL = the next byte COM1 receives (LSR bit 0: data ready). Keeps every other register. */
getc:
    pushl %edx
    movw $COM1 + 5, %dx
1:  inb %dx, %al
    testb $0x01, %al
    jz 1b
    movw $COM1, %dx
    inb %dx, %al
    popl %edx
    ret

    com1_putc putc

/* Prints EAX in decimal. Keeps every register. */
putdec:
    pushal
    movl $10, %ebx
    xorl %ecx, %ecx
1:  xorl %edx, %edx
    divl %ebx
    pushl %edx                          /* the digits come out last first */
    incl %ecx
    testl %eax, %eax
    jnz 1b
2:  popl %eax
    addb $'0', %al
    call putc
    loop 2b
    popal
    ret

/* Prints the NUL-terminated string at ESI. */
puts:
    pushl %eax
1:  lodsb
    testb %al, %al
    jz 2f
    call putc
    jmp 1b
2:  popl %eax
    ret

    .section .rodata
msg_ready:  .asciz "echo: ready\r\n"
msg_echo:   .asciz "echo: "
msg_crlf:   .asciz "\r\n"
msg_colon:  .asciz ": "
msg_later:  .asciz "echo: later done\r\n"
str_later:  .ascii "later"

    .bss
line:   .skip LINE_MAX
lines:  .skip 4                         /* zeroed at the start: RAM need not come zeroed */

    .section .note.GNU-stack, "", @progbits
