/* SPDX-License-Identifier: MIT */
/* The allocation environment: a program's CNode, VSpace and TCB with the slot and untyped
 * allocators it makes objects from, and making one object from it. Everything in libipc that
 * creates kernel objects (mapping, processes, threads) takes one.
 *
 * Assumption throughout: the caller's CSpace root is one CNode whose guard makes a cptr equal to
 * the slot index at depth 64 (init's root CNode, and every CNode libipc gives a child). A "slot"
 * is therefore both an index in that CNode and a cptr. */
#pragma once
#include <stdint.h>
#include <resurgo/bootinfo.h>
#include "slot_alloc.h"
#include "untyped_alloc.h"

#define PS_DEPTH         64 /* depth that names one slot of such a CSpace */
/* A page in init's address space that ps_root_init gives as the scratch page (see process.h). */
#define PS_SCRATCH_VADDR 0x0000600000000000ul

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
/* Makes a child untyped of 2^bits from env and an allocator over it (storage: one entry), so a
 * group of objects can be destroyed together by revoking *cap_out. */
int ps_new_untyped(ps_env_t *env, unsigned bits, ps_ut_t *ua, ps_untyped_t *storage,
                   rs_cptr_t *cap_out);
