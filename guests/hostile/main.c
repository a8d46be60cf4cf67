// SPDX-License-Identifier: MIT
// The hostile guest: 2,000 pseudo-random operations a VMM must survive (port I/O of every width
// to any port, a few REP INS/OUTS, RDMSR/WRMSR of any MSR, CPUID of any leaf, loads and stores
// where no RAM is, the info device), then a triple fault. 32-bit protected mode, no paging, interrupts off. The seed
// is fixed, so a run is repeatable: a failure seen once is seen again.
#include <stdint.h>
#include "../common/console.h"

#define LCR_8N1             0x03 /* 8 data bits, no parity, 1 stop bit, DLAB clear */
#define COM1_MCR            (COM1 + 4)
#define MCR_DTR_RTS         0x03 /* and LOOP clear: in loopback, output goes to our own receiver */
#define INFO_GPA            0xFED00000u
#define SEL_CODE            0x08
#define MSR_TSC             0x10
#define MSR_APIC_BASE       0x1B
#define MSR_EFER            0xC0000080u
/* EFER bits the VMM lets a guest set are SCE, LME and NXE; LME is left out on purpose: with
 * EFER.LME = 1 while CR4.PAE = 0, QEMU's SVM (TCG, 7.2) botches the next #VMEXIT, the host kernel
 * runs on with the guest's CR0 (paging off) and the whole machine hangs. Real hardware does not;
 * until the VMM or kernel guards against it, the hostile guest would only find that again. */
#define EFER_VALID          0x00000801u /* SCE, NXE */
#define STRING_MAX          4           /* units of a string I/O */
#define SEED                0x2545F491u
#define OPERATIONS          2000
#define PROGRESS_EVERY      500
#define REPORTED_EXCEPTIONS 8 /* detailed lines; the rest are only counted */

enum op_kind { OP_IO, OP_MSR, OP_CPUID, OP_MMIO, OP_INFO, OP_KINDS };

static const char *const kind_name[OP_KINDS] = {"io", "msr", "cpuid", "mmio", "info"};

struct op {
    enum op_kind kind;
    uint32_t width; /* 1, 2 or 4 (io, mmio, info) */
    uint32_t write;
    uint32_t addr; /* port, MSR, CPUID leaf, guest-physical address */
    uint32_t value;
    uint32_t value_hi; /* EDX of WRMSR, ECX (subleaf) of CPUID */
    uint32_t count;    /* io: a REP INS/OUTS of this many units, else 0 */
};

struct idt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t zero;
    uint8_t type;
    uint16_t offset_high;
};

struct __attribute__((packed)) dtr {
    uint16_t limit;
    uint32_t base;
};

extern const uint32_t exc_stub_table[32];
extern char stray_stub[];
extern volatile uint32_t stray_interrupts;
extern uint32_t try_esp; /* hostile_try's stack while an operation runs, else 0 */

int hostile_try(void (*op)(struct op *), struct op *o);
void hostile_exception(const uint32_t *frame);
void hostile_main(uint32_t ram_size);
void hostile_vmm_faults(uint32_t ram_size); /* vmm_faults.c */

static struct idt_gate idt[256];
static uint32_t rng = SEED;
static uint32_t ops_done;
static uint32_t kind_count[OP_KINDS];
static uint32_t exceptions;
static struct op current;
/* What string I/O reads from and writes to: in our RAM, room for STRING_MAX dwords. */
static uint32_t string_buf[STRING_MAX];
/* Set when a random OUT hit the UART: it may have left a partial line in the VMM's buffer, set
 * LCR.DLAB so that THR writes program the baud rate instead, or MCR.LOOP so that they loop back
 * into our own receiver (the VMM's UART is a 16550A). Our next line then first restores LCR and
 * MCR and ends the stray line, so it prints whole. */
static int uart_dirty;


static void uart_puts(const char *s)
{
    if (uart_dirty) {
        uart_dirty = 0;
        outb(COM1_LCR, LCR_8N1);
        outb(COM1_MCR, MCR_DTR_RTS);
        uart_putc('\n');
    }
    uart_write(s);
}


static uint32_t xorshift32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void describe(const struct op *o)
{
    uart_puts(kind_name[o->kind]);
    uart_puts(o->write ? " write " : " read ");
    puthex(o->addr);
    if (o->kind == OP_IO || o->kind == OP_MMIO || o->kind == OP_INFO) {
        uart_puts(" width ");
        putdec(o->width);
    }
    if (o->count) {
        uart_puts(" string ");
        putdec(o->count);
    }
    if (o->kind == OP_MSR && o->write) {
        uart_puts(" value ");
        puthex(o->value_hi);
        uart_putc(':');
        puthex(o->value);
    }
}

/* Called by exc_common with the frame (vector, error, EIP, CS, EFLAGS). Inside an operation it
 * returns and the operation is abandoned; anywhere else the guest itself is broken: stop. */
