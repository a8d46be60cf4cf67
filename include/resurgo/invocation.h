/* SPDX-License-Identifier: MIT */
/* Invocation labels: the operation asked of a kernel object, with its arguments, its results and
 * every error it can return together with the error's detail words. */
#pragma once

/* Arguments are message registers MR0.. and extra caps CAP0..CAP2 (caps_or_badges[] in the IPC
 * buffer); results come back in MR0... An error comes back as the status with three detail words
 * in MR0..MR2 ("(d0, d1, d2)" below; resurgo/errors.h gives each error's general meaning). In
 * detail words a cap is numbered 0 for the invoked cap and n + 1 for CAPn; an argument by its MR
 * index. Errors the system call returns before the object sees the invocation (two detail
 * words, MR0 and MR1):
 *   RS_TRUNCATED_MESSAGE (RS_MSG_MAX_LENGTH, length): more words than the limit;
 *   RS_FAILED_LOOKUP (0, bits left): the invoked cptr does not resolve (0 bits left: to an empty
 *     slot);
 *   RS_BAD_ADDRESS (0, 0): arguments or caps announced in an IPC buffer the caller lacks;
 *   RS_INVALID_CAPABILITY (n + 1, 0): CAPn does not resolve to a cap.
 * Errors every object returns alike:
 *   RS_ILLEGAL_OPERATION (0, 0, 0): the cap type has no operation with this label;
 *   RS_TRUNCATED_MESSAGE (needed, sent, 0): fewer argument words than the operation takes;
 *   RS_INVALID_CAPABILITY (m + 1, 0, 0): CAPm, the first cap the operation needs, not sent.
 * A slot argument pair (index MRi, depth MRi+1) below a CNode cap is checked the same way by
 * every operation: RS_RANGE_ERROR (i + 1, min depth, 64) for the depth, RS_FAILED_LOOKUP
 * (i, bits left, 0) when it does not resolve (seL4's guarded lookup, exactly depth bits). */
enum rs_invocation_label {
    RS_INV_INVALID = 0,

    /* Untyped: MR0 type, MR1 size_bits, MR2 node_index, MR3 node_depth, MR4 node_offset,
     * MR5 count; CAP0 = root CNode the destination CNode (index, depth; depth 0: CAP0 itself) is
     * resolved in; the objects' caps go to slots offset.. offset + count - 1 of it. Errors:
     * RS_INVALID_ARGUMENT (0, 0, 0) unknown type, or a kernel object from device memory;
     * RS_NOT_SUPPORTED (0, 0, 0) a vCPU or GuestSpace without VMX/SVM;
     * RS_RANGE_ERROR (1, min, max) size_bits; (5, 1, 256 or the CNode's slots) count;
     * (4, 0, slots - count) offset; RS_INVALID_CAPABILITY (1, 0, 0) CAP0 or (2, 0, 0) the
     * destination is no CNode; RS_DELETE_FIRST (4, index, 0) an occupied slot at that index;
     * RS_NOT_ENOUGH_MEMORY (bytes left, 0, 0), or (0, 0, 0) when ASIDs ran out. Preemptible:
     * a Retype stopped by an interrupt restarts and carries on. */
    RS_UNTYPED_RETYPE = 1,

    /* CNode (invoked on the destination root): MR0 dest_index, MR1 dest_depth,
     * MR2 src_index, MR3 src_depth, MR4 rights, MR5 badge; CAP0 = source root. Errors of all four:
     * RS_INVALID_CAPABILITY (1, 0, 0) CAP0 is no CNode; the slot pairs at MR0 and MR2 (depth
     * 1..64); RS_DELETE_FIRST (0, 0, 0) the destination is occupied; RS_FAILED_LOOKUP (2, 0, 0)
     * the source is empty; RS_ILLEGAL_OPERATION (2, 0, 0) the source is being deleted. Copy and
     * Mint: RS_ILLEGAL_OPERATION (2, 0, 0) the cap cannot be copied (untyped, page tables).
     * Mint and Mutate: RS_INVALID_ARGUMENT (4, 0, 0) unknown rights bits; the badge (MR5;
     * optional for Mutate) goes on an unbadged endpoint or notification cap only:
     * RS_ILLEGAL_OPERATION (5, 0, 0) badged already, RS_INVALID_ARGUMENT (5, 0, 0) a badge on
     * another type; for a CNode it is the new guard (size << 58 | value): RS_RANGE_ERROR
     * (5, 0, 64 - radix) size, (5, 0, 2^size - 1) value. Mutate: RS_REVOKE_FIRST (2, 0, 0) the
     * source has derived caps. */
    RS_CNODE_COPY = 10,
    RS_CNODE_MINT,
    RS_CNODE_MOVE,
    RS_CNODE_MUTATE,
    RS_CNODE_DELETE, /* MR0 index, MR1 depth: the slot pair only (an empty slot is no error);
                              preemptible */
    RS_CNODE_REVOKE, /* MR0 index, MR1 depth: as Delete */

