/* SPDX-License-Identifier: MIT */
/* Hardware virtualisation ABI: the vendor-neutral guest state, the exit message a VMM receives
 * (label RS_FAULT_VCPU_EXIT on the vCPU's exit endpoint) and the reply that resumes the guest.
 * The same layout serves Intel VT-x and AMD SVM. See docs/virtualization.md. */
#pragma once
#include "types.h"
#include <stdbool.h>

/* Vendor-neutral exit reasons (MR0 of the exit message). */
enum rs_vcpu_exit_reason {
    RS_EXIT_NONE = 0,
    RS_EXIT_IO = 1,          /* qual: rs_io_qual() (size in bytes: 1, 2 or 4); data in rax */
    RS_EXIT_GUEST_FAULT = 2, /* guest-physical access outside the GuestSpace's mappings (MMIO):
                                gpa = the exact address, qual: rs_fault_qual(); insn_len 0 */
    RS_EXIT_CPUID = 3,
    RS_EXIT_MSR_READ = 4,  /* qual = MSR index (ecx) */
    RS_EXIT_MSR_WRITE = 5, /* qual = MSR index, value in edx:eax */
    RS_EXIT_HLT = 6,
    RS_EXIT_VMCALL = 7,         /* VMCALL / VMMCALL */
    RS_EXIT_INTR_WINDOW = 8,    /* the guest can take an interrupt now (requested) */
    RS_EXIT_EXCEPTION = 9,      /* qual = vector | error code << 32 (intercepted exceptions) */
    RS_EXIT_TRIPLE_FAULT = 10,  /* the guest's state is undefined: WriteState before resuming */
    RS_EXIT_INVALID_STATE = 11, /* VM entry failed: the state the VMM wrote is not runnable */
    RS_EXIT_OTHER = 12,         /* any other intercept; see raw reason */
};

/* The I/O qualification of RS_EXIT_IO, packed by the kernel and read by VMMs. */
#define RS_IO_QUAL_SIZE_SHIFT 16
#define RS_IO_QUAL_IN         (1ull << 24)
#define RS_IO_QUAL_STRING     (1ull << 25)
#define RS_IO_QUAL_REP        (1ull << 26)
static inline uint64_t rs_io_qual(uint16_t port, unsigned size, bool in, bool string, bool rep)
{
    return port | (uint64_t)size << RS_IO_QUAL_SIZE_SHIFT | (in ? RS_IO_QUAL_IN : 0) |
           (string ? RS_IO_QUAL_STRING : 0) | (rep ? RS_IO_QUAL_REP : 0);
}
static inline uint16_t rs_io_qual_port(uint64_t q) { return (uint16_t)q; }
static inline unsigned rs_io_qual_size(uint64_t q) { return (q >> RS_IO_QUAL_SIZE_SHIFT) & 0xFF; }
static inline bool rs_io_qual_in(uint64_t q) { return q & RS_IO_QUAL_IN; }
static inline bool rs_io_qual_string(uint64_t q) { return q & RS_IO_QUAL_STRING; }
static inline bool rs_io_qual_rep(uint64_t q) { return q & RS_IO_QUAL_REP; }

/* The qualification of RS_EXIT_GUEST_FAULT: what the access was (read, write, fetch), and
 * whether a mapping exists that lacks the right (else there is none). */
#define RS_FAULT_QUAL_READ    (1ull << 0)
#define RS_FAULT_QUAL_WRITE   (1ull << 1)
#define RS_FAULT_QUAL_FETCH   (1ull << 2)
#define RS_FAULT_QUAL_PRESENT (1ull << 3)
static inline uint64_t rs_fault_qual(bool read, bool write, bool fetch, bool present)
{
    return (read ? RS_FAULT_QUAL_READ : 0) | (write ? RS_FAULT_QUAL_WRITE : 0) |
           (fetch ? RS_FAULT_QUAL_FETCH : 0) | (present ? RS_FAULT_QUAL_PRESENT : 0);
}

/* Guest general-purpose registers, in the x86 encoding order (the ModRM reg / rm number): the
 * exit and the reply carry them in this order, from RS_EXIT_MR_GPR and RS_REPLY_MR_GPR on. */
enum rs_vcpu_gpr {
    RS_GPR_RAX,
    RS_GPR_RCX,
    RS_GPR_RDX,
    RS_GPR_RBX,
    RS_GPR_RSP,
    RS_GPR_RBP,
    RS_GPR_RSI,
    RS_GPR_RDI,
    RS_GPR_R8,
    RS_GPR_R9,
    RS_GPR_R10,
    RS_GPR_R11,
    RS_GPR_R12,
    RS_GPR_R13,
    RS_GPR_R14,
    RS_GPR_R15,
    RS_GPR_COUNT
};

