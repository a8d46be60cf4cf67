// SPDX-License-Identifier: MIT
// Freestanding printf core, shared by the kernel and the servers.
#include "fmt.h"
#include <stdint.h>

struct fmt_state {
    fmt_out_fn out;
    void *arg;
    int count;
};

static void emit(struct fmt_state *s, char c)
{
    s->out(c, s->arg);
    s->count++;
}

static void emit_padded(struct fmt_state *s, const char *str, int len, int width, int left,
                        char pad)
{
    if (!left)
        for (int i = len; i < width; i++) emit(s, pad);
    for (int i = 0; i < len; i++) emit(s, str[i]);
    if (left)
        for (int i = len; i < width; i++) emit(s, ' ');
}

static int utoa(char *buf, uint64_t v, unsigned base, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

int fmt_format(fmt_out_fn out, void *arg, const char *fmt, va_list ap)
{
    struct fmt_state s = {out, arg, 0};
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            emit(&s, *fmt);
            continue;
        }
        const char *start = fmt++;
        int left = 0, width = 0, lng = 0;
        char pad = ' ';
        for (;; fmt++) {
            if (*fmt == '-') left = 1;
            else if (*fmt == '0') pad = '0';
            else break;
        }
        while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l' || *fmt == 'z') {
            lng++;
            fmt++;
        }
        char buf[24];
        int len;
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            int neg = v < 0;
            len = utoa(buf + neg, mag, 10, 0) + neg;
            if (neg) buf[0] = '-';
            emit_padded(&s, buf, len, width, left, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
            len = utoa(buf, v, *fmt == 'u' ? 10 : 16, *fmt == 'X');
            emit_padded(&s, buf, len, width, left, pad);
            break;
        }
        case 'p': {
            uint64_t v = (uintptr_t)va_arg(ap, void *);
            buf[0] = '0';
            buf[1] = 'x';
            len = utoa(buf + 2, v, 16, 0) + 2;
            emit_padded(&s, buf, len, width, left, pad);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str) str = "(null)";
            int n = 0;
            while (str[n]) n++;
            emit_padded(&s, str, n, width, left, ' ');
            break;
        }
        case 'c':
            buf[0] = (char)va_arg(ap, int);
            emit_padded(&s, buf, 1, width, left, ' ');
            break;
        case '%': emit(&s, '%'); break;
        default: // print the unknown conversion as written, so the mistake is visible
            for (const char *p = start; p <= fmt && *p; p++) emit(&s, *p);
            if (!*fmt) return s.count;
        }
    }
    return s.count;
}

struct buf_state {
    char *buf;
    size_t n, pos;
};

static void buf_out(char c, void *arg)
{
    struct buf_state *b = arg;
    if (b->pos + 1 < b->n) b->buf[b->pos] = c;
    b->pos++;
}

int fmt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct buf_state b = {buf, n, 0};
    int len = fmt_format(buf_out, &b, fmt, ap);
    if (n) buf[b.pos < n ? b.pos : n - 1] = 0;
    return len;
}