    /* TCB. A replaced cap in the thread's own slots may not be the last cap to its object:
     * RS_REVOKE_FIRST (the new cap's number, 0, 0). */
    RS_TCB_CONFIGURE = 20,    /* MR0 reserved (0; set guards with CNode Mint), MR1 ipc buffer vaddr;
                              CAP0 cspace root CNode, CAP1 vspace, CAP2 (optional) ipc buffer
                              frame. RS_INVALID_CAPABILITY (1|2|3, 0, 0) CAP0 no CNode, CAP1 no
                              VSpace, CAP2 no 4 KiB RAM frame; RS_INSUFFICIENT_RIGHTS (3, 0, 0)
                              CAP2 not writable; RS_ALIGNMENT_ERROR (1, 2048, 0),
                              RS_RANGE_ERROR (1, 0, RS_USER_TOP - 1) the buffer address */
    RS_TCB_SET_PRIORITY,      /* MR0 priority; CAP0 authority TCB (its MCP bounds the value):
                              RS_INVALID_CAPABILITY (1, 0, 0) CAP0 no TCB; RS_RANGE_ERROR
                              (0, 0, MCP) */
    RS_TCB_SET_MCP,           /* MR0 max controlled priority; CAP0 authority TCB: as SetPriority */
    RS_TCB_SET_FAULT_HANDLER, /* CAP0 endpoint (needs write right; its badge names the thread);
                              none: no handler. RS_INVALID_CAPABILITY (1, 0, 0) no endpoint;
                              RS_INSUFFICIENT_RIGHTS (1, 0, 0) */
    RS_TCB_READ_REGISTERS,    /* MR0 suspend_source, MR1 count -> MR0.. registers (RS_REG_* order).
                              RS_ILLEGAL_OPERATION (0, 0, 0) on the caller itself; RS_RANGE_ERROR
                              (1, 0, RS_REG_COUNT) count */
    RS_TCB_WRITE_REGISTERS,   /* MR0 resume_target, MR1 count, MR2.. registers: as ReadRegisters,
                              and RS_INVALID_ARGUMENT (2 + RS_REG_RIP|RSP|FS_BASE, 0, 0) an
                              address outside user space */
    RS_TCB_SUSPEND,           /* no errors */
    RS_TCB_RESUME,            /* no errors (a thread that is not suspended stays as it is) */
    RS_TCB_BIND_NOTIFICATION, /* CAP0 notification: RS_INVALID_CAPABILITY (1, 0, 0) none;
                              RS_ILLEGAL_OPERATION (1, 0, 0) the thread or notification is bound */
    RS_TCB_UNBIND_NOTIFICATION, /* RS_ILLEGAL_OPERATION (0, 0, 0) not bound */
    RS_TCB_SET_TLS_BASE,        /* MR0 FS base: RS_INVALID_ARGUMENT (0, 0, 0) outside user space */
    RS_TCB_SET_NAME,            /* MR0..MR1: up to 15 bytes of name, for kernel logs; no errors */

