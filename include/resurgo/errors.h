/* SPDX-License-Identifier: MIT */
/* The one error enum: every syscall, kernel invocation and server protocol answers with these. */
#pragma once

/* Detail words MR0..MR2 as invocations use them; resurgo/invocation.h lists per operation which
 * errors it returns and their exact detail. "Which cap": 0 the invoked one, n + 1 extra cap n
 * (CAPn); "argument": an MR index. */
typedef enum rs_error {
    RS_OK = 0,
    RS_INVALID_ARGUMENT = 1,     /* detail: MR0 = argument */
    RS_INVALID_CAPABILITY = 2,   /* detail: MR0 = which cap */
    RS_ILLEGAL_OPERATION = 3,    /* the cap type has no such operation, or it is not allowed now;
                                  detail: MR0 = the argument or cap it concerns, else 0 */
    RS_RANGE_ERROR = 4,          /* detail: MR0 = argument, MR1 = min, MR2 = max */
    RS_ALIGNMENT_ERROR = 5,      /* detail: MR0 = argument, MR1 = the alignment required */
    RS_FAILED_LOOKUP = 6,        /* a cptr or an address did not resolve; detail: MR0 = argument
                                  (0 also for the invoked cptr), MR1 = bits left unresolved: of
                                  a cptr (0: it resolved to an empty slot), or of an address
                                  below the missing page table (39, 30, 21: no PDPT, PD, PT) */
    RS_TRUNCATED_MESSAGE = 7,    /* message longer than the limit, or shorter than the operation
                                  needs; detail: MR0 = the limit or the words needed, MR1 = sent */
    RS_DELETE_FIRST = 8,         /* the destination slot is occupied; detail: MR0 = argument */
    RS_REVOKE_FIRST = 9,         /* the object has derived caps (or mappings) in the way, or the
                                  cap to replace is an object's last; detail: MR0 = the argument
                                  or cap in question */
    RS_NOT_ENOUGH_MEMORY = 10,   /* the untyped has too little room left; MR0 = bytes left */
    RS_INSUFFICIENT_RIGHTS = 11, /* detail: MR0 = the cap (or rights argument) lacking a right */
    RS_PEER_DIED = 12,           /* the object or thread on the other side was destroyed */
    RS_BAD_ADDRESS = 13,         /* a user address is not mapped, not user, or not writable */
    RS_BAD_SYSCALL = 14,         /* unknown system call number */
    RS_WOULD_BLOCK = 15,         /* non-blocking operation found nobody */
    RS_NOT_FOUND = 16,           /* used by server protocols (name lookup, files) */
    RS_BUSY = 17,                /* the object is in use (e.g. a vCPU already running); MR0 = cap */
    RS_NOT_SUPPORTED = 18,       /* the hardware lacks the feature (e.g. no VMX/SVM) */
    RS_ERROR_COUNT
} rs_error_t;

static inline const char *rs_error_name(int e)
{
    static const char *const names[] = {
        "ok",
        "invalid argument",
        "invalid capability",
        "illegal operation",
        "range error",
        "alignment error",
        "failed lookup",
        "truncated message",
        "delete first",
        "revoke first",
        "not enough memory",
        "insufficient rights",
        "peer died",
        "bad address",
        "bad syscall",
        "would block",
        "not found",
        "busy",
        "not supported",
    };
    return (e >= 0 && e < RS_ERROR_COUNT) ? names[e] : "unknown error";
}
