/* SPDX-License-Identifier: MIT */
/* The guest of the vm-stall and vm-hang benchmarks (a flat image at 0x100000, 32-bit, interrupts
 * off, as guests/README.md starts it). It makes I/O exits back to back (OUT to port 0x80, which
 * servers/vmm answers) and reads the TSC after each: a gap of more than THRESH since the previous
 * read is a stall, reported through the info device (a write to 0xFED00008: servers/vmm prints
 * "[NAME] mmio: 0x<gap>"). A report's own exit is reported too when it took more than BIG: init's
 * ping makes a gap, and a hang it carries strikes in the VMM's next exit, the report's. init kills
 * or hangs the VMM meanwhile (bench/restart/manifest-vmstall.txt, manifest-vmhang.txt): the exit
 * in flight then waits for the restarted VMM, and the gap is the stall the guest saw. After
 * DURATION of its own time it reports 0, then its normal gap (the mean of the gaps below THRESH),
 * and halts, interrupts off. Under QEMU -icount shift=0 a gap is an instruction count, and
 * 1,000,000 of them a millisecond. */
#ifndef DURATION
#define DURATION 450000000 /* vm-stall: outlasts the 8 kills (the last at init's 270 ms) */
#endif
#define THRESH     5000
#define BIG        1000000 /* 1 ms */
#define INFO_PRINT 0xFED00008

    .code32
    .section .text
    .global _start
_start:
    xorl %ebx, %ebx             /* time so far */
    xorl %ebp, %ebp             /* the gaps below THRESH: their sum */
    xorl %edi, %edi             /* and their count */
    rdtsc
    movl %eax, %esi
1:  outb %al, $0x80
    rdtsc
    movl %eax, %ecx
    subl %esi, %eax
    movl %ecx, %esi
    addl %eax, %ebx
    cmpl $THRESH, %eax
    jb 2f
4:  movl %eax, INFO_PRINT
    rdtsc                       /* the report's own exit is time, and a stall only above BIG */
    movl %eax, %ecx             /* (a print may cost more than THRESH; a hang can strike in it) */
    subl %esi, %eax
    movl %ecx, %esi
    addl %eax, %ebx
    cmpl $BIG, %eax
    jae 4b
    jmp 3f
2:  addl %eax, %ebp
    incl %edi
3:  cmpl $DURATION, %ebx
    jb 1b
    movl $0, INFO_PRINT
    movl %ebp, %eax
    xorl %edx, %edx
    divl %edi
    movl %eax, INFO_PRINT
    cli
    hlt
