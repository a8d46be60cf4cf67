/* SPDX-License-Identifier: MIT */
/* Untyped memory: the only source of kernel objects. A cap's watermark says how much of the
 * region is used; objects are carved at increasing, size-aligned offsets. */
#pragma once
#include "invoke.h"

/* Retype zeroes the memory it hands out in chunks of this many bytes, each costing
 * UNTYPED_ZERO_COST preemption work units, and records its progress in the cap (w2: memory from
 * the watermark up to w2 is zero), so a Retype stopped at a preemption point and repeated goes
 * on where it stopped. */
#define UNTYPED_ZERO_CHUNK 4096
#define UNTYPED_ZERO_COST  8
int untyped_decode(struct invocation *inv);
/* After a Revoke of `s`: an untyped with no children left is empty again (and its memory dirty). */
void untyped_revoked(struct slot *s);
/* Object size in bytes for (type, size_bits), or 0 if the size is invalid for the type. */
uint64_t object_size(unsigned type, unsigned size_bits);
