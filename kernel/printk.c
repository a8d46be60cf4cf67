// SPDX-License-Identifier: MIT
// Kernel printing and panic, on top of the shared formatter and the serial console.
#include "console.h"
#include "fmt.h"
#include "arch/x86_64/cpu.h"

static void console_out(char c, void *arg)
{
    (void)arg;
    console_putc(c);
}

void kvprintf(const char *fmt, va_list ap) { fmt_format(console_out, NULL, fmt, ap); }

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

int ksnprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = fmt_vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return len;
}

int panicking;

/* The end of every panic: interrupts off, hlt forever (an NMI wakes it; it halts again). */
static _Noreturn void halt_forever(void)
{
    for (;;) {
        irq_disable();
        cpu_halt();
    }
}

_Noreturn void panic(const char *fmt, ...)
{
    va_list ap;
    irq_disable();
    // one report only: a panic (or CPU exception) while another is being reported just halts
    if (__atomic_exchange_n(&panicking, 1, __ATOMIC_SEQ_CST)) halt_forever();
    kprintf("\nKERNEL PANIC: ");
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    halt_forever();
}
