/* SPDX-License-Identifier: MIT */
/* x86 control-register and EFER bit names, defined once for the kernel, the VMMs, the tests and
 * the guests (the CR0/CR4/EFER words of rs_vcpu_state_t and of the exit message hold them).
 * Intel SDM vol. 3A 2.5 (CR0, CR4), 2.2.1 (EFER); AMD APM vol. 2 3.1. Usable from assembly. */
#pragma once

#ifdef __ASSEMBLER__
#define X86_BIT(n) (1 << (n))
#else
#define X86_BIT(n) (1ull << (n))
#endif

#define CR0_PE X86_BIT(0) /* protection enable */
#define CR0_MP X86_BIT(1) /* WAIT honours TS */
#define CR0_EM X86_BIT(2) /* x87 emulation */
#define CR0_TS X86_BIT(3) /* task switched: the next FPU use traps (#NM) */
#define CR0_ET X86_BIT(4)
#define CR0_NE X86_BIT(5)  /* x87 errors as #MF */
#define CR0_WP X86_BIT(16) /* supervisor writes honour read-only pages */
#define CR0_AM X86_BIT(18) /* alignment checks at CPL 3 with RFLAGS.AC */
#define CR0_NW X86_BIT(29)
#define CR0_CD X86_BIT(30)
#define CR0_PG X86_BIT(31)

#define CR4_VME        X86_BIT(0)
#define CR4_PSE        X86_BIT(4)
#define CR4_PAE        X86_BIT(5)
#define CR4_OSFXSR     X86_BIT(9)
#define CR4_OSXMMEXCPT X86_BIT(10)
#define CR4_UMIP       X86_BIT(11)
#define CR4_VMXE       X86_BIT(13)
#define CR4_FSGSBASE   X86_BIT(16)
#define CR4_PCIDE      X86_BIT(17)
#define CR4_OSXSAVE    X86_BIT(18)
#define CR4_SMEP       X86_BIT(20)
#define CR4_SMAP       X86_BIT(21)
#define CR4_PKE        X86_BIT(22)

#define EFER_SCE   X86_BIT(0)  /* SYSCALL */
#define EFER_LME   X86_BIT(8)  /* long mode enable */
#define EFER_LMA   X86_BIT(10) /* long mode active (LME and CR0.PG) */
#define EFER_NXE   X86_BIT(11)
#define EFER_SVME  X86_BIT(12) /* AMD: SVM enable */
#define EFER_FFXSR X86_BIT(14) /* AMD: fast FXSAVE/FXRSTOR */

#define RFLAGS_IF X86_BIT(9)
#define RFLAGS_VM X86_BIT(17)
