/* SPDX-License-Identifier: MIT */
/* VM entry and exit: swaps the host's callee-saved registers for the guest's GPRs around
 * VMLAUNCH / VMRESUME. A VM exit loads RIP = vmx_exit_stub and RSP = HOST_RSP, written here just
 * before entry, so the exit lands on this very stack frame (SDM 27.5.3, "Loading Host RIP, RSP,
 * and RFLAGS"); RFLAGS is 0x2 then: interrupts stay off. */

/* Offsets into struct vcpu's gpr[] (x86 encoding order, enum vcpu_gpr in kernel/vcpu.h); the
 * RSP slot (32) is the backend's business: the guest RSP is in the VMCS while it runs. */
#define G_RAX 0
#define G_RCX 8
#define G_RDX 16
#define G_RBX 24
#define G_RBP 40
#define G_RSI 48
#define G_RDI 56
#define G_R8  64
#define G_R9  72
#define G_R10 80
#define G_R11 88
#define G_R12 96
#define G_R13 104
#define G_R14 112
#define G_R15 120
#define VMCS_HOST_RSP 0x6C14

    .text
/* int vmx_enter(uint64_t *gpr [rdi], uint64_t launched [rsi]) */
    .global vmx_enter
    .type vmx_enter, @function
vmx_enter:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdi                       /* the GPR array: at (%rsp) again after the exit */
    movl $VMCS_HOST_RSP, %eax
    vmwrite %rsp, %rax
    cmpq $0, %rsi                   /* flags survive the loads below (mov leaves them alone) */
    movq G_RAX(%rdi), %rax
    movq G_RBX(%rdi), %rbx
    movq G_RCX(%rdi), %rcx
    movq G_RDX(%rdi), %rdx
    movq G_RSI(%rdi), %rsi
    movq G_RBP(%rdi), %rbp
    movq G_R8(%rdi), %r8
    movq G_R9(%rdi), %r9
    movq G_R10(%rdi), %r10
    movq G_R11(%rdi), %r11
    movq G_R12(%rdi), %r12
    movq G_R13(%rdi), %r13
    movq G_R14(%rdi), %r14
    movq G_R15(%rdi), %r15
    movq G_RDI(%rdi), %rdi
    jne 1f
    vmlaunch
    jmp 2f
1:  vmresume
2:  /* Still here: the entry failed as an instruction (SDM 30.2): CF = VMfailInvalid,
     * ZF = VMfailValid. The guest values now in rbx, rbp, r12-r15 are dropped below. */
    movl $1, %eax
    movl $2, %ecx
    cmovc %ecx, %eax
    pop %rdi
    jmp 3f

    .global vmx_exit_stub
    .type vmx_exit_stub, @function
vmx_exit_stub:
    /* The exit cleared RFLAGS.IF (27.5.3), so CLI changes nothing on a real CPU. Bochs (2.7)
     * though works out its interrupt mask at the exit as if still in the guest, where
     * external-interrupt exiting ignores IF, and would deliver host interrupts with IF = 0
     * until the next STI / CLI: this CLI masks them again. */
    cli
    push %rdi                       /* guest rdi */
    movq 8(%rsp), %rdi
    movq %rax, G_RAX(%rdi)
    movq %rbx, G_RBX(%rdi)
    movq %rcx, G_RCX(%rdi)
    movq %rdx, G_RDX(%rdi)
    movq %rsi, G_RSI(%rdi)
    movq %rbp, G_RBP(%rdi)
    movq %r8, G_R8(%rdi)
    movq %r9, G_R9(%rdi)
    movq %r10, G_R10(%rdi)
    movq %r11, G_R11(%rdi)
    movq %r12, G_R12(%rdi)
    movq %r13, G_R13(%rdi)
    movq %r14, G_R14(%rdi)
    movq %r15, G_R15(%rdi)
    popq G_RDI(%rdi)
    pop %rdi
    xorl %eax, %eax
3:  pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .section .note.GNU-stack, "", @progbits
