/* SPDX-License-Identifier: MIT */
/* Boot entry: multiboot (QEMU -kernel) and multiboot2 (GRUB) headers, the 32-bit entry, the boot
 * page tables, and the switch to long mode and the higher half. */
#include "layout.h"

#define MB1_MAGIC 0x1BADB002
#define MB1_FLAGS ((1 << 0) | (1 << 1) | (1 << 16)) /* page-align modules, memory map, a.out kludge */
#define MB2_MAGIC 0xE85250D6

#define PHYS(x) ((x) - KERNEL_VMA)

    .section .boot.header, "a"
    .align 4
mb1_header:
    .long MB1_MAGIC
    .long MB1_FLAGS
    .long -(MB1_MAGIC + MB1_FLAGS)
    .long PHYS(mb1_header)         /* header_addr */
    .long PHYS(__image_start)      /* load_addr */
    .long PHYS(__data_end)         /* load_end_addr */
    .long PHYS(__bss_end)          /* bss_end_addr */
    .long PHYS(_start)             /* entry_addr */

    .align 8
mb2_header:
    .long MB2_MAGIC
    .long 0                        /* i386 protected mode */
    .long mb2_end - mb2_header
    .long -(MB2_MAGIC + (mb2_end - mb2_header))
    /* entry address tag: GRUB would otherwise take the (virtual) ELF entry */
    .align 8
    .short 3, 0
    .long 12
    .long PHYS(_start)
    .align 8
    .short 6, 0                    /* modules page aligned */
    .long 8
    /* framebuffer tag, optional (flags bit 0): the screen console (fbcon.c) prefers 1024x768 in
     * 32 bpp; GRUB picks the closest mode it has, or text mode, and says which in tag 8 */
    .align 8
    .short 5, 1
    .long 20
    .long 1024, 768, 32
    .align 8
    .short 0, 0                    /* end tag */
    .long 8
mb2_end:

    .section .boot.text, "ax"
    .code32
    .global _start
_start:
    cli
    cld
    movl $PHYS(boot_stack_top), %esp
    movl %eax, PHYS(boot_magic)
    movl %ebx, PHYS(boot_info_pa)

    /* Long mode needs CPUID leaf 0x80000001 with LM; without it we cannot go on. */
    movl $0x80000000, %eax
    cpuid
    cmpl $0x80000001, %eax
    jb no_long_mode
    movl $0x80000001, %eax
    cpuid
    testl $(1 << 29), %edx
    jz no_long_mode

    /* Boot page tables: PML4[0] and PML4[511] share one PDPT whose entries 0 and 510 point at
     * one PD mapping the first 1 GiB with 2 MiB pages. PML4[256] (the physical-memory window)
     * points at a PDPT covering 4 GiB. The kernel replaces these once it knows the memory map. */
    movl $PHYS(boot_pd), %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax                /* present, writable, 2 MiB */
    movl %eax, (%edi,%ecx,8)
    movl $0, 4(%edi,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    /* physmap PDs: 4 x 512 x 2 MiB = 4 GiB */
    movl $PHYS(boot_physmap_pd), %edi
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, (%edi,%ecx,8)
    movl %ecx, %eax
    shrl $11, %eax                 /* high 32 bits of (ecx << 21) */
    movl %eax, 4(%edi,%ecx,8)
    incl %ecx
    cmpl $2048, %ecx
    jne 2b

    movl $PHYS(boot_pdpt), %edi
    movl $PHYS(boot_pd) + 3, %eax
    movl %eax, 0(%edi)
    movl %eax, 510*8(%edi)

    movl $PHYS(boot_physmap_pdpt), %edi
    movl $PHYS(boot_physmap_pd) + 3, %eax
    movl %eax, 0(%edi)
    addl $0x1000, %eax
    movl %eax, 8(%edi)
    addl $0x1000, %eax
    movl %eax, 16(%edi)
    addl $0x1000, %eax
    movl %eax, 24(%edi)

    movl $PHYS(boot_pml4), %edi
    movl $PHYS(boot_pdpt) + 3, %eax
    movl %eax, 0(%edi)
    movl %eax, 511*8(%edi)
    movl $PHYS(boot_physmap_pdpt) + 3, %eax
    movl %eax, 256*8(%edi)

    movl %cr4, %eax
    orl $(1 << 5), %eax            /* PAE */
    movl %eax, %cr4
    movl $PHYS(boot_pml4), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx         /* EFER: LME, NXE */
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax          /* PG, WP, PE */
    movl %eax, %cr0

    lgdt PHYS(boot_gdtr)
    ljmp $0x08, $PHYS(long_entry)

no_long_mode:
    movw $0x3F8, %dx
    movl $PHYS(no_lm_msg), %esi
3:  lodsb
    testb %al, %al
    jz 4f
    outb %al, %dx
    jmp 3b
4:  hlt
    jmp 4b

    .code64
long_entry:
    movabsq $higher_half, %rax
    jmp *%rax

    .section .boot.data, "aw"
    .align 16
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF       /* 64-bit code */
    .quad 0x00CF92000000FFFF       /* data */
boot_gdtr:
    .short 3*8 - 1
    .long PHYS(boot_gdt)
no_lm_msg:
    .asciz "Resurgo: this CPU has no long mode\r\n"

    .section .text
higher_half:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $kernel_stack_top, %rsp
    xorl %ebp, %ebp
    movl boot_magic(%rip), %edi
    movl boot_info_pa(%rip), %esi
    call kernel_main
5:  cli
    hlt
    jmp 5b

    .section .bss
    .align 4096
    .global boot_pml4
boot_pml4:          .space 4096
boot_pdpt:          .space 4096
boot_pd:            .space 4096
boot_physmap_pdpt:  .space 4096
boot_physmap_pd:    .space 4 * 4096
boot_stack:         .space 4096
boot_stack_top:
    .global kernel_stack_top
kernel_stack:       .space KERNEL_STACK_SIZE
kernel_stack_top:
    .global boot_magic, boot_info_pa
boot_magic:         .long 0
boot_info_pa:       .long 0

    .section .note.GNU-stack, "", @progbits
