// SPDX-License-Identifier: MIT
// Client side of init's registry: restart statistics and fault injection on request.
#include "ipc.h"
#include "proto/registry.h"

/* Calls the registry with the name in w[1..3] and `extra` more words; returns the status. */
static int registry_call(unsigned op, const char *name, const uint64_t *extra, unsigned nextra)
{
    uint64_t w[REGISTRY_NAME_WORDS];
    registry_pack_name(w, name);
    rs_mr_set(0, 0);
    for (unsigned i = 0; i < REGISTRY_NAME_WORDS; i++) rs_mr_set(1 + i, w[i]);
    for (unsigned i = 0; i < nextra; i++) rs_mr_set(1 + REGISTRY_NAME_WORDS + i, extra[i]);
    rs_result_t r =
        rs_call(IPC_SLOT_REGISTRY, rs_msginfo(op, 0, 0, 1 + REGISTRY_NAME_WORDS + nextra));
    return r.error ? (int)r.error : (int)rs_msginfo_label(r.info);
}

int registry_restarts(const char *name, uint64_t *restarts, uint64_t *by_watchdog)
{
    int err = registry_call(REGISTRY_RESTARTS, name, NULL, 0);
    if (restarts) *restarts = err ? 0 : rs_mr_get(1);
    if (by_watchdog) *by_watchdog = err ? 0 : rs_mr_get(3);
    return err;
}

int registry_flush_output(void)
{
    rs_mr_set(0, 0);
    rs_result_t r = rs_call(IPC_SLOT_REGISTRY, rs_msginfo(REGISTRY_FLUSH_OUTPUT, 0, 0, 1));
    return r.error ? (int)r.error : (int)rs_msginfo_label(r.info);
}

int registry_inject(const char *name, unsigned kind)
{
    uint64_t k = kind;
    return registry_call(REGISTRY_INJECT, name, &k, 1);
}
