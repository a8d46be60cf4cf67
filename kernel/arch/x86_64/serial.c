// SPDX-License-Identifier: MIT
// COM1 16550 UART: the kernel's console. Polled output; nothing else in the kernel uses it.
#include "cpu.h"
#include "../../console.h"

#define COM1 0x3F8

void console_init(void)
{
    outb(COM1 + 1, 0x00); // no interrupts: the kernel only polls
    outb(COM1 + 3, 0x80); // DLAB to set the divisor
    outb(COM1 + 0, 0x01); // 115200 baud
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); // 8N1
    outb(COM1 + 2, 0xC7); // FIFO on, cleared
    outb(COM1 + 4, 0x03); // DTR, RTS
}

void console_putc(char c)
{
    if (c == '\n') console_putc('\r');
    for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
        ;
    outb(COM1, (uint8_t)c);
}

int console_getc(void)
{
    if (!(inb(COM1 + 5) & 0x01)) return -1;
    return inb(COM1);
}