void hostile_exception(const uint32_t *frame)
{
    int inside = try_esp != 0;
    if (!inside || exceptions < REPORTED_EXCEPTIONS) {
        uart_puts("hostile: exception ");
        putdec(frame[0]);
        uart_puts(" error ");
        puthex(frame[1]);
        uart_puts(" at ");
        puthex(frame[2]);
        if (inside) {
            uart_puts(" in operation ");
            putdec(ops_done);
            uart_puts(" (");
            describe(&current);
            uart_puts(")\n");
        } else {
            uart_puts(": FAIL outside an operation\n");
        }
    }
    exceptions++;
    if (!inside)
        for (;;) __asm__ volatile("cli; hlt");
}

/* The accesses: fixed registers and plain MOV / IN / OUT encodings, the forms a VMM is expected
 * to decode (8A/8B/88/89 with [EDX], 66h for 16 bits). */
static void op_io(struct op *o)
{
    uint16_t port = (uint16_t)o->addr;
    uint32_t v = o->value;
    if (o->count) {
        /* REP OUTS / INS: a VMM may emulate or skip it, but must not run past string_buf. */
        void *p = string_buf;
        uint32_t n = o->count;
        if (o->write) {
            switch (o->width) {
            case 1: __asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"(port) : "memory"); break;
            case 2: __asm__ volatile("rep outsw" : "+S"(p), "+c"(n) : "d"(port) : "memory"); break;
            default: __asm__ volatile("rep outsl" : "+S"(p), "+c"(n) : "d"(port) : "memory"); break;
            }
        } else {
            switch (o->width) {
            case 1: __asm__ volatile("rep insb" : "+D"(p), "+c"(n) : "d"(port) : "memory"); break;
            case 2: __asm__ volatile("rep insw" : "+D"(p), "+c"(n) : "d"(port) : "memory"); break;
            default: __asm__ volatile("rep insl" : "+D"(p), "+c"(n) : "d"(port) : "memory"); break;
            }
        }
        return;
    }
    if (o->write) {
        switch (o->width) {
        case 1: __asm__ volatile("outb %%al, %%dx" : : "a"(v), "d"(port)); break;
        case 2: __asm__ volatile("outw %%ax, %%dx" : : "a"(v), "d"(port)); break;
        default: __asm__ volatile("outl %%eax, %%dx" : : "a"(v), "d"(port)); break;
        }
    } else {
        switch (o->width) {
        case 1: __asm__ volatile("inb %%dx, %%al" : "+a"(v) : "d"(port)); break;
        case 2: __asm__ volatile("inw %%dx, %%ax" : "+a"(v) : "d"(port)); break;
        default: __asm__ volatile("inl %%dx, %%eax" : "+a"(v) : "d"(port)); break;
        }
        o->value = v;
    }
}

static void op_msr(struct op *o)
{
    if (o->write) {
        __asm__ volatile("wrmsr" : : "c"(o->addr), "a"(o->value), "d"(o->value_hi));
    } else {
        uint32_t lo, hi;
        __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(o->addr));
        o->value = lo;
        o->value_hi = hi;
    }
}

static void op_cpuid(struct op *o)
{
    uint32_t a = o->addr, b, c = o->value_hi, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    o->value = a ^ b ^ c ^ d;
}

static void op_mem(struct op *o)
{
    uint32_t v = o->value;
    uint32_t addr = o->addr;
    if (o->write) {
        switch (o->width) {
        case 1: __asm__ volatile("movb %%al, (%%edx)" : : "a"(v), "d"(addr) : "memory"); break;
        case 2: __asm__ volatile("movw %%ax, (%%edx)" : : "a"(v), "d"(addr) : "memory"); break;
        default: __asm__ volatile("movl %%eax, (%%edx)" : : "a"(v), "d"(addr) : "memory"); break;
        }
    } else {
        switch (o->width) {
        case 1: __asm__ volatile("movb (%%edx), %%al" : "+a"(v) : "d"(addr) : "memory"); break;
        case 2: __asm__ volatile("movw (%%edx), %%ax" : "+a"(v) : "d"(addr) : "memory"); break;
        default: __asm__ volatile("movl (%%edx), %%eax" : "+a"(v) : "d"(addr) : "memory"); break;
        }
        o->value = v;
    }
}

static void (*const op_fn[OP_KINDS])(struct op *) = {op_io, op_msr, op_cpuid, op_mem, op_mem};

/* MSR numbers: a quarter each from the MSRs the VMM emulates (EFER, APIC base, TSC), the two
 * ranges where a PC's MSRs live, and anywhere in the 32-bit space. */
static uint32_t random_msr(void)
{
    static const uint32_t emulated[4] = {MSR_EFER, MSR_APIC_BASE, MSR_TSC, MSR_EFER};
    uint32_t r = xorshift32();
    switch (r & 3) {
    case 0: return emulated[(r >> 2) & 3];
    case 1: return (r >> 2) & 0x1FFF;
    case 2: return 0xC0000000u | ((r >> 2) & 0x1FFF);
    default: return xorshift32();
    }
}

/* An address above RAM, aligned to the width (no access wraps past 4 GiB): anywhere, just above
 * the end of RAM, or in the top 16 MiB where a PC has its APIC, HPET and firmware. */