/* Exit message words (MRn), exit ABI version 2 (RS_VCPU_EXIT_ABI). The words are ordered so
 * that every exit reason's own set is a prefix: the message's length (in its message info) says
 * which words are present, words 0 .. length-1. By default every exit carries all
 * RS_EXIT_MR_COUNT words (4 when the VMM has no IPC buffer); VCPU SetExitWords
 * (ps_vcpu_set_exit_words) selects, per reason, only the reason's own set (NOVA's MTD is the
 * model): RS_EXIT_LEN_BASE words for port I/O (not string I/O), HLT, VMCALL and the interrupt
 * window, RS_EXIT_LEN_CPUID for CPUID, RS_EXIT_LEN_MSR for RDMSR / WRMSR, all words for the rest
 * (MMIO, string I/O, exceptions, OTHER, triple fault, invalid state). ReadState gives the full
 * state at any exit. MR0-MR3 travel in registers, the rest in the VMM's IPC buffer; the badge is
 * that of the exit endpoint cap given to VCPU Bind. A re-delivered exit (docs/virtualization.md)
 * has the same words and length as its first delivery (the selection is the VCPU's, not the
 * VMM's). Version 1 (before): one fixed 35-word layout, reason, qual, gpa, insn_len, rip, rflags,
 * cr0, cr3, cr4, efer, raw reason and qual, event, the GPRs, the segment words, seq. */
#define RS_VCPU_EXIT_ABI 2
enum rs_vcpu_exit_mr {
    RS_EXIT_MR_REASON,
    RS_EXIT_MR_QUAL,
    RS_EXIT_MR_INSN_LEN,
    RS_EXIT_MR_RIP,
    RS_EXIT_MR_RFLAGS,
    RS_EXIT_MR_SEG, /* CS attrib | SS attrib << 16 | CPL << 32 | RS_EXIT_IRQ_* (attribs in
                       rs_segment's form): the mode is CS.L / CS.D with CR0.PE, RFLAGS.VM */
    RS_EXIT_MR_SEQ, /* the vCPU's exit number, from 1: an exit delivered again because its VMM
                       went away keeps its number, so a restarted VMM knows it from the next
                       exit even when the two are alike in every other word */
    RS_EXIT_MR_GPR, /* RS_GPR_COUNT words: the guest's GPRs in rs_vcpu_gpr order */
    RS_EXIT_MR_RAX = RS_EXIT_MR_GPR,
    RS_EXIT_LEN_BASE, /* (a length) port I/O, HLT, VMCALL, interrupt window: the words above */
    RS_EXIT_MR_RCX = RS_EXIT_LEN_BASE,
    RS_EXIT_MR_RDX,
    RS_EXIT_MR_RBX,
    RS_EXIT_LEN_CPUID, /* (a length) CPUID: also RCX, RDX, RBX (a reply sets RAX..RBX) */
    RS_EXIT_MR_RSP = RS_EXIT_LEN_CPUID,
    RS_EXIT_MR_RBP,
    RS_EXIT_MR_RSI,
    RS_EXIT_MR_RDI,
    RS_EXIT_MR_R8,
    RS_EXIT_MR_R9,
    RS_EXIT_MR_R10,
    RS_EXIT_MR_R11,
    RS_EXIT_MR_R12,
    RS_EXIT_MR_R13,
    RS_EXIT_MR_R14,
    RS_EXIT_MR_R15,
    RS_EXIT_MR_CR0,
    RS_EXIT_MR_CR3,
    RS_EXIT_MR_CR4,
    RS_EXIT_MR_EFER,
    RS_EXIT_LEN_MSR, /* (a length) RDMSR / WRMSR: also the GPRs, CR0, CR3, CR4, EFER */
    RS_EXIT_MR_GPA = RS_EXIT_LEN_MSR,
    RS_EXIT_MR_EVENT, /* the event whose delivery the exit interrupted (SVM EXITINTINFO, VMX
                         IDT-vectoring information), as RS_EVENT_* | RS_EVENT_VALID; 0: none.
                         With it, a guest fault was taken by the CPU's own accesses (IDT, GDT,
                         stack) while delivering that event, not by the instruction at RIP. */
    RS_EXIT_MR_RAW_REASON,
    RS_EXIT_MR_RAW_QUAL, /* VMX / SVM exit code, qual */
    /* What an instruction emulator needs besides (MMIO, string I/O), so that no exit needs a
     * ReadState. Read them with the rs_exit_*() accessors below. */
    RS_EXIT_MR_CS_SS_BASE, /* CS base | SS base << 32 (bits 31:0 of each: all that counts outside
                              64-bit mode, where they count as 0) */
    RS_EXIT_MR_DS_ES_BASE, /* DS base | ES base << 32 (likewise) */
    RS_EXIT_MR_FS_BASE,    /* the full FS and GS bases (64-bit mode uses them) */
    RS_EXIT_MR_GS_BASE,
    RS_EXIT_MR_COUNT /* all words: every other reason, and any reason not selected short */
};
_Static_assert(RS_EXIT_MR_COUNT == 35 && RS_EXIT_LEN_BASE == 8 && RS_EXIT_LEN_CPUID == 11 &&
                   RS_EXIT_LEN_MSR == 27,
               "exit ABI 2 layout");
