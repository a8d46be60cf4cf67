// SPDX-License-Identifier: MIT
// Host tests of libipc's client (libipc/ipc_client.c) against a scripted kernel
// (fake_syscall.c): request ids, the retry with the same id when the server died, the bound on
// retries, reconnecting through init's registry when the endpoint cap is gone, and every case
// in which the error goes back to the caller instead.
#include <criterion/criterion.h>
#include <string.h>
#include "fake_syscall.h"
#include "ipc.h"
#include "proto/registry.h"

#define EP          8 /* the client's endpoint cap (IPC_SLOT_CLIENT0) */
#define REGISTRY    6
#define RECV        16
#define MAX_RETRIES 64 /* IPC_MAX_RETRIES in ipc_client.c */

static ipc_client_t client;

static void setup(void)
{
    fake_reset(NULL);
    ipc_client_init(&client, EP, "kv", REGISTRY, RECV);
}

TestSuite(ipc_client, .init = setup);

/* The server's answer to a request: label `status`, the id echoed, w[1] = 0x600D. */
static rs_result_t reply(const struct fake_call *c, rs_ipc_buffer_t *b, rs_word_t status)
{
    b->mr[0] = c->mr[0];
    b->mr[1] = 0x600D;
    return (rs_result_t){RS_OK, rs_msginfo(status, 0, 0, 2), 0};
}

static rs_result_t ipc_error(rs_word_t err) { return (rs_result_t){err, 0, 0}; }

/* Sends KV_GET-like request label 2 with one argument; returns ipc_call's result. */
static int call(unsigned flags, ipc_msg_t *out)
{
    ipc_msg_t req = {.label = 2, .len = 2, .w = {0, 0x1234}}, rep;
    int err = ipc_call(&client, &req, out ? out : &rep, flags);
    return err;
}

static rs_result_t answer_ok(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    return reply(c, b, RS_NOT_FOUND);
}

Test(ipc_client, a_call_sends_label_id_and_words_and_returns_the_reply_label)
{
    fake_reset(answer_ok);
    ipc_msg_t rep;
    cr_assert_eq(call(0, &rep), RS_NOT_FOUND);
    cr_assert_eq(call(0, NULL), RS_NOT_FOUND);
    cr_assert_eq(fake_ncalls, 2);
    for (unsigned i = 0; i < 2; i++) {
        const struct fake_call *c = &fake_calls[i];
        cr_assert_eq(c->nr, RS_SYS_CALL);
        cr_assert_eq(c->dest, EP);
        cr_assert_eq(rs_msginfo_label(c->info), 2);
        cr_assert_eq(rs_msginfo_length(c->info), 2);
        cr_assert_eq(c->mr[0], (1 + i) | IPC_ID_CHECKED, "ids count up from 1");
        cr_assert_eq(c->mr[1], 0x1234);
    }
    cr_assert_eq(rep.label, RS_NOT_FOUND);
    cr_assert_eq(rep.len, 2);
    cr_assert_eq(rep.w[0], 1 | IPC_ID_CHECKED);
    cr_assert_eq(rep.w[1], 0x600D);
    cr_assert_eq(client.next_id, 3);
    cr_assert_eq(client.retries, 0);
}

Test(ipc_client, a_request_without_words_still_carries_its_id)
{
    fake_reset(answer_ok);
    ipc_msg_t req = {.label = 1, .len = 0}, rep;
    cr_assert_eq(ipc_call(&client, &req, &rep, 0), RS_NOT_FOUND);
    cr_assert_eq(rs_msginfo_length(fake_calls[0].info), 1);
    cr_assert_eq(req.len, 1);
    cr_assert_eq(req.w[0], 1 | IPC_ID_CHECKED);
}

static rs_result_t answer_other_id(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    b->mr[0] = c->mr[0] + 1;
    return (rs_result_t){RS_OK, rs_msginfo(RS_OK, 0, 0, 1), 0};
}

static rs_result_t answer_no_words(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    (void)c;
    (void)b;
    return (rs_result_t){RS_OK, rs_msginfo(RS_OK, 0, 0, 0), 0};
}

Test(ipc_client, a_reply_to_another_id_or_without_id_is_rs_invalid_argument)
{
    fake_reset(answer_other_id);
    cr_assert_eq(call(IPC_RETRY_SAFE, NULL), RS_INVALID_ARGUMENT);
    fake_reset(answer_no_words);
    cr_assert_eq(call(IPC_RETRY_SAFE, NULL), RS_INVALID_ARGUMENT);
    cr_assert_eq(fake_ncalls, 1, "a protocol error is not retried");
}

