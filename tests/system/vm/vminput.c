// SPDX-License-Identifier: MIT
// VMM_INPUT system test client (system-vm-input): types INPUT_LINES numbered lines into the echo
// guest (vm1) through its VMM's VMM_INPUT request while init crashes that VMM again and again.
// The guest answers each line with "echo: N: <line>" (guests/echo); the harness expects line N
// to carry number N, so a line lost or queued twice across a restart shows. The checks here:
// the rejections of bad requests, and that every byte was accepted and taken by the UART.
// There is no timer here: a wait is a round of yields.
#include "check.h"
#include "ipc.h"
#include "proto/vmm.h"

#define INPUT_LINES 30
#define POLL_YIELDS 2000

static ipc_client_t vm;

/* VMM_INPUT with `count` in w[1] and the n bytes b packed into `words` words after it. */
static int input(uint64_t count, const char *b, unsigned n, unsigned words, uint64_t *accepted,
                 uint64_t *queued)
{
    ipc_msg_t req = {.label = VMM_INPUT, .len = 2 + words}, reply = {0};
    req.w[1] = count;
    for (unsigned i = 0; i < n && i / 8 < words; i++)
        req.w[2 + i / 8] |= (uint64_t)(uint8_t)b[i] << (8 * (i % 8));
    int err = ipc_call(&vm, &req, &reply, IPC_RETRY_SAFE);
    *accepted = reply.len >= 2 ? reply.w[1] : 0;
    *queued = reply.len >= 3 ? reply.w[2] : 0;
    return err;
}

static void pause_a_little(void)
{
    for (int i = 0; i < POLL_YIELDS; i++) rs_yield();
}

int main(void *arg)
{
    ipc_client_init(&vm, IPC_SLOT_CLIENT0, "vm1", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    check_plan(4);
    uint64_t accepted, queued;
    int err = input(VMM_INPUT_MAX + 1, "", 0, 9, &accepted, &queued);
    check(err == RS_RANGE_ERROR, "VMIN-0001", "VMM_INPUT of 65 bytes: RS_RANGE_ERROR", "error %lu",
          (uint64_t)err, 0);
    err = input(20, "too short", 9, 1, &accepted, &queued);
    check(err == RS_TRUNCATED_MESSAGE, "VMIN-0002",
          "VMM_INPUT of 20 bytes in one word: RS_TRUNCATED_MESSAGE", "error %lu", (uint64_t)err, 0);

    uint64_t sent = 0, total = 0, errors = 0;
    char line[32];
    for (unsigned k = 1; k <= INPUT_LINES; k++) {
        int n = rt_snprintf(line, sizeof(line), "client line %u\r", k);
        total += (uint64_t)n;
        for (unsigned done = 0; done < (unsigned)n;) {
            unsigned chunk = (unsigned)n - done;
            if (input(chunk, line + done, chunk, (chunk + 7) / 8, &accepted, &queued) ||
                accepted > chunk) {
                errors++;
                break;
            }
            done += (unsigned)accepted;
            sent += accepted;
            if (done < (unsigned)n) pause_a_little(); // the queue is full: the guest reads on
        }
    }
    check(!errors && sent == total, "VMIN-0003",
          "every byte of 30 lines accepted across VMM restarts", "%lu errors, %lu bytes accepted",
          errors, sent);
    for (unsigned round = 0; !errors && round < 100000; round++) {
        if (input(0, "", 0, 0, &accepted, &queued)) errors++;
        if (!queued) break;
        pause_a_little();
    }
    check(!errors && !queued, "VMIN-0004", "the guest's UART took every queued byte",
          "%lu bytes still queued, %lu errors", queued, errors);
    pause_a_little(); // the guest prints its last line
    pause_a_little();
    check_done();
    ipc_shutdown(arg);
    return 0;
}