/* The length of a selected (short) exit message of `reason`; io_qual: an I/O exit's
 * qualification (string I/O carries all words). What the kernel sends and VMMs may check. */
static inline unsigned rs_exit_short_length(uint64_t reason, uint64_t io_qual)
{
    switch (reason) {
    case RS_EXIT_IO: return io_qual & RS_IO_QUAL_STRING ? RS_EXIT_MR_COUNT : RS_EXIT_LEN_BASE;
    case RS_EXIT_HLT:
    case RS_EXIT_VMCALL:
    case RS_EXIT_INTR_WINDOW: return RS_EXIT_LEN_BASE;
    case RS_EXIT_CPUID: return RS_EXIT_LEN_CPUID;
    case RS_EXIT_MSR_READ:
    case RS_EXIT_MSR_WRITE: return RS_EXIT_LEN_MSR;
    default: return RS_EXIT_MR_COUNT;
    }
}
/* VCPU SetExitWords' mask: bit `reason` set = exits of that reason carry only their own words. */
#define RS_EXIT_SHORT(reason) (1u << (reason))
#define RS_EXIT_SHORT_ALL                                                                          \
    (RS_EXIT_SHORT(RS_EXIT_IO) | RS_EXIT_SHORT(RS_EXIT_CPUID) | RS_EXIT_SHORT(RS_EXIT_MSR_READ) |  \
     RS_EXIT_SHORT(RS_EXIT_MSR_WRITE) | RS_EXIT_SHORT(RS_EXIT_HLT) |                               \
     RS_EXIT_SHORT(RS_EXIT_VMCALL) | RS_EXIT_SHORT(RS_EXIT_INTR_WINDOW))
/* RS_EXIT_MR_SEG: interruptibility and what the kernel holds */
#define RS_EXIT_IRQ_SHADOW  (1ull << 40) /* STI / MOV SS shadow: no interrupt before the next insn */
#define RS_EXIT_IRQ_PENDING (1ull << 41) /* an injected event is held, not yet delivered */
#define RS_EXIT_IRQ_WINDOW  (1ull << 42) /* an interrupt-window exit is requested */
static inline unsigned rs_exit_cs_attrib(uint64_t seg) { return seg & 0xFFF; }
static inline unsigned rs_exit_ss_attrib(uint64_t seg) { return (seg >> 16) & 0xFFF; }
static inline unsigned rs_exit_cpl(uint64_t seg) { return (seg >> 32) & 3; }
static inline uint32_t rs_exit_low_base(uint64_t w) { return (uint32_t)w; } /* CS or DS */
static inline uint32_t rs_exit_high_base(uint64_t w) { return w >> 32; }    /* SS or ES */

/* Reply to an exit: label 0 resumes the guest (any other label leaves the vCPU's thread stopped;
 * TCB Resume runs the exiting instruction again). With RS_REPLY_SET_GPRS, every register word
 * the reply carries (by its length) replaces the guest's: send back the exit's values for those
 * you keep (so a reply to a short exit covers only registers the exit carried, or that the VMM
 * read with ReadState). Words beyond the length are not read. */
