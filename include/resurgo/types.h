/* SPDX-License-Identifier: MIT */
/* Basic ABI types shared by the kernel and user code. */
#pragma once
#include <stdint.h>
#include <stddef.h>

typedef uint64_t rs_word_t;
typedef uint64_t rs_cptr_t;   /* capability address, resolved through the caller's CSpace */
typedef uint64_t rs_badge_t;

#define RS_WORD_BITS 64
#define RS_PAGE_BITS 12
#define RS_PAGE_SIZE 4096ul
#define RS_LARGE_PAGE_BITS 21
