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
//             striking idle, before the VMM's commit or before its reply;
//   vmfair    the hello guest (vm1) keeps at least 40 % of its timer interrupt rate once the spin
//             guest (vm2, same priority) spins with interrupts off: a rate is interrupts per tick
//             of the guest's own time (init's ticks), never wall-clock time.
//   vmdeliver the hostile guest (vm2) ends in an exception whose delivery faults outside RAM:
//             its VMM stops it (no exit loop) while the hello guest (vm1) keeps ticking.
// There is no timer here: a wait is a poll between rounds of yields; the harness's time-out
// ends a wait that never succeeds.
#include "check.h"
#include "ipc.h"
#include "proto/registry.h"
#include "proto/vmm.h"
#include <resurgo/vcpu.h>

#define HELLO_TICKS     200 /* 20 "tick" lines of the hello guest */
#define AFTER_TICKS     150 /* interrupts a guest must still get after the event under test */
#define POLL_YIELDS     2000
#define STRESS_RESTARTS 20 /* vmstress: restarts of the VMM to wait for */

struct vm {
    const char *name;
    ipc_client_t client;
    uint64_t irqs, exits, stopped, reason, instance, redelivered, now;
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
    v->now = reply.w[7];
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
    for (int i = 0; i < POLL_YIELDS; i++) rs_yield();
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
    check_plan(4); /* VM-0001..0004 */
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
    check_plan(4); /* VM-0011..0014 */
    while (!stats(&hostile) && !hostile.stopped) pause_a_little();
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

/* Issue 16 item 11: a guest fault during event delivery used to be emulated as the access of the
 * instruction at RIP; the kernel delivered the event again, which faulted again, for ever. */
static void delivery_fault_next_to_hello(void)
{
    check_plan(4); /* VM-0031..0034 */
    struct vm hello, bad;
    vm_init(&hello, "vm1", 0);
    vm_init(&bad, "vm2", 1);
    while (!stats(&bad) && !bad.stopped) pause_a_little();
    check(bad.stopped && bad.reason == RS_EXIT_GUEST_FAULT, "VM-0031",
          "a guest whose exception delivery faults outside RAM is stopped by its VMM",
          "stopped %lu reason %lu", bad.stopped, bad.reason);
    uint64_t exits = bad.exits;
    bool ok = !stats(&hello);
    uint64_t before = hello.irqs;
    ok = ok && wait_irqs(&hello, (before > HELLO_TICKS ? before : HELLO_TICKS) + AFTER_TICKS);
    check(ok && !hello.stopped, "VM-0032", "the hello guest next to it keeps ticking",
          "interrupts %lu, then %lu", before, hello.irqs);
    check(!stats(&bad) && bad.exits == exits, "VM-0033",
          "no exit comes after the stop: neither the VMM nor the kernel loops on it",
          "exits %lu, then %lu", exits, bad.exits);
    check(restarts("vm1") == 0 && restarts("vm2") == 0, "VM-0034",
          "neither VMM crashed (no restarts)", "vm1 %lu, vm2 %lu", restarts("vm1"),
          restarts("vm2"));
}

static void vmm_killed(unsigned expected_restarts)
{
    struct vm v;
    vm_init(&v, "vm1", 0);
    check_plan(3); /* VM-0021..0023 */
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
    rt_printf(
        "vmcheck: %lu restarts; %lu exits came back after a crash and got their recorded reply\n",
        v.instance - 1, v.redelivered);
    check(ok && !v.stopped && v.instance > expected_restarts, "VM-0023",
          "the same guest keeps ticking under the last VMM instance",
          "interrupts %lu, instance %lu", v.irqs, v.instance);
}

/* ---- vmfair. The checker runs at the guests' priority (a lower one would never run once the
 * spin guest spins); its polls are Calls to the VMM and one yield, so it takes little time. */
#define FAIR_QUIET_IRQS  400 /* the spin guest's quiet phase (guests/spin/entry.S) */
#define FAIR_BOOTED_IRQS 20  /* the hello guest has booted and ticks */
#define FAIR_WINDOW      300 /* ticks of guest time (3 s) each rate is measured over */

/* Polls until v's count *field reaches want (or the guest stops); false on an IPC error. */
static bool fair_wait(struct vm *v, const uint64_t *field, uint64_t want)
{
    for (;;) {
        if (stats(v)) return false;
        if (*field >= want || v->stopped) return *field >= want;
        rs_yield();
    }
}

/* The hello guest's interrupts per 1000 ticks of its time, from now until FAIR_WINDOW later or
 * until `until` (the spin guest) has had `until_irqs` interrupts, whichever comes first. */
static bool fair_rate(struct vm *hello, struct vm *until, uint64_t until_irqs, uint64_t *rate)
{
    if (stats(hello)) return false;
    uint64_t irqs0 = hello->irqs, now0 = hello->now;
    for (;;) {
        if (stats(hello) || (until && stats(until))) return false;
        if (hello->now >= now0 + FAIR_WINDOW || (until && until->irqs >= until_irqs)) break;
        rs_yield();
    }
    if (hello->now <= now0) return false;
    *rate = (hello->irqs - irqs0) * 1000 / (hello->now - now0);
    rt_printf("vmcheck: hello guest: %lu timer interrupts in %lu ticks\n", hello->irqs - irqs0,
              hello->now - now0);
    return true;
}

static void fair_share(void)
{
    check_plan(3); /* VM-0041..0043 */
    struct vm hello, spin;
    vm_init(&hello, "vm1", 0);
    vm_init(&spin, "vm2", 1);
    uint64_t alone = 0, spinning = 0;
    // alone: the spin guest still halts between its timer interrupts
    bool ok = fair_wait(&hello, &hello.irqs, FAIR_BOOTED_IRQS) && !stats(&spin) &&
              spin.irqs + 50 < FAIR_QUIET_IRQS &&
              fair_rate(&hello, &spin, FAIR_QUIET_IRQS - 10, &alone);
    check(ok && alone > 0, "VM-0041", "the hello guest ticks beside the quiet spin guest",
          "%lu per 1000 ticks (spin guest at %lu interrupts)", alone, spin.irqs);
    // then the spin guest runs with interrupts off and never exits
    ok = ok && fair_wait(&spin, &spin.irqs, FAIR_QUIET_IRQS) &&
         fair_rate(&hello, NULL, 0, &spinning);
    rt_printf("vmcheck: hello guest's timer interrupts per 1000 ticks: %lu beside the quiet guest, "
              "%lu beside the spinning one (%lu %%)\n",
              alone, spinning, alone ? spinning * 100 / alone : 0);
    check(ok && spinning * 10 >= alone * 4, "VM-0042",
          "beside a guest of the same priority spinning with interrupts off, the hello guest keeps "
          "at least 40 % of its timer interrupt rate",
          "%lu against %lu per 1000 ticks", spinning, alone);
    check(!stats(&spin) && !spin.stopped && !stats(&hello) && !hello.stopped, "VM-0043",
          "neither guest was stopped", "%lu %lu", hello.stopped, spin.stopped);
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    if (!strcmp(me->name, "vmhostile")) hostile_next_to_hello();
    else if (!strcmp(me->name, "vmkill")) vmm_killed(2);
    else if (!strcmp(me->name, "vmstress")) vmm_killed(STRESS_RESTARTS);
    else if (!strcmp(me->name, "vmfair")) fair_share();
    else if (!strcmp(me->name, "vmdeliver")) delivery_fault_next_to_hello();
    else two_guests();
    check_done();
    ipc_shutdown(me);
    return 0;
}
