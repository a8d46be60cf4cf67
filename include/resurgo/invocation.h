/* SPDX-License-Identifier: MIT */
/* Invocation labels: the operation asked of a kernel object. Arguments are message registers
 * (MRn) and extra caps (CAPn); the reply carries the error in the status and results in MRs. */
#pragma once

enum rs_invocation_label {
    RS_INV_INVALID = 0,

    /* Untyped: MR0 type, MR1 size_bits, MR2 node_index, MR3 node_depth, MR4 node_offset,
     * MR5 count; CAP0 = root CNode the destination is resolved in. */
    RS_UNTYPED_RETYPE = 1,

    /* CNode (invoked on the destination root): MR0 dest_index, MR1 dest_depth,
     * MR2 src_index, MR3 src_depth, MR4 rights, MR5 badge; CAP0 = source root. */
    RS_CNODE_COPY = 10,
    RS_CNODE_MINT,
    RS_CNODE_MOVE,
    RS_CNODE_MUTATE,
    RS_CNODE_DELETE,       /* MR0 index, MR1 depth */
    RS_CNODE_REVOKE,       /* MR0 index, MR1 depth */

    /* TCB */
    RS_TCB_CONFIGURE = 20, /* MR0 reserved (0; set guards with CNode Mint), MR1 ipc buffer vaddr;
                              CAP0 cspace root CNode, CAP1 vspace, CAP2 ipc buffer frame */
    RS_TCB_SET_PRIORITY,   /* MR0 priority; CAP0 authority TCB (its MCP bounds the value) */
    RS_TCB_SET_MCP,        /* MR0 max controlled priority; CAP0 authority TCB */
    RS_TCB_SET_FAULT_HANDLER, /* CAP0 endpoint (needs write right; its badge names the thread) */
    RS_TCB_READ_REGISTERS, /* MR0 suspend_source, MR1 count -> MR0.. registers */
    RS_TCB_WRITE_REGISTERS,/* MR0 resume_target, MR1 count, MR2.. registers */
    RS_TCB_SUSPEND,
    RS_TCB_RESUME,
    RS_TCB_BIND_NOTIFICATION, /* CAP0 notification */
    RS_TCB_UNBIND_NOTIFICATION,
    RS_TCB_SET_TLS_BASE,   /* MR0 FS base */
    RS_TCB_SET_NAME,       /* MR0..MR1: up to 15 bytes of name, for kernel logs */

    /* Paging structures: CAP0 = VSpace; MR0 = vaddr */
    RS_FRAME_MAP = 40,     /* MR1 rights, MR2 attributes */
    RS_FRAME_UNMAP,
    RS_FRAME_GET_ADDRESS,  /* -> MR0 physical address */
    RS_PAGE_TABLE_MAP,     /* for PT, PD and PDPT caps */
    RS_PAGE_TABLE_UNMAP,

    /* Interrupts and I/O ports */
    RS_IRQ_CONTROL_GET = 50,     /* MR0 irq, MR1 dest index, MR2 dest depth; CAP0 dest root */
    RS_IRQ_HANDLER_ACK,
    RS_IRQ_HANDLER_SET_NOTIFICATION, /* CAP0 notification */
    RS_IRQ_HANDLER_CLEAR,
    RS_IOPORT_CONTROL_ISSUE = 55, /* MR0 first, MR1 last, MR2 dest index, MR3 dest depth; CAP0 root */
    RS_IOPORT_IN8, RS_IOPORT_IN16, RS_IOPORT_IN32, /* MR0 port -> MR0 value */
    RS_IOPORT_OUT8, RS_IOPORT_OUT16, RS_IOPORT_OUT32, /* MR0 port, MR1 value */

    /* Virtualisation (see vcpu.h) */
    RS_GUEST_SPACE_MAP = 70, /* MR0 guest-physical address, MR1 rights; CAP0 frame (tables:
                                PageTable Map with the GuestSpace as CAP0) */
    RS_GUEST_SPACE_UNMAP,    /* CAP0 frame (mapped in this GuestSpace) */
    RS_VCPU_BIND,            /* CAP0 TCB, CAP1 guest space, CAP2 exit endpoint */
    RS_VCPU_READ_STATE,      /* -> MRs: struct rs_vcpu_state */
    RS_VCPU_WRITE_STATE,     /* MRs: struct rs_vcpu_state */
    RS_VCPU_INJECT,          /* MR0 event (see vcpu.h) */
    RS_VCPU_REQUEST_WINDOW,  /* MR0 1: exit when the guest can take an interrupt; 0: cancel */

    RS_INV_LABEL_COUNT
};
