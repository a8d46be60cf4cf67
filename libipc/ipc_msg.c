// SPDX-License-Identifier: MIT
// Moving ipc_msg_t in and out of the message registers.
#include "ipc.h"

rs_msginfo_t ipc_msg_put(const ipc_msg_t *m)
{
    unsigned len = m->len > IPC_MAX_WORDS ? IPC_MAX_WORDS : m->len;
    for (unsigned i = 0; i < len; i++) rs_mr_set(i, m->w[i]);
    return rs_msginfo(m->label, 0, 0, len);
}

void ipc_msg_get(ipc_msg_t *m, rs_msginfo_t info)
{
    unsigned len = rs_msginfo_length(info);
    m->label = rs_msginfo_label(info);
    m->len = len > IPC_MAX_WORDS ? IPC_MAX_WORDS : len;
    for (unsigned i = 0; i < m->len; i++) m->w[i] = rs_mr_get(i);
}
