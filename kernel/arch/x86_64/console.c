// SPDX-License-Identifier: MIT
// The kernel console: every character to COM1 (serial.c) when the machine has one and to the
// screen (fbcon.c) when the loader gave a framebuffer; input from COM1. (Apart from printk.c,
// which the host unit tests compile over their own console.)
#include "../../console.h"
#include "fbcon.h"

void console_init(void)
{
    if (!serial_init()) kprintf("console: no serial port at COM1 (screen only)\n");
}

void console_putc(char c)
{
    serial_putc(c);
    fbcon_putc(c);
}

int console_getc(void) { return serial_getc(); }
