// SPDX-License-Identifier: MIT
// init's receive loop: timer ticks (PIT IRQ 0 on a notification bound to init's thread), faults
// of supervised servers, and registry requests, all on one endpoint.
#include "init.h"
#include "fmt.h"
#include "wallclock.h"
#include "device.h"

struct init_state init;

uint64_t init_now_ms(void) { return rt_rdtsc() / (init.bi->tsc_per_ms ? init.bi->tsc_per_ms : 1); }

void init_log(const char *fmt, ...)
{
    char buf[200];
    va_list ap;
    int n = rt_snprintf(buf, sizeof(buf), "[init] t=%lu ", init_now_ms());
    va_start(ap, fmt);
    fmt_vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    // straight to the console: a second formatting pass cost thousands of instructions on every
    // restart's path (two lines each)
    rs_console_write(rt_console, buf, strlen(buf));
}

const rs_boot_module_t *init_find_module(const char *name)
{
    for (uint64_t i = 0; i < init.bi->module_count; i++)
        if (!strcmp(init.bi->modules[i].name, name)) return &init.bi->modules[i];
    return NULL;
}

static rs_cptr_t irq0;

/* PIT channel 0 at 100 Hz on IRQ 0, signalling a notification bound to init's thread. The IRQ
 * gets a badged copy of the notification: a signal with badge 0 sets no bit and would be lost
 * whenever init is not waiting at that moment. */
static int timer_init(void)
{
    rs_cptr_t ntfn, badged = ps_slot_alloc(init.root.env.slots),
                    pit = ps_slot_alloc(init.root.env.slots);
    irq0 = ps_slot_alloc(init.root.env.slots);
    int err;
    if ((err = ps_new_object(&init.root.env, RS_OBJ_NOTIFICATION, 0, &ntfn)) ||
        (err =
             ps_cnode_mint(RS_INIT_CNODE, badged, 64, RS_INIT_CNODE, ntfn, 64, RS_RIGHTS_ALL, 1)) ||
        (err = ps_tcb_bind_notification(RS_INIT_TCB, ntfn)) ||
        (err = ps_ioport_issue(RS_INIT_IOPORT_PLATFORM, 0x40, 0x43, RS_INIT_CNODE, pit, 64)) ||
        (err = ps_irq_control_get(RS_INIT_IRQ_CONTROL, 0, RS_INIT_CNODE, irq0, 64)) ||
        (err = ps_irq_handler_set_notification(irq0, badged)))
        return err;
    uint32_t divisor = 1193182 / (1000 / INIT_TICK_MS);
    ps_ioport_out(pit, 1, 0x43, 0x34); // channel 0, lobyte/hibyte, rate generator
    ps_ioport_out(pit, 1, 0x40, divisor & 0xFF);
    return ps_ioport_out(pit, 1, 0x40, divisor >> 8);
}

/* The host's wall clock from the CMOS RTC (ports 0x70/0x71), read between two updates: wait
 * while update-in-progress (register A bit 7) is set, then read until two reads agree. */
static void wallclock_init(void)
{
    rs_cptr_t cmos = ps_slot_alloc(init.root.env.slots);
    if (ps_ioport_issue(RS_INIT_IOPORT_PLATFORM, 0x70, 0x71, RS_INIT_CNODE, cmos, 64)) return;
    static const uint8_t regs[] = {0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32, 0x0B};
    struct cmos_time t[2];
    for (unsigned tries = 0; tries < 100; tries++) {
        for (unsigned k = 0; k < 2; k++) {
            uint32_t a = 0x80;
            for (unsigned spin = 0; spin < 100000 && (a & 0x80); spin++) {
                ps_ioport_out(cmos, 1, 0x70, 0x0A);
                ps_ioport_in(cmos, 1, 0x71, &a);
            }
            uint8_t *out = (uint8_t *)&t[k];
            for (unsigned i = 0; i < sizeof(regs); i++) {
                uint32_t v = 0;
                ps_ioport_out(cmos, 1, 0x70, regs[i]);
                ps_ioport_in(cmos, 1, 0x71, &v);
                out[i] = (uint8_t)v;
            }
        }
        if (!memcmp(&t[0], &t[1], sizeof(t[0]))) break;
    }
    init.wallclock_tsc = rt_rdtsc();
    if (!cmos_to_unix(&t[0], &init.wallclock_unix)) {
        init.wallclock_unix = 0;
        init_log("no readable CMOS clock: guests' clocks start at 1970\n");
    } else {
        init_log("wall clock %lu (CMOS RTC)\n", init.wallclock_unix);
    }
}

/* xorshift64: an inject line's own generator (seed=), else init's. */
static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

static void run_injections(uint64_t now)
{
    for (unsigned i = 0; i < init.manifest.ninjects; i++) {
        const struct manifest_inject *j = &init.manifest.injects[i];
        if (init.injects_done[i] >= j->count || now < init.next_inject_ms[i]) continue;
        uint64_t *rng = j->seed ? &init.inject_rng[i] : &init.rng;
        init.injects_done[i]++;
        init.next_inject_ms[i] = now + (j->every_ms ? j->every_ms : 1);
        if (j->jitter_ms) init.next_inject_ms[i] += next_rand(rng) % (j->jitter_ms + 1);
        unsigned kind = j->kind;
        if (kind == IPC_INJECT_RANDOM) { // the n-th of the kinds allowed
            // default: the classic four (kill, null, wild, hang), as supervisor_inject's
            unsigned allowed = j->kinds ? j->kinds : ((1u << IPC_INJECT_RANDOM) - 2);
            unsigned count = 0; // no popcount: it is a libgcc call in this freestanding build
            for (unsigned k = 0; k < IPC_INJECT_COUNT; k++) count += (allowed >> k) & 1;
            unsigned n = (unsigned)(next_rand(rng) % count);
            for (kind = IPC_INJECT_KILL; !(allowed & (1u << kind)) || n--; kind++) {
            }
        }
        supervisor_inject_seeded(supervisor_find(j->target), kind, next_rand(rng));
    }
}

