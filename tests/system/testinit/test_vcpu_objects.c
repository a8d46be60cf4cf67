// SPDX-License-Identifier: MIT
// vCPU tests, objects: VCPU and GuestSpace Retype, Bind, ReadState / WriteState and GuestSpace
// Map / Unmap, with the exact error of each rejection. Needs a CPU with SVM or VMX (QEMU: SVM).
#include "test_vcpu.h"

/* ------------------------------------------------------------------ objects and rejections */

static void vcpu_retype(void)
{
    ps_ut_t ua;
    ps_untyped_t st;
    rs_cptr_t ut = new_untyped(14, &ua, &st), s = ps_slot_alloc_range(env->slots, 3);
    rs_cptr_t gs = new_object(RS_OBJ_GUEST_SPACE, 0);
    REQUIRE(ut && s && gs);
    REQUIRE_OK(ps_untyped_retype(ut, ME, RS_OBJ_VCPU, 0, 0, 0, s, 2)); // 8 KiB each
    CHECK_EQ(cap_type(s), RS_CAP_VCPU);
    CHECK_EQ(cap_type(s + 1), RS_CAP_VCPU);
    CHECK_ERR(ps_untyped_retype(ut, ME, RS_OBJ_VCPU, 0, 0, 0, s + 2, 1), RS_NOT_ENOUGH_MEMORY);
    CHECK_EQ(cap_type(gs), RS_CAP_GUEST_SPACE);
    CHECK_ERR(ps_invoke(s, RS_GUEST_SPACE_MAP, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(gs, RS_VCPU_BIND, NULL, 0, NULL, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_invoke(s, RS_VCPU_INJECT, NULL, 0, NULL, 0), RS_TRUNCATED_MESSAGE);
    CHECK_OK(ps_cnode_delete(ME, s, D)); // an unbound VCPU goes quietly
    CHECK_OK(ps_cnode_delete(ME, gs, D));
}

static void vcpu_bind_errors(void)
{
    rs_cptr_t v = new_object(RS_OBJ_VCPU, 0), v2 = new_object(RS_OBJ_VCPU, 0),
              t = new_object(RS_OBJ_TCB, 0);
    rs_cptr_t t2 = new_object(RS_OBJ_TCB, 0), gs = new_object(RS_OBJ_GUEST_SPACE, 0);
    rs_cptr_t ep = new_object(RS_OBJ_ENDPOINT, 0), ro = new_slot();
    REQUIRE(v && v2 && t && t2 && gs && ep && ro);
    REQUIRE_OK(ps_cnode_mint(ME, ro, D, ME, ep, D, RS_RIGHT_READ, 0));
    CHECK_ERR(ps_vcpu_bind(v, ep, gs, ep), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_ERR(ps_vcpu_bind(v, t, RS_INIT_VSPACE, ep),
              RS_INVALID_CAPABILITY); // a VSpace is no GuestSpace
    CHECK_EQ(ps_mr(0), 2);
    CHECK_ERR(ps_vcpu_bind(v, t, gs, gs), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(ps_vcpu_bind(v, t, gs, ro), RS_INSUFFICIENT_RIGHTS);
    CHECK_EQ(ps_mr(0), 3);
    const rs_cptr_t two[] = {t, gs};
    CHECK_ERR(ps_invoke(v, RS_VCPU_BIND, NULL, 0, two, 2), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 3);
    CHECK_ERR(ps_vcpu_bind(v, RS_INIT_TCB, gs, ep), RS_BUSY); // a running thread
    CHECK_EQ(ps_mr(0), 1);
    CHECK_OK(ps_vcpu_bind(v, t, gs, ep));
    CHECK_ERR(ps_vcpu_bind(v, t2, gs, ep), RS_ILLEGAL_OPERATION); // bound already
    CHECK_EQ(ps_mr(0), 0);
    CHECK_ERR(ps_vcpu_bind(v2, t, gs, ep), RS_ILLEGAL_OPERATION); // the thread has a vCPU
    CHECK_EQ(ps_mr(0), 1);
    CHECK_OK(ps_cnode_delete(ME, v, D)); // destroying the VCPU unbinds the thread
    CHECK_OK(ps_vcpu_bind(v2, t, gs, ep));
    CHECK_OK(ps_cnode_delete(ME, gs, D)); // the binding holds a copy: the space lives on
    CHECK_OK(ps_cnode_delete(ME, ep, D));
    CHECK_OK(ps_cnode_delete(ME, ro, D));
    CHECK_OK(ps_cnode_delete(ME, v2, D)); // and goes with the VCPU
}

static void vcpu_state_checks(void)
{
    rs_cptr_t v = new_object(RS_OBJ_VCPU, 0);
    REQUIRE(v);
    rs_vcpu_state_t s, r;
#define REJECT(stmt, field)                                                                        \
    do {                                                                                           \
        flat32_state(&s, GUEST_LOAD);                                                              \
        stmt;                                                                                      \
        if (CHECK_ERR(ps_vcpu_write_state(v, &s), RS_INVALID_ARGUMENT))                            \
            CHECK_EQ(ps_mr(0), RS_VCPU_STATE_WORD(field));                                         \
    } while (0)
    REJECT(s.rip = 0x0000800000000000ul, rip); // not canonical
    REJECT(s.rip = 0xFFFF7FFFFFFFFFFFul, rip);
    REJECT(s.rflags = 0x2 | 1u << 3, rflags); // a reserved flag
    REJECT(s.cr0 = 0x80000010, cr0);          // paging without protection
    REJECT(s.cr0 = 0x20000011, cr0);          // NW without CD
    REJECT(s.cr0 = 1ull << 32 | 0x11, cr0);
    REJECT(s.cr4 = 1u << 13, cr4);                      // VMXE is not the guest's
    REJECT(s.efer = 1u << 14, efer);                    // FFXSR
    REJECT((s.cr0 = 0x80000011, s.efer = 0x100), efer); // long mode without PAE
    REJECT(s.cs.attrib = 0x1000, cs.attrib);
    REJECT(s.ds.limit = 1ull << 32, ds.limit);
    REJECT(s.tr.selector = 0x10000, tr.selector);
    REJECT(s.idtr_limit = 0x10000, idtr_limit);
    REJECT(s.pending_event = RS_EVENT_VALID | RS_EVENT_MAKE(2, RS_EVENT_EXCEPTION), pending_event);
    REJECT(s.pending_event = RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT),
           pending_event); // not marked valid
#undef REJECT
    flat32_state(&s, gpa_of(guest_io));
    CHECK_ERR(
        ps_invoke(v, RS_VCPU_WRITE_STATE, (const rs_word_t *)&s, RS_VCPU_STATE_WORDS - 1, NULL, 0),
        RS_TRUNCATED_MESSAGE);
    s.rflags = 0;      // bit 1 is set for the VMM
    s.efer = 1u << 10; // LMA follows LME and PG
    s.rbx = 0xB, s.r15 = 0xF15, s.rsp = 0x1234;
    s.pending_event = RS_EVENT_VALID | RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT);
    REQUIRE_OK(ps_vcpu_write_state(v, &s));
    REQUIRE_OK(ps_vcpu_read_state(v, &r));
    CHECK_EQ(r.rip, gpa_of(guest_io));
    CHECK_EQ(r.rflags, 2);
    CHECK_EQ(r.efer, 0);
    CHECK_EQ(r.cr0, 0x11);
    CHECK_EQ(r.rbx, 0xB);
    CHECK_EQ(r.r15, 0xF15);
    CHECK_EQ(r.rsp, 0x1234);
    CHECK_EQ(r.cs.attrib, 0xC9B);
    CHECK_EQ(r.cs.limit, 0xFFFFFFFF);
    CHECK_EQ(r.ss.selector, 0x10);
    CHECK_EQ(r.gdtr_base, gpa_of(test_guest_gdt));
    CHECK_EQ(r.pending_event, RS_EVENT_VALID | RS_EVENT_MAKE(0x30, RS_EVENT_EXTINT));
    CHECK_ERR(ps_vcpu_inject(v, RS_EVENT_MAKE(0x30, 1)), RS_INVALID_ARGUMENT); // no event type 1
    CHECK_ERR(ps_vcpu_inject(v, RS_EVENT_MAKE(32, RS_EVENT_EXCEPTION)), RS_INVALID_ARGUMENT);
    CHECK_OK(ps_vcpu_inject(v, RS_EVENT_WITH_ERROR(RS_EVENT_MAKE(13, RS_EVENT_EXCEPTION), 0x18)));
}

static void vcpu_guest_space_map(void)
{
    rs_cptr_t gs = new_object(RS_OBJ_GUEST_SPACE, 0), gs2 = new_object(RS_OBJ_GUEST_SPACE, 0);
    rs_cptr_t pdpt = new_object(RS_OBJ_PDPT, 0), pd = new_object(RS_OBJ_PAGE_DIRECTORY, 0);
    rs_cptr_t pt = new_object(RS_OBJ_PAGE_TABLE, 0), pt2 = new_object(RS_OBJ_PAGE_TABLE, 0);
    rs_cptr_t f = new_object(RS_OBJ_FRAME, 0), f2 = new_object(RS_OBJ_FRAME, 0);
    rs_cptr_t big = new_object(RS_OBJ_LARGE_FRAME, 0), wo = new_slot();
    REQUIRE(gs && gs2 && pdpt && pd && pt && pt2 && f && f2 && big && wo);
    CHECK_ERR(ps_guest_space_map(gs, f, 0x5000, RWX), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 39); // no PDPT: 39 address bits left unresolved
    CHECK_OK(ps_page_table_map(pdpt, gs, 0));
    CHECK_ERR(ps_guest_space_map(gs, f, 0x5000, RWX), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 30);
    CHECK_OK(ps_page_table_map(pd, gs, 0));
    CHECK_ERR(ps_guest_space_map(gs, f, 0x5000, RWX), RS_FAILED_LOOKUP);
    CHECK_EQ(ps_mr(1), 21);
    CHECK_OK(ps_page_table_map(pt, gs, 0x1234)); // the table for the 2 MiB around it
    CHECK_ERR(ps_guest_space_map(gs, f, 0x5001, RWX), RS_ALIGNMENT_ERROR);
    CHECK_ERR(ps_guest_space_map(gs, f, 1ull << 48, RWX), RS_RANGE_ERROR);
    CHECK_ERR(ps_guest_space_map(gs, f, 0x5000, RWX | 0x10), RS_INVALID_ARGUMENT);
    CHECK_EQ(ps_mr(0), 1);
    REQUIRE_OK(ps_cnode_mint(ME, wo, D, ME, f, D, RS_RIGHT_WRITE, 0));
    CHECK_ERR(ps_guest_space_map(gs, wo, 0x5000, RW),
              RS_INSUFFICIENT_RIGHTS); // the cap cannot read
    CHECK_ERR(ps_guest_space_map(gs, pt2, 0x5000, RWX), RS_INVALID_CAPABILITY);
    CHECK_EQ(ps_mr(0), 1);
    CHECK_OK(ps_guest_space_map(gs, f, 0x5000, RWX));
    CHECK_ERR(ps_guest_space_map(gs, f2, 0x5000, RWX), RS_DELETE_FIRST);
    CHECK_ERR(ps_guest_space_map(gs, f, 0x6000, RWX),
              RS_ILLEGAL_OPERATION); // this cap is mapped already
    CHECK_ERR(ps_frame_map(f, RS_INIT_VSPACE, 0x0000400000200000ul, RW, 0), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_frame_map(f2, gs, 0x7000, RW, 0), RS_INVALID_CAPABILITY); // not a VSpace
    CHECK_ERR(ps_page_table_map(pt2, gs, 0), RS_DELETE_FIRST);
    CHECK_ERR(ps_page_table_map(pt, gs, 1ul << 21), RS_ILLEGAL_OPERATION);
    CHECK_ERR(ps_guest_space_unmap(gs2, f), RS_ILLEGAL_OPERATION); // mapped, but in the other space
    CHECK_OK(ps_guest_space_unmap(gs, f));
    CHECK_OK(ps_guest_space_unmap(gs, f));             // twice is harmless
    CHECK_OK(ps_guest_space_map(gs, f2, 0x5000, RWX)); // the entry is free again
    CHECK_OK(ps_frame_unmap(f2));                      // Frame Unmap takes a guest mapping away too
    CHECK_OK(ps_guest_space_map(gs, f, 0x5000, RW));
    CHECK_ERR(ps_guest_space_map(gs, big, 0x201000, RWX), RS_ALIGNMENT_ERROR);
    CHECK_OK(ps_guest_space_map(gs, big, 0x200000, RWX));
    CHECK_OK(ps_cnode_delete(ME, gs, D)); // the space goes; the caps still record the mapping
    CHECK_OK(ps_cnode_delete(ME, f, D));
    CHECK_OK(ps_page_table_unmap(pt));
}

const struct test vcpu_object_tests[] = {
    {"VCPU-0001", "Retype makes VCPUs (8 KiB) and GuestSpaces; each has only its own operations",
     vcpu_retype},
    {"VCPU-0002",
     "Bind names the cap of the wrong type, refuses a running thread and a second binding",
     vcpu_bind_errors},
    {"VCPU-0003",
     "WriteState refuses a non-canonical RIP and bad CR0/CR4/EFER combinations by word; "
     "ReadState returns the state written",
     vcpu_state_checks},
    {"VCPU-0004",
     "GuestSpace Map reports the missing table level, alignment, range, rights and "
     "occupied entries; Unmap and Frame Unmap remove guest mappings",
     vcpu_guest_space_map},
    {0},
};
