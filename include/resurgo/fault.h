/* SPDX-License-Identifier: MIT */
/* Fault messages: what a thread's fault handler receives (label = fault type, badge = the
 * fault endpoint cap's badge), and what its reply may carry to resume the thread. */
#pragma once

enum rs_fault_type {
    RS_FAULT_NONE = 0,
    RS_FAULT_VM = 1, /* MR0 ip, MR1 address, MR2 is instruction fetch, MR3 x86 error code */
    RS_FAULT_UNKNOWN_SYSCALL =
        2, /* MR0.. all registers in rs_user_regs order, syscall number in rax */
    RS_FAULT_USER_EXCEPTION = 3, /* MR0 ip, MR1 sp, MR2 rflags, MR3 vector, MR4 error code */
    RS_FAULT_VCPU_EXIT = 4,      /* a guest exit; see vcpu.h */
};

/* Reply to a fault: label 0 resumes the thread; with length > 0 the MRs replace registers:
 * VM / exception faults: MR0 new ip, MR1 new sp (if length >= 2);
 * unknown syscall: MR0.. registers in rs_user_regs order (length = how many).
 * Not replying (doing Recv again) leaves the thread stopped. */

/* Register order used by TCB Read/WriteRegisters and unknown-syscall faults. */
enum rs_user_reg {
    RS_REG_RIP,
    RS_REG_RSP,
    RS_REG_RFLAGS,
    RS_REG_RAX,
    RS_REG_RBX,
    RS_REG_RCX,
    RS_REG_RDX,
    RS_REG_RSI,
    RS_REG_RDI,
    RS_REG_RBP,
    RS_REG_R8,
    RS_REG_R9,
    RS_REG_R10,
    RS_REG_R11,
    RS_REG_R12,
    RS_REG_R13,
    RS_REG_R14,
    RS_REG_R15,
    RS_REG_FS_BASE,
    RS_REG_COUNT
};
