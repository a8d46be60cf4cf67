// SPDX-License-Identifier: MIT
// The hostile guest's checks of the VMM's emulation (issue 16 item 11), run before the random
// operations: a WRMSR that sets EFER.LME while paging is on must fault (#GP, as on hardware),
// and an access that straddles the end of RAM must reach RAM for its RAM part. Built with
// HOSTILE_DELIVERY_FAULT, the guest then makes the CPU's delivery of an exception fault outside
// RAM (its stack is there), which its VMM must report and stop instead of looping. Issue 10:
// string port I/O and the MMIO forms beyond MOV (an ALU compare's flags, REP MOVS from a
// device) on the info device.
#include <stdint.h>
#include "../common/console.h"
#include "../../include/resurgo/x86.h"

#define MSR_EFER  0xC0000080u
#define PDE_LARGE 0x83u /* present, writable, 2 MiB */

void hostile_vmm_faults(uint32_t ram_size);

/* PAE paging identity-maps the first GiB with 2 MiB pages. */
static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pdpt[4] __attribute__((aligned(32)));

/* While the EFER check runs, #GP goes to gp_skip_wrmsr: it counts the fault and resumes after
 * the 2-byte WRMSR (the IDT's own #GP stub would report it as a failed random operation). */
volatile uint32_t gp_count;
void gp_skip_wrmsr(void);
__asm__(".text\n"
        "gp_skip_wrmsr:\n"
        "    addl $4, %esp\n"   /* the error code */
        "    addl $2, (%esp)\n" /* EIP past WRMSR */
        "    incl gp_count\n"
        "    iret\n");

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint32_t base;
};

/* Points IDT entry `vector` at handler; returns the old entry. */
static uint64_t swap_gate(unsigned vector, uint64_t gate)
{
    struct dtr idtr;
    __asm__ volatile("sidt %0" : "=m"(idtr));
    volatile uint64_t *entry = (volatile uint64_t *)(idtr.base + vector * 8);
    uint64_t old = *entry;
    *entry = gate;
    return old;
}

static uint64_t gate_to(void (*handler)(void))
{
    uint32_t h = (uint32_t)handler, cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    return (h & 0xFFFFu) | (uint64_t)(cs & 0xFFFFu) << 16 | 0x8Eull << 40 |
           (uint64_t)(h >> 16) << 48; // present, DPL 0, 32-bit interrupt gate
}

static uint32_t rdmsr_lo(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return lo;
}

static void efer_under_paging(void)
{
    for (uint32_t i = 0; i < 512; i++) pd[i] = (uint64_t)i << 21 | PDE_LARGE;
    pdpt[0] = (uint32_t)pd | 1;
    uint32_t cr0, cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"((uint32_t)(cr4 | CR4_PAE)));
    __asm__ volatile("mov %0, %%cr3" : : "r"((uint32_t)pdpt));
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0; jmp 1f; 1:" : : "r"((uint32_t)(cr0 | CR0_PG)) : "memory");
    uint64_t old = swap_gate(13, gate_to(gp_skip_wrmsr));
    __asm__ volatile("wrmsr" : : "c"(MSR_EFER), "a"((uint32_t)EFER_LME), "d"(0) : "memory");
    int faulted = gp_count == 1;
    swap_gate(13, old);
    uint32_t efer = rdmsr_lo(MSR_EFER);
    __asm__ volatile("mov %0, %%cr0; jmp 1f; 1:" : : "r"((uint32_t)(cr0 & ~CR0_PG)) : "memory");
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
    uart_write(faulted && !(efer & EFER_LME) ? "hostile: efer: LME under paging #GP ok\n"
                                             : "hostile: efer: FAIL LME under paging accepted\n");
}

/* movl between EAX and the 4 bytes at addr (plain MOV forms the VMM decodes) */
static void store32(uint32_t addr, uint32_t v)
{
    __asm__ volatile("movl %0, (%1)" : : "a"(v), "d"(addr) : "memory");
}

static uint32_t load32(uint32_t addr)
{
    uint32_t v;
    __asm__ volatile("movl (%1), %0" : "=a"(v) : "d"(addr) : "memory");
    return v;
}

