/* SPDX-License-Identifier: MIT */
/* The test tables of each area, in the order main runs them. */
#pragma once
#include "framework.h"

extern const struct test syscall_tests[];
extern const struct test untyped_tests[];
extern const struct test cnode_tests[];
extern const struct test vspace_tests[];
extern const struct test tcb_tests[];
extern const struct test ipc_tests[];
extern const struct test ntfn_tests[];
extern const struct test fault_tests[];
extern const struct test pfmap_tests[];
extern const struct test hw_tests[];
extern const struct test hard_caps_tests[];
extern const struct test fuzz_tests[];
extern const struct test fuzz_caps_tests[];
extern const struct test vcpu_object_tests[];
extern const struct test vcpu_exit_tests[];
extern const struct test vcpu_restart_tests[];
extern const struct test vcpu_msr_tests[];
extern const struct test vcpu_exitwords_tests[];
extern const struct test fpu_tests[];
extern const struct test entry_tests[];
extern const struct test preempt_tests[];
extern const struct test timer_tests[];
extern const struct test devut_tests[];
