/* SPDX-License-Identifier: MIT */
/* The vmexit benchmark's guest (a flat image at 0x100000, started as guests/README.md says:
 * 32-bit protected mode, interrupts off). It times an OUT to port 0x80 — an I/O exit that the
 * VMM answers without doing anything — between two RDTSCs, reports each delta through the info
 * device (a write to 0xFED00008, which the VMM prints or records), and ends with HLT with
 * interrupts off, which stops it. Under QEMU -icount shift=0 a delta is the instruction count
 * of guest -> kernel -> VMM -> kernel -> guest, plus one RDTSC. */
#define ROUNDS     1200
#define INFO_PRINT 0xFED00008

    .code32
    .section .text
    .global _start
_start:
    movl $ROUNDS, %edi
1:  rdtsc
    movl %eax, %esi
    outb %al, $0x80
    rdtsc
    subl %esi, %eax
    movl %eax, INFO_PRINT       /* A3 imm32: 5 bytes, the bare VMM skips it by that */
    decl %edi
    jnz 1b
    cli
    hlt
