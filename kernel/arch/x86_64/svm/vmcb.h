/* SPDX-License-Identifier: MIT */
/* The AMD SVM virtual machine control block (VMCB): control area and state-save area, as laid
 * out in the AMD64 Architecture Programmer's Manual vol. 2, appendix B (tables B-1 and B-2),
 * and the bits of it this backend uses. Private to arch/x86_64/svm/. */
#pragma once
#include <stdint.h>
#include <stddef.h>

struct vmcb_seg {
    uint16_t selector, attrib; /* attrib: the 12-bit form of rs_segment */
    uint32_t limit;
    uint64_t base;
};

struct vmcb {
    /* control area (APM vol. 2, table B-1) */
    uint32_t intercept_cr;    /* 0x000: reads 15:0, writes 31:16 */
    uint32_t intercept_dr;    /* 0x004 */
    uint32_t intercept_exc;   /* 0x008: bit n = exception vector n */
    uint32_t intercept_misc1; /* 0x00C: VMCB_I1_* */
    uint32_t intercept_misc2; /* 0x010: VMCB_I2_* */
    uint32_t intercept_misc3; /* 0x014 */
    uint8_t rsvd0[0x040 - 0x018];
    uint64_t iopm_base;  /* 0x040: I/O permission map, 12 KiB */
    uint64_t msrpm_base; /* 0x048: MSR permission map, 8 KiB */
    uint64_t tsc_offset; /* 0x050 */
    uint32_t asid;       /* 0x058 */
    uint8_t tlb_control; /* 0x05C: VMCB_TLB_* */
    uint8_t rsvd1[3];
    uint64_t int_ctl;     /* 0x060: VMCB_INT_* */
    uint64_t int_state;   /* 0x068: bit 0 interrupt shadow */
    uint64_t exitcode;    /* 0x070 */
    uint64_t exitinfo1;   /* 0x078 */
    uint64_t exitinfo2;   /* 0x080 */
    uint64_t exitintinfo; /* 0x088: event whose delivery the exit interrupted */
    uint64_t np_ctl;      /* 0x090: bit 0 nested paging */
    uint64_t rsvd2[2];    /* 0x098 */
    uint64_t eventinj;    /* 0x0A8: event to inject (APM 15.20) */
    uint64_t ncr3;        /* 0x0B0: nested page table root */
    uint64_t lbr_ctl;     /* 0x0B8 */
    uint32_t clean;       /* 0x0C0: VMCB clean bits (0: the CPU reloads everything) */
    uint32_t rsvd3;
    uint64_t nrip;        /* 0x0C8: next RIP, with the NRIPS feature */
    uint8_t insn_fetched; /* 0x0D0 */
    uint8_t insn_bytes[15];
    uint8_t rsvd4[0x400 - 0x0E0];
    /* state-save area (APM vol. 2, table B-2) */
    struct vmcb_seg es, cs, ss, ds, fs, gs, gdtr, ldtr, idtr, tr; /* 0x400 */
    uint8_t rsvd5[0x4CB - 0x4A0];
    uint8_t cpl; /* 0x4CB */
    uint32_t rsvd6;
    uint64_t efer; /* 0x4D0 */
    uint8_t rsvd7[0x548 - 0x4D8];
    uint64_t cr4, cr3, cr0, dr7, dr6, rflags, rip; /* 0x548 */
    uint8_t rsvd8[0x5D8 - 0x580];
    uint64_t rsp; /* 0x5D8 */
    uint8_t rsvd9[0x5F8 - 0x5E0];
    uint64_t rax;                                        /* 0x5F8 */
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base; /* 0x600 */
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;    /* 0x628 */
    uint64_t cr2;                                        /* 0x640 */
    uint8_t rsvd10[0x668 - 0x648];
    uint64_t g_pat; /* 0x668: guest PAT, used with nested paging */
    uint8_t rsvd11[0x1000 - 0x670];
};

_Static_assert(offsetof(struct vmcb, iopm_base) == 0x040, "VMCB layout");
_Static_assert(offsetof(struct vmcb, eventinj) == 0x0A8, "VMCB layout");
_Static_assert(offsetof(struct vmcb, nrip) == 0x0C8, "VMCB layout");
_Static_assert(offsetof(struct vmcb, es) == 0x400, "VMCB layout");
_Static_assert(offsetof(struct vmcb, tr) == 0x490, "VMCB layout");
_Static_assert(offsetof(struct vmcb, efer) == 0x4D0, "VMCB layout");
_Static_assert(offsetof(struct vmcb, cr4) == 0x548, "VMCB layout");
_Static_assert(offsetof(struct vmcb, rip) == 0x578, "VMCB layout");
_Static_assert(offsetof(struct vmcb, rsp) == 0x5D8, "VMCB layout");
_Static_assert(offsetof(struct vmcb, rax) == 0x5F8, "VMCB layout");
_Static_assert(offsetof(struct vmcb, cr2) == 0x640, "VMCB layout");
_Static_assert(offsetof(struct vmcb, g_pat) == 0x668, "VMCB layout");
_Static_assert(sizeof(struct vmcb) == 4096, "VMCB is one page");

