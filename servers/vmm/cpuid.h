/* SPDX-License-Identifier: MIT */
/* CPUID as the guest sees it (cpuid.c): the filter itself, apart from the host's CPUID, so that
 * each of its switches can be tested. */
#pragma once
#include <stdint.h>

/* Switches of the filter. CPUID_TSC_AUX: show RDTSCP and RDPID, whose IA32_TSC_AUX value the
 * kernel must switch between host and guest (cpuid_guest sets it from VMM_TSC_AUX). */
#define CPUID_TSC_AUX (1u << 0)

/* Turns the host's answer r (EAX, EBX, ECX, EDX) for leaf/sub into the guest's. */
void cpuid_filter(uint32_t leaf, uint32_t sub, unsigned flags, uint32_t r[4]);
