/* SPDX-License-Identifier: MIT */
/* The VMM's parts: device models, instruction decoding, guest memory, the persistent device
 * state and the exit dispatch. Only main.c makes system calls; everything declared here reaches
 * the VCPU and the host through struct vmm_ops, so these files also build for the host and are
 * unit-tested there (tests/unit/test_vmm_*.c).
 *
 * Trust: every word of an exit, every byte of guest RAM and every register is the guest's to
 * choose. Nothing here indexes, loops or allocates by a guest value without bounding it first. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <resurgo/vcpu.h>
#include <resurgo/x86.h>
#include "kstring.h"
#include "console.h" /* COM1 (uart.h) and the guest's console */

#define VMM_TIMER_VECTOR 0x20
#define VMM_TICK_NS      10000000ull /* one of init's ticks (IPC_TICK_MS) */

/* ---- the output a transaction produces (printed once it is committed) ---- */
#define VMM_OUT_MAX 384
struct vmm_out {
    uint32_t len;
    char text[VMM_OUT_MAX]; /* whole lines, each ending in '\n' (raw bytes while attached) */
};

/* ---- events logged only once (pages, reasons); when full, nothing more is logged ---- */
#define VMM_ONCE_MAX 32
struct vmm_once {
    uint32_t n;
    uint64_t key[VMM_ONCE_MAX];
};
#define VMM_ONCE_PAGE(gpa)    (0x1ull << 60 | (gpa) >> 12) /* an unmapped guest-physical page */
#define VMM_ONCE_DECODE(rip)  (0x2ull << 60 | (rip) >> 12) /* an instruction we cannot emulate */
#define VMM_ONCE_REASON(r)    (0x3ull << 60 | (r))         /* an exit reason we do not emulate */
#define VMM_ONCE_STRING       (0x4ull << 60)               /* string port I/O */
#define VMM_ONCE_EXCEPTION(v) (0x5ull << 60 | (v))         /* an intercepted exception vector */
#define VMM_ONCE_CACHE        (0x6ull << 60)               /* WBINVD / INVD skipped */

/* ---- PIT channel 0 (pit.c) ---- */
#define PIT_HZ 1193182ull
struct pit {
    uint32_t reload;    /* divisor as programmed (0 stands for 65536) */
    uint8_t mode;       /* 0..5 */
    uint8_t access;     /* 1 low byte, 2 high byte, 3 low then high */
    uint8_t write_high; /* access 3: the next byte written is the high one */
    uint8_t read_high;  /* access 3: the next byte read is the high one */
    uint8_t latched;    /* a latch command froze `latch` for the next read(s) */
    uint16_t latch;
    uint16_t low;       /* the low byte written, waiting for the high one */
    uint64_t period_ns; /* 0: not counting */
    uint64_t start_ns;  /* when the current period began */
};

/* ---- a reply to an exit ---- */
struct vmm_reply {
    uint64_t label; /* 0 resumes the guest; 1 leaves it stopped */
    uint32_t len;   /* words used in w */
    uint64_t w[RS_REPLY_MR_COUNT];
};

/* ---- the persistent device state: everything a restarted VMM needs to continue ---- */
enum vmm_stop { VMM_RUNNING = 0, VMM_STOPPED = 1 };
struct vmm_state {
    uint64_t seq;         /* exits answered so far */
    uint64_t now_ns;      /* guest time: init's ticks seen, VMM_TICK_NS each */
    uint64_t irqs;        /* timer interrupts delivered (the info device's +4) */
    uint8_t irq_pending;  /* the timer's line is up: vector 0x20 waits for the guest */
    uint8_t stopped;      /* enum vmm_stop */
    uint16_t stop_reason; /* the exit reason that stopped the guest */
    struct uart uart;
    struct vmm_console console;
    struct pit pit;
    struct vmm_once once;
    uint64_t last_fp;      /* fingerprint of exit `seq` (vmm_fingerprint) */
    struct vmm_reply last; /* and the reply it got: a re-delivered exit gets the same */
    uint64_t out_seq;      /* transactions that produced output */
    struct vmm_out out;    /* the output of the last one (printed after its commit) */
};

/* ---- the VMM's context (not persistent) ---- */
struct vmm_ops {
    int (*read_state)(void *ctx, rs_vcpu_state_t *s);
    int (*write_state)(void *ctx, const rs_vcpu_state_t *s);
    void (*host_cpuid)(uint32_t leaf, uint32_t sub, uint32_t r[4]);
    uint64_t (*host_tsc)(void);
};

