// SPDX-License-Identifier: MIT
// VM system test client: asks the VMMs for their counts (proto/vmm.h) and init for their
// restarts while the guests run, and prints [test] lines. What it checks depends on its name in
// the manifest (one program, four scenarios):
//   vmtwo     two hello guests (vm1, vm2) both tick, no VMM is ever restarted, and the host's
//             GDTR / IDTR limits are still the kernel's after their exits;
//   vmhostile the hostile guest (vm2) ends in a triple fault its VMM reports, while the hello
//             guest (vm1) keeps ticking and neither VMM is restarted;
//   vmkill    init kills and crashes vm1's VMM (manifest inject); each new instance continues
//             the guest: the counts never go back, and the guest keeps ticking after the last;
//   vmstress  the same through 20 restarts after random faults (kill, null, wild, hang), each
//             striking idle, before the VMM's commit or before its reply.
// There is no timer here: a wait is a poll between rounds of yields; the harness's time-out
// ends a wait that never succeeds.
#include "check.h"
#include "ipc.h"
#include "proto/registry.h"
#include "proto/vmm.h"
#include <resurgo/vcpu.h>

#define HELLO_TICKS 200 /* 20 "tick" lines of the hello guest */
#define AFTER_TICKS 150 /* interrupts a guest must still get after the event under test */
#define POLL_YIELDS 2000
#define STRESS_RESTARTS 20 /* vmstress: restarts of the VMM to wait for */

struct vm {
    const char *name;
    ipc_client_t client;
    uint64_t irqs, exits, stopped, reason, instance, redelivered;
};

static void vm_init(struct vm *v, const char *name, unsigned slot_index)
{
    *v = (struct vm){.name = name};
    ipc_client_init(&v->client, IPC_SLOT_CLIENT0 + slot_index, name, IPC_SLOT_REGISTRY,
                    IPC_SLOT_RECV);
}

/* Refreshes v's counts; retried across a VMM restart (the request changes nothing). */
static int stats(struct vm *v)
{
    ipc_msg_t req = {.label = VMM_STATS, .len = 1}, reply;
    int err = ipc_call(&v->client, &req, &reply, IPC_RETRY_SAFE);
    if (err || reply.len < VMM_STATS_WORDS) return err ? err : RS_TRUNCATED_MESSAGE;
    v->irqs = reply.w[1], v->exits = reply.w[2], v->stopped = reply.w[3], v->reason = reply.w[4];
    v->instance = reply.w[5];
    v->redelivered = reply.w[6];
    return RS_OK;
}

/* How often init restarted `name` (~0 if the registry cannot say). */
static uint64_t restarts(const char *name)
{
    uint64_t n = 0;
    return registry_restarts(name, &n, NULL) ? ~0ull : n;
}

static void pause_a_little(void)
{
    for (int i = 0; i < POLL_YIELDS; i++)
        rs_yield();
}

/* Polls until v has had `irqs` timer interrupts (or stopped); false on an IPC error. */
static bool wait_irqs(struct vm *v, uint64_t irqs)
{
    for (;;) {
        if (stats(v)) return false;
        if (v->irqs >= irqs || v->stopped) return v->irqs >= irqs;
        pause_a_little();
    }
}

/* The host's descriptor-table limits as a user thread sees them (SGDT and SIDT work at CPL 3
 * without CR4.UMIP). A VT-x exit sets both limits to 0xFFFF (SDM 27.5.2); the kernel must put
 * its own back after each exit, or any thread could load selectors from whatever follows its
 * GDT. Its GDT is whole 8-byte descriptors, its IDT 256 16-byte gates. */
static void descriptor_limits(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } gdtr, idtr;
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(gdtr), "=m"(idtr));
    check(gdtr.limit != 0xFFFF && (gdtr.limit + 1) % 8 == 0 && idtr.limit == 256 * 16 - 1,
          "VM-0004", "after the guests' exits the host's GDTR and IDTR limits are the kernel's",
          "GDTR limit 0x%lx, IDTR limit 0x%lx", gdtr.limit, idtr.limit);
}

