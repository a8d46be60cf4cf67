// SPDX-License-Identifier: MIT
// COM1 16550 UART: one of the kernel's consoles (printk.c fans out to it and the screen). Polled
// output; nothing else in the kernel uses it. A machine may have no COM1 at all: then the port
// reads back 0xFF and nothing answers, and the console is the screen alone.
#include "cpu.h"
#include "../../console.h"

#define COM1           0x3F8
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY  0x20

static bool present;

bool serial_init(void)
{
    // Presence: the scratch register (offset 7) keeps what is written to it, and the line
    // status register never reads 0xFF on a real 16550 (bit 7 is the FIFO error summary, set
    // only with errors in a FIFO that we just cleared). An absent port floats to 0xFF on ISA.
    // NS16550A data sheet, registers 5 and 7.
    outb(COM1 + 7, 0x5A);
    bool scratch = inb(COM1 + 7) == 0x5A;
    outb(COM1 + 7, 0xA5);
    scratch = scratch && inb(COM1 + 7) == 0xA5;
    outb(COM1 + 1, 0x00); // no interrupts: the kernel only polls
    outb(COM1 + 3, 0x80); // DLAB to set the divisor
    outb(COM1 + 0, 0x01); // 115200 baud
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); // 8N1
    outb(COM1 + 2, 0xC7); // FIFO on, cleared
    outb(COM1 + 4, 0x03); // DTR, RTS
    present = scratch && inb(COM1 + 5) != 0xFF;
    return present;
}

bool serial_present(void) { return present; }

void serial_putc(char c)
{
    if (!present) return;
    if (c == '\n') serial_putc('\r');
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & LSR_THR_EMPTY); i++)
        ;
    outb(COM1, (uint8_t)c);
}

int serial_getc(void)
{
    if (!present || !(inb(COM1 + 5) & LSR_DATA_READY)) return -1;
    return inb(COM1);
}
