/* SPDX-License-Identifier: MIT */
/* Basic ABI types shared by the kernel and user code. */
#pragma once
#include <stdint.h>
#include <stddef.h>

typedef uint64_t rs_word_t;
typedef uint64_t rs_cptr_t; /* capability address, resolved through the caller's CSpace */
typedef uint64_t rs_badge_t;

#define RS_WORD_BITS       64
#define RS_PAGE_BITS       12
#define RS_PAGE_SIZE       4096ul
#define RS_LARGE_PAGE_BITS 21
/* End of the user half: nothing is mapped at or above it, and no thread's RIP or RSP may point
 * past it. It stops one page short of the canonical hole (0x800000000000), as Linux's
 * TASK_SIZE_MAX does, so that no instruction can end at the hole: a syscall or trap there would
 * make the kernel return to a non-canonical RIP, which faults in ring 0 (Intel SDM vol. 2B,
 * SYSRET and IRET). */
#define RS_USER_TOP        0x00007FFFFFFFF000ul