/* The server dies holding the first two calls; the third instance answers. */
static rs_result_t die_twice(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    if (c->nr == RS_SYS_YIELD) return ipc_error(RS_OK);
    return fake_count(RS_SYS_CALL) <= 2 ? ipc_error(RS_PEER_DIED) : reply(c, b, RS_OK);
}

Test(ipc_client, a_safe_call_whose_server_died_is_sent_again_with_the_same_id)
{
    fake_reset(die_twice);
    ipc_msg_t rep;
    cr_assert_eq(call(IPC_RETRY_SAFE, &rep), RS_OK);
    cr_assert_eq(fake_count(RS_SYS_CALL), 3);
    cr_assert_eq(fake_count(RS_SYS_YIELD), 2, "each retry yields to the supervisor first");
    unsigned calls = 0;
    for (unsigned i = 0; i < fake_ncalls; i++) {
        if (fake_calls[i].nr != RS_SYS_CALL) continue;
        cr_assert_eq(fake_calls[i].mr[0], 1 | IPC_ID_CHECKED, "call %u has another id", calls);
        cr_assert_eq(fake_calls[i].mr[1], 0x1234, "call %u lost its argument", calls);
        cr_assert_eq(fake_calls[i].dest, EP);
        calls++;
    }
    cr_assert_eq(fake_calls[1].nr, RS_SYS_YIELD, "the yield comes between the calls");
    cr_assert_eq(client.retries, 2);
    cr_assert_eq(rep.w[1], 0x600D);
    cr_assert_eq(client.next_id, 2, "one id for one request");
}

Test(ipc_client, an_unsafe_call_whose_server_died_returns_rs_peer_died)
{
    fake_reset(die_twice);
    cr_assert_eq(call(0, NULL), RS_PEER_DIED);
    cr_assert_eq(fake_ncalls, 1);
    cr_assert_eq(client.retries, 0);
}

static rs_result_t always_dead(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    (void)b;
    return ipc_error(c->nr == RS_SYS_YIELD ? RS_OK : RS_PEER_DIED);
}

Test(ipc_client, retries_stop_after_64_and_the_error_comes_back)
{
    fake_reset(always_dead);
    cr_assert_eq(call(IPC_RETRY_SAFE, NULL), RS_PEER_DIED);
    cr_assert_eq(fake_count(RS_SYS_CALL), MAX_RETRIES + 1, "the first call and 64 retries");
    cr_assert_eq(client.retries, MAX_RETRIES);
}

static rs_word_t other_error;
static rs_result_t fail_other(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    (void)c;
    (void)b;
    return ipc_error(other_error);
}

Test(ipc_client, other_ipc_errors_are_not_retried)
{
    const rs_word_t errs[] = {RS_TRUNCATED_MESSAGE, RS_INSUFFICIENT_RIGHTS, RS_INVALID_ARGUMENT,
                              RS_ILLEGAL_OPERATION};
    for (unsigned i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        other_error = errs[i];
        fake_reset(fail_other);
        cr_assert_eq(call(IPC_RETRY_SAFE, NULL), (int)errs[i]);
        cr_assert_eq(fake_ncalls, 1, "error %lu was retried", errs[i]);
    }
}

/* The endpoint cap is gone (first call: gone_error); the registry hands out a new one into the
 * receive slot (registry_status, registry_caps), through which the call succeeds. */
static rs_word_t gone_error, registry_status;
static unsigned registry_caps;
static rs_result_t ep_gone(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    if (c->nr == RS_SYS_YIELD) return ipc_error(RS_OK);
    if (c->dest == REGISTRY) {
        b->mr[0] = 0;
        return (rs_result_t){RS_OK, rs_msginfo(registry_status, 0, registry_caps, 1), 0};
    }
    return c->dest == EP ? ipc_error(gone_error) : reply(c, b, RS_OK);
}

