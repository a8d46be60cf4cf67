/* SPDX-License-Identifier: MIT */
/* The user-level object toolkit: slot and untyped allocators, invocation stubs, page mapping with
 * automatic page tables, and creation of processes (new address space from an ELF image) and
 * threads. Every program that makes kernel objects (init, tests, benchmarks) builds on this.
 *
 * Assumption throughout: the caller's CSpace root is one CNode whose guard makes a cptr equal to
 * the slot index at depth 64 (init's root CNode, and every CNode this toolkit gives a child). A
 * "slot" below is therefore both an index in that CNode and a cptr.
 *
 * Errors are rs_error values; where a function returns one, the kernel's detail words (MR0..MR2,
 * see resurgo/errors.h) are still in the IPC buffer (ps_mr) right after a failed invocation. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <resurgo/bootinfo.h>
#include <resurgo/fault.h>
#include <resurgo/invocation.h>
#include <resurgo/objects.h>
#include <resurgo/rights.h>
#include <resurgo/syscall.h>

/* ---- Address-space layout used by processes this toolkit creates ----
 * 0x400000            program image (every program links here, so a child runs a copy of the
 *                     creator's binary at the same addresses)
 * PS_SCRATCH_VADDR    one page in the creator's space for writing a child's pages
 * PS_CHILD_STACK_TOP  child stack grows down from here; one unmapped guard page above, then
 * PS_CHILD_IPC_BUFFER the child's IPC buffer. */
#define PS_SCRATCH_VADDR    0x0000600000000000ul
#define PS_CHILD_STACK_TOP  0x00007F0000000000ul
#define PS_CHILD_IPC_BUFFER (PS_CHILD_STACK_TOP + 0x1000ul)

/* Fixed slots in a child's CNode (PS_SLOT_FIRST_FREE onwards is the creator's to fill). */
#define PS_SLOT_TCB        1
#define PS_SLOT_CNODE      2 /* the child's own CNode: use as receive_cnode or CNode root */
#define PS_SLOT_VSPACE     3
#define PS_SLOT_CONSOLE    4 /* write-only Console cap if the config names one (rt_printf uses it);
                                else free for the creator */
#define PS_SLOT_FIRST_FREE 5

#define PS_DEPTH 64 /* depth that names one slot of a toolkit CSpace */

/* The kernel's detail / result word i of the last invocation. */
static inline rs_word_t ps_mr(unsigned i) { return rs_mr_get(i); }

/* ---- Slot allocator: a bitmap over [start, end) of free slots of one CNode ---- */
#define PS_SLOTS_MAX 4096

typedef struct ps_slots {
    rs_cptr_t start, end;
    uint32_t free_count;
    uint32_t hint; /* where the next search starts: allocation is mostly sequential */
    uint64_t used[PS_SLOTS_MAX / 64];
} ps_slots_t;

/* Manages the slots [start, end) (clamped to PS_SLOTS_MAX slots; start 0 is moved to 1 because
 * slot 0 must stay null, and 0 is this allocator's failure value). All slots start free. */
void ps_slots_init(ps_slots_t *sa, rs_cptr_t start, rs_cptr_t end);
/* A free slot, now marked used; 0 when none is left. Does not look at the CNode: the caller
 * must only hand this allocator slots that are empty. */
rs_cptr_t ps_slot_alloc(ps_slots_t *sa);
/* The first of n consecutive free slots, now used; 0 when there is no such run (or n == 0). */
rs_cptr_t ps_slot_alloc_range(ps_slots_t *sa, unsigned n);
/* Marks a slot free again (it should be empty by then); slots outside the range are ignored. */
void ps_slot_free(ps_slots_t *sa, rs_cptr_t slot);
void ps_slot_free_range(ps_slots_t *sa, rs_cptr_t first, unsigned n);
/* True if `slot` is inside the range and allocated. */
bool ps_slot_used(const ps_slots_t *sa, rs_cptr_t slot);

/* ---- Untyped allocator: retypes from a set of untyped caps, tracking each one's watermark ---- */
typedef struct ps_untyped {
    rs_cptr_t cap;
    uint64_t paddr;    /* 0 if unknown */
    uint64_t used;     /* bytes below the kernel's watermark, as far as we can tell (never less) */
    uint8_t size_bits;
    uint8_t is_device; /* skipped: kernel objects cannot live in device memory */
} ps_untyped_t;

typedef struct ps_ut {
    ps_untyped_t *ut; /* storage the caller provides */
    unsigned count, capacity;
} ps_ut_t;

