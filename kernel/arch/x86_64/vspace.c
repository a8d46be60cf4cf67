// SPDX-License-Identifier: MIT
// x86-64 address spaces: VSpace (PML4) objects with an ASID each, PDPT/PD/PT objects mapped
// into them, and frames (4 KiB or 2 MiB) mapped with rights and cache attributes. Caps record
// their one mapping; an unmap checks the entry still points at the object before clearing it.
#include "../../vspace.h"
#include "../../guestspace.h"
#include "../../console.h"
#include "../../ptwalk.h"
#include "../../fastpath.h"
#include "switch.h"
#include "arch.h"
#include "cpu.h"
#include "pte.h"
#include "kstring.h"
#include <resurgo/invocation.h>
#include <resurgo/ipcbuf.h>

int vspace_init(void *pml4, uint32_t *asid_out)
{
    uint64_t *p = pml4;
    memcpy(p + 256, arch_user_kernel_half(), 256 * sizeof(uint64_t));
    return asid_assign(p, false, asid_out);
}

void vspace_finalise(const struct cap *c)
{
    asid_release(c->small, (const void *)c->obj);
    // never keep running on tables that are about to be reused
    if (read_cr3() == VIRT_TO_PHYS(c->obj))
        arch_switch_vspace((uint64_t)arch_kernel_pml4() - KERNEL_VMA);
}

uint64_t vspace_root_phys(const struct cap *c)
{
    return c->type == RS_CAP_VSPACE ? VIRT_TO_PHYS(c->obj) : 0;
}

static bool pte_present(uint64_t e) { return e & PTE_P; }

/* The entry for `va` at `level` (ptwalk.h), inline: a pager maps on every fault. */
static inline __attribute__((always_inline)) uint64_t *walk(uint64_t *pml4, uint64_t va,
                                                            unsigned level, unsigned *missing)
{
    return pt_walk_inline(pml4, va, level, pte_present, missing);
}

static void flush(uint64_t *pml4, uint64_t va, bool whole)
{
    if (read_cr3() != VIRT_TO_PHYS(pml4)) return; // not loaded: the next CR3 load flushes
    if (whole) write_cr3(read_cr3());
    else invlpg(va);
}

void vspace_unmap_cap(struct cap *c)
{
    if (c->flags & CAP_FLAG_GUEST) { // the mapping is in a GuestSpace
        guest_space_unmap_cap(c);
        return;
    }
    unsigned level = pt_cap_level(c);
    uint64_t *pml4 = asid_root(c->small, false);
    if (pml4 && level) {
        uint64_t *e = walk(pml4, c->w1, level, NULL);
        if (e && (*e & PTE_P) && (*e & PTE_ADDR) == VIRT_TO_PHYS(c->obj)) {
            *e = 0;
            flush(pml4, c->w1, c->type != RS_CAP_FRAME);
        }
    }
    // An unmapped table starts empty: otherwise the frames still in it would stay reachable
    // wherever it is mapped next, even after their caps are gone (seL4 clears it too).
    if (c->type != RS_CAP_FRAME) memset((void *)c->obj, 0, 4096);
    c->flags &= ~CAP_FLAG_MAPPED;
    c->small = 0;
    c->w1 = 0;
}

static uint64_t *decode_vspace(struct invocation *inv, uint32_t *asid)
{
    if (inv->extra_count < 1) return NULL;
    struct cap *v = &inv->extra[0]->cap;
    if (v->type != RS_CAP_VSPACE || asid_root(v->small, false) != (void *)v->obj) return NULL;
    *asid = v->small;
    return (uint64_t *)v->obj;
}

