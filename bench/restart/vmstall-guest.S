/* SPDX-License-Identifier: MIT */
/* The vm-stall benchmark's guest (a flat image at 0x100000, 32-bit, interrupts off, as
 * guests/README.md starts it). It makes I/O exits back to back (OUT to port 0x80, which servers/vmm
 * answers) and reads the TSC after each: a gap of more than THRESH since the previous read is a
 * stall, reported through the info device (a write to 0xFED00008: servers/vmm prints
 * "[NAME] mmio: 0x<gap>"). init kills the VMM meanwhile (bench/restart/manifest-vmstall.txt): the
 * exit in flight then waits for the restarted VMM, and the gap is the stall the guest saw.
 * Under QEMU -icount shift=0 a gap is an instruction count. Ends with HLT, interrupts off. */
#define ITERATIONS 400000 /* outlasts the 8 kills (the last at 270 ms) at the fastest exit yet */
#define THRESH     5000
#define INFO_PRINT 0xFED00008

    .code32
    .section .text
    .global _start
_start:
    movl $ITERATIONS, %edi
    rdtsc
    movl %eax, %esi
1:  outb %al, $0x80
    rdtsc
    movl %eax, %ecx
    subl %esi, %eax
    movl %ecx, %esi
    cmpl $THRESH, %eax
    jb 2f
    movl %eax, INFO_PRINT
    rdtsc                       /* the report's own exit is not a stall */
    movl %eax, %esi
2:  decl %edi
    jnz 1b
    cli
    hlt
