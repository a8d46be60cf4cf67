// SPDX-License-Identifier: MIT
// The supervisor: creates each server from its pristine ELF image with the same caps every time,
// destroys it when it faults, exits or hangs, and restarts it at once the first time, then with
// exponential backoff while it keeps crashing soon after starting (MINIX 3's reincarnation server
// policy), up to the manifest's restart limit.
#include "init.h"
#include "device.h"

#define CONTROL_VADDR_BASE 0x0000400000000000ul /* init's mappings of the control pages */
#define BACKOFF_MIN_MS     5
/* Running this long resets the backoff: a crash loop is faster than this; a VMM hung a second
 * after its last restart is restarted at once, its guest stalled by the detection alone. */
#define STABLE_MS          500
/* How long a tick may run before it stops emptying a pool, from its start (TSC time; under QEMU
 * -icount shift=0 a microsecond is 1,000 instructions): init runs above every guest, and emptying
 * a VMM's pool at once stalled its guest 173,000 instructions (docs/benchmarks.md, vmm-stall). */
#define SWEEP_BUDGET_US    100

static const char *const reason_names[] = {"none", "fault", "exit", "watchdog", "killed"};

struct server *supervisor_find(const char *name)
{
    int i = manifest_find(&init.manifest, name);
    return i < 0 ? NULL : &init.servers[i];
}

/* Objects that outlive every instance: service endpoint, ping notification, control page,
 * persistent frames. */
/* Size of an instance's memory pool: room for its image, stack, tables and objects, twice over so
 * that the process untyped (a power of two, aligned to its size) always fits. */
static unsigned pool_bits(const struct server *s)
{
    unsigned bits = 21;
    while ((1ull << bits) < 2 * (s->image->size + (1ull << 20))) bits++;
    return bits;
}

int supervisor_setup(struct server *s, unsigned index)
{
    ps_env_t *env = &init.root.env;
    bool vmm = manifest_is_vmm(s->m);
    int err;
    // a VM's images first: one that cannot load costs nothing
    if (vmm && (err = vm_check(s, index))) return err;
    // the scratch address through which images are copied gets its page tables from init's own
    // memory: made from a pool, they would be destroyed with it and their slots lost
    static bool scratch_ready;
    if (!scratch_ready && (err = ps_map_prepare(env, env->vspace, env->scratch_vaddr))) return err;
    scratch_ready = true;
    // text and read-only data: filled once from init's own memory, mapped read-only by every
    // instance (a restart neither zeroes nor copies them; no instance can change them)
    if ((err = ps_process_share_image(env, (const void *)s->image->vaddr, s->image->size,
                                      &s->shared)))
        return err;
    // two pools for every server, a VMM too: its standby holds copies of the VCPU and Timer caps
    // and maps the guest's RAM, but runs nothing until started (the VCPU's exits go to the
    // service endpoint, which only the running instance receives on)
    s->npools = 2;
    for (unsigned k = 0; k < s->npools; k++) {
        if ((err = ps_new_untyped(env, pool_bits(s), &s->pool_ut[k], &s->pool_storage[k],
                                  &s->pool[k])))
            return err;
        s->pool_env[k] = *env;
        s->pool_env[k].ut = &s->pool_ut[k];
    }
    s->cur = s->npools - 1; // the first instance goes into pool 0
    s->proc = &s->procs[0];
    // init signals through a badged copy: a badge-0 signal sets no bit and is lost when the
    // server is busy at that moment
    if ((err = ps_new_object(env, RS_OBJ_ENDPOINT, 0, &s->ep)) ||
        (err = ps_new_object(env, RS_OBJ_NOTIFICATION, 0, &s->ping)))
        return err;
    s->ping_signal = ps_slot_alloc(env->slots);
    if ((err = ps_cnode_mint(RS_INIT_CNODE, s->ping_signal, 64, RS_INIT_CNODE, s->ping, 64,
                             RS_RIGHT_WRITE, IPC_BADGE_PING)))
        return err;
    uint64_t va = CONTROL_VADDR_BASE + index * 4096ul;
    if ((err = ps_map_new_frame(env, RS_INIT_VSPACE, va, RS_RIGHT_READ | RS_RIGHT_WRITE,
                                &s->control_frame)))
        return err;
    s->control = (ipc_control_t *)va;
    memcpy(s->control->name, s->m->name, sizeof(s->m->name));
    for (unsigned p = 0; p < s->m->persist_pages; p++)
        if ((err = ps_new_object(env, RS_OBJ_FRAME, 0, &s->persist[p]))) return err;
    s->control->persistent_vaddr = s->m->persist_pages ? IPC_PERSISTENT_VADDR : 0;
    s->control->persistent_size = s->m->persist_pages * 4096ul;
    s->control->tsc_per_ms = init.bi->tsc_per_ms;
    s->control->wallclock_unix = init.wallclock_unix;
    s->control->wallclock_tsc = init.wallclock_tsc;
    if ((err = kbd_setup(s))) return err;
    return vmm ? vm_setup(s, index) : RS_OK;
}