static int map_common(struct invocation *inv, uint64_t **entry, uint64_t **pml4_out, uint32_t *asid)
{
    INV_NEED_ARGS(inv, 1);
    struct cap *c = inv->cap;
    unsigned level = pt_cap_level(c);
    uint64_t size = pt_level_size(level);
    uint64_t va = inv_arg(inv, 0);
    if (c->type != RS_CAP_FRAME) va &= ~(size - 1); // a table covers the region around va
    uint64_t *pml4 = decode_vspace(inv, asid);
    if (!pml4) return inv_error(inv, RS_INVALID_CAPABILITY, 1, 0, 0);
    if (c->flags & CAP_FLAG_MAPPED) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    if (va & (size - 1)) return inv_error(inv, RS_ALIGNMENT_ERROR, 0, size, 0);
    // a frame must end by USER_TOP (nothing is mapped in the page below the canonical hole); a
    // table need only start below it. The detail is the highest address allowed.
    uint64_t need = c->type == RS_CAP_FRAME ? size : 1;
    if (va >= USER_TOP || USER_TOP - va < need)
        return inv_error(inv, RS_RANGE_ERROR, 0, 0, (USER_TOP - need) & ~(size - 1));
    unsigned missing = 0;
    uint64_t *e = walk(pml4, va, level, &missing);
    if (!e) return inv_error(inv, RS_FAILED_LOOKUP, 0, vspace_bits_left(missing), 0);
    if (*e & PTE_P) return inv_error(inv, RS_DELETE_FIRST, 0, 0, 0);
    *entry = e;
    *pml4_out = pml4;
    return RS_OK;
}

static void record_mapping(struct cap *c, uint32_t asid, uint64_t va)
{
    c->flags |= CAP_FLAG_MAPPED;
    c->small = asid;
    c->w1 = va;
}

int page_table_decode(struct invocation *inv)
{
    struct cap *c = inv->cap;
    if (inv->label == RS_PAGE_TABLE_UNMAP) {
        if (c->flags & CAP_FLAG_MAPPED) vspace_unmap_cap(c);
        return RS_OK;
    }
    if (inv->label != RS_PAGE_TABLE_MAP) return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    if (inv->extra_count && inv->extra[0]->cap.type == RS_CAP_GUEST_SPACE)
        return guest_space_map_table(inv);
    uint64_t *e, *pml4;
    uint32_t asid;
    int err = map_common(inv, &e, &pml4, &asid);
    if (err) return err;
    // permissions are decided at the leaf: intermediate entries allow everything
    *e = VIRT_TO_PHYS(c->obj) | PTE_P | PTE_W | PTE_U;
    unsigned level = pt_cap_level(c);
    record_mapping(c, asid, inv_arg(inv, 0) & ~(pt_level_size(level) - 1));
    return RS_OK;
}

int frame_decode(struct invocation *inv)
{
    struct cap *c = inv->cap;
    switch (inv->label) {
    case RS_FRAME_UNMAP:
        if (c->flags & CAP_FLAG_MAPPED) vspace_unmap_cap(c);
        return RS_OK;
    case RS_FRAME_GET_ADDRESS: inv_result(inv, 0, VIRT_TO_PHYS(c->obj)); return RS_OK;
    case RS_FRAME_MAP: break;
    default: return inv_error(inv, RS_ILLEGAL_OPERATION, 0, 0, 0);
    }
    INV_NEED_ARGS(inv, 3);
    uint64_t rights = inv_arg(inv, 1), attr = inv_arg(inv, 2);
    if (rights & ~(uint64_t)RS_RIGHTS_ALL) return inv_error(inv, RS_INVALID_ARGUMENT, 1, 0, 0);
    if (attr > RS_ATTR_WRITECOMBINE)
        return inv_error(inv, RS_RANGE_ERROR, 2, 0, RS_ATTR_WRITECOMBINE);
    // RAM is write-back in the kernel's physmap: a UC or WC alias of it would give one page two
    // memory types, which Intel does not support (SDM vol. 3A 11.12.4). Device memory outside RAM
    // may be UC (its MTRR type is UC already, so the physmap's alias is UC too).
    if (attr != RS_ATTR_DEFAULT && !(c->flags & CAP_FLAG_DEVICE))
        return inv_error(inv, RS_RANGE_ERROR, 2, 0, RS_ATTR_DEFAULT);
    rights &= c->rights;
    if (!(rights & RS_RIGHT_READ)) return inv_error(inv, RS_INSUFFICIENT_RIGHTS, 1, 0, 0);
    uint64_t *e, *pml4;
    uint32_t asid;
    int err = map_common(inv, &e, &pml4, &asid);
    if (err) return err;
    uint64_t pte = VIRT_TO_PHYS(c->obj) | PTE_P | PTE_U;
    if (rights & RS_RIGHT_WRITE) pte |= PTE_W;
    if (!(rights & RS_RIGHT_EXEC)) pte |= PTE_NX;
    // Device memory is always uncached unless WC is asked for: a write-back mapping of MMIO
    // would let the CPU cache and merge register accesses (SDM vol. 3A 11.3). PCD|PWT picks PAT
    // entry 3, UC (11.12.3, the power-on PAT).
    if (attr != RS_ATTR_DEFAULT || (c->flags & CAP_FLAG_DEVICE)) pte |= PTE_PCD | PTE_PWT;
    if (c->bits == 21) pte |= PTE_PS;
    *e = pte;
    record_mapping(c, asid, inv_arg(inv, 0));
    return RS_OK;
}

