/* SPDX-License-Identifier: MIT */
/* The untyped allocator: retypes objects from a set of untyped caps, keeping each one's
 * watermark as the kernel places objects (resurgo/objects.h), so that it picks an untyped with
 * room before asking. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <resurgo/bootinfo.h>
#include <resurgo/objects.h>

typedef struct ps_untyped {
    rs_cptr_t cap;
    uint64_t paddr; /* 0 if unknown */
    uint64_t used;  /* bytes below the kernel's watermark, as far as we can tell (never less) */
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
