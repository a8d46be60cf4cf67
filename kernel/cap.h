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
    uint32_t small; /* by type (accessors below): CNode guard size, IRQ number, ASID; IOPort
                     * control: IOPORT_CONTROL_PLATFORM or 0 (arch/x86_64/ioport.c) */
    uint64_t obj;   /* kernel virtual address of the object (physmap), 0 for control caps */
    uint64_t w1;    /* by type: badge, guard, watermark, mapped address */
    uint64_t w2;    /* by type: untyped's zeroed mark, I/O port range */
};

#define CAP_FLAG_DEVICE 1 /* untyped/frame over device memory: not zeroed, only frames made */
#define CAP_FLAG_MAPPED 2 /* frame/table cap currently installed (asid in small, vaddr in w1) */
#define CAP_FLAG_GUEST  4 /* with MAPPED: the mapping is in a GuestSpace (w1 = guest-physical) */
#define CAP_FLAG_FLAT                                                                              \
    8 /* CNode cap whose guard and radix make 64 bits (a one-level CSpace):
                           * kept by cap_set_guard, read by fastpath_lookup in one compare */

struct slot {
    struct cap cap;
    struct slot *parent, *child, *next, *prev;
};

_Static_assert(sizeof(struct slot) == 64, "slot layout matches RS_SLOT_BITS");

static inline bool cap_is_null(const struct cap *c) { return c->type == RS_CAP_NULL; }
static inline struct cap cap_null(void) { return (struct cap){0}; }

/* The type-dependent words of a cap: read and write them through these, so that a reader can
 * grep what each field means for each type. */
/* Endpoint and notification caps: the badge (0: unbadged). */
static inline uint64_t cap_badge(const struct cap *c) { return c->w1; }
static inline void cap_set_badge(struct cap *c, uint64_t badge) { c->w1 = badge; }
/* CNode caps: the guard, `guard_bits` bits of value `guard` matched before the index. */
static inline unsigned cap_guard_bits(const struct cap *c) { return c->small; }
static inline uint64_t cap_guard(const struct cap *c) { return c->w1; }
static inline void cap_set_guard(struct cap *c, unsigned guard_bits, uint64_t guard)
{
    c->small = guard_bits;
    c->w1 = guard;
    // a CNode cap's radix never changes after Retype, so this is the one place that decides
    if (guard_bits + c->bits == 64) c->flags |= CAP_FLAG_FLAT;
    else c->flags &= (uint8_t)~CAP_FLAG_FLAT;
}
/* Untyped caps: the watermark (bytes from the start in use) and the zeroed mark (memory from the
 * watermark up to it is known to be zero). */
static inline uint64_t cap_ut_watermark(const struct cap *c) { return c->w1; }
static inline void cap_ut_set_watermark(struct cap *c, uint64_t w) { c->w1 = w; }
static inline uint64_t cap_ut_zeroed(const struct cap *c) { return c->w2; }
static inline void cap_ut_set_zeroed(struct cap *c, uint64_t z) { c->w2 = z; }
/* VSpace and GuestSpace caps: their ASID; a mapped frame's or table's: its space's ASID. */
static inline uint32_t cap_asid(const struct cap *c) { return c->small; }
static inline void cap_set_asid(struct cap *c, uint32_t asid) { c->small = asid; }
/* Mapped frame and table caps (CAP_FLAG_MAPPED): the virtual (or, with CAP_FLAG_GUEST,
 * guest-physical) address of the mapping. */
static inline uint64_t cap_mapped_addr(const struct cap *c) { return c->w1; }
/* Records a mapping at `addr` in the space with that ASID, or (asid 0, addr 0) none. */
static inline void cap_set_mapping(struct cap *c, uint32_t asid, uint64_t addr)
{
    c->small = asid;
    c->w1 = addr;
}
/* IRQ handler caps: `small` = the IRQ line | the handler's index on the line << 8 (a shared line
 * has several handlers, each its own object: its own notification and acknowledgement). */
static inline unsigned cap_irq(const struct cap *c) { return c->small & 0xFF; }
static inline unsigned cap_irq_handler(const struct cap *c) { return c->small >> 8; }
/* IOPort caps: the range of ports first..last. */
static inline unsigned cap_ioport_first(const struct cap *c) { return (unsigned)(c->w2 & 0xFFFF); }
static inline unsigned cap_ioport_last(const struct cap *c)
{
    return (unsigned)(c->w2 >> 16 & 0xFFFF);
}

/* True if two caps name the same kernel object (copies, mints or the original). */
bool cap_same_object(const struct cap *a, const struct cap *b);
/* True if the cap refers to an object with its own storage that must be destroyed when the last
 * cap to it goes (everything but untyped and control caps). */
bool cap_has_object(const struct cap *c);