enum rs_vcpu_reply_mr {
    RS_REPLY_MR_FLAGS,  /* RS_REPLY_* */
    RS_REPLY_MR_INJECT, /* event to inject when RS_REPLY_INJECT: see RS_EVENT_* */
    RS_REPLY_MR_RIP,    /* new RIP when RS_REPLY_SET_RIP (a non-canonical one is ignored) */
    RS_REPLY_MR_GPR,    /* RS_GPR_COUNT words: the guest's GPRs in rs_vcpu_gpr order */
    RS_REPLY_MR_RAX = RS_REPLY_MR_GPR,
    RS_REPLY_MR_RCX,
    RS_REPLY_MR_RDX,
    RS_REPLY_MR_RBX,
    RS_REPLY_MR_RSP,
    RS_REPLY_MR_RBP,
    RS_REPLY_MR_RSI,
    RS_REPLY_MR_RDI,
    RS_REPLY_MR_R8,
    RS_REPLY_MR_R9,
    RS_REPLY_MR_R10,
    RS_REPLY_MR_R11,
    RS_REPLY_MR_R12,
    RS_REPLY_MR_R13,
    RS_REPLY_MR_R14,
    RS_REPLY_MR_R15,
    RS_REPLY_MR_RFLAGS, /* with RS_REPLY_SET_RFLAGS: the arithmetic flags (RS_REPLY_RFLAGS_MASK:
                           CF PF AF ZF SF OF) replace the guest's; the others are kept */
    RS_REPLY_MR_EFER,   /* with RS_REPLY_SET_EFER: the guest's new EFER (an emulated WRMSR) */
    RS_REPLY_MR_COUNT
};
#define RS_REPLY_RFLAGS_MASK 0x8D5ull
#define RS_REPLY_ADVANCE_RIP (1u << 0) /* skip the exiting instruction (insn_len) */
#define RS_REPLY_SET_GPRS    (1u << 1) /* take the registers the reply carries (see above) */
#define RS_REPLY_INJECT      (1u << 2)
#define RS_REPLY_WANT_WINDOW (1u << 3) /* exit again once the guest can take an interrupt */
/* RIP from RS_REPLY_MR_RIP (wins over ADVANCE_RIP): the VMM emulated an instruction whose length
 * it decoded */
#define RS_REPLY_SET_RIP     (1u << 4)
#define RS_REPLY_SET_RFLAGS  (1u << 5) /* arithmetic flags from RS_REPLY_MR_RFLAGS (an ALU insn) */
/* EFER from RS_REPLY_MR_EFER, with WriteState's checks (LMA follows LME and CR0.PG; SVME stays
 * the kernel's): the state an MSR exit changes, set by its reply, with no WriteState round trip
 * (the exit carries EFER, CR0 and CR4 to check against). A value WriteState would refuse is the
 * guest's #GP instead: nothing else of the reply but its label applies, RIP stays on the WRMSR. */
#define RS_REPLY_SET_EFER    (1u << 6)

/* An event to inject: vector | type << 8 | (has error code) << 11 | error code << 32.
 * (The layout of AMD's EVENTINJ; bit 31 marks a valid event in rs_vcpu_state.pending_event.)
 * One injection is pending at a time: a second one before the guest took the first replaces it.
 * An event whose delivery an exit interrupted is delivered again first, by the kernel. */
#define RS_EVENT_EXTINT          0u /* external interrupt */
#define RS_EVENT_NMI             2u
#define RS_EVENT_EXCEPTION       3u
#define RS_EVENT_SOFT_INT        4u /* INTn */
#define RS_EVENT_HAS_ERROR       (1ull << 11)
#define RS_EVENT_VALID           (1ull << 31)
#define RS_EVENT_MAKE(vec, type) ((uint64_t)(vec) | ((uint64_t)(type) << 8))
#define RS_EVENT_WITH_ERROR(ev, code)                                                              \
    ((ev) | RS_EVENT_HAS_ERROR | ((uint64_t)(uint32_t)(code) << 32))

/* Full guest state for VCPU ReadState / WriteState, in MRs in this order (RS_VCPU_STATE_WORDS
 * words). Segment attrib: AMD's 12-bit form: type | S << 4 | DPL << 5 | P << 7 | AVL << 8 |
 * L << 9 | D/B << 10 | G << 11. */
struct rs_segment {
    uint64_t selector, base, limit, attrib;
};
typedef struct rs_vcpu_state {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags, cr0, cr2, cr3, cr4, efer;
    struct rs_segment cs, ds, es, fs, gs, ss, tr, ldtr;
    uint64_t gdtr_base, gdtr_limit, idtr_base, idtr_limit;
    uint64_t pending_event; /* RS_EVENT_MAKE(...) | RS_EVENT_VALID, 0 = none */
    /* MSRs the hardware switches (the guest reads and writes them without an exit; FS_BASE and
     * GS_BASE are fs.base and gs.base). Rejected: non-canonical addresses, STAR/SFMASK/TSC_AUX/
     * SYSENTER_CS bits 63:32, a PAT entry with a reserved memory type (2, 3, >= 8). */
    uint64_t kernel_gs_base, star, lstar, cstar, sfmask;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t pat, tsc_aux;
} rs_vcpu_state_t;
#define RS_VCPU_PAT_RESET         0x0007040600070406ull /* IA32_PAT at power-on (WB WT UC- UC, twice) */
#define RS_VCPU_STATE_WORDS       (sizeof(rs_vcpu_state_t) / 8)
/* Word index of a field, e.g. the MR0 detail of a WriteState rejection. */
#define RS_VCPU_STATE_WORD(field) (__builtin_offsetof(rs_vcpu_state_t, field) / 8)
