// SPDX-License-Identifier: MIT
// Host tests of libipc's dedup records under stray writes (issue 15's `corrupt` into echo, seed
// 16: echo's counter moved by 51 in one burst of 50). A request runs through ipc_server_handle as
// echo's increment does; bits flipped since in its dedup record, or in the writes staged for its
// commit, must never make it count twice: its retry gets its reply, or a refusal, never a second
// run.
#include <criterion/criterion.h>
#include <signal.h>
#include "ipc.h"
#include "proto/echo.h"

static _Alignas(4096) uint8_t region[4096];
static ipc_server_t server;
static unsigned runs; /* how often the handler ran */

/* echo's ECHO_INCREMENT (servers/echo/main.c): the counter three times, staged */
static int increment(void *ctx, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply)
{
    (void)badge, (void)req;
    ipc_pstate_t *ps = ctx;
    struct echo_state *st = (struct echo_state *)ps->user;
    uint64_t next = echo_counter(st) + 1;
    runs++;
    reply->w[1] = next;
    reply->len = 2;
    for (unsigned i = 0; i < 3; i++) pstate_stage(ps, &st->counter[i], next);
    return RS_OK;
}

static void setup(void)
{
    memset(region, 0, sizeof(region));
    runs = 0;
    ipc_pstate_t *ps = pstate_open(region, sizeof(region));
    server = (ipc_server_t){.handler = increment, .ctx = ps, .pstate = ps};
}

TestSuite(dedup, .init = setup);

#define CLIENT 3

static ipc_msg_t call(uint64_t id)
{
    ipc_msg_t req = {.label = ECHO_INCREMENT, .len = 1, .w = {id}}, reply;
    ipc_server_handle(&server, CLIENT, &req, &reply);
    cr_assert_eq(reply.w[0], id);
    return reply;
}

static uint64_t counter(void) { return echo_counter((struct echo_state *)server.pstate->user); }

/* Flips bit b of word w of client CLIENT's dedup record. */
static void flip_record(unsigned w, unsigned b)
{
    ((uint64_t *)&server.pstate->dedup[CLIENT])[w] ^= 1ull << b;
}

Test(dedup, a_retry_is_answered_from_the_record)
{
    call(0x100000001);
    ipc_msg_t r = call(0x100000001);
    cr_assert_eq(runs, 1);
    cr_assert_eq(r.w[1], 1);
    cr_assert_eq(counter(), 1);
}

Test(dedup, a_bit_flipped_in_the_record_never_runs_a_retry_again)
{
    const unsigned words = sizeof(ipc_dedup_entry_t) / 8;
    for (unsigned w = 0; w < words; w++)
        for (unsigned b = 0; b < 64; b++) {
            uint64_t id = 0x100000000ull + w * 64 + b + 1;
            ipc_msg_t first = call(id);
            unsigned before = runs;
            flip_record(w, b);
            ipc_msg_t again = call(id); // the client's retry after a crash
            cr_assert_eq(runs, before, "word %u bit %u: the retry ran again", w, b);
            cr_assert_eq(again.label, RS_OK, "word %u bit %u", w, b);
            cr_assert_eq(again.w[1], first.w[1], "word %u bit %u: another reply", w, b);
        }
    cr_assert_eq(counter(), runs);
}

Test(dedup, a_new_request_after_a_flipped_record_runs_once)
{
    call(7);
    flip_record(0, 5);
    flip_record(2, 40); // id and check: the record's reply is gone
    ipc_msg_t r = call(8);
    cr_assert_eq(runs, 2);
    cr_assert_eq(r.w[1], 2);
    cr_assert_eq(call(8).w[1], 2, "the new commit wrote a sound record");
    cr_assert_eq(runs, 2);
}

Test(dedup, a_retry_whose_records_both_lost_their_reply_is_refused_not_run)
{
    call(7);
    flip_record(3, 2);                       // the reply's status and length
    server.pstate->journal.record.w[0] ^= 1; // and the journal's copy of the last commit
    ipc_msg_t r = call(7);
    cr_assert_eq(runs, 1, "the increment ran twice");
    cr_assert_eq(r.label, RS_ILLEGAL_OPERATION);
    cr_assert_eq(counter(), 1);
}

Test(dedup, the_journal_stands_in_only_for_the_client_that_committed_last)
{
    call(7);
    ipc_msg_t req = {.label = ECHO_INCREMENT, .len = 1, .w = {7}}, reply;
    ipc_server_handle(&server, CLIENT + 1, &req, &reply); // another client, same id: its own
    cr_assert_eq(runs, 2);
    flip_record(4, 1);
    cr_assert_eq(call(7).label, RS_ILLEGAL_OPERATION);
    cr_assert_eq(runs, 2);
}

extern char __bss_start[], _end[];

/* Flips bit 0 of every word of the globals equal to value (the scan crosses ASan's red zones). */
__attribute__((no_sanitize("address"))) static unsigned flip_in_globals(uint64_t value)
{
    unsigned found = 0;
    for (uint64_t *w = (uint64_t *)(((uintptr_t)__bss_start + 7) & ~7ul); (char *)w < _end; w++)
        if (*w == value) *w ^= 1, found++;
    return found;
}

/* A bit of a staged write's value flipped in libipc's globals between the handler and the commit
 * (the fault point IPC_FAULT_BEFORE_COMMIT): a crash before the commit point, whose retry runs
 * the request again, never the flipped value committed. */
Test(dedup, a_staged_value_flipped_before_the_commit_is_a_crash, .signal = SIGILL)
{
    const uint64_t value = 0x5EEDC0DE12345670ull;
    pstate_stage(server.pstate, &server.pstate->user[5], value);
    cr_assert_eq(flip_in_globals(value), 1, "the staged value is in libipc's globals once");
    ipc_msg_t r = {.label = RS_OK, .len = 2, .w = {9, 1}};
    pstate_commit(server.pstate, CLIENT, 9, &r);
    cr_assert_eq(server.pstate->user[5], value, "a flipped value was committed");
}

/* A loop's pointer to its request flipped in a register it saved on the stack (seed 19: every
 * request read as garbage and answered `illegal operation` until a crash): a request in the
 * frames below the handler's, or longer than any received, is a crash, never handled. */
Test(dedup, a_request_in_the_frames_below_is_a_crash, .signal = SIGILL)
{
    // never read: the check comes first (the frames there are the handler's to come)
    const ipc_msg_t *req = (const ipc_msg_t *)((uintptr_t)__builtin_frame_address(0) - 16384);
    ipc_msg_t reply;
    ipc_server_handle(&server, CLIENT, req, &reply);
    cr_assert_fail("handled a request from below its frame (%u runs)", runs);
}

Test(dedup, a_request_longer_than_any_received_is_a_crash, .signal = SIGILL)
{
    ipc_msg_t req = {.label = ECHO_INCREMENT, .len = 0xFDE8F38Bu, .w = {5}}, reply;
    ipc_server_handle(&server, CLIENT, &req, &reply);
    cr_assert_fail("handled a request of %u words", req.len);
}