static void expect_lookup(const struct fake_call *c)
{
    uint64_t name[REGISTRY_NAME_WORDS];
    registry_pack_name(name, "kv");
    cr_assert_eq(c->nr, RS_SYS_CALL);
    cr_assert_eq(c->dest, REGISTRY);
    cr_assert_eq(rs_msginfo_label(c->info), REGISTRY_LOOKUP);
    cr_assert_eq(rs_msginfo_length(c->info), 1 + REGISTRY_NAME_WORDS);
    for (unsigned i = 0; i < REGISTRY_NAME_WORDS; i++) cr_assert_eq(c->mr[1 + i], name[i]);
    cr_assert_eq(c->receive_cnode, IPC_SLOT_OWN_CNODE);
    cr_assert_eq(c->receive_index, RECV);
    cr_assert_eq(c->receive_depth, 64);
}

Test(ipc_client, a_safe_call_to_a_gone_endpoint_looks_the_service_up_and_retries)
{
    const rs_word_t errs[] = {RS_FAILED_LOOKUP, RS_INVALID_CAPABILITY};
    for (unsigned i = 0; i < 2; i++) {
        setup();
        gone_error = errs[i], registry_status = RS_OK, registry_caps = 1;
        fake_reset(ep_gone);
        cr_assert_eq(call(IPC_RETRY_SAFE, NULL), RS_OK);
        cr_assert_eq(fake_ncalls, 4, "call, lookup, yield, call");
        expect_lookup(&fake_calls[1]);
        cr_assert_eq(fake_calls[2].nr, RS_SYS_YIELD);
        cr_assert_eq(fake_calls[3].dest, RECV, "the retry goes to the new cap");
        cr_assert_eq(fake_calls[3].mr[0], fake_calls[0].mr[0], "with the same id");
        cr_assert_eq(client.ep, RECV);
        cr_assert_eq(client.retries, 1);
        cr_assert_eq(rs_ipc_buffer()->receive_depth, 0, "receiving caps is switched off again");
    }
}

Test(ipc_client, a_failed_lookup_returns_the_original_error_and_keeps_the_endpoint)
{
    gone_error = RS_FAILED_LOOKUP;
    // the registry does not know the name / answers without a cap
    const struct {
        rs_word_t status;
        unsigned caps;
    } cases[] = {{RS_NOT_FOUND, 0}, {RS_OK, 0}};
    for (unsigned i = 0; i < 2; i++) {
        setup();
        registry_status = cases[i].status, registry_caps = cases[i].caps;
        fake_reset(ep_gone);
        cr_assert_eq(call(IPC_RETRY_SAFE, NULL), RS_FAILED_LOOKUP);
        cr_assert_eq(fake_ncalls, 2, "call and lookup, no retry");
        expect_lookup(&fake_calls[1]);
        cr_assert_eq(client.ep, EP);
        cr_assert_eq(rs_ipc_buffer()->receive_depth, 0);
    }
}

Test(ipc_client, without_a_registry_a_gone_endpoint_is_not_looked_up)
{
    gone_error = RS_FAILED_LOOKUP, registry_status = RS_OK, registry_caps = 1;
    ipc_client_init(&client, EP, "kv", 0, RECV);
    fake_reset(ep_gone);
    cr_assert_eq(call(IPC_RETRY_SAFE, NULL), RS_FAILED_LOOKUP);
    cr_assert_eq(fake_ncalls, 1);
    ipc_client_init(&client, EP, "kv", REGISTRY, 0); // nowhere to receive the cap
    fake_reset(ep_gone);
    cr_assert_eq(call(IPC_RETRY_SAFE, NULL), RS_FAILED_LOOKUP);
    cr_assert_eq(fake_ncalls, 1);
}

Test(ipc_client, an_unsafe_call_to_a_gone_endpoint_is_not_looked_up)
{
    gone_error = RS_INVALID_CAPABILITY, registry_status = RS_OK, registry_caps = 1;
    fake_reset(ep_gone);
    cr_assert_eq(call(0, NULL), RS_INVALID_CAPABILITY);
    cr_assert_eq(fake_ncalls, 1);
    cr_assert_eq(client.ep, EP);
}

/* ---- replies with a check (ipc_reply_seal / ipc_reply_open; issue 15's `garble`) ---- */

static uint64_t garble_rng = 0x2545F4914F6CDD1Dull;
static uint64_t next_garble(void)
{
    garble_rng ^= garble_rng << 13, garble_rng ^= garble_rng >> 7, garble_rng ^= garble_rng << 17;
    return garble_rng;
}