void frame_map_fast(struct tcb *t, struct cap *c, uint64_t info)
{
    // Frame Map (MR0 vaddr, MR1 rights, MR2 attributes in registers; the VSpace as the one extra
    // cap) of a RAM frame with default attributes, where every check passes: the same checks
    // as do_invocation, frame_decode and map_common, in one pass and without writing anything
    // until all passed, so that a declined call reaches them unchanged and they report its error
    if (rs_msginfo_label(info) != RS_FRAME_MAP || rs_msginfo_extra_caps(info) != 1 ||
        rs_msginfo_length(info) < 3)
        return;
    struct rs_ipc_buffer *b = tcb_ipc_buffer(t);
    struct slot *vs;
    if (!b || !fastpath_lookup(t, b->caps_or_badges[0], &vs)) return;
    struct cap *v = &vs->cap;
    if (v->type != RS_CAP_VSPACE || asid_root(v->small, false) != (void *)v->obj) return;
    uint64_t va = t->ctx.rdx, rights = t->ctx.r8 & c->rights; // MR0, MR1 (msgreg.h)
    if ((t->ctx.r8 & ~(uint64_t)RS_RIGHTS_ALL) || t->ctx.r9 != RS_ATTR_DEFAULT ||
        (c->flags & (CAP_FLAG_DEVICE | CAP_FLAG_MAPPED)) || !(rights & RS_RIGHT_READ))
        return;
    unsigned level = c->bits == 21 ? 2 : 1;
    uint64_t size = pt_level_size(level);
    if ((va & (size - 1)) || va >= USER_TOP || USER_TOP - va < size) return;
    uint64_t *e = walk((uint64_t *)v->obj, va, level, NULL);
    if (!e || (*e & PTE_P)) return;

    uint64_t pte = VIRT_TO_PHYS(c->obj) | PTE_P | PTE_U;
    if (rights & RS_RIGHT_WRITE) pte |= PTE_W;
    if (!(rights & RS_RIGHT_EXEC)) pte |= PTE_NX;
    if (level == 2) pte |= PTE_PS;
    // The entry was not present, so no TLB or paging-structure cache holds anything from it: no
    // invlpg, even when the VSpace is the one loaded (Intel SDM vol. 3A 4.10.4.3, "If a
    // paging-structure entry is modified to change the P flag from 0 to 1, no invalidation is
    // necessary"; AMD APM vol. 2 5.5.3 likewise).
    *e = pte;
    record_mapping(c, v->small, va);
    t->ctx.rax = RS_OK;
    t->ctx.rsi = 0; // no result words (do_invocation's answer for Call and Send alike)
    // The scheduler's state did not change since the syscall entry: the caller, which was
    // running, is still the head of the highest queue (sched_exit_kernel would pick it), and its
    // address space, entry stack and TLS base are the loaded ones. Leave straight into it.
    if (pti_enabled) arch_restore_user(&t->ctx);
    arch_restore_user_nopti(&t->ctx);
}

int vspace_map_boot(struct cap *vspace_cap, uint64_t va, uint64_t frame_phys, unsigned rights,
                    uint64_t (*alloc_table)(void))
{
    uint64_t *table = (uint64_t *)vspace_cap->obj;
    for (unsigned l = 4; l > 1; l--) {
        uint64_t *e = &table[pt_index(va, l)];
        if (!(*e & PTE_P)) *e = alloc_table() | PTE_P | PTE_W | PTE_U;
        table = PHYS_TO_VIRT(*e & PTE_ADDR);
    }
    uint64_t pte = frame_phys | PTE_P | PTE_U;
    if (rights & RS_RIGHT_WRITE) pte |= PTE_W;
    if (!(rights & RS_RIGHT_EXEC)) pte |= PTE_NX;
    table[pt_index(va, 1)] = pte;
    return RS_OK;
}
