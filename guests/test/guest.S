/* SPDX-License-Identifier: MIT */
/* The test guest: 32-bit flat protected-mode code that the vCPU system tests
 * (tests/system/testinit/test_vcpu.c) copy to guest-physical TEST_GUEST_LOAD and enter at one of
 * the labels below, with CS = 0x08 and the data segments 0x10 of test_guest_gdt. Each entry
 * does what the VMM must see as exits, and ends in an exit the test leaves unanswered. The code
 * sits in the test program's read-only data: it is never run there, only copied. */
#define TEST_GUEST_LOAD 0x1000
#define MMIO_GPA        0x00A00000 /* nothing is mapped there */
#define DATA_GPA        0x2000     /* a second page, mapped by the test that uses it */
#define GPA(label)      ((label) - test_guest_start + TEST_GUEST_LOAD)

    .section .rodata.test_guest, "a"
    .code32
    .global test_guest_start, test_guest_end, test_guest_gdt
    .global guest_io, guest_cpuid, guest_vmmcall, guest_vmcall, guest_hlt, guest_mmio, guest_triple
    .global guest_data, guest_loop, guest_inject, guest_handler, guest_fpu, guest_spin
test_guest_start:

/* OUT of a byte to an immediate port, OUT of a dword to the port in DX, IN of a byte. */
guest_io:
    movb $0x41, %al
    outb %al, $0xE9
    movl $0x12345678, %eax
    movw $0x3F8, %dx
    outl %eax, %dx
    inb $0x60, %al
    hlt

/* CPUID, then reports the EBX the VMM answered. */
guest_cpuid:
    movl $0x40000000, %eax
    xorl %ecx, %ecx
    cpuid
    movl %ebx, %eax
    outl %eax, $0xE9
    hlt

guest_vmmcall:
    movl $0x1234, %eax
    movl $0x5678, %ebx
    vmmcall             /* AMD; the same length as VMCALL below, so offsets match */
    outb %al, $0xE9
    hlt

guest_vmcall:
    movl $0x1234, %eax
    movl $0x5678, %ebx
    vmcall              /* Intel */
    outb %al, $0xE9
    hlt

guest_hlt:
    hlt
    movb $0x48, %al
    outb %al, $0xE9
    hlt

/* A load and a store where nothing is mapped: the VMM emulates them. */
guest_mmio:
    movl MMIO_GPA + 4, %eax
    outl %eax, $0xE9
    movl $0x55, %ecx
    movl %ecx, MMIO_GPA + 8
    hlt

/* An exception with no IDT: #BP cannot be delivered (#GP), nor that (#DF), nor that. */
guest_triple:
    lidt GPA(null_idtr)
    int3
    hlt

/* Reads the data page and reports it, forever. */
guest_data:
    movl DATA_GPA, %eax
    outl %eax, $0xE9
    jmp guest_data

/* Counts exits: eax = 1, 2, 3... at the same OUT. */
guest_loop:
    xorl %eax, %eax
1:  incl %eax
    outl %eax, $0xE9
    jmp 1b

/* Waits for interrupts with IF set; vector 0x30 reports itself. */
guest_inject:
    lidt GPA(idtr)
    sti
1:  hlt
    jmp 1b
guest_handler:
    movb $0x30, %al
    outb %al, $0xE9
    iret

/* Leaves a value in XMM0 across an exit and reports what is there afterwards. */
guest_fpu:
    movl $0x600DF00D, %eax
    movd %eax, %xmm0
    outl %eax, $0xE9
    movd %xmm0, %eax
    outl %eax, $0xE9
    hlt

guest_spin:
    jmp guest_spin

    .balign 8
test_guest_gdt:
    .quad 0
    .quad 0x00CF9B000000FFFF       /* 0x08: code, flat, 32-bit */
    .quad 0x00CF93000000FFFF       /* 0x10: data, flat */
null_idtr:
    .word 0
    .long 0
idtr:
    .word 8 * 0x31 - 1
    .long GPA(idt)
    .balign 8
idt:
    .fill 0x30, 8, 0
    .word GPA(guest_handler) & 0xFFFF, 0x08
    .byte 0, 0x8E                  /* present, DPL 0, 32-bit interrupt gate */
    .word GPA(guest_handler) >> 16
test_guest_end:

    .section .note.GNU-stack, "", @progbits
