/* SPDX-License-Identifier: MIT */
/* Boot: turns the boot loader's memory map into the boot allocator, then builds the root task
 * (init) from the first boot module and hands it all remaining memory as untyped caps. */
#pragma once
#include "arch/x86_64/arch.h"

/* Reserves the kernel image and modules and prepares the boot page allocator. */
void boot_memory_init(struct boot_info *bi);
/* Zeroed page from boot memory (physical address); panics when memory runs out at boot. */
uint64_t boot_alloc_page(void);
/* Highest physical RAM address + 1. */
uint64_t boot_max_phys(void);
/* Creates init and makes it runnable. */
void boot_create_root(struct boot_info *bi, unsigned tick_us);
