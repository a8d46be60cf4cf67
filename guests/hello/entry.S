/* SPDX-License-Identifier: MIT */
/* The hello guest's assembly: the 32-bit stage (greeting, CPUID checks, identity page tables,
 * the switch to long mode) and the 64-bit interrupt stubs. main.c does the rest.
 * Start state (guests/README.md): 32-bit protected mode, paging off, flat segments, IF = 0,
 * ESP = 0x100000, EBX = RAM size in bytes, EAX = 0x52534730; this file's first byte runs first. */

#include "../../include/resurgo/x86.h"
#include "../common/long_mode.inc"

#define COM1            0x3F8
#define START_MAGIC     0x52534730      /* "RSG0" */
#define INFO_GPA        0xFED00000      /* the VMM's info device page */
#define PTE_P           0x01
#define PTE_RW          0x02
#define PTE_PWT         0x08
#define PTE_PCD         0x10
#define PTE_PS          0x80            /* a 2 MiB page in a page-directory entry */
#define SEL_CODE32      0x08
#define SEL_DATA        0x10
#define SEL_CODE64      0x18

    .section .text.entry, "ax"
    .code32
    .global _start
_start:
    cld
    movl %eax, %esi                     /* the start magic and RAM size, kept while .bss is zeroed */
    movl %ebx, %ebp
    /* .bss is not in the flat image and RAM need not come zeroed: the page tables live there. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    movl %ebp, ram_size
    movl %esi, start_magic

    /* hello from the guest (RAM N MiB) */
    movl $msg_hello, %esi
    call puts32
    movl ram_size, %eax
    shrl $20, %eax
    call putdec32
    movl $msg_hello_end, %esi
    call puts32
    cmpl $START_MAGIC, start_magic
    je 1f
    movl $msg_bad_magic, %esi
    call puts32
1:

    /* CPUID: the VMM hides VMX and SVM, sets the hypervisor bit and names itself. EDI counts
     * the failures; each one gets its own line so a test log says which it was. */
    xorl %edi, %edi
    movl $1, %eax
    xorl %ecx, %ecx
    cpuid
    movl %ecx, %ebp
    testl $(1 << 5), %ebp
    jz 1f
    incl %edi
    movl $msg_fail_vmx, %esi
    call puts32
1:  testl $(1 << 31), %ebp
    jnz 1f
    incl %edi
    movl $msg_fail_hvbit, %esi
    call puts32
1:  movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb 1f                               /* no extended leaf 1: no SVM bit to see */
    movl $0x80000001, %eax
    xorl %ecx, %ecx
    cpuid
    testl $(1 << 2), %ecx
    jz 1f
    incl %edi
    movl $msg_fail_svm, %esi
    call puts32
1:  movl $0x40000000, %eax
    xorl %ecx, %ecx
    cpuid
    movl %ebx, hv_name
    movl %ecx, hv_name + 4
    movl %edx, hv_name + 8
    cmpl $0x75736552, %ebx              /* "Resu" */
    jne 2f
    cmpl $0x566F6772, %ecx              /* "rgoV" */
    jne 2f
    cmpl $0x20204D4D, %edx              /* "MM  " */
    je 3f
2:  incl %edi
    /* Print what came back, made printable: a missing leaf answers with garbage. */
    movl $hv_name, %ebx
    movl $12, %ecx
4:  movb (%ebx), %al
    cmpb $0x20, %al
    jb 5f
    cmpb $0x7E, %al
    jbe 6f
5:  movb $'?', (%ebx)
6:  incl %ebx
    loop 4b
    movl $msg_fail_hv, %esi
    call puts32
    movl $hv_name, %esi
    call puts32
    movl $msg_fail_hv_end, %esi
    call puts32
3:  testl %edi, %edi
    jnz 1f
    movl $msg_cpuid_ok, %esi
    call puts32
1:

    /* Identity page tables: RAM (at least 4 MiB, at most the 1 GiB one directory covers) with
     * 2 MiB pages, and the info device's 4 KiB page uncached (PCD|PWT) through a page table of
     * its own, so nothing else near it is mapped. Entries above 4 GiB stay zero (.bss). */
    movl $pdpt, %eax
    orl $(PTE_P | PTE_RW), %eax
    movl %eax, pml4
    movl $pd_low, %eax
    orl $(PTE_P | PTE_RW), %eax
    movl %eax, pdpt
    movl $pd_info, %eax
    orl $(PTE_P | PTE_RW), %eax
    movl %eax, pdpt + ((INFO_GPA >> 30) & 511) * 8
    movl $pt_info, %eax
    orl $(PTE_P | PTE_RW), %eax
    movl %eax, pd_info + ((INFO_GPA >> 21) & 511) * 8
    movl $(INFO_GPA | PTE_P | PTE_RW | PTE_PWT | PTE_PCD), pt_info + ((INFO_GPA >> 12) & 511) * 8

    movl ram_size, %ecx
    addl $((1 << 21) - 1), %ecx
    jc 1f                               /* RAM near 4 GiB: the cap below applies anyway */
    shrl $21, %ecx
    cmpl $2, %ecx
    jae 2f
