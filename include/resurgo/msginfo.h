/* SPDX-License-Identifier: MIT */
/* The message-info word that describes every IPC message (seL4 layout). */
#pragma once
#include "types.h"

/* bits 63..12 label | 11..9 caps unwrapped | 8..7 extra caps | 6..0 length (in words) */
typedef rs_word_t rs_msginfo_t;

#define RS_MSG_MAX_LENGTH     120
#define RS_MSG_MAX_EXTRA_CAPS 3
#define RS_MSG_REG_COUNT      4 /* MR0..MR3 travel in registers, the rest in the IPC buffer */

static inline rs_msginfo_t rs_msginfo(rs_word_t label, unsigned unwrapped, unsigned extra_caps,
                                      unsigned length)
{
    return (label << 12) | ((rs_word_t)(unwrapped & 7) << 9) | ((rs_word_t)(extra_caps & 3) << 7) |
           (length & 0x7F);
}
static inline rs_word_t rs_msginfo_label(rs_msginfo_t m) { return m >> 12; }
static inline unsigned rs_msginfo_unwrapped(rs_msginfo_t m) { return (m >> 9) & 7; }
static inline unsigned rs_msginfo_extra_caps(rs_msginfo_t m) { return (m >> 7) & 3; }
static inline unsigned rs_msginfo_length(rs_msginfo_t m) { return m & 0x7F; }

/* Label of a Recv that was woken by the thread's bound notification: the badge holds its bits. */
#define RS_NOTIFICATION_LABEL 0xFFFFFFFFFFFFFull
