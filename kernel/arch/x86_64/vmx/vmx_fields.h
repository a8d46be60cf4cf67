/* SPDX-License-Identifier: MIT */
/* VT-x constants: capability MSRs, VMCS field encodings, control bits, exit reasons.
 * Section numbers are those of the Intel SDM vol. 3C (editions 2016-2022, chapters 23-31 and
 * appendices A-C); later editions moved the VMX chapters up by one. */
#pragma once

/* Capability MSRs (SDM appendix A; MSR indices in vol. 4 table 2-2). */
#define MSR_IA32_FEATURE_CONTROL    0x03A
#define MSR_VMX_BASIC               0x480
#define MSR_VMX_PINBASED_CTLS       0x481
#define MSR_VMX_PROCBASED_CTLS      0x482
#define MSR_VMX_EXIT_CTLS           0x483
#define MSR_VMX_ENTRY_CTLS          0x484
#define MSR_VMX_MISC                0x485
#define MSR_VMX_CR0_FIXED0          0x486
#define MSR_VMX_CR0_FIXED1          0x487
#define MSR_VMX_CR4_FIXED0          0x488
#define MSR_VMX_CR4_FIXED1          0x489
#define MSR_VMX_PROCBASED_CTLS2     0x48B
#define MSR_VMX_EPT_VPID_CAP        0x48C
#define MSR_VMX_TRUE_PINBASED_CTLS  0x48D
#define MSR_VMX_TRUE_PROCBASED_CTLS 0x48E
#define MSR_VMX_TRUE_EXIT_CTLS      0x48F
#define MSR_VMX_TRUE_ENTRY_CTLS     0x490
#define MSR_PAT                     0x277
#define MSR_SYSENTER_CS             0x174
#define MSR_SYSENTER_ESP            0x175
#define MSR_SYSENTER_EIP            0x176

#define FEATURE_CONTROL_LOCK       (1u << 0)
#define FEATURE_CONTROL_VMX_NO_SMX (1u << 2)

/* IA32_VMX_BASIC (A.1): revision 30:0, region size 44:32, 32-bit addresses 48, memory type
 * 53:50, TRUE_* capability MSRs 55. */
#define VMX_BASIC_REVISION(b) ((uint32_t)(b)&0x7FFFFFFF)
#define VMX_BASIC_SIZE(b)     (((b) >> 32) & 0x1FFF)
#define VMX_BASIC_ADDR32      (1ull << 48)
#define VMX_BASIC_MEMTYPE(b)  (((b) >> 50) & 0xF)
#define VMX_BASIC_TRUE_CTLS   (1ull << 55)

/* IA32_VMX_EPT_VPID_CAP (A.10). */
#define EPT_CAP_EXEC_ONLY       (1ull << 0)
#define EPT_CAP_WALK4           (1ull << 6)
#define EPT_CAP_WB              (1ull << 14)
#define EPT_CAP_2M              (1ull << 16)
#define EPT_CAP_INVEPT          (1ull << 20)
#define EPT_CAP_INVEPT_SINGLE   (1ull << 25)
#define EPT_CAP_INVEPT_ALL      (1ull << 26)
#define VPID_CAP_INVVPID        (1ull << 32)
#define VPID_CAP_INVVPID_SINGLE (1ull << 41)
#define VPID_CAP_INVVPID_ALL    (1ull << 42)

/* INVEPT / INVVPID types (SDM 30.3 "INVEPT", "INVVPID"). */
#define INVEPT_SINGLE  1
#define INVEPT_ALL     2
#define INVVPID_SINGLE 1
#define INVVPID_ALL    2

/* Pin-based VM-execution controls (24.6.1). */
#define PIN_EXTINT_EXITING (1u << 0)
#define PIN_NMI_EXITING    (1u << 3)
#define PIN_PREEMPT_TIMER  (1u << 6)

/* Primary processor-based VM-execution controls (24.6.2, table 24-6). */
#define PROC_INTR_WINDOW (1u << 2)
#define PROC_HLT_EXITING (1u << 7)
#define PROC_MWAIT       (1u << 10)
#define PROC_RDPMC       (1u << 11)
#define PROC_INVLPG      (1u << 9)
#define PROC_CR3_LOAD    (1u << 15)
#define PROC_CR3_STORE   (1u << 16)
#define PROC_CR8_LOAD    (1u << 19)
#define PROC_CR8_STORE   (1u << 20)
#define PROC_TPR_SHADOW  (1u << 21)
#define PROC_MOV_DR      (1u << 23)
#define PROC_UNCOND_IO   (1u << 24)
#define PROC_IO_BITMAPS  (1u << 25)
#define PROC_MSR_BITMAPS (1u << 28)
#define PROC_MONITOR     (1u << 29)
#define PROC_SECONDARY   (1u << 31)

