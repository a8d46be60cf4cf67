/* SPDX-License-Identifier: MIT */
/* svm_enter(gpr, vmcb_pa, host_state_pa): one VMRUN of a guest (AMD64 APM vol. 2, 15.5).
 *
 * VMRUN saves and #VMEXIT restores only part of the host (rip, rsp, rax, rflags, CR0/3/4, EFER,
 * the descriptor tables and ES/CS/SS/DS, into VM_HSAVE_PA); FS, GS, TR, LDTR, STAR, LSTAR,
 * CSTAR, SFMASK, KernelGSBase and SYSENTER_* are switched with VMSAVE/VMLOAD (15.5.2): the
 * guest's VMLOADed before and VMSAVEd after VMRUN, the host's VMLOADed after it from the image
 * svm_host_save made once (the kernel never changes them, but FS base, svm_run), and the
 * GPRs other than rax and rsp are ours to switch (the guest's rax and rsp are in the VMCB).
 *
 * Interrupts: GIF is cleared before anything is switched and set only when the host is whole
 * again. In between, RFLAGS.IF = 1 at VMRUN makes physical interrupts exit the guest (INTR
 * intercept, V_INTR_MASKING: 15.21); they stay pending (GIF 0) until the caller takes them. */
#define GPR(n) (8 * (n))  /* struct vcpu gpr[]: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */

    .text
    .global svm_enter
svm_enter:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi                  /* 16(%rsp): gpr */
    pushq %rdx                  /*  8(%rsp): host_state_pa */
    pushq %rsi                  /*  0(%rsp): vmcb_pa */
    clgi                        /* (no VMSAVE of the host's: svm_host_save made it once) */
    movq (%rsp), %rax
    vmload                      /* the guest's FS/GS/TR/LDTR/syscall MSRs */
    movq GPR(1)(%rdi), %rcx
    movq GPR(2)(%rdi), %rdx
    movq GPR(3)(%rdi), %rbx
    movq GPR(5)(%rdi), %rbp
    movq GPR(6)(%rdi), %rsi
    movq GPR(8)(%rdi), %r8
    movq GPR(9)(%rdi), %r9
    movq GPR(10)(%rdi), %r10
    movq GPR(11)(%rdi), %r11
    movq GPR(12)(%rdi), %r12
    movq GPR(13)(%rdi), %r13
    movq GPR(14)(%rdi), %r14
    movq GPR(15)(%rdi), %r15
    movq GPR(7)(%rdi), %rdi
    /* IF for V_INTR_MASKING's host-interrupt exits (GIF still holds them off). The nop takes
     * STI's one-instruction shadow: QEMU's TCG carries a shadow VMRUN is in into the guest,
     * which then cannot take a virtual interrupt (V_IRQ, svm_event.c) before its first
     * instruction, a CLI say. */
    sti
    nop
    vmrun                       /* rax = vmcb_pa; back here at #VMEXIT with the host's rax, rsp */
    vmsave                      /* the guest's FS/GS/TR/LDTR/syscall MSRs */
    pushq %rdi
    movq 24(%rsp), %rdi         /* gpr */
    popq GPR(7)(%rdi)
    movq %rcx, GPR(1)(%rdi)
    movq %rdx, GPR(2)(%rdi)
    movq %rbx, GPR(3)(%rdi)
    movq %rbp, GPR(5)(%rdi)
    movq %rsi, GPR(6)(%rdi)
    movq %r8, GPR(8)(%rdi)
    movq %r9, GPR(9)(%rdi)
    movq %r10, GPR(10)(%rdi)
    movq %r11, GPR(11)(%rdi)
    movq %r12, GPR(12)(%rdi)
    movq %r13, GPR(13)(%rdi)
    movq %r14, GPR(14)(%rdi)
    movq %r15, GPR(15)(%rdi)
    movq 8(%rsp), %rax
    vmload                      /* the host's again */
    cli
    stgi
    addq $24, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

    .section .note.GNU-stack, "", @progbits