1:  movl $2, %ecx                       /* the first 4 MiB at least: image, tables, stack */
2:  cmpl $512, %ecx
    jbe 3f
    movl $512, %ecx
3:  xorl %ebx, %ebx
    movl $(PTE_P | PTE_RW | PTE_PS), %eax
4:  movl %eax, pd_low(, %ebx, 8)
    addl $(1 << 21), %eax
    incl %ebx
    loop 4b

    /* Long mode: our own GDT (the loader's selectors are unknown), PAE, CR3, EFER.LME by WRMSR,
     * then paging, which activates long mode; the far jump enters 64-bit code. */
    lgdt gdtr
    ljmp $SEL_CODE32, $1f
1:  movw $SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    enable_long_mode pml4
    ljmp $SEL_CODE64, $long_mode

/* puts32: prints the NUL-terminated string at ESI; keeps every register but ESI and EAX. */
puts32:
    lodsb
    testb %al, %al
    jz 1f
    call putc32
    jmp puts32
1:  ret

/* putc32: prints AL once the transmitter is empty; keeps every register. */
    com1_putc putc32

/* putdec32: prints EAX in decimal; clobbers EAX. */
putdec32:
    pushl %ebx
    pushl %ecx
    pushl %edx
    movl $10, %ebx
    xorl %ecx, %ecx
1:  xorl %edx, %edx
    divl %ebx
    pushl %edx                          /* digits come out least significant first */
    incl %ecx
    testl %eax, %eax
    jnz 1b
2:  popl %eax
    addb $'0', %al
    call putc32
    loop 2b
    popl %edx
    popl %ecx
    popl %ebx
    ret

    .code64
long_mode:
    movw $SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $0x100000, %esp                /* the stack the VMM gave us, below the image */
    call hello_main
1:  cli
    hlt
    jmp 1b

/* Exception stubs: each pushes an error code (the CPU's or a zero) and its vector, so
 * hello_exception gets one frame layout: vector, error, RIP, CS, RFLAGS, RSP, SS. */
.macro exc_stub vec
exc_\vec:
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp exc_common
.endm
    .altmacro
.macro exc_stubs from, to
    exc_stub %from
    .if \to - \from
    exc_stubs %(\from + 1), \to
    .endif
.endm
    exc_stubs 0, 31

exc_common:
    movq %rsp, %rdi
    andq $-16, %rsp                     /* the ABI's alignment; hello_exception never returns */
    call hello_exception
1:  cli
    hlt
    jmp 1b

/* Vector 0x20, the VMM's timer: saves what C may clobber (no SSE: -mgeneral-regs-only). The CPU
 * pushed 5 words on a 16-byte aligned stack; 9 more keep the call aligned. */
    .global timer_stub
timer_stub:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    cld
    call hello_tick
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    iretq

    .section .rodata
    .global exc_stub_table
    .balign 8
.macro exc_entry vec
    .quad exc_\vec
.endm
.macro exc_entries from, to
    exc_entry %from
    .if \to - \from
    exc_entries %(\from + 1), \to
    .endif
.endm
exc_stub_table:
    exc_entries 0, 31
    .noaltmacro

    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF            /* 0x08: 32-bit code, flat */
    .quad 0x00CF92000000FFFF            /* 0x10: data, flat */
    .quad 0x00AF9A000000FFFF            /* 0x18: 64-bit code */
gdt_end:
gdtr:
    .word gdt_end - gdt - 1
    .long gdt

msg_hello:          .asciz "hello from the guest (RAM "
msg_hello_end:      .asciz " MiB)\n"
msg_bad_magic:      .asciz "hello: FAIL start magic in EAX is not RSG0\n"
msg_fail_vmx:       .asciz "cpuid: FAIL VMX visible (leaf 1 ECX bit 5)\n"
msg_fail_svm:       .asciz "cpuid: FAIL SVM visible (leaf 0x80000001 ECX bit 2)\n"
msg_fail_hvbit:     .asciz "cpuid: FAIL hypervisor bit clear (leaf 1 ECX bit 31)\n"
msg_fail_hv:        .asciz "cpuid: FAIL hypervisor \""
msg_fail_hv_end:    .asciz "\", not ResurgoVMM\n"
msg_cpuid_ok:       .asciz "cpuid: no VMX/SVM visible, hypervisor ResurgoVMM\n"

    .bss
    .balign 4096
pml4:       .skip 4096
pdpt:       .skip 4096
pd_low:     .skip 4096
pd_info:    .skip 4096
pt_info:    .skip 4096
ram_size:   .skip 4
start_magic: .skip 4
hv_name:    .skip 13                    /* 12 characters and the NUL .bss gives */

    .section .note.GNU-stack, "", @progbits
