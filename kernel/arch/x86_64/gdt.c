// SPDX-License-Identifier: MIT
// GDT, TSS and IDT: the segment and gate tables long mode still needs.
#include <stdint.h>
#include "arch.h"
#include "context.h"
#include "cpu.h"
#include "switch.h"

struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, flags;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

/* The CPU reads these on every interrupt and iretq, also on user page tables: skim window. */
#define ENTRY_DATA __attribute__((section(".entry.data")))
static uint64_t gdt[7] ENTRY_DATA;
struct tss tss __attribute__((aligned(16))) ENTRY_DATA;
static struct idt_gate idt[256] ENTRY_DATA;
/* A separate stack for double faults, so a kernel stack overflow still gets a register dump; NMI
 * and #MC use it too, because they can arrive between the sysret path's load of the user RSP and
 * sysretq, where the interrupted stack is the user's (Linux uses IST for them for that reason). */
static uint8_t df_stack[4096] __attribute__((aligned(16))) ENTRY_DATA;
extern const uint64_t isr_table[256];
extern uint8_t entry_stack_top[];


void arch_gdt_init(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00AF9A000000FFFF; // kernel code 64
    gdt[2] = 0x00CF92000000FFFF; // kernel data
    gdt[3] = 0x00CFF2000000FFFF; // user data (DPL 3); sysret takes SS = STAR base + 8
    gdt[4] = 0x00AFFA000000FFFF; // user code 64 (DPL 3); sysret takes CS = STAR base + 16
    uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
    gdt[5] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[6] = base >> 32;
    tss.iopb_offset = sizeof(tss); // no I/O bitmap: user port access goes through IOPort caps
    // with PTI the CPU pushes user frames here, on the skim window; else into the TCB (switch.h)
    tss.rsp[0] = (uint64_t)entry_stack_top;
    tss.ist[0] = (uint64_t)(df_stack + sizeof(df_stack));

    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = {sizeof(gdt) - 1, (uint64_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "pushq %1\n"
                     "leaq 1f(%%rip), %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1: movw %w2, %%ax\n"
                     "movw %%ax, %%ds\n"
                     "movw %%ax, %%es\n"
                     "movw %%ax, %%ss\n"
                     "ltr %w3\n"
                     :
                     : "m"(gdtr), "i"(GDT_KERNEL_CS), "r"(GDT_KERNEL_DS), "r"(GDT_TSS)
                     : "rax", "memory");

    for (int v = 0; v < 256; v++) {
        uint64_t off = isr_table[v];
        idt[v] = (struct idt_gate){
            .off_lo = off & 0xFFFF,
            .sel = GDT_KERNEL_CS,
            .ist = (v == 2 || v == 8 || v == 18) ? 1 : 0,
            .flags = 0x8E, // present, DPL 0, interrupt gate (IF cleared on entry)
            .off_mid = (off >> 16) & 0xFFFF,
            .off_hi = off >> 32,
        };
    }
    idt[3].flags = 0xEE; // int3 allowed from user mode: delivered as an exception fault
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

extern void syscall_entry(void), syscall_entry_pti(void);

void arch_syscall_init(void)
{
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE | EFER_NXE);
    // STAR: syscall loads CS = 0x08, SS = 0x10; sysret loads CS = 0x10+16 | 3, SS = 0x10+8 | 3.
    wrmsr(MSR_STAR, ((uint64_t)0x10 << 48) | ((uint64_t)GDT_KERNEL_CS << 32));
    wrmsr(MSR_LSTAR, pti_enabled ? (uint64_t)syscall_entry_pti : (uint64_t)syscall_entry);
    // Clear IF, TF, DF, AC, NT on entry: the kernel runs with interrupts off.
    wrmsr(MSR_SFMASK, (1u << 9) | (1u << 8) | (1u << 10) | (1u << 18) | (1u << 14));
}
