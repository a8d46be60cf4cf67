// SPDX-License-Identifier: MIT
// bench/vmexit: the cost of one I/O exit, guest -> kernel -> VMM -> kernel -> guest, measured by
// the guest itself (guest.S) under QEMU -icount shift=0. This program plays two parts, by its
// name in the manifest:
//   vmexit-bare   a VMM that does nothing but answer (the kernel's and IPC's share of the cost):
//                 it collects the guest's deltas and prints them as `bench:` lines;
//   vmexit-watch  waits until the guest of the VMM it has a cap to (bare, or servers/vmm, which
//                 prints the deltas as "[vmexit] mmio: 0x..." lines that tools/bench.sh turns
//                 into figures) has stopped, then ends the run.
#include "ipc.h"
#include "process.h"
#include "proto/vmm.h"
#include "vcpu.h"
#include <resurgo/vcpu.h>

#define ROUNDS     1200 /* guest.S */
#define WARMUP     200
#define INFO_PRINT 0xFED00008ull
#define MOV_MOFFS  5 /* guest.S reports with A3 imm32 */

static uint64_t samples[ROUNDS];

static void sort_u64(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++) // insertion sort: n is small and this runs once
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
}

/* The bare VMM: OUT -> skip it; the report -> keep the value and skip it; HLT -> done. Answers
 * VMM_STATS (stopped once the guest is done) so that the watcher knows. */
static _Noreturn void bare_vmm(void)
{
    unsigned n = 0;
    bool done = false;
    ps_vcpu_set_exit_words(IPC_SLOT_VCPU, RS_EXIT_SHORT_ALL); // OUT: 8 words (exit ABI 2)
    rs_result_t r = rs_recv(IPC_SLOT_SERVICE);
    for (;;) {
        if (r.badge != IPC_BADGE_VCPU_EXIT || rs_msginfo_label(r.info) != RS_FAULT_VCPU_EXIT) {
            if (rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL || r.error) { // init's ticks
                r = rs_recv(IPC_SLOT_SERVICE);
                continue;
            }
            uint64_t id = rs_mr_get(0);
            rs_mr_set(0, id);
            rs_mr_set(3, done);
            r = rs_reply_recv(IPC_SLOT_SERVICE, rs_msginfo(RS_OK, 0, 0, VMM_STATS_WORDS));
            continue;
        }
        uint64_t reason = rs_mr_get(RS_EXIT_MR_REASON), label = 0;
        rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_ADVANCE_RIP);
        unsigned len = 1;
        if (reason == RS_EXIT_GUEST_FAULT && rs_mr_get(RS_EXIT_MR_GPA) == INFO_PRINT) {
            if (n < ROUNDS) samples[n++] = (uint32_t)rs_mr_get(RS_EXIT_MR_RAX);
            rs_mr_set(RS_REPLY_MR_FLAGS, RS_REPLY_SET_RIP);
            rs_mr_set(RS_REPLY_MR_RIP, rs_mr_get(RS_EXIT_MR_RIP) + MOV_MOFFS);
            len = RS_REPLY_MR_RIP + 1;
        } else if (reason != RS_EXIT_IO) { // HLT, or anything unexpected: the guest is done
            sort_u64(samples + WARMUP, n > WARMUP ? n - WARMUP : 0);
            unsigned k = n > WARMUP ? n - WARMUP : 0;
            if (k)
                rt_printf("bench: vmexit round trip, bare VMM     min %5lu  median %5lu  max %7lu  "
                          "(n=%u)\n",
                          samples[WARMUP], samples[WARMUP + k / 2], samples[n - 1], k);
            else rt_printf("bench: FAILED bare VMM: exit %lu before any sample\n", reason);
            done = true;
            label = 1; // leave the guest stopped
        }
        r = rs_reply_recv(IPC_SLOT_SERVICE, rs_msginfo(label, 0, 0, len));
    }
}

static bool stopped(ipc_client_t *c)
{
    ipc_msg_t req = {.label = VMM_STATS, .len = 1}, reply;
    return ipc_call(c, &req, &reply, IPC_RETRY_SAFE) == RS_OK && reply.len > 3 && reply.w[3];
}

static void watch(const ipc_control_t *me)
{
    ipc_client_t vmm;
    ipc_client_init(&vmm, IPC_SLOT_CLIENT0, NULL, 0, 0);
    while (!stopped(&vmm))
        for (int i = 0; i < 1000; i++) rs_yield();
    rt_printf("bench: done\n");
    ipc_shutdown(me);
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    if (!strcmp(me->name, "vmexit-bare")) bare_vmm();
    watch(me);
    return 0;
}