static void on_fault(unsigned index, rs_msginfo_t info)
{
    if (index >= init.nservers) return;
    struct server *s = &init.servers[index];
    char why[96];
    uint64_t label = rs_msginfo_label(info);
    if (label == RS_FAULT_VM)
        rt_snprintf(why, sizeof(why), "page fault at %lx, ip %lx", rs_mr_get(1), rs_mr_get(0));
    else if (label == RS_FAULT_USER_EXCEPTION)
        rt_snprintf(why, sizeof(why), "exception %lu at ip %lx", rs_mr_get(3), rs_mr_get(0));
    else if (label == RS_FAULT_UNKNOWN_SYSCALL && rs_mr_get(RS_REG_RAX) == RT_EXIT_SYSCALL) {
        rt_snprintf(why, sizeof(why), "exit code %ld", (long)rs_mr_get(RS_REG_RDI));
        supervisor_crashed(s, REASON_EXIT, why);
        return;
    } else rt_snprintf(why, sizeof(why), "fault type %lu at ip %lx", label, rs_mr_get(0));
    supervisor_crashed(s, REASON_FAULT, why);
}

static int load_manifest(void)
{
    const rs_boot_module_t *mod = init_find_module("manifest");
    if (!mod) {
        init_log("no 'manifest' module: nothing to start\n");
        return RS_NOT_FOUND;
    }
    char err[96];
    unsigned line =
        manifest_parse((const char *)mod->vaddr, mod->size, &init.manifest, err, sizeof(err));
    if (line) {
        init_log("manifest line %u: %s\n", line, err);
        return RS_INVALID_ARGUMENT;
    }
    return RS_OK;
}

static void start_servers(void)
{
    for (unsigned i = 0; i < init.manifest.nservers; i++) {
        struct server *s = &init.servers[i];
        s->m = &init.manifest.servers[i];
        s->image = init_find_module(s->m->image);
        init.nservers = i + 1;
        int err = s->image ? supervisor_setup(s, i) : RS_NOT_FOUND;
        if (err) {
            s->given_up = true;
            init_log("%s: cannot start (image '%s'): %s\n", s->m->name, s->m->image,
                     rs_error_name(err));
        }
    }
    device_setup(); // devices and channels: after every server's notification exists
    for (unsigned i = 0; i < init.nservers; i++) {
        struct server *s = &init.servers[i];
        if (s->given_up) continue;
        int err = supervisor_start(s, i);
        if (err) {
            s->given_up = true;
            init_log("%s: cannot start (image '%s'): %s\n", s->m->name, s->m->image,
                     rs_error_name(err));
            continue;
        }
        init_log("started %s (prio %u)\n", s->m->name, s->m->prio);
    }
    uint64_t now = init_now_ms();
    for (unsigned i = 0; i < init.manifest.ninjects; i++) {
        init.next_inject_ms[i] = now + init.manifest.injects[i].at_ms;
        init.inject_rng[i] = init.manifest.injects[i].seed | 1; // xorshift: never 0
        if (init.manifest.injects[i].seed)
            init_log("inject line %u: seed %lu\n", i, init.manifest.injects[i].seed);
    }
}

int main(void *arg)
{
    init.bi = arg;
    __rs_ipc_buffer = (rs_ipc_buffer_t *)init.bi->ipc_buffer_vaddr;
    init.rng = 0x9E3779B97F4A7C15ull;
    ps_root_init(&init.root, init.bi);
    init_log("Resurgo init: %lu modules, %lu untyped caps\n", init.bi->module_count,
             init.bi->untyped.end - init.bi->untyped.start);
    int err = ps_new_object(&init.root.env, RS_OBJ_ENDPOINT, 0, &init.ep);
    if (!err) err = timer_init();
    if (!err) wallclock_init();
    if (err) {
        init_log("cannot set up: %s\n", rs_error_name(err));
        return 1;
    }
    if (load_manifest() == RS_OK) start_servers();
    init_log("type 'help' for the shell\n");

    rs_result_t r = rs_recv(init.ep);
    for (;;) {
        rs_msginfo_t reply = 0;
        bool answer = false;
        if (r.error == RS_OK && rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL) {
            uint64_t tick_tsc = rt_rdtsc();
            ps_irq_handler_ack(irq0);
            uint64_t now = init_now_ms();
            vm_tick();
            vm_print_output();
            run_injections(now);
            supervisor_tick(now, tick_tsc);
            shell_poll();
        } else if (r.error == RS_OK && (r.badge & INIT_BADGE_FAULT)) {
            on_fault((unsigned)(r.badge & 0xFF), r.info);
        } else if (r.error == RS_OK && (r.badge & INIT_BADGE_REGISTRY)) {
            reply = registry_handle((unsigned)(r.badge & 0xFF), r.info);
            answer = true;
        }
        r = answer ? rs_reply_recv(init.ep, reply) : rs_recv(init.ep);
    }
}
