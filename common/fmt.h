/* SPDX-License-Identifier: MIT */
/* Freestanding printf core shared by the kernel and the servers: formats through a callback. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

typedef void (*fmt_out_fn)(char c, void *arg);

/* Supports %d %i %u %x %X %p %s %c %% with l/ll/z length, width, '-' and '0' flags.
 * Returns the number of characters produced. Unknown conversions are printed literally. */
int fmt_format(fmt_out_fn out, void *arg, const char *fmt, va_list ap);

/* vsnprintf equivalent: always NUL-terminates when n > 0; returns the untruncated length. */
int fmt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
