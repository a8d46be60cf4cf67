/* SPDX-License-Identifier: MIT */
/* The spin guest: quiet for a while, then a CPU hog. It takes QUIET_IRQS timer interrupts
 * halted (sti; hlt), like an idle guest, then prints a line and spins with interrupts off
 * forever: no exit ever again, only host interrupts stop it. A neighbour VM at the same
 * priority must still get its share of the CPU (tests/system/vm, system-vm-fair).
 * Start state (guests/README.md): 32-bit protected mode, paging off, flat segments, IF = 0,
 * ESP = 0x100000; this file's first byte runs first. */

#include "../common/long_mode.inc"

#define SEL_CODE     0x08
#define SEL_DATA     0x10
#define COM1         0x3F8
#define PIT_CH0      0x40
#define PIT_CMD      0x43
#define PIT_DIVISOR  11932              /* 1193182 Hz / 100 */
#define TIMER_VECTOR 0x20
#define QUIET_IRQS   400                /* 4 s of guest time at 100 Hz */

    .section .text.entry, "ax"
    .code32
    .global _start
_start:
    cld
    movl $__bss_start, %edi             /* RAM need not come zeroed: the IDT and the count */
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    lgdt gdtr                           /* the IDT's gate names our code selector */
    ljmp $SEL_CODE, $1f
1:  movw $SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    /* the one gate: vector 0x20, a 32-bit interrupt gate to timer_stub */
    movl $timer_stub, %eax
    movw %ax, idt + 8 * TIMER_VECTOR
    movw $SEL_CODE, idt + 8 * TIMER_VECTOR + 2
    movw $0x8E00, idt + 8 * TIMER_VECTOR + 4
    shrl $16, %eax
    movw %ax, idt + 8 * TIMER_VECTOR + 6
    lidt idtr
    movl $msg_quiet, %esi
    call puts
    movb $0x34, %al                     /* channel 0, lobyte/hibyte, mode 2 */
    outb %al, $PIT_CMD
    movb $(PIT_DIVISOR & 0xFF), %al
    outb %al, $PIT_CH0
    movb $(PIT_DIVISOR >> 8), %al
    outb %al, $PIT_CH0
quiet:
    sti                                 /* its shadow covers hlt: no tick slips in between */
    hlt
    cli
    cmpl $QUIET_IRQS, irqs
    jb quiet
    movl $msg_spin, %esi
    call puts
spin:
    jmp spin                            /* interrupts stay off: no exit from here on */

timer_stub:
    incl irqs
    iret

/* Prints the NUL-terminated string at ESI on COM1 (the VMM's UART takes every byte). */
puts:
    movw $COM1, %dx
1:  lodsb
    testb %al, %al
    jz 2f
    outb %al, %dx
    jmp 1b
2:  ret

    .section .rodata
msg_quiet:  .asciz "spin: quiet for 400 timer interrupts\n"
msg_spin:   .asciz "spin: spinning with interrupts off\n"
    flat_gdt32
idtr:
    .word 8 * (TIMER_VECTOR + 1) - 1
    .long idt

    .bss
    .balign 8
idt:    .skip 8 * (TIMER_VECTOR + 1)   /* all gates but 0x20 not present */
irqs:   .skip 4

    .section .note.GNU-stack, "", @progbits
