/* SPDX-License-Identifier: MIT */
/* The kv server's table: its layout in the persistent region and the operations on it. */
#pragma once
#include "ipc.h"
#include "proto/kv.h"

/* Lives in ipc_pstate_t.user, so it outlives every instance; changed only through pstate_stage. */
struct kv_table {
    struct kv_entry {
        uint64_t key; /* 0: free */
        uint64_t value;
    } entries[KV_ENTRIES];
};

/* The table in the persistent region ps, or NULL when the region is too small to hold it. */
struct kv_table *table_open(ipc_pstate_t *ps, uint64_t region_size);
/* The entry holding key, or NULL. */
const struct kv_entry *table_find(const struct kv_table *t, uint64_t key);
/* Stages key = value for this request's commit. Returns RS_NOT_ENOUGH_MEMORY when key is new and
 * every entry is taken (nothing is staged then). key must not be 0. */
int table_put(ipc_pstate_t *ps, struct kv_table *t, uint64_t key, uint64_t value);
