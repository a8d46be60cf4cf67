// SPDX-License-Identifier: MIT
// The user runtime: entry glue, console printing and exit.
#include "rt.h"
#include "fmt.h"
#include <resurgo/invocation.h>

rs_ipc_buffer_t *__rs_ipc_buffer;

_Noreturn void rt_main(void *arg);
_Noreturn void rt_main(void *arg)
{
    rt_exit(main(arg));
}

struct line {
    char buf[160];
    unsigned n;
};

static void line_flush(struct line *l)
{
    for (unsigned i = 0; i < l->n; i++) rs_debug_putchar(l->buf[i]);
    l->n = 0;
}

static void line_out(char c, void *arg)
{
    struct line *l = arg;
    l->buf[l->n++] = c;
    if (c == '\n' || l->n == sizeof(l->buf)) line_flush(l);
}

void rt_vprintf(const char *fmt, va_list ap)
{
    struct line l = {.n = 0};
    fmt_format(line_out, &l, fmt, ap);
    line_flush(&l);
}

void rt_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_vprintf(fmt, ap);
    va_end(ap);
}

int rt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = fmt_vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

_Noreturn void rt_exit(int code)
{
    (void)code;
    for (;;) {
        // Suspend needs our own TCB cap; a program without one simply blocks forever here.
        rs_syscall(RS_SYS_RECV, 0, 0);
        rs_yield();
    }
}
