/* SPDX-License-Identifier: MIT */
/* Capabilities and the slots that hold them. A slot also holds the cap's place in the derivation
 * tree (CDT): parent, first child, and siblings. The caps to one object always form a consecutive
 * run of siblings and their descendants (see cdt.h), so finality is a check of neighbours. */
#pragma once
#include <stdint.h>
#include <stdbool.h>
#include <resurgo/objects.h>
#include <resurgo/rights.h>

struct cap {
    uint8_t type;   /* rs_cap_type_t */
    uint8_t rights; /* RS_RIGHT_* */
    uint8_t bits;   /* object size bits (untyped, frame), radix (CNode) */
    uint8_t flags;  /* CAP_FLAG_* */
    uint32_t small; /* CNode guard size, IRQ number, ASID of a mapped frame/table */
    uint64_t obj;   /* kernel virtual address of the object (physmap), 0 for control caps */
    uint64_t w1;    /* badge (EP/NTFN), guard (CNode), watermark (untyped), vaddr (mapped) */
    uint64_t w2;    /* first..last port (IOPort: first | last << 16) */
};

#define CAP_FLAG_DEVICE 1 /* untyped/frame over device memory: not zeroed, only frames made */
#define CAP_FLAG_MAPPED 2 /* frame/table cap currently installed (asid in small, vaddr in w1) */
#define CAP_FLAG_GUEST  4 /* with MAPPED: the mapping is in a GuestSpace (w1 = guest-physical) */

struct slot {
    struct cap cap;
    struct slot *parent, *child, *next, *prev;
};

_Static_assert(sizeof(struct slot) == 64, "slot layout matches RS_SLOT_BITS");

static inline bool cap_is_null(const struct cap *c) { return c->type == RS_CAP_NULL; }
static inline struct cap cap_null(void) { return (struct cap){0}; }

/* True if two caps name the same kernel object (copies, mints or the original). */
bool cap_same_object(const struct cap *a, const struct cap *b);
/* True if the cap refers to an object with its own storage that must be destroyed when the last
 * cap to it goes (everything but untyped and control caps). */
bool cap_has_object(const struct cap *c);
