/* SPDX-License-Identifier: MIT */
/* Kernel object types (what Untyped_Retype makes) and their sizes. */
#pragma once

typedef enum rs_object_type {
    RS_OBJ_UNTYPED = 0, /* size_bits chosen by the caller: 4 .. 47 */
    RS_OBJ_TCB = 1,
    RS_OBJ_ENDPOINT = 2,
    RS_OBJ_NOTIFICATION = 3,
    RS_OBJ_CNODE = 4,       /* size_bits = radix: 2^radix slots of 64 bytes each */
    RS_OBJ_FRAME = 5,       /* 4 KiB */
    RS_OBJ_LARGE_FRAME = 6, /* 2 MiB */
    RS_OBJ_PAGE_TABLE = 7,  /* maps 2 MiB of a VSpace */
    RS_OBJ_PAGE_DIRECTORY = 8,
    RS_OBJ_PDPT = 9,
    RS_OBJ_VSPACE = 10, /* PML4: the root of an address space */
    RS_OBJ_VCPU = 11,
    RS_OBJ_GUEST_SPACE = 12, /* root of a guest-physical address space (EPT / NPT) */
    RS_OBJ_TIMER = 13,       /* one-shot TSC deadline delivered to a notification */
    RS_OBJ_TYPE_COUNT,
} rs_object_type_t;

/* Capability types that are not retypable objects: made by the kernel at boot or derived. */
typedef enum rs_cap_type {
    RS_CAP_NULL = 0,
    RS_CAP_UNTYPED,
    RS_CAP_TCB,
    RS_CAP_ENDPOINT,
    RS_CAP_NOTIFICATION,
    RS_CAP_CNODE,
    RS_CAP_FRAME,
    RS_CAP_PAGE_TABLE,
    RS_CAP_PAGE_DIRECTORY,
    RS_CAP_PDPT,
    RS_CAP_VSPACE,
    RS_CAP_VCPU,
    RS_CAP_GUEST_SPACE,
    RS_CAP_IRQ_CONTROL,
    RS_CAP_IRQ_HANDLER,
    RS_CAP_IOPORT_CONTROL,
    RS_CAP_IOPORT,
    RS_CAP_CONSOLE,  /* the kernel's serial console: READ = read a byte, WRITE = print */
    RS_CAP_SHUTDOWN, /* may power the machine off (RS_SYS_DEBUG_SHUTDOWN) */
    RS_CAP_TIMER,
    RS_CAP_TYPE_COUNT,
} rs_cap_type_t;

#define RS_TCB_BITS          11
#define RS_ENDPOINT_BITS     5
#define RS_NOTIFICATION_BITS 5
#define RS_SLOT_BITS         6  /* one CNode slot: a 32-byte cap and its derivation links */
#define RS_TIMER_BITS        7  /* a notification slot, the deadline and the queue links */
#define RS_VCPU_BITS         13 /* control page (VMCB / VMCS) + the kernel's vCPU state page */
#define RS_MIN_UNTYPED_BITS  4
#define RS_MAX_UNTYPED_BITS  47
#define RS_MAX_CNODE_RADIX   20

/* Bytes an object of `type` takes in untyped memory (size_bits for untyped and CNodes), or 0 if
 * size_bits is out of range for the type. Objects are aligned to their size (at most 2 MiB). */
static inline unsigned long long rs_object_size(unsigned type, unsigned bits)
{
    switch (type) {
    case RS_OBJ_UNTYPED:
        return bits >= RS_MIN_UNTYPED_BITS && bits <= RS_MAX_UNTYPED_BITS ? 1ull << bits : 0;
    case RS_OBJ_TCB: return 1ull << RS_TCB_BITS;
    case RS_OBJ_ENDPOINT: return 1ull << RS_ENDPOINT_BITS;
    case RS_OBJ_NOTIFICATION: return 1ull << RS_NOTIFICATION_BITS;
    case RS_OBJ_CNODE:
        return bits >= 1 && bits <= RS_MAX_CNODE_RADIX ? 1ull << (bits + RS_SLOT_BITS) : 0;
    case RS_OBJ_FRAME:
    case RS_OBJ_PAGE_TABLE:
    case RS_OBJ_PAGE_DIRECTORY:
    case RS_OBJ_PDPT:
    case RS_OBJ_VSPACE:
    case RS_OBJ_GUEST_SPACE: return 1ull << 12;
    case RS_OBJ_LARGE_FRAME: return 1ull << 21;
    case RS_OBJ_VCPU: return 1ull << RS_VCPU_BITS;
    case RS_OBJ_TIMER: return 1ull << RS_TIMER_BITS;
    default: return 0;
    }
}
