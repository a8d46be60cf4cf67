// SPDX-License-Identifier: MIT
// system-fs-damaged's client: blk's disk has its group descriptors zeroed (mkdamaged.sh), which
// every mount rejects with EUCLEAN. fs must then stay up and answer every request with EUCLEAN
// (servers/fs/main.c, damaged mode) instead of being restarted per failed mount: every
// operation is answered so, still after some 15 pings of fs's watchdog (each a mount tried
// again), and init restarted fs at most twice. damaged.py checks the log and the disk after it.
#include "ipc.h"
#include "check.h"
#include "proto/fs.h"
#include "proto/registry.h"

#define EUCLEAN      (-117)
#define WAIT_MS      3000u /* fs's watchdog pings every 200 ms (manifest-damaged.txt) */
#define MAX_RESTARTS 2u    /* a restart on a loaded host is no loop; a loop is hundreds */

static ipc_client_t fs;
static int64_t last_err, last_w1; /* the last call's status and w[1] */

/* The request of operation op with a plausible argument (a path, an inode, a range), and
 * whether the reply is the damaged disk's: RS_ILLEGAL_OPERATION with EUCLEAN in w[1]. */
static bool euclean(uint64_t op)
{
    static const char path[] = "/hello.txt/hello.txt"; // a rename's from and to: the same name
    const unsigned plen = (sizeof path - 1) / 2;
    ipc_msg_t req = {.label = op, .len = 5, .w = {0, 12, 0, 16, 0}}, reply = {0};
    if (op == FS_LOOKUP || (op >= FS_CREATE && op <= FS_RENAME)) {
        bool two = op == FS_CREATE || op == FS_MKDIR || op == FS_RENAME; // words before the path
        unsigned len = op == FS_RENAME ? 2 * plen : plen;
        req.w[1] = op == FS_CREATE || op == FS_MKDIR ? 0100644 : plen; // the mode, or a length
        req.w[2] = plen;                                               // (a rename's to length)
        for (unsigned i = 0; i < (len + 7) / 8; i++) req.w[2 + two + i] = 0;
        for (unsigned i = 0; i < len; i++)
            req.w[2 + two + i / 8] |= (rs_word_t)(uint8_t)path[i] << (8 * (i % 8));
        req.len = 2 + two + (len + 7) / 8;
    }
    int err = ipc_call(&fs, &req, &reply, IPC_RETRY_SAFE);
    last_err = err, last_w1 = reply.len > 1 ? (int64_t)reply.w[1] : 0;
    bool ok = err == RS_ILLEGAL_OPERATION && reply.len >= 2 && last_w1 == EUCLEAN;
    if (!ok) rt_printf("fsdamaged: op %lu: %s (w1 %ld)\n", op, rs_error_name(err), last_w1);
    return ok;
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    ipc_client_init(&fs, IPC_SLOT_CLIENT0, "fs", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    fs.next_id = me->instance << 32 | 1;
    check_plan(4);

    bool first = euclean(FS_LOOKUP); // before the check reads last_err and last_w1
    check(first, "FSD-0001",
          "a lookup on the damaged disk is answered EUCLEAN (-117), not left waiting",
          "status %lu, w1 %ld", (uint64_t)last_err, (uint64_t)last_w1);

    unsigned bad = 0;
    for (uint64_t op = FS_LOOKUP; op <= FS_WRITE_WIN; op++) bad += !euclean(op);
    check(bad == 0, "FSD-0002", "each of the 14 operations is answered EUCLEAN", "%lu of %lu not",
          bad, FS_WRITE_WIN);

    // a lookup every 100 ms while fs's watchdog pings it and it tries the mount again
    uint64_t rate = me->tsc_per_ms ? me->tsc_per_ms : 1000000, from = rt_rdtsc(), calls = 0;
    bad = 0;
    while (rt_rdtsc() - from < WAIT_MS * rate) {
        bad += !euclean(FS_LOOKUP), calls++;
        for (uint64_t t = rt_rdtsc(); rt_rdtsc() - t < 100 * rate;) __asm__ volatile("pause");
    }
    check(bad == 0 && calls >= 10, "FSD-0003",
          "for 3 s of fs's watchdog pings (a mount tried at each) every lookup is still EUCLEAN",
          "%lu of %lu not", bad, calls);

    uint64_t restarts = ~0ull, by_watchdog = ~0ull;
    int err = registry_restarts("fs", &restarts, &by_watchdog);
    rt_printf("fsdamaged: fs restarted %lu times (%lu by its watchdog), %u calls retried\n",
              restarts, by_watchdog, fs.retries);
    check(err == RS_OK && restarts <= MAX_RESTARTS, "FSD-0004",
          "fs was restarted at most twice, not once per failed mount", "%lu restarts, status %lu",
          restarts, (uint64_t)err);
    check_done();
    ipc_shutdown(me);
}