struct vmm {
    const char *name; /* "[name] " prefixes the guest's lines */
    uint8_t *ram;     /* guest-physical 0 .. ram_size, mapped (the VMM writes the RAM part
                           of an MMIO store that straddles the end of RAM) */
    uint64_t ram_size;
    struct vmm_state *st; /* the state the current transaction changes */
    const struct vmm_ops *ops;
    void *ops_ctx;
    struct vmm_console_ring *ring; /* init's console input (proto/vmm.h); NULL: none */
};

enum vmm_action { VMM_REPLY, VMM_WAIT }; /* VMM_WAIT: a HLT with nothing due: wait for a tick */

/* exit.c: handles one exit (w: RS_EXIT_MR_COUNT words) into r, changing v->st. */
enum vmm_action vmm_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r);
/* One of init's ticks: advances guest time; true if the timer interrupt is now pending. */
bool vmm_tick(struct vmm *v);
/* Reply helpers: an empty reply; a register set (the others keep the exit's values). */
void reply_init(struct vmm_reply *r, uint64_t flags);
void reply_set_gpr(struct vmm_reply *r, const uint64_t *w, unsigned reg, uint64_t value);
void reply_inject(struct vmm_reply *r, uint64_t event);
void reply_set_rip(struct vmm_reply *r, uint64_t rip);
/* Stops the guest for good (reply label 1), with the reason on record and a line in the log. */
enum vmm_action vmm_stop(struct vmm *v, struct vmm_reply *r, uint16_t reason, const char *why,
                         uint64_t rip);
#define VMM_EVENT_GP RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0)
#define VMM_EVENT_UD RS_EVENT_MAKE(6, RS_EVENT_EXCEPTION)
/* Exit word of x86 register number reg (0 rax, 1 rcx, 2 rdx, 3 rbx, 4 rsp ... 15 r15). */
uint64_t exit_gpr(const uint64_t *w, unsigned reg);