/* Gives instance p its caps and memory, in the fixed layout libipc expects (all but the ping
 * notification's binding: it can be bound to one thread only, so that waits for the start). */
static int give_caps(struct server *s, ps_process_t *p, unsigned index)
{
    int err;
    // the control page's words a server only reads, written again for each instance: a stray
    // write of the last one (a flipped control pointer; kv restarted 9,700 times finding its
    // persistent region gone) must not outlive it
    memcpy(s->control->name, s->m->name, sizeof(s->m->name));
    s->control->persistent_vaddr = s->m->persist_pages ? IPC_PERSISTENT_VADDR : 0;
    s->control->persistent_size = s->m->persist_pages * 4096ul;
    s->control->tsc_per_ms = init.bi->tsc_per_ms;
    if ((err = ps_process_give(p, IPC_SLOT_SERVICE, s->ep, RS_RIGHTS_ALL, 0)) ||
        (err = ps_process_give(p, IPC_SLOT_REGISTRY, init.ep, RS_RIGHT_WRITE | RS_RIGHT_GRANT,
                               INIT_BADGE_REGISTRY | index)) ||
        (err = ps_process_give(p, IPC_SLOT_PING, s->ping, RS_RIGHT_READ, 0)) ||
        (err = ps_process_share(p, s->control_frame, IPC_CONTROL_VADDR,
                                RS_RIGHT_READ | RS_RIGHT_WRITE)))
        return err;
    if (s->m->shutdown &&
        (err = ps_process_give(p, IPC_SLOT_SHUTDOWN, RS_INIT_SHUTDOWN, RS_RIGHTS_ALL, 0)))
        return err;
    for (unsigned c = 0; c < s->m->ncaps; c++) {
        struct server *t = supervisor_find(s->m->caps[c]);
        // a client's badge is its index + 1: the service tells its clients apart by it
        if ((err = ps_process_give(p, IPC_SLOT_CLIENT0 + c, t->ep, RS_RIGHT_WRITE | RS_RIGHT_GRANT,
                                   index + 1)))
            return err;
    }
    for (unsigned k = 0; k < s->m->persist_pages; k++)
        if ((err = ps_process_share(p, s->persist[k], IPC_PERSISTENT_VADDR + k * 4096ul,
                                    RS_RIGHT_READ | RS_RIGHT_WRITE)))
            return err;
    if ((err = device_give(s, p))) return err; // devices and channels (device.c)
    if ((err = kbd_give(s, p))) return err;
    return s->vm ? vm_give(s) : RS_OK;
}

/* Destroys the instance in pool k, if any, and empties the pool for the next one. */
static void empty_pool(struct server *s, unsigned k)
{
    if (s->state[k] == POOL_EMPTY) return;
    ps_process_destroy(&s->procs[k]);
    ps_cnode_revoke(RS_INIT_CNODE, s->pool[k], 64);
    ps_ut_reset(&s->pool_ut[k], s->pool[k]);
    s->state[k] = POOL_EMPTY;
    s->swept[k] = 0;
}

