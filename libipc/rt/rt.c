// SPDX-License-Identifier: MIT
// The user runtime: entry glue, console printing and exit.
#include "rt.h"
#include "fmt.h"
#include <resurgo/invocation.h>
#include <resurgo/bootinfo.h>

rs_ipc_buffer_t *__rs_ipc_buffer;
rs_cptr_t rt_console = RT_CONSOLE_SLOT;

_Noreturn void rt_main(void *arg, rs_ipc_buffer_t *ipc);
_Noreturn void rt_main(void *arg, rs_ipc_buffer_t *ipc)
{
    if (ipc) __rs_ipc_buffer = ipc;
    else rt_console = RS_INIT_CONSOLE; // the root task: its console cap is one of the boot caps
    rt_exit(main(arg));
}

struct line {
    char buf[RS_CONSOLE_CHUNK]; // a line up to this long reaches the log in one piece
    unsigned n;
};

static void line_flush(struct line *l)
{
    if (l->n) rs_console_write(rt_console, l->buf, l->n); // no console cap: dropped
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
    // Tell the fault handler (the supervisor) through an exit "system call" it recognises;
    // without a handler the kernel answers RS_BAD_SYSCALL and we stop our own thread (slot 1
    // holds our TCB both in init and in processes made by libipc).
    rs_ipc_buffer()->mr[0] = (rs_word_t)code;
    rs_syscall(RT_EXIT_SYSCALL, (rs_cptr_t)code, 0);
    for (;;) {
        rs_call(1, rs_msginfo(RS_TCB_SUSPEND, 0, 0, 0));
        rs_yield();
    }
}
