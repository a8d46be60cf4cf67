/* SPDX-License-Identifier: MIT */
/* The IPC buffer: one per thread, in a frame the thread maps; holds the message registers that do
 * not fit in CPU registers, the caps to send and where to put received caps. */
#pragma once
#include "msginfo.h"

#define RS_DEBUG_TEXT_MAX 1000
/* Bytes the kernel prints per RS_SYS_DEBUG_WRITE: bounds the time it polls the UART with
 * interrupts off (~14 ms at 115200 baud); rt_printf's lines fit. */
#define RS_CONSOLE_CHUNK  160

typedef struct rs_ipc_buffer {
    rs_msginfo_t tag;
    rs_word_t mr[RS_MSG_MAX_LENGTH];
    rs_word_t user_data;                             /* free for the runtime (e.g. TLS pointer) */
    rs_cptr_t caps_or_badges[RS_MSG_MAX_EXTRA_CAPS]; /* send: cptrs; receive: badges of unwrapped */
    rs_cptr_t receive_cnode;                         /* where a received cap goes: CNode cptr, */
    rs_cptr_t receive_index;                         /*   index in it, */
    rs_word_t receive_depth;                         /*   and depth; depth 0 = accept no caps */
    char debug_text[RS_DEBUG_TEXT_MAX];              /* text for RS_SYS_DEBUG_WRITE */
} rs_ipc_buffer_t;

#define RS_IPC_BUFFER_ALIGN 2048 /* an IPC buffer never straddles a page */
_Static_assert(sizeof(rs_ipc_buffer_t) <= RS_IPC_BUFFER_ALIGN, "IPC buffer fits its alignment");
