/* SPDX-License-Identifier: MIT */
/* The user runtime: program entry, console output through the kernel's console cap, and the
 * small libc subset servers use. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <resurgo/resurgo.h>
#include "syscall_stubs.h"
#include "kstring.h"

/* Every program defines main; `arg` is what its creator passed (see crt0.S). */
int main(void *arg);

/* Where rt_printf prints: a Console cap with the WRITE right. The root task uses its boot cap
 * (RS_INIT_CONSOLE); any other program the cap its creator put in slot RT_CONSOLE_SLOT
 * (libipc's PS_SLOT_CONSOLE); without one, output is dropped. A program may change it. */
#define RT_CONSOLE_SLOT 4
extern rs_cptr_t rt_console;
/* printf to the console (one line is sent at a time, so lines from different servers do not
 * interleave mid-line). */
void rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rt_vprintf(const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The "system call" rt_exit makes: unknown to the kernel, so it reaches the fault handler as an
 * RS_FAULT_UNKNOWN_SYSCALL with this number in rax and the exit code in rdi. */
#define RT_EXIT_SYSCALL 0x45584954ul /* "EXIT" */
/* Stops the program for good: reports the exit to its supervisor, else suspends itself. */
_Noreturn void rt_exit(int code);
/* Cycle counter: guest-instruction counts under QEMU -icount. */
static inline uint64_t rt_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}
