// SPDX-License-Identifier: MIT
// The kv table: a fixed array of (key, value) in the persistent region, searched linearly (64
// entries: a scan costs less than the IPC that asked for it). Writes are staged, never stored:
// the libipc loop commits them together with the reply, so a crash can neither half-apply a PUT
// nor apply it twice.
#include "table.h"

struct kv_table *table_open(ipc_pstate_t *ps, uint64_t region_size)
{
    if (!ps || region_size < sizeof(*ps) + sizeof(struct kv_table)) return NULL;
    // a fresh region is zero-filled by init (new frames), so every entry starts free
    return (struct kv_table *)ps->user;
}

const struct kv_entry *table_find(const struct kv_table *t, uint64_t key)
{
    for (unsigned i = 0; i < KV_ENTRIES; i++)
        if (t->entries[i].key == key) return &t->entries[i];
    return NULL;
}

int table_put(ipc_pstate_t *ps, struct kv_table *t, uint64_t key, uint64_t value)
{
    struct kv_entry *e = (struct kv_entry *)table_find(t, key);
    if (e) return pstate_stage(ps, &e->value, value);
    e = (struct kv_entry *)table_find(t, 0);
    if (!e) return RS_NOT_ENOUGH_MEMORY;
    // two staged writes, one commit: a crash shows the key with its value or not at all
    int err = pstate_stage(ps, &e->value, value);
    return err ? err : pstate_stage(ps, &e->key, key);
}
