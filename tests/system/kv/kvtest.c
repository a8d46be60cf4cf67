// SPDX-License-Identifier: MIT
// kv test client: checks each rejection of the kv protocol, then PUTs and GETs random keys while
// init crashes kv with mixed faults (manifest.txt). A shadow table here holds what was PUT last;
// every GET must return exactly that (a lost PUT, a PUT applied twice over a later one, or a
// half-applied PUT would show), and so must a final read of every key.
#include "ipc.h"
#include "proto/kv.h"
#include "proto/registry.h"
#include "check.h"

#define NKEYS        32 /* keys 1..NKEYS take part in the random run */
#define MIN_CALLS    500
#define MIN_RESTARTS 15
#define MAX_CALLS    2000000 /* a bound in case the injections stop (the check then fails) */


static int put(ipc_client_t *c, uint64_t key, uint64_t value)
{
    ipc_msg_t req = {.label = KV_PUT, .len = 3, .w = {0, key, value}}, reply;
    return ipc_call(c, &req, &reply, IPC_RETRY_SAFE);
}

static int get(ipc_client_t *c, uint64_t key, uint64_t *value)
{
    ipc_msg_t req = {.label = KV_GET, .len = 2, .w = {0, key}}, reply;
    int err = ipc_call(c, &req, &reply, IPC_RETRY_SAFE);
    *value = err == RS_OK && reply.len >= 2 ? reply.w[1] : 0;
    return err;
}

/* Sends `label` with only `len` words (the id included): for the rejection checks. */
static int raw(ipc_client_t *c, uint64_t label, unsigned len)
{
    ipc_msg_t req = {.label = label, .len = len, .w = {0, 1, 2}}, reply;
    return ipc_call(c, &req, &reply, IPC_RETRY_SAFE);
}

static void rejections(ipc_client_t *kv)
{
    uint64_t v;
    int err = get(kv, 0xF00D, &v);
    check(err == RS_NOT_FOUND, "KV-0001", "GET of a key never PUT is RS_NOT_FOUND",
          "status %lu %lu", (uint64_t)err, 0);
    err = put(kv, 0, 1);
    check(err == RS_INVALID_ARGUMENT, "KV-0002", "PUT of key 0 is RS_INVALID_ARGUMENT",
          "status %lu %lu", (uint64_t)err, 0);
    err = raw(kv, KV_PUT, 2);
    check(err == RS_TRUNCATED_MESSAGE, "KV-0003", "PUT without a value is RS_TRUNCATED_MESSAGE",
          "status %lu %lu", (uint64_t)err, 0);
    err = raw(kv, 99, 3);
    check(err == RS_ILLEGAL_OPERATION, "KV-0004", "an unknown operation is RS_ILLEGAL_OPERATION",
          "status %lu %lu", (uint64_t)err, 0);
}

/* Random PUT/GET over keys 1..NKEYS until kv was crashed often enough; then every key once more. */
static void crash_run(ipc_client_t *kv)
{
    uint64_t shadow[NKEYS + 1] = {0}; // 0: never PUT
    uint64_t rng = 0x2545F4914F6CDD1Dull, calls = 0, errors = 0, bad = 0, r = 0;
    while ((calls < MIN_CALLS || r < MIN_RESTARTS) && calls < MAX_CALLS) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        uint64_t key = 1 + (rng >> 8) % NKEYS, got = 0;
        int err;
        calls++;
        if (rng & 1) {
            // unique values: a PUT replayed after a later one would leave an older value behind
            uint64_t value = calls << 8 | key;
            if ((err = put(kv, key, value)) == RS_OK) shadow[key] = value;
        } else {
            err = get(kv, key, &got);
            bool right = shadow[key] ? err == RS_OK && got == shadow[key] : err == RS_NOT_FOUND;
            if (!right && bad++ < 5)
                rt_printf("kvtest: call %lu: GET %lu = %lx (%s), last PUT %lx\n", calls, key, got,
                          rs_error_name(err), shadow[key]);
            err = RS_OK; // judged above: RS_NOT_FOUND is the right answer for a key never PUT
        }
        if (err != RS_OK && errors++ < 5)
            rt_printf("kvtest: call %lu: PUT: %s\n", calls, rs_error_name(err));
        if (calls % 64 == 0) registry_restarts("kv", &r, NULL);
    }
    registry_restarts("kv", &r, NULL);
    rt_printf("kvtest: %lu calls, %u retried after a crash, %lu restarts of kv\n", calls,
              kv->retries, r);
    check(calls >= MIN_CALLS, "KV-0005", "at least 500 PUT/GET calls made", "%lu calls %lu", calls,
          0);
    check(r >= MIN_RESTARTS, "KV-0006", "kv was crashed and restarted at least 15 times",
          "%lu restarts %lu", r, 0);
    check(errors == 0, "KV-0007", "every PUT succeeded (no error reached the client)",
          "%lu errors %lu", errors, 0);
    check(bad == 0, "KV-0008",
          "every GET returned the value of the last PUT (or RS_NOT_FOUND before any)",
          "%lu wrong values %lu", bad, 0);
    uint64_t wrong = 0;
    for (uint64_t key = 1; key <= NKEYS; key++) {
        uint64_t got = 0;
        int err = get(kv, key, &got);
        wrong += shadow[key] ? err != RS_OK || got != shadow[key] : err != RS_NOT_FOUND;
    }
    check(wrong == 0, "KV-0009", "after the crashes every key holds its last PUT",
          "%lu keys wrong %lu", wrong, 0);
}

/* Fills the table with new keys: the first key past KV_ENTRIES is refused, old keys still change.
 */
static void full_table(ipc_client_t *kv)
{
    int err = RS_OK;
    uint64_t key = 1000, got = 0;
    for (; err == RS_OK && key < 1000 + KV_ENTRIES + 1; key++) err = put(kv, key, key);
    check(err == RS_NOT_ENOUGH_MEMORY, "KV-0010",
          "a PUT of a new key into a full table is RS_NOT_ENOUGH_MEMORY", "status %lu at key %lu",
          (uint64_t)err, key - 1);
    err = put(kv, 1, 0xAB);
    if (err == RS_OK) err = get(kv, 1, &got);
    check(err == RS_OK && got == 0xAB, "KV-0011", "a PUT of a present key succeeds in a full table",
          "status %lu value %lx", (uint64_t)err, got);
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    ipc_client_t kv;
    ipc_client_init(&kv, IPC_SLOT_CLIENT0, "kv", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    // ids must never repeat for this badge, even across our own restarts: kv's dedup table
    // would answer a reused id with the old reply
    kv.next_id = me->instance << 32 | 1;
    check_plan(11); /* KV-0001..0011 */
    rejections(&kv);
    crash_run(&kv);
    full_table(&kv);
    check_done();
    rs_shutdown(IPC_SLOT_SHUTDOWN);
    return 0;
}
