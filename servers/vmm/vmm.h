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
#include "pit.h"
#include "pc.h"
#include "console.h"         /* COM1 (uart.h) and the guest's console */
#include "virtio_blk_chan.h" /* the guest disk as a file of servers/fs */

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
#define VMM_ONCE_TIMER        (0x7ull << 60)               /* a timer state repaired (exit.c) */

/* ---- a reply to an exit ---- */
struct vmm_reply {
    uint64_t label; /* 0 resumes the guest; 1 leaves it stopped */
    uint32_t len;   /* words used in w */
    uint64_t w[RS_REPLY_MR_COUNT];
};

/* ---- the persistent device state: everything a restarted VMM needs to continue ---- */
enum vmm_stop { VMM_RUNNING = 0, VMM_STOPPED = 1 };
/* The tiny guests' platform (guests/README.md) or the PC a Linux guest expects (pc.h). */
enum vmm_platform { VMM_PLATFORM_FLAT = 0, VMM_PLATFORM_PC = 1 };
struct vmm_state {
    /* VMM_SEG_CORE: committed with every transaction */
    uint64_t seq;         /* exits answered so far */
    uint64_t now_ns;      /* guest time: init's ticks seen, VMM_TICK_NS each */
    uint64_t irqs;        /* timer interrupts delivered (the info device's +4) */
    uint8_t irq_pending;  /* the timer's line is up: vector 0x20 waits for the guest */
    uint8_t stopped;      /* enum vmm_stop */
    uint16_t stop_reason; /* the exit reason that stopped the guest */
    uint8_t platform;     /* enum vmm_platform */
    uint8_t pad[3];
    uint32_t dirty; /* VMM_SEG_* the transaction under way changed (0 in a committed copy) */
    uint32_t pad2;
    uint64_t last_fp;      /* fingerprint of exit `seq` (vmm_fingerprint) */
    uint64_t out_seq;      /* transactions that produced output */
    uint64_t out_end;      /* bytes of output committed so far (the output ring's positions) */
    struct vmm_reply last; /* the reply to exit `seq`: a re-delivered exit gets the same (its
                              `len` words only are kept, in VMM_SEG_CORE) */
    struct vmm_out out;    /* VMM_SEG_OUT: the output of the last one (printed after its
                              commit; its `len` bytes only are kept) */
    struct vmm_once once;  /* VMM_SEG_ONCE (append only: a transaction that grew it changed it) */
    struct uart uart;      /* VMM_SEG_UART ... */
    struct vmm_console console;
    struct pit pit;
    struct pc pc;                     /* the pc platform's devices */
    struct vblk_chan_state disk_chan; /* the disk's requests at fs (virtio_blk_chan.h) */
};

/* The state's parts ("segments") a transaction may change; each is committed (copied and
 * checksummed) only when changed. A transaction marks what it changes in st->dirty: the exit
 * path of the flat platform by device (exit.c's port_access, the console's functions); on the pc
 * platform vmm_begin marks the devices that guest time moves (VMM_DIRTY_PC) and the virtio
 * devices and the disk's channel state are marked where they are reached (pc.c's MMIO window
 * and network poll, main.c's disk and network work). CORE (with the record) and OUT are always
 * taken; ONCE when it grew. */
enum vmm_seg {
    VMM_SEG_CORE,
    VMM_SEG_OUT,
    VMM_SEG_ONCE,
    VMM_SEG_UART,
    VMM_SEG_CONSOLE,
    VMM_SEG_PIT,
    VMM_SEG_PC, /* the pc platform's devices but the two below */
    VMM_SEG_BLK,
    VMM_SEG_NET,
    VMM_SEG_DISK,
    VMM_SEGS
};
#define VMM_DIRTY(seg)   (1u << (seg))
#define VMM_DIRTY_ALL    ((1u << VMM_SEGS) - 1)
#define VMM_DIRTY_ALWAYS (VMM_DIRTY(VMM_SEG_CORE) | VMM_DIRTY(VMM_SEG_OUT))
#define VMM_DIRTY_PC                                                                               \
    (VMM_DIRTY_ALWAYS | VMM_DIRTY(VMM_SEG_UART) | VMM_DIRTY(VMM_SEG_CONSOLE) |                     \
     VMM_DIRTY(VMM_SEG_PIT) | VMM_DIRTY(VMM_SEG_PC))
#define VMM_DIRTY_DISK (VMM_DIRTY(VMM_SEG_BLK) | VMM_DIRTY(VMM_SEG_DISK))

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
    /* the pc platform's virtio disk (virtio_blk.h); NULL: none */
    const struct blk_backend *disk;
    /* the pc platform's network link (virtio_net.h); NULL: no network card */
    struct vnet_link *net;
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
/* The reply sets the guest's EFER (RS_REPLY_SET_EFER; the kernel checks it as WriteState does). */
void reply_set_efer(struct vmm_reply *r, uint64_t efer);
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

#include "insn.h" /* the instructions MMIO and string port I/O emulation decode */

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
 * works on the spare copy and commits by switching the index (one store). Between transactions
 * the spare is the committed one's twin: a commit copies the segments it changed into the other
 * copy (vmm_seg), so that the next transaction starts from the spare as it is, and a copy found
 * corrupt is repaired from its twin. Each transaction's start compares the twins' small
 * segments (a stray write into either between transactions) and checks them if they differ. Each copy has a checksum per segment, taken at the commit
 * for the segments it changed; they are verified when an instance starts (vmm_persist_check)
 * and before an exit is answered from the record, never per exit. */
