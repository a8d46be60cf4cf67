/* SPDX-License-Identifier: MIT */
/* The exit-words tests' guest (test_vcpu_exitwords.c): 32-bit flat protected-mode code copied to
 * guest-physical 0x1000 (TEST_GUEST_LOAD) over the test guest, entered at xw_guest_main with the
 * flat segments of flat32_state. One exit of each reason with a short set, in order, with
 * registers whose values the test knows, and a string OUT and an MMIO load, which carry all. */
#define LOAD     0x1000
#define MMIO_GPA 0x00A00000 /* nothing is mapped there */
#define GPA(l)   ((l) - xw_guest_start + LOAD)
    .section .rodata.xw_guest, "a"
    .code32
    .global xw_guest_start, xw_guest_end, xw_guest_main, xw_guest_in, xw_guest_outs
    .global xw_guest_cpuid, xw_guest_rdmsr, xw_guest_wrmsr, xw_guest_mmio, xw_guest_out_if
    .global xw_guest_cli, xw_guest_hlt, xw_guest_byte
xw_guest_start:
xw_guest_main:
    movl $0x11111111, %eax
    movl $0x22222222, %ecx
    movl $0x33333333, %edx
    movl $0x44444444, %ebx
    movl $0x55555555, %ebp
    movl $0x66666666, %esi
    movl $0x77777777, %edi
    outb %al, $0xE9             /* port I/O: RS_EXIT_LEN_BASE words */
xw_guest_in:
    inb $0x60, %al              /* the same; the reply sets RAX only */
    movl $GPA(xw_guest_byte), %esi
    movw $0xE9, %dx
xw_guest_outs:
    outsb                       /* string I/O: every word */
    movl $0x40000000, %eax
    movl $5, %ecx
xw_guest_cpuid:
    cpuid                       /* RS_EXIT_LEN_CPUID; the reply sets RAX..RBX */
    movl $0x1B, %ecx
xw_guest_rdmsr:
    rdmsr                       /* RS_EXIT_LEN_MSR; the reply sets RAX, RCX, RDX */
xw_guest_wrmsr:
    wrmsr                       /* the same, with the value read */
xw_guest_mmio:
    movl MMIO_GPA + 4, %eax     /* MMIO (A1 moffs32, 5 bytes): every word */
    sti
    nop
xw_guest_out_if:
    outb %al, $0xE9             /* the reply asks for an interrupt window: exit at the CLI */
xw_guest_cli:
    cli
xw_guest_hlt:
    hlt
    jmp xw_guest_hlt
xw_guest_byte:
    .byte 0x5A
xw_guest_end:
    .section .note.GNU-stack, "", @progbits