    /* Paging structures: CAP0 = VSpace; MR0 = vaddr. Map errors: RS_INVALID_CAPABILITY (1, 0, 0)
     * CAP0 no live VSpace; RS_ILLEGAL_OPERATION (0, 0, 0) mapped already; RS_ALIGNMENT_ERROR
     * (0, size, 0) (tables: the address is rounded down instead); RS_RANGE_ERROR (0, 0, highest
     * address) beyond user space; RS_FAILED_LOOKUP (0, bits left, 0) a table above is missing
     * (39: no PDPT, 30: no PD, 21: no PT, or a large page in the way); RS_DELETE_FIRST (0, 0, 0)
     * the entry is in use. Unmap: no errors (an unmapped cap is no error). */
    RS_FRAME_MAP = 40, /* MR1 rights, MR2 attributes: RS_INVALID_ARGUMENT (1, 0, 0) unknown
                              rights bits; RS_RANGE_ERROR (2, 0, highest allowed) attributes (only
                              device frames may be uncached); RS_INSUFFICIENT_RIGHTS (1, 0, 0) no
                              read right left after masking with the cap's */
    RS_FRAME_UNMAP,
    RS_FRAME_GET_ADDRESS, /* -> MR0 physical address; no errors */
    RS_PAGE_TABLE_MAP,    /* for PT, PD and PDPT caps (CAP0 a GuestSpace: see GuestSpace_Map) */
    RS_PAGE_TABLE_UNMAP,

    /* Interrupts and I/O ports */
    RS_IRQ_CONTROL_GET = 50,         /* MR0 irq, MR1 dest index, MR2 dest depth; CAP0 dest root.
                                    irq 0-15: an ISA IRQ; 16 and up: that GSI (IO-APIC only).
                                    RS_RANGE_ERROR (0, 0, last) irq beyond the last line (15
                                    with the 8259, else the last GSI with an IO-APIC pin, at most
                                    47) or 2 (the cascade); RS_INVALID_ARGUMENT (0, 0, 0) a GSI
                                    an ISA IRQ's override routes (ask for that ISA IRQ);
                                    RS_INVALID_CAPABILITY (1, 0, 0) CAP0 no CNode; the slot pair
                                    at MR1 (depth 1..64); RS_DELETE_FIRST (1, 0, 0) occupied;
                                    RS_REVOKE_FIRST (0, 4, 0) the line has 4 handlers
                                    already (a shared line: each is signalled) */
    RS_IRQ_HANDLER_ACK,              /* no errors; the line is unmasked once every handler
                                    signalled has acknowledged */
    RS_IRQ_HANDLER_SET_NOTIFICATION, /* CAP0 notification: RS_INVALID_CAPABILITY (1, 0, 0);
                                    RS_INSUFFICIENT_RIGHTS (1, 0, 0) no write right;
                                    RS_REVOKE_FIRST (1, 0, 0) the old one's last cap */
    RS_IRQ_HANDLER_CLEAR,            /* RS_REVOKE_FIRST (0, 0, 0) the notification's last cap */
    RS_IOPORT_CONTROL_ISSUE = 55, /* MR0 first, MR1 last, MR2 dest index, MR3 dest depth; CAP0 root.
                                    RS_RANGE_ERROR (0, 0, 0xFFFF) first, (1, first, 0xFFFF) last;
                                    RS_ILLEGAL_OPERATION (0, first, last) of a kernel range;
                                    RS_INSUFFICIENT_RIGHTS (0, first, last) of a platform range
                                    without the platform control cap; CAP0 and the slot pair at
                                    MR2 as IRQControl_Get, RS_DELETE_FIRST (2, 0, 0) */
    RS_IOPORT_IN8,
    RS_IOPORT_IN16,
    RS_IOPORT_IN32, /* MR0 port -> MR0 value */
    RS_IOPORT_OUT8,
    RS_IOPORT_OUT16,
    RS_IOPORT_OUT32, /* MR0 port, MR1 value. In and Out:
                                    RS_RANGE_ERROR (0, first, last + 1 - width) port */

