// SPDX-License-Identifier: MIT
// Persistent state with an atomic commit: staged writes and the dedup record go to a journal,
// one store marks it valid (the commit point), then they are applied. A restart in between
// re-applies the journal, so a request's effect and its recorded reply appear together or not.
#include "ipc.h"

#define PSTATE_MAGIC 0x5053544154453031ul /* "PSTATE01" */

static uint64_t staged_count;
static struct {
    uint64_t off, val;
} staged[IPC_MAX_STAGED];

static void apply_journal(ipc_pstate_t *ps)
{
    for (uint64_t i = 0; i < ps->journal.count; i++)
        *(volatile uint64_t *)((uint8_t *)ps + ps->journal.writes[i].off) =
            ps->journal.writes[i].val;
    if (ps->journal.client < IPC_MAX_CLIENTS) ps->dedup[ps->journal.client] = ps->journal.record;
    __asm__ volatile("" ::: "memory");
    ps->journal.valid = 0;
}

ipc_pstate_t *pstate_open(void *base, uint64_t size)
{
    ipc_pstate_t *ps = base;
    if (!base || size < sizeof(*ps)) return NULL;
    if (ps->magic != PSTATE_MAGIC) {
        memset(ps, 0, sizeof(*ps));
        ps->magic = PSTATE_MAGIC;
    }
    if (ps->journal.valid) apply_journal(ps); // the previous instance died mid-commit
    staged_count = 0;
    return ps;
}

int pstate_stage(ipc_pstate_t *ps, volatile uint64_t *field, uint64_t value)
{
    if (staged_count >= IPC_MAX_STAGED) return RS_NOT_ENOUGH_MEMORY;
    staged[staged_count].off = (uint64_t)((volatile uint8_t *)field - (uint8_t *)ps);
    staged[staged_count].val = value;
    staged_count++;
    return RS_OK;
}

void pstate_abort(ipc_pstate_t *ps)
{
    (void)ps;
    staged_count = 0;
}

void pstate_commit(ipc_pstate_t *ps, uint64_t client, uint64_t id, const ipc_msg_t *reply)
{
    ps->journal.client = client;
    ps->journal.count = staged_count;
    ps->journal.record.id = id;
    ps->journal.record.reply = *reply;
    for (uint64_t i = 0; i < staged_count; i++) {
        ps->journal.writes[i].off = staged[i].off;
        ps->journal.writes[i].val = staged[i].val;
    }
    __asm__ volatile("" ::: "memory"); // the journal is complete before it becomes valid
    ps->journal.valid = 1;
    __asm__ volatile("" ::: "memory");
    apply_journal(ps);
    staged_count = 0;
}
