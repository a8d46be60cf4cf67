// SPDX-License-Identifier: MIT
// Persistent state with an atomic commit: staged writes and the dedup record go to a journal,
// one store marks it valid (the commit point), then they are applied. A restart in between
// re-applies the journal, so a request's effect and its recorded reply appear together or not.
#include "ipc.h"

#define PSTATE_MAGIC 0x5053544154453031ul /* "PSTATE01" */

static uint64_t staged_count;
static uint64_t region_size; /* pstate_open's: the bound of every write */
static struct {
    uint64_t off, val;
} staged[IPC_MAX_STAGED];

/* A journal left valid is applied again by the next instance; one whose words a stray write
 * flipped (valid set in an applied journal, a count or an offset out of range) is dropped
 * instead: applied, it would write outside the user area or fault, in every new instance. */
static bool write_sound(uint64_t off)
{
    return off >= sizeof(ipc_pstate_t) && off <= region_size - 8 && !(off % 8);
}

static bool journal_sound(const ipc_pstate_t *ps)
{
    if (ps->journal.valid != 1 || ps->journal.count > IPC_MAX_STAGED) return false;
    for (uint64_t i = 0; i < ps->journal.count; i++)
        if (!write_sound(ps->journal.writes[i].off)) return false;
    return true;
}

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
    // init gives a fresh region zero-filled: a magic neither 0 nor ours was flipped by a stray
    // write, and the state behind it is as good as before (wiping it lost echo's counter)
    if (ps->magic != PSTATE_MAGIC && ps->magic) ps->magic = PSTATE_MAGIC;
    if (ps->magic != PSTATE_MAGIC) {
        memset(ps, 0, sizeof(*ps));
        ps->magic = PSTATE_MAGIC;
    }
    region_size = size;
    if (ps->journal.valid && journal_sound(ps)) apply_journal(ps); // died mid-commit
    ps->journal.valid = 0;
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
    // a flipped count or offset is a crash before the commit point (the client's retry runs the
    // request again), never a journal written past its end or applied outside the user area
    if (staged_count > IPC_MAX_STAGED) __builtin_trap();
    for (uint64_t i = 0; i < staged_count; i++)
        if (!write_sound(staged[i].off)) __builtin_trap();
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
