// SPDX-License-Identifier: MIT
// Lazy FPU/SSE switching: one owner image in the registers, CR0.TS and #NM for everyone else.
// The kernel itself is built -mgeneral-regs-only: only this file and its FXSAVE/FXRSTOR touch
// the FPU, always with TS clear. Only the 512-byte FXSAVE state exists: CR4.OSXSAVE stays off,
// so AVX and other XSAVE components cannot be enabled (their instructions raise #UD).
#include "fpu.h"
#include "cpu.h"
#include "kstring.h"


const void *fpu_owner;
bool fpu_ts;

/* FNINIT's state (FCW 0x037F, all tags empty) with MXCSR at its reset value 0x1F80 (SDM vol. 1
 * 10.5.1, table 10-2): every register zero, exceptions masked. */
static const uint8_t fpu_reset[FPU_IMAGE_SIZE]
    __attribute__((aligned(16))) = {[0] = 0x7F, [1] = 0x03, [24] = 0x80, [25] = 0x1F};

void fpu_image_init(void *img) { memcpy(img, fpu_reset, FPU_IMAGE_SIZE); }

void fpu_set_ts(bool on)
{
    if (on) write_cr0(read_cr0() | CR0_TS);
    else __asm__ volatile("clts" ::: "memory");
    fpu_ts = on;
}

void fpu_init(void)
{
    // MP: WAIT honours TS too; NE: x87 errors as #MF, not the legacy IRQ 13 (SDM vol. 3 2.5)
    write_cr0((read_cr0() | CR0_MP | CR0_NE) & ~(CR0_EM | CR0_TS));
    write_cr4(read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT);
    // AMD's fast FXSAVE/FXRSTOR would skip XMM0-15 in ring 0 (APM vol. 2 3.1.7): keep it off
    uint64_t efer = rdmsr(MSR_EFER);
    if (efer & EFER_FFXSR) wrmsr(MSR_EFER, efer & ~EFER_FFXSR);
    fxrstor64(fpu_reset); // nothing from the boot loader stays in the registers
    fpu_owner = NULL;
    fpu_set_ts(true);
}

void fpu_claim(void *img)
{
    if (fpu_ts) fpu_set_ts(false);
    if (fpu_owner == img) return;
    if (fpu_owner) fxsave64((void *)fpu_owner);
    fxrstor64(img);
    fpu_owner = img;
}

void fpu_leave_guest(void) { fpu_ts = (read_cr0() & CR0_TS) != 0; }

void fpu_forget(const void *img)
{
    if (fpu_owner != img) return;
    // the registers keep a dead object's state: whoever runs next must trap and load its own
    fpu_owner = NULL;
    fpu_set_ts(true);
}
