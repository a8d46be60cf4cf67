/* SPDX-License-Identifier: MIT */
/* Per-thread and per-guest FPU/SSE state, switched lazily: the registers hold one image's state
 * (its owner) and CR0.TS is set whenever another thread runs, so its first FPU/SSE instruction
 * raises #NM and only then is the state exchanged (Intel SDM vol. 3 2.5, 13.4; vol. 1 10.5). */
#pragma once
#include <stdint.h>
#include <stdbool.h>

#define FPU_IMAGE_SIZE 512 /* an FXSAVE image; 16-byte aligned */
#define FPU_NM_VECTOR  7   /* #NM, device not available */

extern const void *fpu_owner; /* the image whose state the FPU registers hold (NULL: no one's) */
extern bool fpu_ts;           /* CR0.TS as the kernel last set it */

/* Sets up the FPU at boot: CR0.MP and NE on, EM off; CR4.OSFXSR and OSXMMEXCPT; the registers
 * in the reset image, owned by no one, TS set. */
void fpu_init(void);
/* Writes the state a thread or guest starts with (FNINIT's, MXCSR 0x1F80) into img. */
void fpu_image_init(void *img);
/* Sets or clears CR0.TS (and fpu_ts). */
void fpu_set_ts(bool on);
/* Makes img's state the registers' (saving the owner's first) and clears TS: on #NM from user
 * mode for the running thread's image, and before a guest runs (eagerly: a guest cannot take
 * #NM for the host). Nothing moves when img already owns the registers. */
void fpu_claim(void *img);
/* After the guest ran (VMX): the world switch reloaded the host's CR0 from the VMCS, so
 * re-reads TS. The guest's state stays in the registers, owned by its image. */
void fpu_leave_guest(void);
/* The object holding img is destroyed: its state must never be saved there again. */
void fpu_forget(const void *img);

/* On every switch to a user thread whose image is img: TS set unless it owns the registers.
 * Only a thread that owns the registers ever runs with TS clear, so with TS set and another
 * owner (the usual case between threads that do not use the FPU) nothing changes: that is the
 * one case tested inline; every other case computes the wanted TS in full. */
static inline __attribute__((always_inline)) void fpu_switch_thread(const void *img)
{
    if (__builtin_expect(!fpu_ts || img == fpu_owner, 0)) {
        bool want = img != fpu_owner;
        if (want != fpu_ts) fpu_set_ts(want);
    }
}
