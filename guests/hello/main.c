// SPDX-License-Identifier: MIT
// The hello guest's 64-bit part: APIC base MSR, IDT, PIT at 100 Hz, the info device, and the
// tick loop. entry.S has switched to long mode with RAM and the info device identity-mapped.
#include <stdint.h>
#include "../common/console.h"

#define PIC_CMD       0x20
#define PIC_EOI       0x20
#define PIT_CH0       0x40
#define PIT_CMD       0x43
#define PIT_HZ        1193182u
#define TICK_HZ       100u
#define TIMER_VECTOR  0x20
#define MSR_APIC_BASE 0x1B
#define INFO_GPA      0xFED00000ul
#define INFO_MAGIC    0x52534730u /* "RSG0" */
#define INFO_PRINT    8
#define SEL_CODE64    0x18

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
};

struct __attribute__((packed)) idtr {
    uint16_t limit;
    uint64_t base;
};

extern const uint64_t exc_stub_table[32];
extern char timer_stub[];

void hello_main(void);
void hello_exception(const uint64_t *frame);
void hello_tick(void);

static struct idt_gate idt[256];
/* Written by the timer handler, read by the loop: volatile so the loop sees each new value. */
static volatile uint32_t ticks;


/* MMIO with fixed registers and the plainest encodings (8B 02, 89 02): the VMM decodes the
 * instruction of a guest-fault exit itself, so the guest keeps it simple. */
static inline uint32_t mmio_read32(uint64_t addr)
{
    uint32_t v;
    __asm__ volatile("movl (%%rdx), %%eax" : "=a"(v) : "d"(addr) : "memory");
    return v;
}

static inline void mmio_write32(uint64_t addr, uint32_t v)
{
    __asm__ volatile("movl %%eax, (%%rdx)" : : "a"(v), "d"(addr) : "memory");
}


static void set_gate(unsigned vector, uint64_t handler)
{
    idt[vector] = (struct idt_gate){
        .offset_low = (uint16_t)handler,
        .selector = SEL_CODE64,
        .type = 0x8E, /* present, DPL 0, 64-bit interrupt gate: IF cleared */
        .offset_mid = (uint16_t)(handler >> 16),
        .offset_high = (uint32_t)(handler >> 32),
    };
}

/* Every exception is fatal here: the guest reports it and stops, so a VMM test sees the line. */
void hello_exception(const uint64_t *frame)
{
    uart_write("exception ");
    putdec(frame[0]);
    uart_write(" at ");
    puthex(frame[2]);
    uart_write(" error ");
    puthex(frame[1]);
    uart_putc('\n');
    for (;;) __asm__ volatile("cli; hlt");
}

void hello_tick(void)
{
    ticks++;
    outb(PIC_CMD, PIC_EOI); /* what a PC guest does; the VMM accepts and ignores it */
}

void hello_main(void)
{
    uart_write("long mode: on\n");

    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_APIC_BASE));
    uint64_t apic_base = (uint64_t)hi << 32 | lo;
    uart_write("apic base: ");
    puthex(apic_base);
    uart_write(apic_base == 0xFEE00900 ? "\n" : " (FAIL: the contract says 0xfee00900)\n");

    for (unsigned v = 0; v < 32; v++) set_gate(v, exc_stub_table[v]);
    set_gate(TIMER_VECTOR, (uint64_t)timer_stub);
    struct idtr idtr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));

    /* Channel 0, lobyte/hibyte, mode 2 (rate generator), binary: 0x34. */
    uint16_t divisor = (uint16_t)((PIT_HZ + TICK_HZ / 2) / TICK_HZ);
    outb(PIT_CMD, 0x34);
    outb(PIT_CH0, (uint8_t)divisor);
    outb(PIT_CH0, (uint8_t)(divisor >> 8));
    uart_write("pit: ");
    putdec(TICK_HZ);
    uart_write(" Hz\n");

    uint32_t magic = mmio_read32(INFO_GPA);
    if (magic == INFO_MAGIC) {
        uart_write("mmio: info device RSG0\n");
    } else {
        uart_write("mmio: FAIL info device +0 reads ");
        puthex(magic);
        uart_putc('\n');
    }

    /* sti's one-instruction shadow covers hlt, so a tick cannot slip in between and leave us
     * asleep with work to do. Printing happens with interrupts off; ticks that arrive meanwhile
     * wait for the next sti and are caught up one by one. */
    uint32_t seen = 0;
    for (;;) {
        __asm__ volatile("sti; hlt; cli" : : : "memory");
        while (seen != ticks) {
            seen++;
            if (seen % 10 == 0) {
                uart_write("tick ");
                putdec(seen);
                uart_putc('\n');
            }
            if (seen % 50 == 0) mmio_write32(INFO_GPA + INFO_PRINT, seen);
        }
    }
}