#define VMM_PERSIST_MAGIC 0x564D4D5354415433ull /* "VMMSTAT3" */
struct vmm_persist {
    uint64_t magic;
    volatile uint64_t current;     /* the committed copy: 0 or 1 */
    volatile uint64_t replied_seq; /* the seq whose reply is known to have gone out */
    volatile uint64_t replied_chk; /* ~replied_seq: a stray write into either is seen */
    volatile uint64_t printed_seq; /* the out_seq whose output was printed */
    volatile uint64_t redelivered; /* exits answered from the record (statistics) */
    uint64_t repaired;             /* corrupt committed segments taken from the twin (statistics) */
    uint64_t sanitized;            /* corrupt states kept after vmm_state_sanitize (statistics) */
    uint64_t mismatches;           /* copies found different at a transaction's start (vmm_begin) */
    volatile uint64_t unrecorded;  /* exits answered that changed nothing (vmm_commit_exit):
                                      not in seq (statistics) */
    uint64_t sum[2][VMM_SEGS];     /* each copy's checksum per segment (vmm_seg_sum) */
    struct vmm_state copy[2];
};
/* Opens the region (initialising it on first use); NULL if it is too small. The inherited state
 * is checked (vmm_persist_check) and the spare made its twin. */
struct vmm_persist *vmm_persist_open(void *base, uint64_t size);
const struct vmm_state *vmm_committed(const struct vmm_persist *p);
/* Starts a transaction on the spare copy, output empty; the segments a transaction begun
 * before and not committed (a HLT that waits) changed are taken from the committed copy first.
 * On the pc platform VMM_DIRTY_PC is marked changed. */
struct vmm_state *vmm_begin(struct vmm_persist *p);
/* What vmm_persist_check found. */
enum vmm_check { VMM_STATE_OK, VMM_STATE_REPAIRED, VMM_STATE_SANITIZED };
/* Verifies the committed copy's segments by their checksums. A corrupt segment is taken from
 * the twin if the twin's holds the same checksum (the same contents); else the whole twin if
 * every segment of it is sound and it does not lag behind a reply the guest has seen (it is the
 * state before a commit whose exit then comes back and is emulated again); else the corrupt
 * state is kept, made safe by vmm_state_sanitize and its checksums taken anew: the guest runs on
 * with what survived rather than the VMM crashing in a loop. Then the spare is made the twin. */
enum vmm_check vmm_persist_check(struct vmm_persist *p);
/* The checksum of segment seg of s (its used part for LAST and OUT). */
uint64_t vmm_seg_sum(const struct vmm_state *s, unsigned seg);
/* state_check.c: brings every index, count and enumerated field of s into range, each model by
 * its own rule (docs/virtualization.md "Validating inherited state"); returns how many fields it
 * changed. */
unsigned vmm_state_sanitize(struct vmm_state *s);
/* Records reply r to the exit with fingerprint fp in the transaction (seq + 1). */
void vmm_record(struct vmm_state *s, uint64_t fp, const struct vmm_reply *r);
/* Commits the transaction begun last. */
void vmm_commit(struct vmm_persist *p);
/* Commits the transaction of the exit with words w (RS_EXIT_MR_COUNT) with its reply r on record
 * (vmm_record), and returns true; unless the transaction changed nothing (no output, no segment,
 * the core as committed): then it is dropped, the spare left the twin, nothing recorded, and
 * false returned. Such an exit, delivered again, is emulated again to the same reply: the state
 * its reply came from is the committed one. */
bool vmm_commit_exit(struct vmm_persist *p, const uint64_t *w, const struct vmm_reply *r);
/* The reply to the committed exit went out (ReplyRecv returned). */
void vmm_mark_replied(struct vmm_persist *p);
/* The committed exit's reply may not have gone out: an exit may be answered from its record. */
bool vmm_reply_owed(const struct vmm_persist *p);
/* The exit with fingerprint fp is the committed one coming back because the VMM that answered it
 * died before the reply went out: answer it with vmm_committed(p)->last, not again. The record
 * is verified by its checksums first (vmm_persist_check if it fails). */
bool vmm_is_redelivery(struct vmm_persist *p, uint64_t fp);
/* Output committed but not printed yet (len 0: none); vmm_mark_printed once it is out. */
const struct vmm_out *vmm_unprinted(const struct vmm_persist *p);
void vmm_mark_printed(struct vmm_persist *p);
/* Copies committed output o, whose last byte is output position end - 1, into init's output
 * ring (proto/vmm.h) at its fixed positions and publishes head; true when done (or nothing to
 * do: init printed it already). false: init has not printed bytes the copy would overwrite;
 * have init print the ring (REGISTRY_FLUSH_OUTPUT), then copy again. Repeated by a restarted
 * VMM, it writes the same bytes to the same places: printed once. */
bool vmm_output_copy(struct vmm_output_ring *ring, const struct vmm_out *o, uint64_t end);
/* The exit's identity: its number (RS_EXIT_MR_SEQ, kept by a re-delivered exit), reason,
 * qualification, address and RIP. */
uint64_t vmm_fingerprint(const uint64_t *w);

_Static_assert(sizeof(struct vmm_persist) <= 2 * 4096, "the VMM's state fits the two persistent "
                                                       "pages init gives a VMM by default");
