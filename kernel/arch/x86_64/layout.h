/* SPDX-License-Identifier: MIT */
/* Virtual memory layout of the kernel; shared by assembly, the linker script and C. */
#pragma once

#define KERNEL_VMA        0xFFFFFFFF80000000
#define KERNEL_PHYS_BASE  0x100000
#define PHYSMAP_BASE      0xFFFF800000000000 /* all physical memory, 2 MiB pages */
#define KERNEL_STACK_SIZE 0x4000
/* End of user space (= RS_USER_TOP): one page short of the first non-canonical address, so that
 * no user instruction can end at the canonical hole (see resurgo/types.h). */
#define USER_TOP          0x00007FFFFFFFF000
