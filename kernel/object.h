/* SPDX-License-Identifier: MIT */
/* Object lifecycle: creation from untyped memory and destruction when the last cap goes. */
#pragma once
#include "cap.h"

/* Initialises the object of `type` at kernel address `obj`, whose memory the caller zeroed
 * (unless device memory), and returns its original cap. Cannot fail: object_prepare_check ran. */
struct cap object_create(unsigned type, unsigned size_bits, uint64_t obj, bool device);
/* Checks resources beyond memory (ASIDs for VSpaces) for `count` objects of `type`. */
int object_prepare_check(unsigned type, uint64_t count);
/* True if the CPU has a usable virtualisation backend. */
bool object_virt_supported(void);
/* How many times a preemption point stopped an operation (for tests and logs). */
extern uint64_t preempt_stops;
