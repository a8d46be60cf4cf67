/* SPDX-License-Identifier: MIT */
/* The user side of the system-call ABI (include/resurgo/syscall.h): this thread's IPC buffer and
 * one inline stub per system call. Part of the runtime every user program links (libipc/rt). */
#pragma once
#include <stddef.h>
#include <resurgo/ipcbuf.h>
#include <resurgo/syscall.h>

typedef struct rs_result {
    rs_word_t error;   /* rs_error_t */
    rs_msginfo_t info; /* the received message's info (Call, Recv, ReplyRecv) */
    rs_badge_t badge;  /* the sender's badge (Recv, ReplyRecv) */
} rs_result_t;

/* Every thread of a user program keeps its IPC buffer pointer here (set by the runtime). */
extern rs_ipc_buffer_t *__rs_ipc_buffer;
static inline rs_ipc_buffer_t *rs_ipc_buffer(void) { return __rs_ipc_buffer; }
static inline void rs_mr_set(unsigned i, rs_word_t v) { __rs_ipc_buffer->mr[i] = v; }
static inline rs_word_t rs_mr_get(unsigned i) { return __rs_ipc_buffer->mr[i]; }
static inline void rs_cap_set(unsigned i, rs_cptr_t c) { __rs_ipc_buffer->caps_or_badges[i] = c; }

#ifdef RS_HOST_TEST
/* Host unit tests (tests/unit) run this code natively: they define the system call themselves. */
rs_result_t rs_syscall_buf(rs_ipc_buffer_t *b, rs_word_t nr, rs_cptr_t dest, rs_msginfo_t info);
#else
/* The raw system call with an explicit IPC buffer (threads sharing an address space each have
 * their own): MR0..MR3 are taken from and written back to the buffer. */
static inline rs_result_t rs_syscall_buf(rs_ipc_buffer_t *b, rs_word_t nr, rs_cptr_t dest,
                                         rs_msginfo_t info)
{
    register rs_word_t r8 __asm__("r8") = b->mr[1];
    register rs_word_t r9 __asm__("r9") = b->mr[2];
    register rs_word_t r10 __asm__("r10") = b->mr[3];
    rs_word_t rax = nr, rdi = dest, rsi = info, rdx = b->mr[0];
    __asm__ volatile("syscall"
                     : "+a"(rax), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(r8), "+r"(r9), "+r"(r10)
                     :
                     : "rcx", "r11", "memory");
    b->mr[0] = rdx;
    b->mr[1] = r8;
    b->mr[2] = r9;
    b->mr[3] = r10;
    return (rs_result_t){rax, rsi, rdi};
}
#endif

/* The raw system call on this thread's IPC buffer. */
static inline rs_result_t rs_syscall(rs_word_t nr, rs_cptr_t dest, rs_msginfo_t info)
{
    return rs_syscall_buf(__rs_ipc_buffer, nr, dest, info);
}

static inline rs_result_t rs_call(rs_cptr_t c, rs_msginfo_t i)
{
    return rs_syscall(RS_SYS_CALL, c, i);
}
static inline rs_result_t rs_send(rs_cptr_t c, rs_msginfo_t i)
{
    return rs_syscall(RS_SYS_SEND, c, i);
}
static inline rs_result_t rs_nbsend(rs_cptr_t c, rs_msginfo_t i)
{
    return rs_syscall(RS_SYS_NBSEND, c, i);
}
static inline rs_result_t rs_recv(rs_cptr_t c) { return rs_syscall(RS_SYS_RECV, c, 0); }
static inline rs_result_t rs_nbrecv(rs_cptr_t c) { return rs_syscall(RS_SYS_NBRECV, c, 0); }
static inline rs_result_t rs_reply(rs_msginfo_t i) { return rs_syscall(RS_SYS_REPLY, 0, i); }
static inline rs_result_t rs_reply_recv(rs_cptr_t c, rs_msginfo_t i)
{
    return rs_syscall(RS_SYS_REPLY_RECV, c, i);
}
/* Notifications: Signal = Send, Wait = Recv, Poll = NBRecv on a notification cap. */
static inline rs_word_t rs_signal(rs_cptr_t c) { return rs_syscall(RS_SYS_SEND, c, 0).error; }
static inline rs_result_t rs_wait(rs_cptr_t c) { return rs_syscall(RS_SYS_RECV, c, 0); }
static inline rs_result_t rs_poll(rs_cptr_t c) { return rs_syscall(RS_SYS_NBRECV, c, 0); }
static inline void rs_yield(void) { rs_syscall(RS_SYS_YIELD, 0, 0); }

/* The console (a Console cap) and power-off (a Shutdown cap). Each returns the rs_error. */
static inline rs_word_t rs_console_putchar(rs_cptr_t console, char ch)
{
    __rs_ipc_buffer->mr[0] = (unsigned char)ch;
    return rs_syscall(RS_SYS_DEBUG_PUTCHAR, console, 0).error;
}
/* A byte waiting on the console, or -1 (none, or no READ right). */
static inline int rs_console_getchar(rs_cptr_t console)
{
    rs_result_t r = rs_syscall(RS_SYS_DEBUG_GETCHAR, console, 0);
    return r.error ? -1 : (int)r.badge;
}
/* Prints n bytes. The kernel prints at most RS_CONSOLE_CHUNK bytes per call, cut after the last
 * newline that fits, so a line of up to RS_CONSOLE_CHUNK bytes never interleaves with another
 * thread's output; longer text takes several calls. */
static inline rs_word_t rs_console_write(rs_cptr_t console, const char *s, size_t n)
{
    while (n) {
        size_t k = n > RS_DEBUG_TEXT_MAX ? RS_DEBUG_TEXT_MAX : n;
        for (size_t i = 0; i < k; i++) __rs_ipc_buffer->debug_text[i] = s[i];
        __rs_ipc_buffer->mr[0] = k;
        rs_result_t r = rs_syscall(RS_SYS_DEBUG_WRITE, console, 0);
        size_t done = __rs_ipc_buffer->mr[0];
        if (r.error) return r.error;
        if (!done || done > k) return RS_INVALID_ARGUMENT; /* cannot happen: stop anyway */
        s += done;
        n -= done;
    }
    return RS_OK;
}
/* Returns only on failure (no Shutdown cap). */
static inline rs_word_t rs_shutdown(rs_cptr_t shutdown)
{
    return rs_syscall(RS_SYS_DEBUG_SHUTDOWN, shutdown, 0).error;
}
static inline int rs_debug_cap_type(rs_cptr_t c)
{
    return (int)rs_syscall(RS_SYS_DEBUG_CAP_TYPE, c, 0).badge;
}
