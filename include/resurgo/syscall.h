/* SPDX-License-Identifier: MIT */
/* System call numbers and the register convention. The user-side stubs are the runtime's
 * (libipc/rt/syscall_stubs.h); this header is what the kernel and every user share.
 *
 * `syscall` with: rax = number, rdi = cptr, rsi = msginfo, rdx r8 r9 r10 = MR0..MR3.
 * Returns:        rax = status (rs_error), rdi = badge, rsi = msginfo, rdx r8 r9 r10 = MR0..MR3.
 * rcx and r11 are clobbered by the instruction itself; every other register is preserved. */
#pragma once
#include "errors.h"
#include "ipcbuf.h" /* MR4.. and RS_SYS_DEBUG_WRITE's text travel in the IPC buffer */

enum rs_syscall {
    RS_SYS_CALL = 1,       /* send to a cap and wait for its reply (invocations use this) */
    RS_SYS_REPLY_RECV = 2, /* reply to the current caller, then wait on an endpoint */
    RS_SYS_SEND = 3,
    RS_SYS_NBSEND = 4,
    RS_SYS_RECV = 5,
    RS_SYS_NBRECV = 6,
    RS_SYS_REPLY = 7,
    RS_SYS_YIELD = 8,
    /* The console and power-off need a cap in rdi (a Console cap with the right named, or a
     * Shutdown cap); without it: RS_FAILED_LOOKUP, RS_INVALID_CAPABILITY (MR0 0) or
     * RS_INSUFFICIENT_RIGHTS (MR0 0, MR1 the right missing). */
    RS_SYS_DEBUG_PUTCHAR = 9,   /* rdi = Console (WRITE), MR0 = character */
    RS_SYS_DEBUG_GETCHAR = 10,  /* rdi = Console (READ) -> rdi = character or -1 (non-blocking) */
    RS_SYS_DEBUG_SHUTDOWN = 11, /* rdi = Shutdown cap: power the machine off */
    RS_SYS_DEBUG_CAP_TYPE = 12, /* rdi = cptr -> rdi = rs_cap_type of the cap there */
    RS_SYS_DEBUG_WRITE = 13,    /* rdi = Console (WRITE), MR0 = length of the IPC buffer's
                                   debug_text -> MR0 = bytes printed (see RS_CONSOLE_CHUNK) */
    RS_SYS_COUNT
};

#define RS_SYSCALL_HIGHEST (RS_SYS_COUNT - 1)