/* A bounded share of emptying pool k, whose instance does not run: deletes the caps in the
 * instance's slot block one at a time (each page table is cleared as its cap goes, some 2,000
 * instructions: most of an emptying) until the TSC passes `until`, at least one cap; once all
 * are gone, empty_pool does the rest (the process untyped's Revoke, cheap by then). Returns
 * true when the pool is empty. */
static bool sweep_pool(struct server *s, unsigned k, uint64_t until)
{
    ps_process_t *p = &s->procs[k];
    bool any = false;
    if (s->swept[k] < p->block) s->swept[k] = p->block;
    for (; s->swept[k] < p->block + p->block_len; s->swept[k]++) {
        rs_cptr_t c = s->swept[k];
        // the process untyped goes last: its Revoke takes what is left
        if (c == p->untyped || !ps_slot_used(&p->slots, c)) continue;
        if (any && rt_rdtsc() >= until) return false;
        // a cap that would not go stays marked: ps_process_destroy deletes it
        if (ps_cnode_delete(p->env.cnode, c, PS_DEPTH) == RS_OK) ps_slot_free(&p->slots, c);
        any = true;
    }
    if (any && rt_rdtsc() >= until) return false;
    empty_pool(s, k);
    return true;
}

/* Makes an instance from the pristine image in the empty pool k, with all its caps, not
 * started. */
static int build_instance(struct server *s, unsigned index, unsigned k)
{
    rs_cptr_t fault_ep = ps_slot_alloc(init.root.env.slots);
    int err = ps_cnode_mint(RS_INIT_CNODE, fault_ep, 64, RS_INIT_CNODE, init.ep, 64, RS_RIGHTS_ALL,
                            INIT_BADGE_FAULT | index);
    if (err) return err;
    ps_process_config_t cfg = {.elf = (const void *)s->image->vaddr,
                               .elf_size = s->image->size,
                               .entry = NULL,
                               .arg = IPC_CONTROL_VADDR,
                               .priority = (uint8_t)s->m->prio,
                               .mcp = (uint8_t)s->m->prio,
                               .fault_ep = fault_ep,
                               .name = s->m->name,
                               .shared = &s->shared,
                               .console = s->m->console ? RS_INIT_CONSOLE : 0,
                               .cnode_radix = 5,
                               .stack_pages = 8,
                               .extra_slots = 16 + s->m->persist_pages + vm_extra_slots(s) +
                                              device_extra_slots(s)};
    s->state[k] = POOL_STANDBY;
    s->proc = &s->procs[k]; // vm_give names the instance through s->proc
    err = ps_process_create(&s->procs[k], &s->pool_env[k], &cfg);
    ps_cnode_delete(RS_INIT_CNODE, fault_ep, 64); // the TCB holds its own copy
    ps_slot_free(init.root.env.slots, fault_ep);
    if (!err) err = give_caps(s, &s->procs[k], index);
    s->proc = &s->procs[s->cur];
    if (err) empty_pool(s, k);
    return err;
}

/* Pool for the next instance: the other one when there are two (the destroyed instance in the
 * current one is emptied later, off the restart's path), emptied now if it must be (all that is
 * left of it, when ticks had begun). */
static unsigned next_pool(struct server *s)
{
    unsigned k = s->npools == 2 ? 1 - s->cur : s->cur;
    if (s->state[k] != POOL_STANDBY) empty_pool(s, k);
    return k;
}

/* For the servers that mark their wakeups (vmm_exit_in/out: nic, net): whether one ever did,
 * and the mark when the running instance started (until it changes, the instance has not been
 * through its loop once: it is starting, resetting its device, above those it may starve). */
static bool marks_work[MANIFEST_SERVERS];
static uint64_t work_at_start[MANIFEST_SERVERS];

