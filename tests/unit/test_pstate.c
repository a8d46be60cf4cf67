// SPDX-License-Identifier: MIT
// Host tests of libipc's persistent state (libipc/pstate.c): a commit applies the staged writes
// and the dedup record together; a crash after the commit point is completed by the next
// pstate_open, a crash before it leaves nothing. Crashes are real: a forked child commits into
// shared memory that is partly read-only, so the commit faults at the chosen store.
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ipc.h"

#define PAGE        4096ul
#define REGION_SIZE (3 * PAGE)
#define CRASHED     77 /* exit status of a child that faulted where the test wanted */

static uint8_t *region; /* shared with forked children: what they commit, the parent sees */

static void setup(void)
{
    region = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(region, MAP_FAILED);
}

static void teardown(void) { munmap(region, REGION_SIZE); }

TestSuite(pstate, .init = setup, .fini = teardown);

/* A field in the user area of the first page (next to libipc's header) and one in page 1. */
static volatile uint64_t *near_field(ipc_pstate_t *ps) { return &ps->user[0]; }
static volatile uint64_t *far_field(void) { return (volatile uint64_t *)(region + PAGE + 8); }

static ipc_msg_t reply_with(uint64_t id, uint64_t value)
{
    return (ipc_msg_t){.label = RS_OK, .len = 2, .w = {id, value}};
}

static void on_segv(int sig)
{
    (void)sig;
    _exit(CRASHED);
}

/* Runs fn in a child whose SIGSEGV ends it with CRASHED; returns the child's exit status. */
static int in_child(void (*fn)(void))
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct sigaction sa = {.sa_handler = on_segv};
        sigaction(SIGSEGV, &sa, NULL);
        fn();
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "the child died of signal %d",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}

/* ---- opening ------------------------------------------------------------------------------ */

Test(pstate, open_refuses_missing_or_small_regions)
{
    cr_assert_null(pstate_open(NULL, REGION_SIZE));
    cr_assert_null(pstate_open(region, sizeof(ipc_pstate_t) - 1));
    cr_assert_eq(pstate_open(region, sizeof(ipc_pstate_t)), (ipc_pstate_t *)region);
}

Test(pstate, open_initialises_only_libipc_header_of_a_fresh_region)
{
    memset(region, 0xAA, REGION_SIZE);
    *(uint64_t *)region = 0; // a fresh region's magic is init's zero (any other: flipped)
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(ps, (ipc_pstate_t *)region);
    cr_assert_eq(ps->journal.valid, 0);
    for (unsigned c = 0; c < IPC_MAX_CLIENTS; c++) cr_assert_eq(ps->dedup[c].id, 0, "client %u", c);
    // the user area is the server's: init hands over zeroed frames, pstate_open leaves it be
    cr_assert_eq(*near_field(ps), 0xAAAAAAAAAAAAAAAAull);
}

Test(pstate, reopen_keeps_committed_state)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    ipc_msg_t r = reply_with(5, 42);
    cr_assert_eq(pstate_stage(ps, near_field(ps), 42), RS_OK);
    pstate_commit(ps, 3, 5, &r);
    ps = pstate_open(region, REGION_SIZE); // what the next instance does
    cr_assert_eq(*near_field(ps), 42);
    cr_assert_eq(ps->dedup[3].id, 5);
}

/* ---- commit ------------------------------------------------------------------------------- */

Test(pstate, staged_writes_are_invisible_until_the_commit)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(pstate_stage(ps, near_field(ps), 7), RS_OK);
    cr_assert_eq(*near_field(ps), 0, "a handler reads the state as it was before its request");
    ipc_msg_t r = reply_with(1, 7);
    pstate_commit(ps, 1, 1, &r);
    cr_assert_eq(*near_field(ps), 7);
}

Test(pstate, commit_applies_the_writes_and_the_dedup_record)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(pstate_stage(ps, near_field(ps), 11), RS_OK);
    cr_assert_eq(pstate_stage(ps, far_field(), 22), RS_OK);
    ipc_msg_t r = reply_with(9, 33);
    pstate_commit(ps, 4, 9, &r);
    cr_assert_eq(*near_field(ps), 11);
    cr_assert_eq(*far_field(), 22);
    ipc_msg_t got;
    cr_assert_eq(pstate_lookup(ps, 4, 9, &got), IPC_RECORD_RETRY);
    cr_assert_eq(got.label, RS_OK);
    cr_assert_eq(got.len, 2);
    cr_assert_eq(got.w[0], 9);
    cr_assert_eq(got.w[1], 33);
    cr_assert_eq(ps->journal.valid, 0, "the journal is cleared once applied");
    cr_assert_eq(ps->dedup[3].id, 0, "other clients' records are untouched");
}

Test(pstate, writes_apply_in_the_order_staged)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    pstate_stage(ps, near_field(ps), 1);
    pstate_stage(ps, near_field(ps), 2);
    ipc_msg_t r = reply_with(1, 0);
    pstate_commit(ps, 0, 1, &r);
    cr_assert_eq(*near_field(ps), 2);
}