/* What the injected `garble` does (libipc/ipc_server.c): a label bit among the low 8, or 1-3
 * bits anywhere in the words. */
static void garble_msg(ipc_msg_t *m)
{
    if (next_garble() % 3 == 0) {
        m->label ^= 1ull << (next_garble() % 8);
        return;
    }
    unsigned flips = 1 + (unsigned)(next_garble() % 3);
    for (unsigned i = 0; i < flips; i++)
        m->w[next_garble() % m->len] ^= 1ull << (next_garble() % 64);
}

static unsigned garble_calls; /* calls answered garbled (the first ones) */

/* A sealing server (as ipc_server_handle answers ipc_call): status RS_OK, w[1] = 0x600D; the
 * first garble_calls answers are garbled after the seal. */
static rs_result_t answer_sealed(const struct fake_call *c, rs_ipc_buffer_t *b)
{
    ipc_msg_t m = {.label = RS_OK, .len = 2, .w = {c->mr[0], 0x600D}};
    cr_assert(c->mr[0] & IPC_ID_CHECKED, "ipc_call asks for a sealed reply");
    ipc_reply_seal(&m);
    if (fake_count(RS_SYS_CALL) <= garble_calls) {
        ipc_msg_t before = m;
        do {
            m = before;
            garble_msg(&m);
        } while (!memcmp(&m, &before, sizeof(m))); // two flips of one bit undo each other
    }
    for (unsigned i = 0; i < m.len; i++) b->mr[i] = m.w[i];
    return (rs_result_t){RS_OK, rs_msginfo(m.label, 0, 0, m.len), 0};
}

Test(ipc_client, a_garbled_reply_to_a_safe_call_is_dropped_and_the_request_sent_again)
{
    for (unsigned trial = 0; trial < 2000; trial++) {
        fake_reset(answer_sealed);
        client.garbled = 0;
        garble_calls = 1 + trial % 3;
        ipc_msg_t rep;
        cr_assert_eq(call(IPC_RETRY_SAFE, &rep), RS_OK, "trial %u", trial);
        cr_assert_eq(fake_count(RS_SYS_CALL), garble_calls + 1, "trial %u", trial);
        cr_assert_eq(client.garbled, garble_calls);
        cr_assert_eq(fake_calls[garble_calls].mr[0], fake_calls[0].mr[0], "with the same id");
        cr_assert_eq(rep.label, RS_OK);
        cr_assert_eq(rep.len, 2);
        cr_assert_eq(rep.w[1], 0x600D, "the data as the server sent it");
    }
}

Test(ipc_client, a_garbled_reply_to_an_unsafe_call_is_rs_invalid_argument_and_empty)
{
    for (unsigned trial = 0; trial < 2000; trial++) {
        fake_reset(answer_sealed);
        garble_calls = 1;
        ipc_msg_t rep = {.label = 77, .len = 3, .w = {1, 2, 3}};
        cr_assert_eq(call(0, &rep), RS_INVALID_ARGUMENT, "trial %u", trial);
        cr_assert_eq(fake_count(RS_SYS_CALL), 1);
        cr_assert_eq(rep.len, 0, "nothing of it is left to act on");
    }
}

Test(ipc_client, a_sealed_reply_opens_to_what_was_sealed)
{
    const rs_word_t labels[] = {RS_OK, RS_NOT_FOUND, (rs_word_t)-5, (rs_word_t)-1, 0x7FFFFFFF};
    for (unsigned i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        ipc_msg_t m = {.label = labels[i], .len = 3, .w = {9, 8, 7}};
        ipc_reply_seal(&m);
        // through the message registers: the label is cut to 52 bits on the way
        rs_word_t wire = rs_msginfo_label(rs_msginfo(m.label, 0, 0, 3));
        cr_assert_eq(wire, m.label, "the check fits the label");
        cr_assert_eq(ipc_reply_open(&m), 1);
        cr_assert_eq(m.label, rs_msginfo_label(rs_msginfo(labels[i], 0, 0, 3)),
                     "as an unsealed reply carries status %d", (int)labels[i]);
        cr_assert_eq((int)m.label, (int)labels[i]);
    }
    ipc_msg_t plain = {.label = (rs_word_t)-3 & ((1ull << 52) - 1), .len = 1};
    cr_assert_eq(ipc_reply_open(&plain), 0, "a server that does not seal is taken as it is");
    cr_assert_eq((int)plain.label, -3);
}
