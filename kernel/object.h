/* SPDX-License-Identifier: MIT */
/* Object lifecycle: creation from untyped memory and destruction when the last cap goes. */
#pragma once
#include "cap.h"

/* Initialises the object of `type` at kernel address `obj` and returns its original cap.
 * Memory is zeroed first unless it is device memory. Cannot fail: object_prepare_check ran. */
struct cap object_create(unsigned type, unsigned size_bits, uint64_t obj, bool device);
/* Checks resources beyond memory (ASIDs for VSpaces) for `count` objects of `type`. */
int object_prepare_check(unsigned type, uint64_t count);
/* True if the CPU has a usable virtualisation backend. */
bool object_virt_supported(void);