/* Bytes one object takes (the kernel's object_size), 0 for a type/size the kernel refuses. */
uint64_t ps_object_size(unsigned type, unsigned size_bits);
/* Starts an empty allocator over caller storage for `capacity` untyped. */
void ps_ut_init(ps_ut_t *ua, ps_untyped_t *storage, unsigned capacity);
/* Adds an untyped cap believed empty (used = 0). RS_RANGE_ERROR when the storage is full,
 * RS_INVALID_ARGUMENT for size_bits outside RS_MIN_UNTYPED_BITS..RS_MAX_UNTYPED_BITS. */
int ps_ut_add(ps_ut_t *ua, rs_cptr_t cap, unsigned size_bits, uint64_t paddr, bool is_device);
/* Adds the untyped caps of the bootinfo (init's); returns the first ps_ut_add error, if any. */
int ps_ut_add_bootinfo(ps_ut_t *ua, const rs_bootinfo_t *bi);
/* Retypes `count` objects into slots offset.. of the CNode (node_index, node_depth) below the
 * CNode `root` (depth 0: `root` itself), from the best-fitting untyped (the smallest one that
 * has room by the kernel's alignment rules). Returns RS_NOT_ENOUGH_MEMORY if none has room, else
 * the kernel's answer for the chosen untyped (RS_RANGE_ERROR for bad sizes, RS_DELETE_FIRST for
 * occupied slots...). An untyped the kernel says is fuller than we thought takes the kernel's
 * watermark and the search goes on. VSpaces refused for want of ASIDs give RS_NOT_ENOUGH_MEMORY
 * at once. If `which` is not NULL it receives the index of the untyped used. */
int ps_ut_retype(ps_ut_t *ua, rs_cptr_t root, unsigned type, unsigned size_bits,
                 rs_cptr_t node_index, unsigned node_depth, rs_cptr_t offset, unsigned count,
                 unsigned *which);
/* Marks the untyped `cap` empty again: call after a successful Revoke of it (the kernel resets
 * an untyped whose children are all gone). Unknown caps are ignored. */
void ps_ut_reset(ps_ut_t *ua, rs_cptr_t cap);

/* ---- Environment: everything needed to make objects on behalf of one program ---- */
typedef struct ps_env {
    rs_cptr_t cnode;  /* the caller's root CNode (cptr of a cap to it in its own CSpace) */
    rs_cptr_t vspace; /* the caller's VSpace */
    rs_cptr_t tcb;    /* the caller's TCB: authority (MCP) for the priorities of children */
    ps_slots_t *slots;
    ps_ut_t *ut;
    uint64_t scratch_vaddr; /* a page-aligned address free in the caller's VSpace */
} ps_env_t;

/* init's allocation state, all in one place. */
typedef struct ps_root {
    ps_env_t env;
    ps_slots_t slots;
    ps_ut_t ut;
    ps_untyped_t ut_storage[RS_BOOT_MAX_UNTYPED];
} ps_root_t;

/* Sets up init's environment from its bootinfo: its fixed caps, the empty slot range, the
 * untyped list; scratch page at PS_SCRATCH_VADDR. */
void ps_root_init(ps_root_t *r, const rs_bootinfo_t *bi);

/* Makes one object in a freshly allocated slot of env; *out = its slot. On failure the slot is
 * given back and *out is 0. */
int ps_new_object(ps_env_t *env, unsigned type, unsigned size_bits, rs_cptr_t *out);
/* Maps `frame` at `vaddr` in `vspace`, making (from env) the PDPT, PD and PT that are missing.
 * Returns the Frame_Map error otherwise: RS_ALIGNMENT_ERROR, RS_RANGE_ERROR (kernel half),
 * RS_DELETE_FIRST (something mapped there, or a large page in the way), RS_ILLEGAL_OPERATION (the
 * frame cap is mapped already: map a Copy), RS_NOT_ENOUGH_MEMORY/slot exhaustion for tables
 * (slots: RS_NOT_ENOUGH_MEMORY too). */
int ps_map_frame(ps_env_t *env, rs_cptr_t vspace, rs_cptr_t frame, uint64_t vaddr, unsigned rights,
                 unsigned attr);
/* A new 4 KiB frame mapped at vaddr in vspace; *frame_out (may be NULL) gets its slot. */
int ps_map_new_frame(ps_env_t *env, rs_cptr_t vspace, uint64_t vaddr, unsigned rights,
                     rs_cptr_t *frame_out);
/* Makes a child untyped of 2^bits from env and an allocator over it (storage: one entry), so a
 * group of objects can be destroyed together by revoking *cap_out. */
int ps_new_untyped(ps_env_t *env, unsigned bits, ps_ut_t *ua, ps_untyped_t *storage,
                   rs_cptr_t *cap_out);

/* ---- Processes: a thread in a new address space running (a copy of) an ELF image ---- */
typedef void (*ps_entry_fn)(uint64_t arg);

