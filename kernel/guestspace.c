// SPDX-License-Identifier: MIT
// GuestSpaces: guest-physical address spaces. The tables have the x86 four-level shape in both
// backends (NPT is x86 paging, EPT the same radix tree with other bits), so the walk is generic
// and only the entries come from the backend (guest_pte). A guest access to an address with no
// mapping is an exit to the VMM (RS_EXIT_GUEST_FAULT), never host memory.
#include "guestspace.h"
#include "vcpu_backend.h"
#include "vspace.h"
#include "ptwalk.h"
#include "kstring.h"
#include "arch/x86_64/arch.h"
#include <resurgo/invocation.h>


void guest_space_init(void *root, uint32_t *asid) { asid_assign(root, true, asid); }

void guest_space_finalise(const struct cap *c)
{
    if (vcpu_backend) vcpu_backend->flush_guest(VIRT_TO_PHYS(c->obj), c->small);
    asid_release(c->small, (const void *)c->obj);
}

/* The entry for gpa at `level` (ptwalk.h), in the backend's format. */
static uint64_t *walk(uint64_t *root, uint64_t gpa, unsigned level, unsigned *missing)
{
    return pt_walk(root, gpa, level, vcpu_backend->guest_pte_present, missing);
}

void guest_space_unmap_cap(struct cap *c)
{
    unsigned level = pt_cap_level(c);
    uint64_t *root = asid_root(c->small, true);
    if (root && level) {
        uint64_t *e = walk(root, c->w1, level, NULL);
        if (e && vcpu_backend->guest_pte_present(*e) &&
            (*e & PT_ENTRY_ADDR) == VIRT_TO_PHYS(c->obj)) {
            *e = 0;
            vcpu_backend->flush_guest(VIRT_TO_PHYS(root), c->small);
        }
    }
    if (c->type != RS_CAP_FRAME) memset((void *)c->obj, 0, 4096);
    c->flags &= ~(CAP_FLAG_MAPPED | CAP_FLAG_GUEST);
    c->small = 0;
    c->w1 = 0;
}

/* Checks for mapping cap c (a frame or table; `mapped_arg` names it in error detail) at gpa in
 * the live GuestSpace gs; on success *entry is the empty entry to fill. */
static int map_check(struct invocation *inv, const struct cap *c, unsigned mapped_arg,
                     const struct cap *gs, uint64_t gpa, uint64_t **entry)
{
    unsigned level = pt_cap_level(c);
    uint64_t size = pt_level_size(level);
    if (c->flags & CAP_FLAG_MAPPED) return inv_error(inv, RS_ILLEGAL_OPERATION, mapped_arg, 0, 0);
    if (gpa & (size - 1)) return inv_error(inv, RS_ALIGNMENT_ERROR, 0, size, 0);
    if (gpa >= GUEST_PHYS_TOP || GUEST_PHYS_TOP - gpa < size)
        return inv_error(inv, RS_RANGE_ERROR, 0, 0, GUEST_PHYS_TOP - size);
    unsigned missing = 0;
    uint64_t *e = walk((uint64_t *)gs->obj, gpa, level, &missing);
    if (!e) return inv_error(inv, RS_FAILED_LOOKUP, 0, vspace_bits_left(missing), 0);
    if (vcpu_backend->guest_pte_present(*e)) return inv_error(inv, RS_DELETE_FIRST, 0, 0, 0);
    *entry = e;
    return RS_OK;
}

static void record_mapping(struct cap *c, const struct cap *gs, uint64_t gpa)
{
    c->flags |= CAP_FLAG_MAPPED | CAP_FLAG_GUEST;
    c->small = gs->small;
    c->w1 = gpa;
}

int guest_space_map_table(struct invocation *inv)
{
    INV_NEED_ARGS(inv, 1);
    struct cap *c = inv->cap, *gs = &inv->extra[0]->cap;
    if (!guest_space_live(gs)) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    uint64_t gpa = inv_arg(inv, 0) & ~(pt_level_size(pt_cap_level(c)) - 1); // the region around it
    uint64_t *e;
    int err = map_check(inv, c, 0, gs, gpa, &e);
    if (err) return err;
    // permissions are decided at the leaf: intermediate entries allow everything
    *e = vcpu_backend->guest_pte(VIRT_TO_PHYS(c->obj), RS_RIGHTS_ALL, false);
    record_mapping(c, gs, gpa);
    return RS_OK;
}

/* Writes the checked leaf e for frame f at gpa of gs with `rights`; cannot fail. */
static int guest_space_invoke_map(struct cap *f, struct cap *gs, uint64_t gpa, uint64_t rights,
                                  uint64_t *e)
{
    *e = vcpu_backend->guest_pte(VIRT_TO_PHYS(f->obj), (unsigned)rights, true) |
         (f->bits == 21 ? PT_ENTRY_PS : 0);
    record_mapping(f, gs, gpa);
    return RS_OK;
}

static int guest_space_decode_map(struct invocation *inv, struct cap *gs)
{
    INV_NEED_ARGS(inv, 2);
    INV_NEED_CAPS(inv, 1);
    struct cap *f = &inv->extra[0]->cap;
    uint64_t gpa = inv_arg(inv, 0), rights = inv_arg(inv, 1);
    if (f->type != RS_CAP_FRAME) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    // guest leaves are write-back whatever the guest's PAT says (the VMX backend sets EPT's
    // ignore-PAT bit), like RAM in the physmap; device memory would need UC, which the backends
    // cannot express yet
    if (f->flags & CAP_FLAG_DEVICE) return inv_error(inv, RS_ILLEGAL_OPERATION, 1, 0, 0);
    if (rights & ~(uint64_t)RS_RIGHTS_ALL) return inv_error(inv, RS_INVALID_ARGUMENT, 1, 0, 0);
    rights &= f->rights;
    if (!(rights & RS_RIGHT_READ)) return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 1, 0, 0);
    uint64_t *e;
    int err = map_check(inv, f, 1, gs, gpa, &e);
    if (err) return err;
    return guest_space_invoke_map(f, gs, gpa, rights, e);
}

static int guest_space_decode_unmap(struct invocation *inv, const struct cap *gs)
{
    INV_NEED_CAPS(inv, 1);
    struct cap *f = &inv->extra[0]->cap;
    if (f->type != RS_CAP_FRAME) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    // no device frame is ever mapped into a guest (Map refuses them)
    if (f->flags & CAP_FLAG_DEVICE) return inv_error(inv, RS_ILLEGAL_OPERATION, 1, 0, 0);
    if (!(f->flags & CAP_FLAG_MAPPED)) return RS_OK; // as Frame_Unmap: nothing to do
    if (!(f->flags & CAP_FLAG_GUEST) || f->small != gs->small)
        return inv_error(inv, RS_ILLEGAL_OPERATION, 1, 0, 0); // mapped, but somewhere else
    guest_space_unmap_cap(f);                                 // the invoke step: cannot fail
    return RS_OK;
}

int guest_space_decode(struct invocation *inv)
{
    switch (inv->label) {
    case RS_GUEST_SPACE_MAP: return guest_space_decode_map(inv, inv->cap);
    case RS_GUEST_SPACE_UNMAP: return guest_space_decode_unmap(inv, inv->cap);
    default: return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
}