int supervisor_start(struct server *s, unsigned index)
{
    unsigned k = next_pool(s);
    int err = s->state[k] == POOL_STANDBY ? RS_OK : build_instance(s, index, k);
    if (err) return err;
    ps_process_t *p = &s->procs[k];
    s->cur = k;
    s->proc = p;
    s->state[k] = POOL_RUNNING;
    s->control->instance++;
    // a crash during restart (IPC_INJECT_RESTART): the new instance commits it before it serves
    s->control->inject = s->crash_at_start;
    s->crash_at_start = IPC_INJECT_NONE;
    if (!err) err = ps_tcb_bind_notification(p->tcb, s->ping);
    if (!err) err = ps_process_start(p);
    if (err) {
        empty_pool(s, k);
        return err;
    }
    s->running = true;
    s->started_ms = init_now_ms();
    s->missed_pings = 0;
    s->ping_heartbeat = s->control->heartbeat;
    s->next_ping_ms = s->started_ms + s->m->watchdog_ms;
    s->owed_heartbeat = s->start_heartbeat = s->control->heartbeat;
    // a server that marks its work (nic, net) owes nothing its predecessor took and left
    if (!s->vm) s->control->vmm_exit_out = s->control->vmm_exit_in;
    work_at_start[index] = s->control->vmm_exit_out;
    s->owed_since_ms = s->started_ms;
    s->owed_ticks = 0;
    s->probing = false;
    vm_started(s);
    // a crash during restart (control->inject) strikes at the first ping in servers with their
    // own loop (an idle server's "serving again" waits for its next ping: docs/resilience.md)
    if (s->control->inject) rs_signal(s->ping_signal);
    return RS_OK;
}

/* Stops the running instance at once: its thread is destroyed (the reply it held is dropped, so
 * its caller gets RS_PEER_DIED, and it receives nothing more); the rest of it is destroyed with
 * its pool, at once when there is one pool, else at a later tick. */
static void destroy_instance(struct server *s)
{
    unsigned k = s->cur;
    ps_process_t *p = &s->procs[k];
    if (s->npools == 1) {
        empty_pool(s, k);
        return;
    }
    rs_cptr_t me = init.root.env.cnode;
    ps_cnode_revoke(me, p->tcb, PS_DEPTH); // its copy in the instance's CNode
    ps_cnode_delete(me, p->tcb, PS_DEPTH); // the last cap: the thread is destroyed
    ps_slot_free(&p->slots, p->tcb);
    s->state[k] = POOL_DIRTY;
}

/* Background work at a tick, one server at most: a share of emptying a pool that holds a
 * destroyed instance (until the TSC passes `until`), or else a standby instance for a server that
 * can still be restarted. Returns whether it did any. */
static bool prepare_standby(struct server *s, unsigned index, uint64_t until)
{
    if (s->npools != 2 || !s->m) return false;
    unsigned k = 1 - s->cur;
    bool can_restart = !s->given_up && (!s->m->max_restarts || s->restarts < s->m->max_restarts);
    // one piece of work per tick: an emptying and a standby at once stalled a guest some 540,000
    // instructions (init runs above every guest), a whole emptying 173,000, a standby 147,000
    for (unsigned j = 0; j < 2; j++) {
        bool keep = s->state[j] == POOL_RUNNING || (s->state[j] == POOL_STANDBY && can_restart);
        if (s->state[j] == POOL_EMPTY || keep) continue;
        s->state[j] = POOL_DIRTY; // a standby no longer wanted is never started now
        sweep_pool(s, j, until);
        return true;
    }
    if (can_restart && s->state[k] == POOL_EMPTY && s->state[s->cur] != POOL_DIRTY) {
        int err = build_instance(s, index, k);
        if (err) init_log("%s: no standby instance: %s\n", s->m->name, rs_error_name(err));
        return true;
    }
    return false;
}

static void restart_due(struct server *s, unsigned index, uint64_t now);