/* Secondary processor-based VM-execution controls (24.6.2, table 24-7). */
#define PROC2_EPT          (1u << 1)
#define PROC2_RDTSCP       (1u << 3)
#define PROC2_VPID         (1u << 5)
#define PROC2_WBINVD       (1u << 6)
#define PROC2_UNRESTRICTED (1u << 7)

/* VM-exit controls (24.7.1). "Acknowledge interrupt on exit" (bit 15) stays 0: the host takes
 * the interrupt itself through its IDT once it sets RFLAGS.IF. */
#define EXIT_SAVE_DEBUG (1u << 2)
#define EXIT_HOST_64    (1u << 9)
#define EXIT_ACK_INTR   (1u << 15)
#define EXIT_SAVE_PAT   (1u << 18)
#define EXIT_LOAD_PAT   (1u << 19)
#define EXIT_SAVE_EFER  (1u << 20)
#define EXIT_LOAD_EFER  (1u << 21)

/* VM-entry controls (24.8.1). */
#define ENTRY_LOAD_DEBUG  (1u << 2)
#define ENTRY_IA32E_GUEST (1u << 9)
#define ENTRY_LOAD_PAT    (1u << 14)
#define ENTRY_LOAD_EFER   (1u << 15)

/* Event information (24.8.3 entry interruption info, 24.9.2 exit interruption info, 24.9.3
 * IDT-vectoring info): vector 7:0, type 10:8, error code valid 11, valid 31. */
#define INTR_INFO_VECTOR(i)   ((i)&0xFF)
#define INTR_INFO_TYPE(i)     (((i) >> 8) & 7)
#define INTR_INFO_HAS_ERROR   (1u << 11)
#define INTR_INFO_VALID       (1u << 31)
#define INTR_TYPE_EXTINT      0
#define INTR_TYPE_NMI         2
#define INTR_TYPE_HW_EXC      3
#define INTR_TYPE_SW_INT      4
#define INTR_TYPE_PRIV_SW_EXC 5
#define INTR_TYPE_SW_EXC      6

/* Guest interruptibility state (24.4.2, table 24-3). */
#define INTERRUPTIBILITY_STI   (1u << 0)
#define INTERRUPTIBILITY_MOVSS (1u << 1)
#define INTERRUPTIBILITY_NMI   (1u << 3)

/* Segment access rights in the VMCS (24.4.1, table 24-2): descriptor bits 47:40 in 7:0,
 * bits 55:52 (AVL, L, D/B, G) in 15:12, "unusable" in 16. */
#define AR_UNUSABLE (1u << 16)

