/* SPDX-License-Identifier: MIT */
/* Kernel console (serial and screen) and formatted printing. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* The console: every character goes to COM1 when there is one and to the screen when the loader
 * gave a framebuffer (arch/x86_64/fbcon.h); input comes from COM1 only (the keyboard is a user
 * server, servers/kbd). console_init says on the console when there is no COM1. */
void console_init(void);
void console_putc(char c);
int console_getc(void); /* -1 when no byte is waiting (or no COM1) */

/* COM1 (arch/x86_64/serial.c). serial_init returns false when no UART answers there; then the
 * other two do nothing (-1). */
bool serial_init(void);
bool serial_present(void);
void serial_putc(char c);
int serial_getc(void);

/* printf subset: %d %i %u %x %lx %llx %lu %ld %p %s %c %%, with width and '0' padding. */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);
/* Formats into buf (always NUL-terminated); returns the length it would have had. */
int ksnprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prints "KERNEL PANIC: ..." once, then halts with interrupts off for good. A panic during a
 * panic (or a CPU exception in the kernel, see entry.S) halts without printing again. */
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Set by the first panic; read by the kernel's exception entry. */
extern int panicking;
/* Interrupts off, hlt forever (entry.S). */
_Noreturn void panic_halt(void);

/* Kernel-internal invariants only: user input must never reach an assert. */
#define kassert(c) ((c) ? (void)0 : panic("assertion '%s' failed at %s:%d", #c, __FILE__, __LINE__))