static uint32_t random_above_ram(uint32_t ram_size, uint32_t width)
{
    uint32_t r = xorshift32(), addr;
    switch (r & 3) {
    case 0: addr = ram_size + (xorshift32() & 0xFFFF); break;
    case 1: addr = 0xFF000000u | (xorshift32() & 0xFFFFFF); break;
    default: addr = ram_size + xorshift32() % (0u - ram_size); break;
    }
    return addr & ~(width - 1);
}

static void random_op(struct op *o, uint32_t ram_size)
{
    static const uint32_t widths[4] = {1, 2, 4, 4};
    uint32_t r = xorshift32();
    *o = (struct op){.kind = (enum op_kind)(r % OP_KINDS),
                     .width = widths[(r >> 8) & 3],
                     .write = (r >> 10) & 1,
                     .value = xorshift32(),
                     .value_hi = xorshift32()};
    switch (o->kind) {
    case OP_IO:
        /* A quarter at the ports the VMM emulates (UART, PIT, PIC), the rest anywhere. */
        if (((r >> 12) & 3) == 0) {
            static const uint16_t device_base[4] = {COM1, COM1 + 4, 0x40, 0x20};
            o->addr = device_base[(r >> 14) & 3] + ((r >> 16) & 3);
        } else {
            o->addr = xorshift32() & 0xFFFF;
        }
        if (((r >> 18) & 7) == 0)
            o->count = (r >> 21) % (STRING_MAX + 1); /* REP with ECX = 0 included */
        if (o->write && o->addr <= COM1 + 7 && o->addr + o->width > COM1) uart_dirty = 1;
        break;
    case OP_MSR:
        o->addr = random_msr();
        /* Half the EFER writes keep to the bits a guest may set (the VMM must apply them; with
         * paging off they change nothing here), the rest have reserved bits (#GP). */
        if (o->addr == MSR_EFER && ((r >> 12) & 1)) {
            o->value &= EFER_VALID;
            o->value_hi = 0;
        }
        break;
    case OP_CPUID:
        o->write = 0;
        /* Basic, hypervisor and extended leaves, and any at all; a random subleaf. */
        switch ((r >> 12) & 3) {
        case 0: o->addr = xorshift32() & 0x1F; break;
        case 1: o->addr = 0x40000000u | (xorshift32() & 0xFF); break;
        case 2: o->addr = 0x80000000u | (xorshift32() & 0x1F); break;
        default: o->addr = xorshift32(); break;
        }
        break;
    case OP_MMIO: o->addr = random_above_ram(ram_size, o->width); break;
    case OP_INFO:
        /* Mostly writes, half of them to the registers at +0..+15 (+8 prints a line). */
        o->write = ((r >> 10) & 3) != 0;
        o->addr = INFO_GPA + ((r & (1u << 13)) ? (xorshift32() & 0xF) : (xorshift32() & 0xFFF));
        o->addr &= ~(o->width - 1);
        break;
    default: break;
    }
}

static void set_gate(unsigned vector, uint32_t handler)
{
    idt[vector] = (struct idt_gate){
        .offset_low = (uint16_t)handler,
        .selector = SEL_CODE,
        .type = 0x8E, /* present, DPL 0, 32-bit interrupt gate */
        .offset_high = (uint16_t)(handler >> 16),
    };
}

void hostile_main(uint32_t ram_size)
{
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, v < 32 ? exc_stub_table[v] : (uint32_t)stray_stub);
    struct dtr idtr = {sizeof(idt) - 1, (uint32_t)idt};
    __asm__ volatile("lidt %0" : : "m"(idtr));
    hostile_vmm_faults(ram_size);

    uart_puts("hostile: seed ");
    puthex(SEED);
    uart_puts(", RAM ");
    putdec(ram_size >> 20);
    uart_puts(" MiB, ");
    putdec(OPERATIONS);
    uart_puts(" operations\n");

    while (ops_done < OPERATIONS) {
        random_op(&current, ram_size);
        kind_count[current.kind]++;
        hostile_try(op_fn[current.kind], &current);
        ops_done++;
        if (ops_done % PROGRESS_EVERY == 0) {
            uart_puts("hostile: ");
            putdec(ops_done);
            uart_puts(" operations\n");
        }
    }

    uart_puts("hostile:");
    for (int k = 0; k < OP_KINDS; k++) {
        uart_puts(k ? ", " : " ");
        uart_puts(kind_name[k]);
        uart_putc(' ');
        putdec(kind_count[k]);
    }
    uart_puts("; exceptions ");
    putdec(exceptions);
    uart_puts(", stray interrupts ");
    putdec(stray_interrupts);
    uart_puts("\nhostile: done, now a triple fault\n");

    /* No IDT: int3 cannot be delivered (#GP), nor can that (#DF): shutdown. */
    static const struct dtr null_idtr = {0, 0};
    __asm__ volatile("lidt %0; int3" : : "m"(null_idtr));
    uart_puts("hostile: FAIL still running after the triple fault\n");
    for (;;) __asm__ volatile("cli; hlt");
}