Test(pstate, a_commit_without_writes_records_the_reply)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    ipc_msg_t r = {.label = RS_NOT_FOUND, .len = 1, .w = {12}};
    pstate_commit(ps, 2, 12, &r); // a read-only request, or a failed one: answered once too
    ipc_msg_t got;
    cr_assert_eq(pstate_lookup(ps, 2, 12, &got), IPC_RECORD_RETRY);
    cr_assert_eq(got.label, RS_NOT_FOUND);
}

Test(pstate, abort_drops_the_staged_writes)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    pstate_stage(ps, near_field(ps), 5);
    pstate_abort(ps);
    ipc_msg_t r = {.label = RS_INVALID_ARGUMENT, .len = 1, .w = {3}};
    pstate_commit(ps, 1, 3, &r);
    cr_assert_eq(*near_field(ps), 0);
    cr_assert_eq(ps->dedup[1].id, 3);
}

Test(pstate, client_out_of_range_gets_no_dedup_record)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    ipc_pstate_t before = *ps;
    pstate_stage(ps, near_field(ps), 8);
    ipc_msg_t r = reply_with(4, 8);
    pstate_commit(ps, IPC_MAX_CLIENTS, 4, &r);
    cr_assert_eq(*near_field(ps), 8, "the writes still apply");
    cr_assert_eq(memcmp(ps->dedup, before.dedup, sizeof(before.dedup)), 0);
}

Test(pstate, more_than_IPC_MAX_STAGED_writes_is_not_enough_memory)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    for (unsigned i = 0; i < IPC_MAX_STAGED; i++)
        cr_assert_eq(pstate_stage(ps, &ps->user[i], 100 + i), RS_OK, "write %u", i);
    cr_assert_eq(pstate_stage(ps, &ps->user[IPC_MAX_STAGED], 999), RS_NOT_ENOUGH_MEMORY);
    ipc_msg_t r = reply_with(1, 0);
    pstate_commit(ps, 0, 1, &r);
    for (unsigned i = 0; i < IPC_MAX_STAGED; i++) cr_assert_eq(ps->user[i], 100 + i);
    cr_assert_eq(ps->user[IPC_MAX_STAGED], 0, "the refused write is not applied");
    // the commit emptied the stage: a full set fits again
    for (unsigned i = 0; i < IPC_MAX_STAGED; i++)
        cr_assert_eq(pstate_stage(ps, &ps->user[i], 0), RS_OK);
}

Test(pstate, open_drops_writes_staged_before_it)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    pstate_stage(ps, near_field(ps), 6);
    ps = pstate_open(region, REGION_SIZE);
    ipc_msg_t r = reply_with(1, 0);
    pstate_commit(ps, 0, 1, &r);
    cr_assert_eq(*near_field(ps), 0);
}

/* ---- crashes ------------------------------------------------------------------------------ */

/* Stages near = 1 then far = 2 and commits with page 1 read-only: the journal is written and
 * marked valid (page 0), near is applied, and the store to far faults. */
static void commit_then_fault_on_far(void)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    pstate_stage(ps, near_field(ps), 1);
    pstate_stage(ps, far_field(), 2);
    mprotect(region + PAGE, PAGE, PROT_READ);
    ipc_msg_t r = reply_with(77, 2);
    pstate_commit(ps, 6, 77, &r);
}

Test(pstate, crash_after_the_commit_point_is_completed_by_open)
{
    cr_assert_eq(in_child(commit_then_fault_on_far), CRASHED);
    ipc_pstate_t *ps = (ipc_pstate_t *)region;
    cr_assert_eq(ps->journal.valid, 1, "the crash came after the commit point");
    cr_assert_eq(*near_field(ps), 1, "half applied");
    cr_assert_eq(*far_field(), 0);
    cr_assert_eq(ps->dedup[6].id, 0, "the dedup record is applied last");
    ps = pstate_open(region, REGION_SIZE); // the next instance
    cr_assert_eq(ps->journal.valid, 0);
    cr_assert_eq(*near_field(ps), 1);
    cr_assert_eq(*far_field(), 2);
    cr_assert_eq(ps->dedup[6].id, 77);
    ipc_msg_t got;
    cr_assert_eq(pstate_lookup(ps, 6, 77, &got), IPC_RECORD_RETRY);
    cr_assert_eq(got.w[1], 2, "a retry of request 77 gets the reply of its commit");
}

/* Stages far first, so the very first applied store faults. */
static void commit_then_fault_on_first_write(void)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    pstate_stage(ps, far_field(), 3);
    pstate_stage(ps, near_field(ps), 4);
    mprotect(region + PAGE, PAGE, PROT_READ);
    ipc_msg_t r = reply_with(8, 0);
    pstate_commit(ps, 2, 8, &r);
}

Test(pstate, crash_before_any_write_is_applied_is_completed_by_open)
{
    cr_assert_eq(in_child(commit_then_fault_on_first_write), CRASHED);
    ipc_pstate_t *ps = (ipc_pstate_t *)region;
    cr_assert_eq(ps->journal.valid, 1);
    cr_assert_eq(*near_field(ps), 0);
    ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(*far_field(), 3);
    cr_assert_eq(*near_field(ps), 4);
    cr_assert_eq(ps->dedup[2].id, 8);
}