    /* Virtualisation (see vcpu.h) */
    RS_GUEST_SPACE_MAP = 70, /* MR0 guest-physical address, MR1 rights; CAP0 frame (tables:
                                PageTable Map with the GuestSpace as CAP0).
                                RS_INVALID_CAPABILITY (1, 0, 0) no frame (tables: no live
                                GuestSpace); RS_ILLEGAL_OPERATION (1, 0, 0) a device frame, or
                                mapped already (tables: (0, 0, 0)); RS_INVALID_ARGUMENT (1, 0, 0)
                                unknown rights; RS_INSUFFICIENT_RIGHTS (1, 0, 0) no read right;
                                RS_ALIGNMENT_ERROR (0, size, 0); RS_RANGE_ERROR (0, 0, highest
                                address); RS_FAILED_LOOKUP (0, bits left, 0) as Frame_Map;
                                RS_DELETE_FIRST (0, 0, 0) the entry is in use */
    RS_GUEST_SPACE_UNMAP,    /* CAP0 frame (mapped in this GuestSpace): RS_INVALID_CAPABILITY
                                (1, 0, 0) no frame; RS_ILLEGAL_OPERATION (1, 0, 0) a device
                                frame, or mapped elsewhere; an unmapped frame is no error */
    RS_VCPU_BIND,            /* CAP0 TCB, CAP1 guest space, CAP2 exit endpoint.
                                RS_INVALID_CAPABILITY (1|2|3, 0, 0) no TCB, no live GuestSpace, no
                                endpoint; RS_INSUFFICIENT_RIGHTS (3, 0, 0) endpoint not writable;
                                RS_ILLEGAL_OPERATION (0, 0, 0) the vCPU is bound, (1, 0, 0) the
                                TCB runs another vCPU; RS_BUSY (1, 0, 0) the TCB is not suspended */
    RS_VCPU_READ_STATE,      /* -> MRs: struct rs_vcpu_state. RS_BAD_ADDRESS (0, 0, 0) the caller
                                has no IPC buffer */
    RS_VCPU_WRITE_STATE,     /* MRs: struct rs_vcpu_state. RS_INVALID_ARGUMENT (word, 0, 0) the
                                first word of the state the hardware would refuse */
    RS_VCPU_INJECT,          /* MR0 event (see vcpu.h): RS_INVALID_ARGUMENT (0, 0, 0) */
    RS_VCPU_REQUEST_WINDOW,  /* MR0 1: exit when the guest can take an interrupt; 0: cancel */
    RS_VCPU_SET_REGISTER,    /* MR0 state word index (RS_VCPU_STATE_WORD), MR1 value: that one
                                word of struct rs_vcpu_state, checked as WriteState does.
                                RS_RANGE_ERROR (0, 0, last index); RS_INVALID_ARGUMENT (index,
                                0, 0) a value WriteState would refuse */
    RS_VCPU_GET_REGISTER,    /* MR0 state word index -> MR0 its value. RS_RANGE_ERROR (0, 0, last
                                index) */
    RS_VCPU_SET_EXIT_WORDS,  /* MR0 mask of RS_EXIT_SHORT(reason) bits (vcpu.h, exit ABI 2): the
                                exits of those reasons carry only their own words; 0 (the
                                default): every exit carries all. RS_INVALID_ARGUMENT (0, 0, 0) a
                                bit outside RS_EXIT_SHORT_ALL */

    /* Timer: a one-shot deadline on the TSC (the clock user code reads with rdtsc; its rate is
     * bootinfo's tsc_per_ms, also returned by GetTime) that signals a notification once when
     * the TSC reaches it. Bind, SetDeadline and Cancel need the timer cap's WRITE right:
     * RS_INSUFFICIENT_RIGHTS (0, 0, 0). */
    RS_TIMER_BIND = 80,    /* CAP0 notification, MR0 badge (0: the cap's own). Replaces the
                              binding; an armed deadline stays armed. RS_INVALID_CAPABILITY
                              (1, 0, 0) no notification; RS_INSUFFICIENT_RIGHTS (1, 0, 0) no
                              write right; RS_ILLEGAL_OPERATION (1, 0, 0) a badge given for a
                              badged cap; RS_REVOKE_FIRST (1, 0, 0) the timer holds the last
                              cap to its current notification */
    RS_TIMER_SET_DEADLINE, /* MR0 absolute TSC value; 0 or ~0: cancel. Replaces an armed
                              deadline; one not after the current TSC signals at once.
                              RS_ILLEGAL_OPERATION (0, 0, 0) no notification bound */
    RS_TIMER_CANCEL,       /* no errors (a timer not armed stays so) */
    RS_TIMER_GET_TIME,     /* -> MR0 current TSC, MR1 TSC cycles per ms, MR2 the armed
                              deadline (0: none); no errors, no right needed */

    RS_INV_LABEL_COUNT
};
