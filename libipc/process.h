/* SPDX-License-Identifier: MIT */
/* Processes: a thread in a new address space and CSpace running (a copy of) an ELF image, made
 * from an environment (env.h) and destroyed in one Revoke. Every program that starts others
 * (init, tests, benchmarks) builds on this.
 *
 * libipc's object toolkit, one file per job: invoke_stubs.h (invocation stubs), slot_alloc.h
 * and untyped_alloc.h (allocators), env.h (making objects), map.h (mapping), elf_load.h (ELF
 * images), this file (processes) and thread.h (threads in the caller's own space). This header
 * includes the ones a process creator needs besides its own: invoke_stubs.h, env.h, map.h. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "env.h"
#include "invoke_stubs.h"
#include "map.h"

struct elf_shared; /* elf_load.h */

/* ---- Address-space layout used by processes this toolkit creates ----
 * 0x400000            program image (every program links here, so a child runs a copy of the
 *                     creator's binary at the same addresses); it must end below 0x3FE00000
 * PS_SCRATCH_VADDR    (env.h) one page in the creator's space for writing a child's pages
 * PS_CHILD_STACK_TOP  child stack grows down from here; one unmapped guard page above, then
 * PS_CHILD_IPC_BUFFER the child's IPC buffer.
 * Stack and IPC buffer lie in one 2 MiB region of the image's first GiB: they add one page table
 * to the image's three, where at 0x7F0000000000 they took six. Each table is made and zeroed
 * when a process is made and scanned (512 entries, some 17,000 instructions) when it is
 * destroyed, on every restart. */
#define PS_CHILD_STACK_TOP  0x000000003FF00000ul
#define PS_CHILD_IPC_BUFFER (PS_CHILD_STACK_TOP + 0x1000ul)

/* Fixed slots in a child's CNode (PS_SLOT_FIRST_FREE onwards is the creator's to fill). */
#define PS_SLOT_TCB    1
#define PS_SLOT_CNODE  2 /* the child's own CNode: use as receive_cnode or CNode root */
#define PS_SLOT_VSPACE 3
#define PS_SLOT_CONSOLE                                                                            \
    4 /* write-only Console cap if the config names one (rt_printf uses it);
                                else free for the creator */
#define PS_SLOT_FIRST_FREE 5

/* ---- Processes: a thread in a new address space running (a copy of) an ELF image ---- */
typedef void (*ps_entry_fn)(uint64_t arg);

typedef struct ps_process_config {
    const void *elf; /* the ELF image in the creator's memory (init: a boot module) */
    uint64_t elf_size;
    ps_entry_fn entry; /* for the creator's own image: any of its functions; it gets `arg`
                               and when it returns, the thread suspends. NULL: start at the
                               image's ELF entry (crt0) with rdi = arg, rsi = IPC buffer. */
    uint64_t arg;
    uint8_t priority, mcp; /* bounded by the MCP of env->tcb */
    unsigned cnode_radix;  /* 0: 8 (256 slots) */
    unsigned stack_pages;  /* 0: 4 */
    unsigned extra_slots;  /* creator slots to reserve for ps_process_share etc. (0: 16) */
    rs_cptr_t fault_ep;    /* creator's cptr of the child's fault endpoint; 0: none */
    rs_cptr_t console;     /* creator's Console cap: a write-only copy goes in PS_SLOT_CONSOLE;
                               0: none (the child's rt_printf prints nothing) */
    const char *name;      /* for kernel logs; up to 15 characters */
    const struct elf_shared *shared; /* the image's read-only pages, filled once by
                                        ps_process_share_image for every process made from
                                        `elf`: mapped, not copied (NULL: every page copied) */
} ps_process_config_t;

typedef struct ps_process {
    ps_env_t env;     /* the child's objects: slots of the creator, the process untyped */
    ps_slots_t slots; /* block of the creator's slots holding the caps below */
    ps_ut_t ut;
    ps_untyped_t ut_entry;
    ps_slots_t *parent_slots;
    rs_cptr_t block; /* first slot of the block in parent_slots (0: none) */
    unsigned block_len;
    rs_cptr_t untyped; /* revoking it destroys the whole process */
    rs_cptr_t cnode;   /* guarded cap to the child's CNode (depth 64 names its slots) */
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
/* Fills, from env's memory, a frame for each read-only page of the ELF image (those no writable
 * segment covers) for ps_process_create to map into every process made from it (cfg->shared);
 * the frames stay env's. Errors: RS_INVALID_ARGUMENT (not an x86-64 ELF), else those of
 * ps_new_object, ps_map_frame and Frame_Unmap. */
int ps_process_share_image(ps_env_t *env, const void *elf, uint64_t elf_size,
                           struct elf_shared *shared);
/* Resumes the thread (TCB_Resume's error). */
int ps_process_start(ps_process_t *p);
/* Destroys the process: revokes the process untyped (the thread stops, its VSpace, CNode and
 * every cap in that CNode go), deletes what is left in its slot block and returns the block.
 * The process untyped's memory is not returned to env's untyped until that one is revoked.
 * Safe on a zeroed or half-created process. Returns the first invocation error seen. */
int ps_process_destroy(ps_process_t *p);
