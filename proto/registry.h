/* SPDX-License-Identifier: MIT */
/* Protocol of init's name registry and supervisor (served on IPC_SLOT_REGISTRY). */
#pragma once
#include <stdint.h>
#include "kstring.h"

enum registry_op {
    REGISTRY_LOOKUP = 1, /* w[1..3] name -> a cap to the service's endpoint in the receive slot */
    REGISTRY_RESTARTS, /* w[1..3] name -> w[1] restarts so far, w[2] last reason (registry_reason),
                              w[3] restarts the watchdog caused */
    REGISTRY_INJECT,   /* w[1..3] name, w[4] ipc_inject kind -> fault injected */
    REGISTRY_PS,       /* -> log the process table on the console */
    REGISTRY_FLUSH_OUTPUT, /* a VMM, no name: init prints what the caller's output ring holds
                            * now (proto/vmm.h) and moves its tail; idempotent, so a retry after
                            * a crash prints nothing twice */
};

enum registry_reason { REASON_NONE, REASON_FAULT, REASON_EXIT, REASON_WATCHDOG, REASON_KILLED };

#define REGISTRY_NAME_WORDS 3 /* names up to 23 characters */

static inline void registry_pack_name(uint64_t w[REGISTRY_NAME_WORDS], const char *name)
{
    char buf[REGISTRY_NAME_WORDS * 8] = {0};
    size_t n = strlen(name);
    memcpy(buf, name, n < sizeof(buf) - 1 ? n : sizeof(buf) - 1);
    memcpy(w, buf, sizeof(buf));
}

static inline void registry_unpack_name(const uint64_t w[REGISTRY_NAME_WORDS],
                                        char out[REGISTRY_NAME_WORDS * 8])
{
    memcpy(out, w, REGISTRY_NAME_WORDS * 8);
    out[REGISTRY_NAME_WORDS * 8 - 1] = 0;
}

/* Client calls to init's registry (IPC_SLOT_REGISTRY), libipc/registry_client.c. */
/* How often init restarted `name`, and how many of those the watchdog caused (either pointer may
 * be NULL). Returns the call's error or the registry's status (RS_NOT_FOUND for an unknown name). */
int registry_restarts(const char *name, uint64_t *restarts, uint64_t *by_watchdog);
/* Asks init to inject a fault of `kind` (ipc_inject) into `name`. */
int registry_inject(const char *name, unsigned kind);
/* A VMM: asks init to print its output ring now (REGISTRY_FLUSH_OUTPUT); returns the status. */
int registry_flush_output(void);