void supervisor_crashed(struct server *s, unsigned reason, const char *why)
{
    if (!s->running) return;
    uint64_t now = init_now_ms();
    destroy_instance(s);
    s->running = false;
    if (!s->serving_pending) s->crashed_ms = now; // recovery: from the first of a crash loop
    s->serving_pending = true;
    s->reason = reason;
    if (reason == REASON_WATCHDOG) s->watchdog_restarts++;
    if (now - s->started_ms >= STABLE_MS) s->backoff_ms = 0;
    uint64_t delay = s->backoff_ms; // 0 the first time: restart at once
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (s->backoff_ms > s->m->backoff_ms) s->backoff_ms = s->m->backoff_ms;
    if (s->m->max_restarts && s->restarts >= s->m->max_restarts) {
        s->given_up = true;
        init_log("%s %s (%s): restart limit %u reached, not restarting\n", s->m->name,
                 reason_names[reason], why, s->m->max_restarts);
        return;
    }
    s->restart_at_ms = now + delay;
    init_log("%s %s (%s): restarting in %lu ms\n", s->m->name, reason_names[reason], why, delay);
    if (!delay) restart_due(s, (unsigned)(s - init.servers), now); // at once, not at the next tick
}

static void restart_due(struct server *s, unsigned index, uint64_t now)
{
    if (s->running || s->given_up || now < s->restart_at_ms) return;
    s->restarts++;
    int err = supervisor_start(s, index);
    if (err) {
        init_log("%s: restart failed: %s\n", s->m->name, rs_error_name(err));
        s->given_up = true;
        return;
    }
    init_log("%s restarted (instance %lu, restart %u)\n", s->m->name, s->control->instance,
             s->restarts);
}

/* Recovery time: a restarted server serves once its heartbeat moves (its first receive). */
static void serving_check(struct server *s, uint64_t now)
{
    if (!s->running || !s->serving_pending || s->control->heartbeat == s->start_heartbeat) return;
    s->serving_pending = false;
    init_log("%s serving again (instance %lu) %lu ms after its crash\n", s->m->name,
             s->control->instance, now - s->crashed_ms);
}

/* Sets the running instance's priority: its manifest's, or one above for a probe. */
static void set_prio(struct server *s, unsigned prio)
{
    int err = ps_tcb_set_priority(s->proc->tcb, RS_INIT_TCB, prio);
    if (err) init_log("%s: priority %u: %s\n", s->m->name, prio, rs_error_name(err));
}

/* Hang detection by what a server owes, at every tick (10 ms), faster than the watchdog's pings:
 * a VMM owes its guest the answer to an exit it received (vmm_exit_in != vmm_exit_out) and owes
 * init a look at each tick (vm_tick signals one before this runs; an exit queued for a VMM that
 * hangs before receiving it is owed too, and only the tick shows it); a server that marks its
 * work the same way (the NIC driver and the switch: the wakeup it received, in != out until it
 * goes back to its receive) owes the end of that work; a channel's end owes the requests it has
 * not released or the completions it has not consumed while the ring does not move (device_owed;
 * a network link's too). One that owed something and whose heartbeat did not move for owed=
 * ticks in a row (and as many times 10 ms) is a suspect; an idle one (in its receive, its rings
 * empty or moving) owes nothing, a busy one moves its heartbeat at every wakeup. A suspect is
 * probed: for one tick it runs one priority above its own, which a server that only waited for
 * the CPU (a peer of its priority spinning) uses to answer; one that still does not is hung. One
 * probe at a time (two boosted together, a spinning one would starve the other as before), the
 * suspect of the highest priority first (a hung NIC driver at 110 starves the VMMs below it:
 * they owe their ticks too, and are not to blame), then the one that waited longest. A VMM's guest
 * stalls some 20-40 ms, not the watchdog's 2-3 periods (docs/resilience.md).
 * A probed server is not blamed while one above its own priority is busy (owes something and is
 * still, or is in the middle of a wakeup it marked, or is a new instance not yet through its loop
 * once): that one may be what starves it. The probe ends; a higher suspect is probed first.
 * Returns what s is at this tick. */
