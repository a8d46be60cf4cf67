// SPDX-License-Identifier: MIT
// Machine-level odds and ends: idling, powering off the emulator, register dumps.
#include "arch.h"
#include "cpu.h"
#include "../../console.h"

void arch_idle_wait(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }

void arch_shutdown(void)
{
    // let the UART drain (LSR.TEMT) so the last line reaches the log
    for (int i = 0; i < 1000000 && !(inb(0x3F8 + 5) & 0x40); i++)
        ;
    outb(0xF4, 0x00);     // QEMU isa-debug-exit, when present: exit status 1
    outw(0x604, 0x2000);  // QEMU PIIX4 ACPI power off
    outw(0xB004, 0x2000); // older QEMU and Bochs ACPI
    for (const char *s = "Shutdown"; *s; s++) outb(0x8900, (uint8_t)*s); // Bochs
    for (;;) {
        irq_disable();
        cpu_halt();
    }
}

void arch_dump_context(const struct user_context *c)
{
    kprintf("  rip %016lx  rsp %016lx  rflags %08lx  cs %lx ss %lx\n", c->rip, c->rsp, c->rflags,
            c->cs, c->ss);
    kprintf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", c->rax, c->rbx, c->rcx, c->rdx);
    kprintf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", c->rsi, c->rdi, c->rbp, c->r8);
    kprintf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", c->r9, c->r10, c->r11, c->r12);
    kprintf("  r13 %016lx  r14 %016lx  r15 %016lx  cr3 %016lx\n", c->r13, c->r14, c->r15,
            read_cr3());
}
