/* SPDX-License-Identifier: MIT */
/* Phase marks on the exit round trip, for docs/benchmarks.md's per-phase table: compiled out
 * unless VCPU_EXIT_PROFILE is defined (uncomment it below, then `tools/bench.sh vmexit`). Under
 * QEMU -icount shift=0 an RDTSC delta is an instruction count: each mark adds the time since the
 * previous mark to its phase, and every 1,000 port I/O exits whose round went through every
 * mark in order the kernel prints the phases' averages (`exitprof:` lines; each mark costs about
 * 30, inside them). Marks, in the order of a round trip:
 *   0 svm_run / vmx_run just before the world switch
 *   1 right after it (the guest's share, VMRUN and #VMEXIT, the entry code's tail)
 *   2 vcpu_run after the backend's run (the backend's exit work)
 *   3 leave_into before the exit to the VMM (delivery, hand-over)
 *   4 the fast path's ReplyRecv for an exit (the switch, the VMM's answer, syscall entry)
 *   5 fast_vcpu_reply_recv before vcpu_run (the reply, the VMM's Recv, hand-over)
 * and 0 again: vcpu_run's checks, the FPU claim and the backend's entry work. */
#pragma once
#include <stdint.h>
#include <stdbool.h>

/* #define VCPU_EXIT_PROFILE */

#ifdef VCPU_EXIT_PROFILE
#define VCPU_PROF_MARKS 6
void vcpu_prof_mark(unsigned i);
extern bool vcpu_prof_io; /* the round's exit is a port I/O exit */
#define VCPU_PROF(i)     vcpu_prof_mark(i)
#define VCPU_PROF_IO(io) (vcpu_prof_io = (io))
#else
#define VCPU_PROF(i)     ((void)0)
#define VCPU_PROF_IO(io) ((void)0)
#endif