/* intercept_misc1 (vector 3 of the intercepts, APM table B-1) */
#define VMCB_I1_INTR        (1u << 0)
#define VMCB_I1_NMI         (1u << 1)
#define VMCB_I1_SMI         (1u << 2)
#define VMCB_I1_INIT        (1u << 3)
#define VMCB_I1_VINTR       (1u << 4)
#define VMCB_I1_RDPMC       (1u << 15)
#define VMCB_I1_CPUID       (1u << 18)
#define VMCB_I1_INVD        (1u << 22)
#define VMCB_I1_HLT         (1u << 24)
#define VMCB_I1_INVLPGA     (1u << 26)
#define VMCB_I1_IOIO        (1u << 27)
#define VMCB_I1_MSR         (1u << 28)
#define VMCB_I1_FERR_FREEZE (1u << 30)
#define VMCB_I1_SHUTDOWN    (1u << 31)
/* intercept_misc2 (vector 4) */
#define VMCB_I2_VMRUN       (1u << 0)
#define VMCB_I2_VMMCALL     (1u << 1)
#define VMCB_I2_VMLOAD      (1u << 2)
#define VMCB_I2_VMSAVE      (1u << 3)
#define VMCB_I2_STGI        (1u << 4)
#define VMCB_I2_CLGI        (1u << 5)
#define VMCB_I2_SKINIT      (1u << 6)
#define VMCB_I2_WBINVD      (1u << 9)
#define VMCB_I2_MONITOR     (1u << 10)
#define VMCB_I2_MWAIT       (1u << 11)
#define VMCB_I2_MWAIT_ARMED (1u << 12)
#define VMCB_I2_XSETBV      (1u << 13)

#define VMCB_TLB_NONE       0
#define VMCB_TLB_FLUSH_ALL  1 /* every ASID's entries */
#define VMCB_TLB_FLUSH_ASID 3 /* this guest's ASID only (FlushByAsid feature) */

/* int_ctl (APM 15.21.1 virtual interrupts) */
#define VMCB_INT_V_IRQ          (1ull << 8)
#define VMCB_INT_V_PRIO_SHIFT   16
#define VMCB_INT_V_PRIO_MASK    (0xFull << 16)
#define VMCB_INT_V_VECTOR_SHIFT 32 /* V_INTR_VECTOR: offset 0x064, bits 7:0 */
#define VMCB_INT_V_VECTOR_MASK  (0xFFull << 32)
#define VMCB_INT_V_IGN_TPR      (1ull << 20)
#define VMCB_INT_V_INTR_MASKING (1ull << 24)

#define VMCB_INT_SHADOW (1ull << 0)

/* EVENTINJ / EXITINTINFO (APM 15.20): the layout of RS_EVENT_* */
#define VMCB_EVENT_VALID     (1ull << 31)
#define VMCB_EVENT_TYPE(e)   (((e) >> 8) & 7)
#define VMCB_EVENT_VECTOR(e) ((e)&0xFF)

/* Exit codes (APM vol. 2, appendix C) */
#define SVM_EXIT_READ_DR0   0x20 /* 0x20-0x2F: read DRn, 0x30-0x3F: write DRn */
#define SVM_EXIT_WRITE_DR15 0x3F
#define SVM_EXIT_EXCP_BASE  0x40
#define SVM_EXIT_INTR       0x60
#define SVM_EXIT_NMI        0x61
#define SVM_EXIT_SMI        0x62
#define SVM_EXIT_INIT       0x63
#define SVM_EXIT_VINTR      0x64
#define SVM_EXIT_CPUID      0x72
#define SVM_EXIT_HLT        0x78
#define SVM_EXIT_IOIO       0x7B
#define SVM_EXIT_MSR        0x7C
#define SVM_EXIT_SHUTDOWN   0x7F
#define SVM_EXIT_VMMCALL    0x81
#define SVM_EXIT_NPF        0x400
#define SVM_EXIT_INVALID    (~0ull) /* VMRUN refused the guest state (APM 15.5.1) */

/* CPUID 0x8000000A EDX: SVM features (APM vol. 3, appendix E.4.9) */
#define SVM_FEAT_NRIPS      (1u << 3)
#define SVM_FEAT_FLUSH_ASID (1u << 6)

#define MSR_VM_HSAVE_PA 0xC0010117