/* VMCS field encodings (appendix B). 16-bit fields. */
#define VMCS_VPID                   0x0000
#define VMCS_GUEST_ES_SEL           0x0800 /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 each */
#define VMCS_HOST_ES_SEL            0x0C00
#define VMCS_HOST_CS_SEL            0x0C02
#define VMCS_HOST_SS_SEL            0x0C04
#define VMCS_HOST_DS_SEL            0x0C06
#define VMCS_HOST_FS_SEL            0x0C08
#define VMCS_HOST_GS_SEL            0x0C0A
#define VMCS_HOST_TR_SEL            0x0C0C
/* 64-bit fields. */
#define VMCS_MSR_BITMAP             0x2004
#define VMCS_EXIT_MSR_STORE_ADDR    0x2006
#define VMCS_EXIT_MSR_LOAD_ADDR     0x2008
#define VMCS_ENTRY_MSR_LOAD_ADDR    0x200A
#define VMCS_EPT_POINTER            0x201A
#define VMCS_GUEST_PHYS_ADDR        0x2400
#define VMCS_LINK_POINTER           0x2800
#define VMCS_GUEST_DEBUGCTL         0x2802
#define VMCS_GUEST_PAT              0x2804
#define VMCS_GUEST_EFER             0x2806
#define VMCS_HOST_PAT               0x2C00
#define VMCS_HOST_EFER              0x2C02
/* 32-bit fields. */
#define VMCS_PIN_CTLS               0x4000
#define VMCS_PROC_CTLS              0x4002
#define VMCS_EXCEPTION_BITMAP       0x4004
#define VMCS_PF_ERROR_MASK          0x4006
#define VMCS_PF_ERROR_MATCH         0x4008
#define VMCS_CR3_TARGET_COUNT       0x400A
#define VMCS_EXIT_CTLS              0x400C
#define VMCS_EXIT_MSR_STORE_COUNT   0x400E
#define VMCS_EXIT_MSR_LOAD_COUNT    0x4010
#define VMCS_ENTRY_CTLS             0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT   0x4014
#define VMCS_ENTRY_INTR_INFO        0x4016
#define VMCS_ENTRY_EXC_ERROR        0x4018
#define VMCS_ENTRY_INSN_LEN         0x401A
#define VMCS_PROC_CTLS2             0x401E
#define VMCS_INSN_ERROR             0x4400
#define VMCS_EXIT_REASON            0x4402
#define VMCS_EXIT_INTR_INFO         0x4404
#define VMCS_EXIT_INTR_ERROR        0x4406
#define VMCS_IDT_VECT_INFO          0x4408
#define VMCS_IDT_VECT_ERROR         0x440A
#define VMCS_EXIT_INSN_LEN          0x440C
#define VMCS_GUEST_ES_LIMIT         0x4800 /* ES..TR: +2 each; then GDTR 0x4810, IDTR 0x4812 */
#define VMCS_GUEST_GDTR_LIMIT       0x4810
#define VMCS_GUEST_IDTR_LIMIT       0x4812
#define VMCS_GUEST_ES_AR            0x4814 /* ES..TR: +2 each */
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY         0x4826
#define VMCS_GUEST_PREEMPT_TIMER    0x482E
#define VMCS_GUEST_SYSENTER_CS      0x482A
#define VMCS_HOST_SYSENTER_CS       0x4C00
/* Natural-width fields. */
#define VMCS_CR0_MASK               0x6000
#define VMCS_CR4_MASK               0x6002
#define VMCS_CR0_SHADOW             0x6004
#define VMCS_CR4_SHADOW             0x6006
#define VMCS_EXIT_QUAL              0x6400
#define VMCS_GUEST_CR0              0x6800
#define VMCS_GUEST_CR3              0x6802
#define VMCS_GUEST_CR4              0x6804
#define VMCS_GUEST_ES_BASE          0x6806 /* ES..TR: +2 each; then GDTR 0x6816, IDTR 0x6818 */
#define VMCS_GUEST_GDTR_BASE        0x6816
#define VMCS_GUEST_IDTR_BASE        0x6818
#define VMCS_GUEST_DR7              0x681A
#define VMCS_GUEST_RSP              0x681C
#define VMCS_GUEST_RIP              0x681E
#define VMCS_GUEST_RFLAGS           0x6820
#define VMCS_GUEST_PENDING_DBG      0x6822
#define VMCS_GUEST_SYSENTER_ESP     0x6824
#define VMCS_GUEST_SYSENTER_EIP     0x6826
#define VMCS_HOST_CR0               0x6C00
#define VMCS_HOST_CR3               0x6C02
#define VMCS_HOST_CR4               0x6C04
#define VMCS_HOST_FS_BASE           0x6C06
#define VMCS_HOST_GS_BASE           0x6C08
#define VMCS_HOST_TR_BASE           0x6C0A
#define VMCS_HOST_GDTR_BASE         0x6C0C
#define VMCS_HOST_IDTR_BASE         0x6C0E
#define VMCS_HOST_SYSENTER_ESP      0x6C10
#define VMCS_HOST_SYSENTER_EIP      0x6C12
#define VMCS_HOST_RSP               0x6C14
#define VMCS_HOST_RIP               0x6C16

/* Segment register order of the guest-state fields (ES, CS, SS, DS, FS, GS, LDTR, TR). */
enum vmx_seg { VMX_ES, VMX_CS, VMX_SS, VMX_DS, VMX_FS, VMX_GS, VMX_LDTR, VMX_TR };

/* Basic exit reasons (appendix C); bit 31 of the exit reason flags a failed VM entry. */
#define EXIT_REASON_ENTRY_FAIL   (1u << 31)
#define EXIT_EXCEPTION_NMI       0
#define EXIT_EXTINT              1
#define EXIT_TRIPLE_FAULT        2
#define EXIT_INTR_WINDOW         7
#define EXIT_CPUID               10
#define EXIT_HLT                 12
#define EXIT_RDPMC               15
#define EXIT_VMCALL              18
#define EXIT_CR_ACCESS           28
#define EXIT_DR_ACCESS           29
#define EXIT_IO                  30
#define EXIT_RDMSR               31
#define EXIT_WRMSR               32
#define EXIT_INVALID_GUEST_STATE 33
#define EXIT_MSR_LOADING         34
#define EXIT_MWAIT               36
#define EXIT_MONITOR             39
#define EXIT_MACHINE_CHECK_ENTRY 41
#define EXIT_EPT_VIOLATION       48
#define EXIT_EPT_MISCONFIG       49
#define EXIT_PREEMPT_TIMER       52
#define EXIT_WBINVD              54

/* Debug registers (SDM vol. 3B 17.2): DR6's B0-B3, BD and BS; DR7's GD; the reset values. */
#define DR6_TRAP_BITS 0xFull
#define DR6_BD        (1ull << 13)
#define DR6_BS        (1ull << 14)
#define DR6_RESET     0xFFFF0FF0ull
#define DR7_GD        (1ull << 13)
#define DR7_RESET     0x400ull
/* Exception vectors the backend intercepts (vmx.c). */
#define VEC_DB        1
#define VEC_AC        17