/* Commits with the header page read-only: the first journal store faults, before the commit
 * point is reached. */
static void commit_with_journal_read_only(void)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    pstate_stage(ps, near_field(ps), 1);
    pstate_stage(ps, far_field(), 2);
    mprotect(region, PAGE, PROT_READ);
    ipc_msg_t r = reply_with(5, 0);
    pstate_commit(ps, 6, 5, &r);
}

Test(pstate, crash_before_the_commit_point_leaves_nothing)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(in_child(commit_with_journal_read_only), CRASHED);
    ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(ps->journal.valid, 0);
    cr_assert_eq(*near_field(ps), 0);
    cr_assert_eq(*far_field(), 0);
    cr_assert_eq(ps->dedup[6].id, 0, "the request was not executed: a retry runs it");
}

/* The state a crash leaves when it strikes after the journal was filled but before the valid
 * store: entries present, not valid. */
Test(pstate, a_filled_journal_not_marked_valid_is_ignored)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    ps->journal.client = 1;
    ps->journal.count = 1;
    ipc_msg_t r99 = reply_with(99, 1);
    pstate_record(&ps->journal.record, 99, &r99);
    ps->journal.writes[0].off = (uint64_t)((uint8_t *)near_field(ps) - region);
    ps->journal.writes[0].val = 123;
    ps->journal.check = pstate_journal_check(ps);
    ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(*near_field(ps), 0);
    cr_assert_eq(ps->dedup[1].id, 0);
    // the next commit reuses the journal
    pstate_stage(ps, far_field(), 5);
    ipc_msg_t r = reply_with(100, 5);
    pstate_commit(ps, 1, 100, &r);
    cr_assert_eq(*near_field(ps), 0);
    cr_assert_eq(*far_field(), 5);
    cr_assert_eq(ps->dedup[1].id, 100);
}

/* A journal marked valid by hand: pstate_open applies its writes in order, then the record. */
Test(pstate, open_applies_a_valid_journal)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    ps->journal.client = 15;
    ps->journal.count = 2;
    ipc_msg_t r3 = reply_with(3, 9);
    pstate_record(&ps->journal.record, 3, &r3);
    ps->journal.writes[0].off = (uint64_t)((uint8_t *)near_field(ps) - region);
    ps->journal.writes[0].val = 8;
    ps->journal.writes[1].off = ps->journal.writes[0].off;
    ps->journal.writes[1].val = 9;
    ps->journal.check = pstate_journal_check(ps);
    ps->journal.valid = 1;
    ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(*near_field(ps), 9);
    cr_assert_eq(ps->dedup[15].id, 3);
    cr_assert_eq(ps->journal.valid, 0);
}

/* ---- bits a stray write flipped (the campaign's `corrupt`, docs/resilience.md) -------------- */

/* A flipped magic is no fresh region: the dedup record and the journal stay (wiped, a retry of
 * a committed increment ran again). */
Test(pstate, a_flipped_magic_keeps_the_committed_state)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    pstate_stage(ps, near_field(ps), 1050);
    ipc_msg_t r = reply_with(41, 1050);
    pstate_commit(ps, 3, 41, &r);
    ps->magic ^= 1ull << 17;
    ps = pstate_open(region, REGION_SIZE);
    cr_assert_eq(*near_field(ps), 1050);
    cr_assert_eq(ps->dedup[3].id, 41, "the retry of request 41 would run it again");
}

/* A journal left valid whose count or offset was flipped since: dropped, not applied (applied,
 * it faults or writes outside the user area in every new instance: a crash loop). */
static void open_with_a_flipped_count(void)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    ps->journal.count = 1ull << 40;
    ps->journal.check = pstate_journal_check(ps); // sound but for its range
    ps->journal.valid = 1;
    pstate_open(region, REGION_SIZE);
}

static void open_with_a_flipped_offset(void)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    ps->journal.count = 1;
    ps->journal.writes[0].off = 1ull << 35 | 8;
    ps->journal.check = pstate_journal_check(ps);
    ps->journal.valid = 1;
    pstate_open(region, REGION_SIZE);
}

Test(pstate, a_journal_flipped_out_of_range_is_dropped)
{
    cr_assert_eq(in_child(open_with_a_flipped_count), 0, "faulted");
    cr_assert_eq(in_child(open_with_a_flipped_offset), 0, "faulted");
    cr_assert_eq(((ipc_pstate_t *)region)->journal.valid, 0);
}

/* A staged write whose offset was flipped between staging and the commit (the header's words,
 * or past the region) is a crash before the commit point, not a write there. */
static void commit_a_write_into_the_header(void)
{
    ipc_pstate_t *ps = pstate_open(region, REGION_SIZE);
    pstate_stage(ps, (volatile uint64_t *)&ps->dedup[2].id, 0xBAD);
    ipc_msg_t r = reply_with(7, 0);
    pstate_commit(ps, 1, 7, &r);
}

Test(pstate, a_staged_write_outside_the_user_area_is_never_committed, .signal = SIGILL)
{
    commit_a_write_into_the_header();
}
