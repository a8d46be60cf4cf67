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
/* The check of staged[0 .. staged_count): a bit a stray write flipped there between the handler
 * and the commit (a counter's value: echo counted an increment twice) is a crash before the
 * commit point, and the client's retry runs the request again. */
static uint64_t staged_check;

/* One step of the checks: bijective in h for a fixed w and in w for a fixed h, so any change to
 * one word changes the result. */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

#define CHECK_SEED 0x6368656B31ull /* a zeroed record fails its check */

static uint64_t record_check(const ipc_dedup_entry_t *e, uint64_t id)
{
    uint64_t h = mix(CHECK_SEED, id);
    h = mix(h, (uint64_t)(uint32_t)e->status | (uint64_t)e->len << 32);
    for (unsigned i = 0; i < IPC_MAX_WORDS - 1; i++) h = mix(h, e->w[i]);
    return h;
}

void pstate_record(ipc_dedup_entry_t *e, uint64_t id, const ipc_msg_t *reply)
{
    e->id = e->id_again = id;
    e->status = (int32_t)reply->label; // a handler's int: ipc_server_handle
    e->len = reply->len < IPC_MAX_WORDS ? reply->len : IPC_MAX_WORDS;
    for (unsigned i = 0; i < IPC_MAX_WORDS - 1; i++) e->w[i] = i + 1 < e->len ? reply->w[i + 1] : 0;
    e->check = record_check(e, id);
}

/* One record's answer: a sound record knows its id (either copy, the one the check confirms);
 * one that fails its check lost its reply, and a request with either id may be its retry. */
static int record_match(const ipc_dedup_entry_t *e, uint64_t id, ipc_msg_t *reply)
{
    uint64_t known = record_check(e, e->id) == e->check         ? e->id
                     : record_check(e, e->id_again) == e->check ? e->id_again
                                                                : 0;
    if (!known) return id == e->id || id == e->id_again ? IPC_RECORD_LOST : IPC_RECORD_NEW;
    if (id != known) return IPC_RECORD_NEW;
    *reply = (ipc_msg_t){.label = (rs_word_t)(int64_t)e->status, .len = e->len, .w = {id}};
    for (unsigned i = 1; i < e->len; i++) reply->w[i] = e->w[i - 1];
    return IPC_RECORD_RETRY;
}

int pstate_lookup(const ipc_pstate_t *ps, uint64_t client, uint64_t id, ipc_msg_t *reply)
{
    if (client >= IPC_MAX_CLIENTS || !id) return IPC_RECORD_NEW;
    int seen = record_match(&ps->dedup[client], id, reply);
    if (seen == IPC_RECORD_LOST && ps->journal.client == client &&
        record_match(&ps->journal.record, id, reply) == IPC_RECORD_RETRY)
        return IPC_RECORD_RETRY;
    return seen;
}

uint64_t pstate_journal_check(const ipc_pstate_t *ps)
{
    uint64_t h =
        mix(mix(mix(CHECK_SEED, ps->journal.client), ps->journal.count), ps->journal.record.check);
    for (uint64_t i = 0; i < ps->journal.count && i < IPC_MAX_STAGED; i++)
        h = mix(mix(h, ps->journal.writes[i].off), ps->journal.writes[i].val);
    return h;
}

static uint64_t stage_check(void)
{
    uint64_t h = mix(CHECK_SEED, staged_count);
    for (uint64_t i = 0; i < staged_count && i < IPC_MAX_STAGED; i++)
        h = mix(mix(h, staged[i].off), staged[i].val);
    return h;
}

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
    if (ps->journal.check != pstate_journal_check(ps)) return false; // flipped since its commit
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
    staged_check = stage_check();
    return ps;
}

int pstate_stage(ipc_pstate_t *ps, volatile uint64_t *field, uint64_t value)
{
    if (staged_count >= IPC_MAX_STAGED) return RS_NOT_ENOUGH_MEMORY;
    staged[staged_count].off = (uint64_t)((volatile uint8_t *)field - (uint8_t *)ps);
    staged[staged_count].val = value;
    staged_count++;
    staged_check = stage_check();
    return RS_OK;
}

void pstate_abort(ipc_pstate_t *ps)
{
    (void)ps;
    staged_count = 0;
    staged_check = stage_check();
}

void pstate_commit(ipc_pstate_t *ps, uint64_t client, uint64_t id, const ipc_msg_t *reply)
{
    // a flipped count or offset is a crash before the commit point (the client's retry runs the
    // request again), never a journal written past its end or applied outside the user area
    if (staged_count > IPC_MAX_STAGED || staged_check != stage_check()) __builtin_trap();
    for (uint64_t i = 0; i < staged_count; i++)
        if (!write_sound(staged[i].off)) __builtin_trap();
    ps->journal.client = client;
    ps->journal.count = staged_count;
    pstate_record(&ps->journal.record, id, reply);
    for (uint64_t i = 0; i < staged_count; i++) {
        ps->journal.writes[i].off = staged[i].off;
        ps->journal.writes[i].val = staged[i].val;
    }
    ps->journal.check = pstate_journal_check(ps);
    __asm__ volatile("" ::: "memory"); // the journal is complete before it becomes valid
    ps->journal.valid = 1;
    __asm__ volatile("" ::: "memory");
    apply_journal(ps);
    staged_count = 0;
    staged_check = stage_check();
}