enum owed_state {
    OWED_NOTHING, /* owes nothing, or its heartbeat moved */
    OWED_STILL,   /* owes and is still: not yet a suspect, or being probed */
    OWED_SUSPECT, /* waits for its probe */
    OWED_VERDICT  /* probed, and still owes */
};
static enum owed_state owed_update(struct server *s, unsigned index, uint64_t now)
{
    // an instance owes nothing before its first receive (the watchdog covers its start)
    if (!s->running || !s->m->owed_ticks || s->control->heartbeat == s->start_heartbeat)
        return OWED_NOTHING;
    uint64_t hb = s->control->heartbeat;
    bool work = !s->vm && s->control->vmm_exit_in != s->control->vmm_exit_out;
    unsigned chans = s->vm ? 0 : device_owed(index);
    if (hb != s->owed_heartbeat || (!s->vm && !work && !chans)) {
        if (s->probing) set_prio(s, s->m->prio), s->probing = false; // it was only waiting
        s->owed_heartbeat = hb;
        s->owed_since_ms = now;
        s->owed_ticks = 0;
        return OWED_NOTHING;
    }
    // ticks and time both: late ticks come in bursts when the machine is loaded; a channel's
    // requests may wait on its device (a NIC driver's with every transmit buffer in flight), so
    // 4 ticks more for them
    unsigned need = s->m->owed_ticks + (s->vm || work ? 0 : 4);
    if (++s->owed_ticks < need || now - s->owed_since_ms < need * INIT_TICK_MS) return OWED_STILL;
    if (!s->probing) return OWED_SUSPECT;
    if (now - s->probe_ms < INIT_TICK_MS) return OWED_STILL; // late ticks: a probe lasts 10 ms
    return OWED_VERDICT;
}

/* s was probed and still owes: restarts it as hung, naming what it owed. */
static void owed_hung(struct server *s, unsigned index, uint64_t now)
{
    s->probing = false; // the next instance starts at the manifest's priority
    char why[80];
    uint64_t in = s->control->vmm_exit_in, out = s->control->vmm_exit_out,
             ms = now - s->owed_since_ms;
    // in init's ticks (the machine's time, 10 ms each) and in TSC milliseconds
    if (s->vm && in != out)
        rt_snprintf(why, sizeof(why), "owed its guest exit %lu for %u ticks, %lu ms", in,
                    s->owed_ticks, ms);
    else if (s->vm)
        rt_snprintf(why, sizeof(why), "owed a look at %u ticks, %lu ms", s->owed_ticks, ms);
    else if (in != out)
        rt_snprintf(why, sizeof(why), "owed the end of wakeup %lu for %u ticks, %lu ms", in,
                    s->owed_ticks, ms);
    else
        rt_snprintf(why, sizeof(why), "owed %u channels requests for %u ticks, %lu ms",
                    device_owed(index), s->owed_ticks, ms);
    supervisor_crashed(s, REASON_WATCHDOG, why);
}

static void owed_check(uint64_t now)
{
    static unsigned turn; // ties go round: being probed first is no server's privilege
    static enum owed_state state[MANIFEST_SERVERS];
    struct server *next = NULL;
    bool probing = false, hung = false;
    turn++;
    // busy: owes and is still, or (a server that marks its wakeups) in the middle of one or
    // not yet through its loop once since its start; the same test for each server this tick
    static bool busy[MANIFEST_SERVERS];
    for (unsigned i = 0; i < init.nservers; i++) {
        struct server *s = &init.servers[i];
        state[i] = owed_update(s, i, now);
        busy[i] = false;
        if (!s->running) continue; // no instance: maybe no control page either (cannot start)
        uint64_t in = s->control->vmm_exit_in, out = s->control->vmm_exit_out;
        if (!s->vm && (in != out || out != work_at_start[i])) marks_work[i] = true;
        busy[i] = state[i] != OWED_NOTHING ||
                  (!s->vm && marks_work[i] && (in != out || out == work_at_start[i]));
    }
    for (unsigned n = 0; n < init.nservers; n++) {
        unsigned i = (turn + n) % init.nservers;
        struct server *s = &init.servers[i];
        if (state[i] == OWED_VERDICT) {
            bool above = false; // a server above it that may be what starves it
            for (unsigned j = 0; j < init.nservers; j++)
                above |= j != i && init.servers[j].m->prio > s->m->prio && busy[j];
            if (!above) {
                owed_hung(s, i, now);
                hung = true;
                continue;
            }
            set_prio(s, s->m->prio);
            s->probing = false;
            state[i] = OWED_SUSPECT;
        }
        if (state[i] == OWED_SUSPECT &&
            (!next || s->m->prio > next->m->prio ||
             (s->m->prio == next->m->prio && s->owed_ticks > next->owed_ticks)))
            next = s;
        probing |= s->running && s->probing;
    }
    if (hung) {
        // whoever it starved owes afresh from now: the hung one's new instance (at its
        // priority, resetting its device) gets a tick before anyone below it is probed
        for (unsigned i = 0; i < init.nservers; i++) {
            struct server *s = &init.servers[i];
            if (s->probing) continue;
            s->owed_since_ms = now;
            s->owed_ticks = 0;
        }
        return;
    }
    if (next && !probing) {
        next->probing = true;
        next->probe_ms = now;
        set_prio(next, next->m->prio < 254 ? next->m->prio + 1 : next->m->prio);
    }
}

