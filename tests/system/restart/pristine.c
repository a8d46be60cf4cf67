// SPDX-License-Identifier: MIT
// Pristine restarts: a restarted server's writable memory must be what its ELF image says, however
// the instance was made (a standby built before the crash, or built on the restart's path).
// Run as "pristine" it is the server: globals in .data and .bss that every BUMP changes; run as
// "pristinetest" it is the client that bumps them, crashes the server and reads them back.
#include "ipc.h"
#include "proto/registry.h"
#include "check.h"

enum { PRISTINE_GET = 1, PRISTINE_BUMP = 2 };

#define DATA_INIT 0x5EED1ul
#define BIG_WORDS 1024 /* 8 KiB of .data: two pages of the image's writable segment */

static volatile uint64_t data_word = DATA_INIT;
static volatile uint64_t bss_word;
static volatile uint64_t big[BIG_WORDS] = {1};

static int handle(void *ctx, rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    const ipc_control_t *me = ctx;
    (void)client;
    if (req->label == PRISTINE_BUMP) data_word++, bss_word++, big[BIG_WORDS - 1]++, big[0]++;
    else if (req->label != PRISTINE_GET) return RS_ILLEGAL_OPERATION;
    reply->w[1] = data_word;
    reply->w[2] = bss_word;
    reply->w[3] = big[0];
    reply->w[4] = big[BIG_WORDS - 1];
    reply->w[5] = me->instance;
    reply->len = 6;
    return RS_OK;
}

static _Noreturn void serve(void)
{
    static ipc_server_t server;
    ipc_server_init(&server, handle, NULL);
    server.ctx = server.control;
    ipc_serve(&server);
}

/* The server's globals and instance as it reports them. */
struct view {
    uint64_t data, bss, big0, big_last, instance;
};

static int get(ipc_client_t *c, unsigned op, struct view *v)
{
    ipc_msg_t req = {.label = op, .len = 1}, reply = {0};
    // not IPC_RETRY_SAFE for BUMP: a bump lost in a crash must not be repeated on a new instance
    int err = ipc_call(c, &req, &reply, op == PRISTINE_GET ? IPC_RETRY_SAFE : 0);
    *v = (struct view){reply.w[1], reply.w[2], reply.w[3], reply.w[4], reply.w[5]};
    return err ? err : reply.len == 6 ? RS_OK : RS_INVALID_ARGUMENT;
}

static bool is_pristine(const struct view *v)
{
    return v->data == DATA_INIT && v->bss == 0 && v->big0 == 1 && v->big_last == 0;
}

static void spin_ms(const ipc_control_t *me, uint64_t ms)
{
    uint64_t from = rt_rdtsc();
    while (rt_rdtsc() - from < ms * me->tsc_per_ms) __asm__ volatile("pause");
}

/* Bumps the server's globals three times, waits `idle_ms` (long enough for init to make a standby
 * instance at a tick, or 0: none is made), crashes it with `kind`, and reads them back. */
static void round_(ipc_client_t *c, const ipc_control_t *me, const char *id_bumped,
                   const char *id_fresh, unsigned kind, uint64_t idle_ms, const char *what)
{
    struct view before, v = {0};
    int err = get(c, PRISTINE_GET, &before);
    for (unsigned i = 0; i < 3 && !err; i++) err = get(c, PRISTINE_BUMP, &v);
    check(!err && v.data == before.data + 3 && v.bss == before.bss + 3 &&
              v.big_last == before.big_last + 3,
          id_bumped, "the running instance's globals (.data, .bss) took three bumps",
          "status %lu, .bss %lu", (uint64_t)err, v.bss);
    spin_ms(me, idle_ms);
    if (!err) err = registry_inject("pristine", kind);
    // a null dereference strikes at once or in the next request (before or after its commit: a
    // reply committed by the old instance is answered from the dedup table, so ask again)
    for (unsigned i = 0; i < 50 && !err && (i == 0 || v.instance == before.instance); i++)
        err = get(c, PRISTINE_GET, &v);
    rt_printf("pristinetest: %s: instance %lu -> %lu, .data %lx .bss %lu big %lu/%lu\n", what,
              before.instance, v.instance, v.data, v.bss, v.big0, v.big_last);
    check(!err && v.instance > before.instance && is_pristine(&v), id_fresh, what,
          "status %lu, .bss %lu", (uint64_t)err, v.bss);
}

static void client(const ipc_control_t *me)
{
    check_plan(11); /* RSP-0001..0011 */
    ipc_client_t c;
    ipc_client_init(&c, IPC_SLOT_CLIENT0, "pristine", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    struct view v = {0};
    int err = get(&c, PRISTINE_GET, &v);
    check(!err && is_pristine(&v) && v.instance == 1, "RSP-0001",
          "the first instance starts with its image's .data and a zero .bss",
          "status %lu, instance %lu", (uint64_t)err, v.instance);
    // 40 ms: four of init's ticks; two empty the dead instance's pool, the next makes the standby
    round_(&c, me, "RSP-0002", "RSP-0003", IPC_INJECT_KILL, 40,
           "killed with a standby ready: the new instance's globals are pristine");
    round_(&c, me, "RSP-0004", "RSP-0005", IPC_INJECT_NULL, 40,
           "null dereference with a standby ready: the new instance's globals are pristine");
    // 10 ms after that crash: init has emptied part of its dead instance's pool (a share a tick),
    // which this restart empties the rest of and builds in
    round_(&c, me, "RSP-0010", "RSP-0011", IPC_INJECT_KILL, 10,
           "killed while the last dead instance's pool is half emptied: the new instance's globals "
           "are pristine");
    round_(&c, me, "RSP-0006", "RSP-0007", IPC_INJECT_KILL, 0,
           "killed back to back (no standby): the new instance's globals are pristine");
    // crashes while the server is being restarted: each kill strikes an instance that has not
    // run yet, the last ones while init empties and rebuilds pools on the restart's path
    struct view before = v;
    get(&c, PRISTINE_GET, &before);
    for (unsigned i = 0; i < 10 && !err; i++) err = registry_inject("pristine", IPC_INJECT_KILL);
    if (!err) err = registry_inject("pristine", IPC_INJECT_NULL);
    uint64_t killed = before.instance + 10;
    for (unsigned i = 0; i < 50 && !err && (i == 0 || v.instance <= killed); i++)
        err = get(&c, PRISTINE_GET, &v);
    check(!err && v.instance > killed && is_pristine(&v), "RSP-0008",
          "after 10 kills and a null dereference in a row the server serves, pristine",
          "status %lu, instance %lu", (uint64_t)err, v.instance);
    // and a standby made after that storm is pristine too (both pools to empty first)
    spin_ms(me, 40);
    err = get(&c, PRISTINE_BUMP, &v);
    spin_ms(me, 30);
    if (!err) err = registry_inject("pristine", IPC_INJECT_KILL);
    if (!err) err = get(&c, PRISTINE_GET, &v);
    check(!err && is_pristine(&v), "RSP-0009", "a standby made after a crash storm starts pristine",
          "status %lu, .bss %lu", (uint64_t)err, v.bss);
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    if (!strcmp(me->name, "pristine")) serve();
    client(me);
    check_done();
    rs_shutdown(IPC_SLOT_SHUTDOWN);
    return 0;
}