typedef struct ps_process_config {
    const void *elf;        /* the ELF image in the creator's memory (init: a boot module) */
    uint64_t elf_size;
    ps_entry_fn entry;      /* for the creator's own image: any of its functions; it gets `arg`
                               and when it returns, the thread suspends. NULL: start at the
                               image's ELF entry (crt0) with rdi = arg, rsi = IPC buffer. */
    uint64_t arg;
    uint8_t priority, mcp;  /* bounded by the MCP of env->tcb */
    unsigned cnode_radix;   /* 0: 8 (256 slots) */
    unsigned stack_pages;   /* 0: 4 */
    unsigned extra_slots;   /* creator slots to reserve for ps_process_share etc. (0: 16) */
    rs_cptr_t fault_ep;     /* creator's cptr of the child's fault endpoint; 0: none */
    rs_cptr_t console;      /* creator's Console cap: a write-only copy goes in PS_SLOT_CONSOLE;
                               0: none (the child's rt_printf prints nothing) */
    const char *name;       /* for kernel logs; up to 15 characters */
} ps_process_config_t;

typedef struct ps_process {
    ps_env_t env;           /* the child's objects: slots of the creator, the process untyped */
    ps_slots_t slots;       /* block of the creator's slots holding the caps below */
    ps_ut_t ut;
    ps_untyped_t ut_entry;
    ps_slots_t *parent_slots;
    rs_cptr_t block;        /* first slot of the block in parent_slots (0: none) */
    unsigned block_len;
    rs_cptr_t untyped;      /* revoking it destroys the whole process */
    rs_cptr_t cnode;        /* guarded cap to the child's CNode (depth 64 names its slots) */
    rs_cptr_t vspace, tcb, ipc_frame;
    uint64_t stack_top, ipc_vaddr;
    unsigned cnode_radix;
} ps_process_t;

/* Creates everything but does not start the thread: process untyped (sized for the image),
 * CNode with the child's own TCB, CNode and VSpace caps in PS_SLOT_*, VSpace with the PT_LOAD
 * segments copied into fresh frames (written through env->scratch_vaddr), stack, IPC buffer at
 * PS_CHILD_IPC_BUFFER, TCB configured with priority/MCP/fault handler/name and registers so that
 * it enters cfg->entry(cfg->arg) with __rs_ipc_buffer set (entry NULL: the ELF entry, see
 * ps_process_config_t). Errors: RS_INVALID_ARGUMENT (not an x86-64 ELF, segments out of bounds
 * or not ascending, CNode radix > RS_MAX_CNODE_RADIX, more than 256 stack pages),
 * RS_NOT_ENOUGH_MEMORY (untyped or slots), or the failing invocation's error (e.g.
 * RS_RANGE_ERROR for a priority above env->tcb's MCP). On error nothing is left behind
 * (everything made so far is destroyed) and the kernel's detail words are gone. */
int ps_process_create(ps_process_t *p, ps_env_t *env, const ps_process_config_t *cfg);
/* Mints the creator's cap `src` into the child's slot `dest` with `rights` and `badge` (badge 0:
 * a plain copy with those rights). Kernel errors as for CNode_Mint (RS_DELETE_FIRST: occupied;
 * RS_ILLEGAL_OPERATION: untyped caps cannot be copied, or re-badging). */
int ps_process_give(ps_process_t *p, rs_cptr_t dest, rs_cptr_t src, unsigned rights,
                    rs_badge_t badge);
/* Maps the creator's frame `frame` into the child at vaddr as well (through a Copy of the cap,
 * kept in the process's slot block). Errors as ps_map_frame, or RS_NOT_ENOUGH_MEMORY (slots). */
int ps_process_share(ps_process_t *p, rs_cptr_t frame, uint64_t vaddr, unsigned rights);
/* Resumes the thread (TCB_Resume's error). */
int ps_process_start(ps_process_t *p);
/* Destroys the process: revokes the process untyped (the thread stops, its VSpace, CNode and
 * every cap in that CNode go), deletes what is left in its slot block and returns the block.
 * The process untyped's memory is not returned to env's untyped until that one is revoked.
 * Safe on a zeroed or half-created process. Returns the first invocation error seen. */
int ps_process_destroy(ps_process_t *p);

/* ---- Threads in the caller's own address space and CSpace ----
 * The runtime keeps ONE __rs_ipc_buffer per address space, so such a thread must not use the
 * rs_* stubs (nor rt_printf): it gets its own IPC buffer pointer and uses ps_syscall_buf. */
typedef void (*ps_thread_fn)(uint64_t arg, rs_ipc_buffer_t *ipc);

typedef struct ps_thread {
    rs_cptr_t tcb, ipc_frame;
    uint64_t stack_top, ipc_vaddr;
} ps_thread_t;

