/* SPDX-License-Identifier: MIT */
/* The 64-bit test guest of test_vcpu_msr.c: it writes and reads the MSRs the hardware switches
 * (no exit may reach the VMM for them), uses SWAPGS, SYSCALL and RDTSCP, and takes an injected
 * interrupt. The test copies it to guest-physical MSR_GUEST_LOAD and enters it in long mode with
 * CS = 0x08 and the data segments 0x10 of msr_guest_gdt, paging through one self-referencing
 * table at 0x2000 (identity below 2 MiB). Exits are OUTs to port 0xE9 with AL = the phase. */
#define MSR_GUEST_LOAD 0x1000
#define GPA(label)     ((label) - msr_guest_start + MSR_GUEST_LOAD)

/* The values the guest writes in phase A (test_vcpu_msr.c checks them by name). */
#define G_FS_BASE      0x00007F0000001000
#define G_GS_BASE      0x00007F0000002000
#define G_KERNEL_GS    0xFFFF800000003000
#define G_STAR         0x0013000800000000
#define G_LSTAR        0xFFFF800000004000
#define G_CSTAR        0xFFFF800000005000
#define G_SFMASK       0x0000000000047700
#define G_SYSENTER_CS  0x0000000000000010
#define G_SYSENTER_ESP 0xFFFF800000006000
#define G_SYSENTER_EIP 0xFFFF800000007000
#define G_PAT          0x0007010600070106
#define G_TSC_AUX      0x0000000000001234

    .section .rodata.msr_guest, "a"
    .code64
    .global msr_guest_start, msr_guest_end, msr_guest_gdt, msr_guest_results, msr_guest_idtr
    .global msr_guest_main, msr_guest_syscall, msr_guest_irq, msr_guest_after_nop, msr_guest_badpat
msr_guest_start:

.macro WRMSR64 msr, val
    movl $\msr, %ecx
    movabsq $\val, %rax
    movq %rax, %rdx
    shrq $32, %rdx
    wrmsr
.endm

/* Reads MSR \msr into results word \slot. */
.macro RDMSR64 msr, slot
    movl $\msr, %ecx
    rdmsr
    shlq $32, %rdx
    movl %eax, %eax
    orq %rdx, %rax
    movq %rax, GPA(msr_guest_results) + 8 * \slot
.endm

/* Phase A: writes every MSR, exits (1); reads them back into results (survived an exit), exits
 * (2); the VMM replies with new values and arithmetic flags: the flags go to results[18], the
 * MSRs to results[0..11], RDTSCP's ECX to results[12] when RBX is 1 (the CPU has it), the GS
 * base after SWAPGS and KERNEL_GS_BASE then to [13], [14]; SYSCALL through the VMM's LSTAR
 * stores RCX, R11 and the handler's RFLAGS in [15..17]; exit (3), then HLT. */
msr_guest_main:
    WRMSR64 0xC0000100, G_FS_BASE
    WRMSR64 0xC0000101, G_GS_BASE
    WRMSR64 0xC0000102, G_KERNEL_GS
    WRMSR64 0xC0000081, G_STAR
    WRMSR64 0xC0000082, G_LSTAR
    WRMSR64 0xC0000083, G_CSTAR
    WRMSR64 0xC0000084, G_SFMASK
    WRMSR64 0x174, G_SYSENTER_CS
    WRMSR64 0x175, G_SYSENTER_ESP
    WRMSR64 0x176, G_SYSENTER_EIP
    WRMSR64 0x277, G_PAT
    WRMSR64 0xC0000103, G_TSC_AUX
    movb $1, %al
    outb %al, $0xE9
    call read_all
    movb $2, %al
    outb %al, $0xE9
    pushfq                          /* the flags the VMM's reply set */
    popq %rax
    movq %rax, GPA(msr_guest_results) + 8 * 18
    call read_all
    cmpq $1, %rbx
    jne 1f
    rdtscp
    movq %rcx, GPA(msr_guest_results) + 8 * 12
1:  swapgs
    RDMSR64 0xC0000101, 13
    RDMSR64 0xC0000102, 14
    swapgs
    std                             /* SFMASK clears it on SYSCALL */
    syscall
    cld
    movb $3, %al
    outb %al, $0xE9
    hlt

read_all:
    RDMSR64 0xC0000100, 0
    RDMSR64 0xC0000101, 1
    RDMSR64 0xC0000102, 2
    RDMSR64 0xC0000081, 3
    RDMSR64 0xC0000082, 4
    RDMSR64 0xC0000083, 5
    RDMSR64 0xC0000084, 6
    RDMSR64 0x174, 7
    RDMSR64 0x175, 8
    RDMSR64 0x176, 9
    RDMSR64 0x277, 10
    RDMSR64 0xC0000103, 11
    ret

msr_guest_syscall:
    movq %rcx, GPA(msr_guest_results) + 8 * 15
    movq %r11, GPA(msr_guest_results) + 8 * 16
    pushfq
    popq %rax
    movq %rax, GPA(msr_guest_results) + 8 * 17
    jmp *%rcx

/* Interrupts: with IF clear, exits (1): the VMM injects vector 0x30; exits (2): it must not have
 * arrived (R15 counts deliveries); then STI, one instruction, and it arrives at once: the
 * handler records the interrupted RIP in R14 (msr_guest_after_nop); exits (3), then HLT. */
msr_guest_irq:
    lidt GPA(msr_guest_idtr)
    xorl %r15d, %r15d
    xorl %r14d, %r14d
    movb $1, %al
    outb %al, $0xE9
    movb $2, %al
    outb %al, $0xE9
    nop
    nop
    sti
    nop
msr_guest_after_nop:
    movb $3, %al
    outb %al, $0xE9
    cli
    hlt

irq_handler:
    incq %r15
    movq (%rsp), %r14
    iretq

/* A PAT with a reserved memory type (2): WRMSR raises #GP, whose handler counts it in R13 and
 * skips the WRMSR; then RDMSR PAT into RDX:RAX, exit (1), HLT. */
msr_guest_badpat:
    lidt GPA(msr_guest_idtr)
    xorl %r13d, %r13d
    movl $0x277, %ecx
    movl $0x00070402, %eax
    movl $0x00070406, %edx
    wrmsr
    rdmsr
    movq %rax, %rbx
    movb $1, %al
    outb %al, $0xE9
    hlt

gp_handler:                         /* error code, then RIP on the stack */
    incq %r13
    addq $2, 8(%rsp)
    addq $8, %rsp
    iretq

    .balign 8
msr_guest_gdt:
    .quad 0
    .quad 0x00AF9B000000FFFF       /* 0x08: code, 64-bit */
    .quad 0x00CF93000000FFFF       /* 0x10: data, flat */
msr_guest_idtr:
    .word 16 * 0x31 - 1
    .quad GPA(idt64)
    .balign 16
idt64:
    .fill 16 * 13, 1, 0
    .word GPA(gp_handler) & 0xFFFF, 0x08
    .byte 0, 0x8E
    .word GPA(gp_handler) >> 16
    .long 0, 0
    .fill 16 * (0x30 - 14), 1, 0
    .word GPA(irq_handler) & 0xFFFF, 0x08
    .byte 0, 0x8E                  /* present, DPL 0, 64-bit interrupt gate */
    .word GPA(irq_handler) >> 16
    .long 0, 0
    .balign 8
msr_guest_results:
    .fill 20, 8, 0
msr_guest_end:

    .section .note.GNU-stack, "", @progbits
