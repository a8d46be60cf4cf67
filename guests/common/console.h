/* SPDX-License-Identifier: MIT */
/* What every test guest needs to talk to the VMM: port I/O and printing on the emulated 16550
 * (guests/README.md). Header-only, built both for the 64-bit hello and the 32-bit hostile guest:
 * numbers are `unsigned long`, the native word, so no 64-bit division helper is needed on i386. */
#pragma once
#include <stdint.h>

#define COM1          0x3F8
#define COM1_LCR      (COM1 + 3)
#define COM1_LSR      (COM1 + 5)
#define LSR_THR_EMPTY 0x20

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void uart_putc(char c)
{
    // bounded: a VMM whose LSR never says "empty" gets the byte anyway rather than a hang
    for (uint32_t i = 0; i < 100000 && !(inb(COM1_LSR) & LSR_THR_EMPTY); i++)
        ;
    outb(COM1, (uint8_t)c);
}

static inline void uart_write(const char *s)
{
    while (*s) uart_putc(*s++);
}

static inline void putdec(unsigned long v)
{
    char buf[21];
    int i = 0;
    do {
        buf[i++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (i) uart_putc(buf[--i]);
}

static inline void puthex(unsigned long v)
{
    int shift = (int)sizeof(v) * 8 - 4;
    uart_write("0x");
    while (shift > 0 && !(v >> shift)) shift -= 4;
    for (; shift >= 0; shift -= 4) uart_putc("0123456789abcdef"[(v >> shift) & 0xF]);
}
