// SPDX-License-Identifier: MIT
// Moving ipc_msg_t in and out of the message registers, and the check a reply carries.
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

#define LOW32     0xFFFFFFFFull
#define LABEL52   ((1ull << 52) - 1) /* what a message's label can hold (msginfo.h) */
#define CHECK_MAX 0xFFFFFu           /* 20 bits: label bits 32..51 */

/* A multiply-xorshift hash of the reply's status (the low 32 bits: statuses are ints), length
 * and words, cut to 20 bits. Never 0 or all ones: an unsealed label has one of those there (a
 * status or a negative int sign-extended). */
static uint64_t reply_check(const ipc_msg_t *m)
{
    unsigned len = m->len > IPC_MAX_WORDS ? IPC_MAX_WORDS : m->len;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (m->label & LOW32) ^ (uint64_t)len << 40;
    for (unsigned i = 0; i < len; i++) {
        h = (h ^ m->w[i]) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 29;
    }
    // a full avalanche before 20 bits are kept: a flip in the last word's high bits must reach
    // them too (splitmix64's finalizer)
    h ^= h >> 30, h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 27, h *= 0x94D049BB133111EBull;
    h ^= h >> 31;
    h = (h >> 32) & CHECK_MAX;
    return h == 0 || h == CHECK_MAX ? 0x5A5A5u : h;
}

void ipc_reply_seal(ipc_msg_t *m) { m->label = (m->label & LOW32) | reply_check(m) << 32; }

int ipc_reply_open(ipc_msg_t *m)
{
    uint64_t check = (m->label >> 32) & CHECK_MAX;
    if (check == 0 || check == CHECK_MAX) return 0; // a server that does not seal
    if (check != reply_check(m)) return -1;
    // the status as an unsealed reply carries it (a negative int sign-extended, cut to 52 bits)
    m->label = (uint64_t)(int64_t)(int32_t)(uint32_t)m->label & LABEL52;
    return 1;
}