/* Makes (not starts) a thread in env's VSpace and CSpace: `stack_pages` frames below stack_top
 * (page aligned, a free range of env's VSpace), an IPC buffer frame at ipc_vaddr (page aligned,
 * free), priority `prio`, fault handler fault_ep (0: none); it enters fn(arg, ipc). Errors as
 * ps_process_create. Objects and slots come from env and are not freed on error. */
int ps_thread_create(ps_thread_t *t, ps_env_t *env, ps_thread_fn fn, uint64_t arg,
                     uint64_t stack_top, unsigned stack_pages, uint64_t ipc_vaddr, uint8_t prio,
                     rs_cptr_t fault_ep);

/* rs_syscall with an explicit IPC buffer, for threads that share an address space. */
#define ps_syscall_buf rs_syscall_buf

/* ---- Invocation stubs: one kernel call each; the return value is the kernel's status ---- */
/* Generic: `label` on `cap` with nargs argument words and ncaps extra caps (cptrs). */
int ps_invoke(rs_cptr_t cap, rs_word_t label, const rs_word_t *args, unsigned nargs,
              const rs_cptr_t *caps, unsigned ncaps);

int ps_untyped_retype(rs_cptr_t ut, rs_cptr_t root, unsigned type, unsigned size_bits,
                      rs_cptr_t node_index, unsigned node_depth, rs_cptr_t offset, unsigned count);
int ps_cnode_copy(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth);
int ps_cnode_mint(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth, unsigned rights, rs_badge_t badge);
int ps_cnode_move(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth);
int ps_cnode_mutate(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                    rs_cptr_t src, unsigned src_depth, unsigned rights);
int ps_cnode_delete(rs_cptr_t root, rs_cptr_t index, unsigned depth);
int ps_cnode_revoke(rs_cptr_t root, rs_cptr_t index, unsigned depth);
/* The CNode "badge" that sets a guard of guard_bits bits with value guard (see CNode_Mint). */
static inline rs_badge_t ps_cnode_guard(unsigned guard_bits, uint64_t guard)
{
    return ((rs_badge_t)guard_bits << 58) | guard;
}

int ps_tcb_configure(rs_cptr_t tcb, rs_cptr_t cspace, rs_cptr_t vspace, rs_cptr_t ipc_frame,
                     uint64_t ipc_vaddr);
int ps_tcb_set_priority(rs_cptr_t tcb, rs_cptr_t authority, uint64_t prio);
int ps_tcb_set_mcp(rs_cptr_t tcb, rs_cptr_t authority, uint64_t mcp);
/* ep 0: clear the fault handler. */
int ps_tcb_set_fault_handler(rs_cptr_t tcb, rs_cptr_t ep);
/* Reads n registers (RS_REG_* order) into regs (may be NULL: then they stay in the MRs). */
int ps_tcb_read_registers(rs_cptr_t tcb, bool suspend, unsigned n, uint64_t *regs);
int ps_tcb_write_registers(rs_cptr_t tcb, bool resume, unsigned n, const uint64_t *regs);
int ps_tcb_suspend(rs_cptr_t tcb);
int ps_tcb_resume(rs_cptr_t tcb);
int ps_tcb_bind_notification(rs_cptr_t tcb, rs_cptr_t ntfn);
int ps_tcb_unbind_notification(rs_cptr_t tcb);
int ps_tcb_set_tls_base(rs_cptr_t tcb, uint64_t base);
int ps_tcb_set_name(rs_cptr_t tcb, const char *name);

int ps_frame_map(rs_cptr_t frame, rs_cptr_t vspace, uint64_t vaddr, unsigned rights, unsigned attr);
int ps_frame_unmap(rs_cptr_t frame);
/* *paddr (may be NULL) gets the physical address. */
int ps_frame_get_address(rs_cptr_t frame, uint64_t *paddr);
int ps_page_table_map(rs_cptr_t table, rs_cptr_t vspace, uint64_t vaddr);
int ps_page_table_unmap(rs_cptr_t table);

int ps_irq_control_get(rs_cptr_t irq_control, unsigned irq, rs_cptr_t root, rs_cptr_t dest,
                       unsigned depth);
int ps_irq_handler_ack(rs_cptr_t handler);
int ps_irq_handler_set_notification(rs_cptr_t handler, rs_cptr_t ntfn);
int ps_irq_handler_clear(rs_cptr_t handler);
int ps_ioport_issue(rs_cptr_t control, uint16_t first, uint16_t last, rs_cptr_t root,
                    rs_cptr_t dest, unsigned depth);
/* width 1, 2 or 4; *value (may be NULL) gets what was read. */
int ps_ioport_in(rs_cptr_t port_cap, unsigned width, uint16_t port, uint32_t *value);
int ps_ioport_out(rs_cptr_t port_cap, unsigned width, uint16_t port, uint32_t value);