/* output (state.c): appends a guest line "[name] text" or a VMM line "vmm name: ..." */
void vmm_guest_line(struct vmm *v, const char *text, size_t len);
/* ... or the guest's bytes as they are (init's shell is attached to the guest) */
void vmm_guest_raw(struct vmm *v, const uint8_t *bytes, size_t len);
void vmm_guest_printf(struct vmm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vmm_log(struct vmm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True the first time key is seen (and there is room to remember it). */
bool vmm_once(struct vmm_once *o, uint64_t key);

/* pit.c: ports 0x40..0x43. */
uint8_t pit_read(struct pit *p, uint16_t port, uint64_t now_ns);
void pit_write(struct pit *p, uint16_t port, uint8_t value, uint64_t now_ns);
/* Time moved to now_ns: true if an interrupt fell due since the last call (several are coalesced
 * into one, as a PIC's request bit does). */
bool pit_advance(struct pit *p, uint64_t now_ns);

/* cpuid.c: the guest's view of leaf/sub: the host's values filtered, or the hypervisor leaves. */
void cpuid_guest(const struct vmm_ops *ops, uint32_t leaf, uint32_t sub, uint32_t r[4]);

/* msr.c */
enum msr_result { MSR_DONE, MSR_GP, MSR_SET_EFER };
#define MSR_TSC         0x10
#define MSR_APIC_BASE   0x1B
#define MSR_EFER        0xC0000080
#define APIC_BASE_VALUE 0xFEE00900ull
enum msr_result msr_read(uint32_t index, uint64_t efer, uint64_t tsc, uint64_t *value);
/* What an EFER write is checked against: the guest's EFER and CR0 at the exit, and CPUID
 * 0x80000001 EDX as the guest sees it (0 if it has no such leaf). */
struct msr_guest {
    uint64_t efer, cr0;
    uint32_t ext_edx;
};
/* MSR_SET_EFER: *efer = the EFER to write into the guest state. */
enum msr_result msr_write(uint32_t index, uint64_t value, const struct msr_guest *g,
                          uint64_t *efer);

/* insn.c: a MOV between memory and a register or immediate (what MMIO emulation needs). */
enum insn_ext { INSN_EXT_NONE, INSN_EXT_ZERO, INSN_EXT_SIGN };
struct insn {
    uint8_t len;      /* bytes, prefixes included */
    uint8_t size;     /* bytes of memory accessed: 1, 2, 4, 8 */
    uint8_t reg_size; /* bytes of the register written (movzx/movsx: wider than size) */
    uint8_t reg;      /* x86 register number */
    bool high8;       /* AH, CH, DH, BH */
    bool write;       /* a store to memory */
    bool has_imm;
    uint8_t ext; /* enum insn_ext */
    uint64_t imm;
    /* The memory operand: seg:[base + index * scale + disp], modulo 2^(8 * asize). */
    uint8_t seg;   /* enum insn_seg */
    uint8_t asize; /* address size in bytes: 2, 4, 8 */
    uint8_t base;  /* x86 register number, INSN_NO_REG or INSN_RIP (disp is from the next insn) */
    uint8_t index; /* x86 register number or INSN_NO_REG */
    uint8_t scale; /* 1, 2, 4, 8 */
    int64_t disp;
};
enum insn_seg { INSN_ES, INSN_CS, INSN_SS, INSN_DS, INSN_FS, INSN_GS };
#define INSN_NO_REG 0xFF
#define INSN_RIP    0xFE
/* Decodes b[0..n); mode is the code size: 16, 32 or 64. False for anything else. */
bool insn_decode(const uint8_t *b, unsigned n, unsigned mode, struct insn *d);
/* The operand's effective address (no segment base) with the exit's registers w. */
uint64_t insn_ea(const struct insn *d, const uint64_t *w);

/* gmem.c: reading guest memory through the guest's own page tables. */
struct gmem_cpu {
    uint64_t cr0, cr3, cr4, efer;
};
/* Linear address -> guest-physical, as the guest's paging mode says; false if not present or a
 * table lies outside RAM. */
bool gmem_translate(const struct vmm *v, const struct gmem_cpu *c, uint64_t la, uint64_t *gpa);
/* The same, with the rights every level of the walk grants (GMEM_WRITE, GMEM_USER; both
 * without paging). */
#define GMEM_WRITE  2u /* R/W */
#define GMEM_USER   4u /* U/S */
#define GMEM_RIGHTS (GMEM_WRITE | GMEM_USER)
bool gmem_translate_rights(const struct vmm *v, const struct gmem_cpu *c, uint64_t la,
                           uint64_t *gpa, unsigned *rights);
/* Reads up to n bytes at linear address la; returns how many could be read. */
unsigned gmem_fetch(const struct vmm *v, const struct gmem_cpu *c, uint64_t la, uint8_t *buf,
                    unsigned n);

/* cache.c: an RS_EXIT_OTHER exit at a WBINVD or INVD: skips it (true, *r is the reply);
 * false for any other instruction. */
bool cache_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r);

/* mmio.c: an access to an unmapped guest-physical address (RS_EXIT_GUEST_FAULT). */
#define INFO_GPA   0xFED00000ull
#define INFO_MAGIC 0x52534730u
enum vmm_action mmio_exit(struct vmm *v, const uint64_t *w, struct vmm_reply *r);

/* state.c: the persistent region. Two copies of the state and one index word: a transaction
 * works on the spare copy and commits by switching the index (one store). */
#define VMM_PERSIST_MAGIC 0x564D4D5354415431ull /* "VMMSTAT1" */
struct vmm_persist {
    uint64_t magic;
    volatile uint64_t current;     /* the committed copy: 0 or 1 */
    volatile uint64_t replied_seq; /* the seq whose reply is known to have gone out */
    volatile uint64_t printed_seq; /* the out_seq whose output was printed */
    volatile uint64_t redelivered; /* exits answered from the record (statistics) */
    struct vmm_state copy[2];
};
/* Opens the region (initialising it on first use); NULL if it is too small. */
struct vmm_persist *vmm_persist_open(void *base, uint64_t size);
const struct vmm_state *vmm_committed(const struct vmm_persist *p);
/* Starts a transaction: a fresh copy of the committed state, output empty. */
struct vmm_state *vmm_begin(struct vmm_persist *p);
/* Records reply r to the exit with fingerprint fp in the transaction (seq + 1). */
void vmm_record(struct vmm_state *s, uint64_t fp, const struct vmm_reply *r);
/* Commits the transaction begun last. */
void vmm_commit(struct vmm_persist *p);
/* The reply to the committed exit went out (ReplyRecv returned). */
void vmm_mark_replied(struct vmm_persist *p);
/* The exit with fingerprint fp is the committed one coming back because the VMM that answered it
 * died before the reply went out: answer it with vmm_committed(p)->last, not again. */
bool vmm_is_redelivery(const struct vmm_persist *p, uint64_t fp);
/* Output committed but not printed yet (len 0: none); vmm_mark_printed once it is out. */
const struct vmm_out *vmm_unprinted(const struct vmm_persist *p);
void vmm_mark_printed(struct vmm_persist *p);
uint64_t vmm_fingerprint(const uint64_t *w, unsigned n);

_Static_assert(sizeof(struct vmm_persist) <= 4096, "the VMM's state fits the one persistent page "
                                                   "init gives a VMM by default");