static void straddling(uint32_t ram_size)
{
    volatile uint8_t *last = (volatile uint8_t *)(ram_size - 2);
    last[0] = 0, last[1] = 0;
    store32(ram_size - 2, 0x11223344u); // two bytes in RAM, two above it (open bus)
    uint32_t stored = last[0] | (uint32_t)last[1] << 8;
    int store_ok = stored == 0x3344;
    last[0] = 0xAB, last[1] = 0xCD;
    uint32_t v = load32(ram_size - 2);
    int load_ok = v == 0xFFFFCDABu; // RAM, then all ones
    uart_write(store_ok && load_ok ? "hostile: straddling the end of RAM ok\n"
                                   : "hostile: straddling the end of RAM FAIL: RAM bytes ");
    if (!(store_ok && load_ok)) {
        puthex(stored); // what the store left in RAM (0x3344 expected)
        uart_write(", load ");
        puthex(v);
        uart_putc('\n');
    }
}

#define INFO_GPA   0xFED00000u
#define INFO_MAGIC 0x52534730u /* the info device's +0 */

/* REP OUTSB prints its line (it used to be skipped); CMP and TEST on the info device set the
 * flags the magic value gives; REP MOVSL copies the device's four registers to RAM. */
static void string_and_alu(void)
{
    static const char line[] = "hostile: rep outsb ok\n";
    const char *p = line;
    uint32_t n = sizeof(line) - 1;
    __asm__ volatile("cld; rep outsb" : "+S"(p), "+c"(n) : "d"(COM1) : "memory");
    uint8_t equal, below, nonzero;
    __asm__ volatile("cmpl %2, (%1); sete %0"
                     : "=q"(equal)
                     : "d"(INFO_GPA), "i"(INFO_MAGIC)
                     : "cc", "memory");
    __asm__ volatile("cmpl %2, (%1); setb %0"
                     : "=q"(below)
                     : "d"(INFO_GPA), "i"(INFO_MAGIC + 1)
                     : "cc", "memory");
    __asm__ volatile("testl $0x30, (%1); setnz %0"
                     : "=q"(nonzero)
                     : "d"(INFO_GPA)
                     : "cc", "memory");
    uint32_t buf[4] = {1, 1, 1, 1}, count = 4;
    const void *src = (const void *)INFO_GPA;
    void *dst = buf;
    __asm__ volatile("cld; rep movsl" : "+S"(src), "+D"(dst), "+c"(count) : : "memory");
    int movs = buf[0] == INFO_MAGIC && buf[2] == 0 && buf[3] == 0 && count == 0 &&
               (uint32_t)src == INFO_GPA + 16 && dst == buf + 4;
    if (equal && below && nonzero && movs) {
        uart_write("hostile: mmio cmp, test and rep movs ok\n");
        return;
    }
    uart_write("hostile: mmio FAIL: cmp equal ");
    puthex(equal);
    uart_write(" below ");
    puthex(below);
    uart_write(" test ");
    puthex(nonzero);
    uart_write(" movs ");
    puthex(buf[0]);
    uart_putc('\n');
}

#ifdef HOSTILE_DELIVERY_FAULT
/* With ESP above RAM, the delivery of #GP (selector 0x1234 names the LDT, which the guest has
 * none of: error code 0x1234) pushes its frame there: a guest fault taken while the CPU
 * delivers an event, with the event's error code. The VMM must stop the guest ("fault while
 * delivering an event"); before, it took the fault for the instruction's and the kernel
 * delivered #GP again for ever. */
static void __attribute__((noreturn)) delivery_fault(uint32_t ram_size)
{
    uart_write("hostile: now an exception whose delivery faults (stack above RAM)\n");
    __asm__ volatile("movl %0, %%esp; movw $0x1234, %%ax; movw %%ax, %%ds"
                     :
                     : "r"(ram_size + 0x10000u)
                     : "eax", "memory");
    __builtin_unreachable();
}
#endif

void hostile_vmm_faults(uint32_t ram_size)
{
    efer_under_paging();
    straddling(ram_size);
    string_and_alu();
#ifdef HOSTILE_DELIVERY_FAULT
    delivery_fault(ram_size);
#endif
}
