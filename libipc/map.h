/* SPDX-License-Identifier: MIT */
/* Mapping frames into an address space, making the missing page tables (PDPT, PD, PT) from an
 * environment on the way. */
#pragma once
#include <stdint.h>
#include "env.h"

/* Maps `frame` at `vaddr` in `vspace`, making (from env) the PDPT, PD and PT that are missing.
 * Returns the Frame_Map error otherwise: RS_ALIGNMENT_ERROR, RS_RANGE_ERROR (kernel half),
 * RS_DELETE_FIRST (something mapped there, or a large page in the way), RS_ILLEGAL_OPERATION (the
 * frame cap is mapped already: map a Copy), RS_NOT_ENOUGH_MEMORY/slot exhaustion for tables
 * (slots: RS_NOT_ENOUGH_MEMORY too). */
int ps_map_frame(ps_env_t *env, rs_cptr_t vspace, rs_cptr_t frame, uint64_t vaddr, unsigned rights,
                 unsigned attr);
/* Makes the page tables that a mapping at vaddr in vspace needs, from env's memory, and leaves
 * nothing mapped there: later mappings at vaddr need no table, whatever environment makes them.
 * For a creator's scratch address, so that its tables do not come from (and leak slots with) an
 * untyped that is revoked later. Costs one frame of env's memory. */
int ps_map_prepare(ps_env_t *env, rs_cptr_t vspace, uint64_t vaddr);
/* A new 4 KiB frame mapped at vaddr in vspace; *frame_out (may be NULL) gets its slot. */
int ps_map_new_frame(ps_env_t *env, rs_cptr_t vspace, uint64_t vaddr, unsigned rights,
                     rs_cptr_t *frame_out);