static void two_guests(void)
{
    struct vm a, b;
    vm_init(&a, "vm1", 0);
    vm_init(&b, "vm2", 1);
    bool ok = wait_irqs(&a, HELLO_TICKS) && wait_irqs(&b, HELLO_TICKS);
    check(ok, "VM-0001", "two hello guests each got 200 timer interrupts from their own VMM",
          "vm1 %lu, vm2 %lu", a.irqs, b.irqs);
    check(!a.stopped && !b.stopped, "VM-0002", "neither guest was stopped", "%lu %lu", a.stopped,
          b.stopped);
    check(restarts("vm1") == 0 && restarts("vm2") == 0 && a.instance == 1 && b.instance == 1,
          "VM-0003", "no VMM was restarted", "instances %lu %lu", a.instance, b.instance);
    descriptor_limits();
}

static void hostile_next_to_hello(void)
{
    struct vm hello, hostile;
    vm_init(&hello, "vm1", 0);
    vm_init(&hostile, "vm2", 1);
    while (!stats(&hostile) && !hostile.stopped)
        pause_a_little();
    check(hostile.stopped && hostile.reason == RS_EXIT_TRIPLE_FAULT, "VM-0011",
          "the hostile guest ends in a triple fault and its VMM stops it", "stopped %lu reason %lu",
          hostile.stopped, hostile.reason);
    bool ok = !stats(&hello);
    uint64_t before = hello.irqs;
    ok = ok && wait_irqs(&hello, (before > HELLO_TICKS ? before : HELLO_TICKS) + AFTER_TICKS);
    check(ok && !hello.stopped, "VM-0012", "the hello guest next to it keeps ticking",
          "interrupts %lu, then %lu", before, hello.irqs);
    check(restarts("vm1") == 0 && restarts("vm2") == 0, "VM-0013",
          "neither VMM crashed (no restarts)", "vm1 %lu, vm2 %lu", restarts("vm1"),
          restarts("vm2"));
    check(!stats(&hostile) && hostile.exits > 1000, "VM-0014",
          "the hostile guest's VMM answered its exits and still answers requests", "exits %lu %lu",
          hostile.exits, 0);
}

static void vmm_killed(unsigned expected_restarts)
{
    struct vm v;
    vm_init(&v, "vm1", 0);
    uint64_t irqs = 0, exits = 0, back = 0, instance = 0, polls = 0;
    while (restarts("vm1") < expected_restarts) { // every poll: the counts never go back
        if (stats(&v)) break;
        if (v.irqs < irqs || v.exits < exits) back++;
        irqs = v.irqs, exits = v.exits, instance = v.instance, polls++;
        pause_a_little();
    }
    check(restarts("vm1") >= expected_restarts && instance >= 1, "VM-0021",
          "init restarted the VMM after each injected fault", "restarts %lu, instance %lu",
          restarts("vm1"), instance);
    check(back == 0 && polls > 0, "VM-0022",
          "the restarted VMMs continued the guest's counts (interrupts, exits) without going back",
          "%lu polls saw a count go back (of %lu)", back, polls);
    bool ok = !stats(&v);
    uint64_t at_restart = v.irqs;
    ok = ok && wait_irqs(&v, at_restart + AFTER_TICKS);
    rt_printf("vmcheck: %lu restarts; %lu exits came back after a crash and got their recorded reply\n",
              v.instance - 1, v.redelivered);
    check(ok && !v.stopped && v.instance > expected_restarts, "VM-0023",
          "the same guest keeps ticking under the last VMM instance",
          "interrupts %lu, instance %lu", v.irqs, v.instance);
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    if (!strcmp(me->name, "vmhostile"))
        hostile_next_to_hello();
    else if (!strcmp(me->name, "vmkill"))
        vmm_killed(2);
    else if (!strcmp(me->name, "vmstress"))
        vmm_killed(STRESS_RESTARTS);
    else
        two_guests();
    check_done();
    rs_debug_shutdown();
    return 0;
}