/* Watchdog: ping every period; a server that answered none of the last two pings is hung. */
static void watchdog(struct server *s, uint64_t now)
{
    if (!s->running || !s->m->watchdog_ms || now < s->next_ping_ms) return;
    s->next_ping_ms = now + s->m->watchdog_ms;
    if (s->control->heartbeat != s->ping_heartbeat) s->missed_pings = 0;
    else if (++s->missed_pings >= 2) {
        supervisor_crashed(s, REASON_WATCHDOG, "no heartbeat");
        return;
    }
    s->ping_heartbeat = s->control->heartbeat;
    rs_signal(s->ping_signal);
}

void supervisor_tick(uint64_t now, uint64_t tick_tsc)
{
    for (unsigned i = 0; i < init.nservers; i++) {
        restart_due(&init.servers[i], i, now);
        serving_check(&init.servers[i], now);
        watchdog(&init.servers[i], now);
    }
    owed_check(now);
    // an emptying stops SWEEP_BUDGET_US after the tick's start, a restart's work included
    uint64_t until = tick_tsc + init.bi->tsc_per_ms * SWEEP_BUDGET_US / 1000;
    for (unsigned i = 0; i < init.nservers; i++)
        if (prepare_standby(&init.servers[i], i, until)) break;
}

static uint64_t init_rand(void)
{
    init.rng ^= init.rng << 13, init.rng ^= init.rng >> 7, init.rng ^= init.rng << 17;
    return init.rng;
}

void supervisor_inject(struct server *s, unsigned kind)
{
    if (kind == IPC_INJECT_RANDOM) // the classic four (manifest kinds= picks from the others)
        kind = IPC_INJECT_KILL + (unsigned)(init_rand() % 4);
    supervisor_inject_seeded(s, kind, init_rand());
}

void supervisor_inject_seeded(struct server *s, unsigned kind, uint64_t seed)
{
    if (kind == IPC_INJECT_RANDOM) kind = IPC_INJECT_KILL + (unsigned)(seed % 4);
    init_log("inject %s into %s%s\n", manifest_inject_names[kind], s->m->name,
             s->running ? "" : " (not running)");
    if (!s->running) return;
    if (kind == IPC_INJECT_KILL || kind == IPC_INJECT_RESTART) {
        // a crash during restart: this instance dies, the next one before it serves
        if (kind == IPC_INJECT_RESTART) s->crash_at_start = IPC_INJECT_RESTART;
        supervisor_crashed(s, REASON_KILLED, "killed by fault injection");
        return;
    }
    s->control->inject_seed = seed;
    s->control->inject = kind; // the server commits it when it sees the ping
    rs_signal(s->ping_signal);
}

void supervisor_ps(void)
{
    init_log("%-12s %-8s %5s %8s %-8s\n", "name", "state", "prio", "restarts", "last");
    for (unsigned i = 0; i < init.nservers; i++) {
        struct server *s = &init.servers[i];
        const char *state = s->running ? "running" : s->given_up ? "stopped" : "waiting";
        init_log("%-12s %-8s %5u %8u %-8s\n", s->m->name, state, s->m->prio, s->restarts,
                 reason_names[s->reason]);
    }
}
