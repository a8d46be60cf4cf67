/* SPDX-License-Identifier: MIT */
/* Untyped memory: the only source of kernel objects. A cap's watermark says how much of the
 * region is used; objects are carved at increasing, size-aligned offsets. */
#pragma once
#include "invoke.h"

int untyped_decode(struct invocation *inv);
/* After a Revoke of `s`: an untyped with no children left is empty again. */
void untyped_revoked(struct slot *s);
/* Object size in bytes for (type, size_bits), or 0 if the size is invalid for the type. */
uint64_t object_size(unsigned type, unsigned size_bits);
