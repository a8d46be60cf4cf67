/* SPDX-License-Identifier: MIT */
/* init: the root task. It starts the servers of the boot manifest, serves the name registry, is
 * every server's fault handler, restarts crashed or hung servers, and injects faults on request.
 * It never blocks on a server: it only receives, replies and signals. */
#pragma once
#include "ipc.h"
#include "process.h"
#include "elf_load.h"
#include "manifest.h"
#include "proto/registry.h"

#define INIT_BADGE_FAULT    (1ul << 40) /* | server index: a fault of that server */
#define INIT_BADGE_REGISTRY (1ul << 41) /* | server index: a registry request from it */
#define INIT_TICK_MS        IPC_TICK_MS

struct vm;

/* What a server's memory pool holds (supervisor.c). */
enum pool_state { POOL_EMPTY, POOL_RUNNING, POOL_STANDBY, POOL_DIRTY };

struct server {
    const struct manifest_server *m;
    const rs_boot_module_t *image;
    elf_shared_t shared; /* the image's read-only pages, filled once and mapped by every instance */
    ps_process_t *proc;  /* the running (or last) instance: procs[cur] */
    bool running, given_up;
    rs_cptr_t ep, ping, ping_signal, control_frame;
    rs_cptr_t persist[64];
    ipc_control_t *control;    /* init's own mapping of the control page */
    unsigned restarts, reason; /* registry_reason of the last restart */
    unsigned watchdog_restarts;
    uint64_t started_ms, restart_at_ms, backoff_ms;
    uint64_t ping_heartbeat; /* heartbeat seen at the last ping */
    unsigned missed_pings;
    uint64_t owed_heartbeat, owed_since_ms; /* heartbeat at the last tick, and since when */
    unsigned owed_ticks;                    /* ticks in a row it owed something and was still */
    bool probing;                           /* one priority up: does it answer when it can run? */
    uint64_t probe_ms;                      /* since when */
    unsigned crash_at_start;                /* ipc_inject its next instance commits at once */
    bool serving_pending;                   /* restarted, no heartbeat yet (recovery time) */
    uint64_t crashed_ms, start_heartbeat;
    uint64_t next_ping_ms;
    struct vm *vm; /* a VMM's virtual machine (vm.c), NULL for other servers */
    /* Memory for the instances: every instance is made from one of these untypeds, which is
     * emptied again when the instance is destroyed, so restarts do not eat init's memory. A
     * server without a VM has two: while one holds the running instance, the other holds a
     * standby instance (made at a timer tick, not started) that the next restart only starts,
     * or the destroyed instance until a tick empties it. */
    unsigned npools, cur;
    enum pool_state state[2];
    ps_process_t procs[2];
    rs_cptr_t pool[2];
    ps_ut_t pool_ut[2];
    ps_untyped_t pool_storage[2];
    ps_env_t pool_env[2];
    rs_cptr_t swept[2]; /* a pool being emptied: the slot of its instance's block to delete next */
};

struct init_state {
    const rs_bootinfo_t *bi;
    ps_root_t root;
    struct manifest manifest;
    struct server servers[MANIFEST_SERVERS];
    unsigned nservers;
    rs_cptr_t ep; /* faults, registry requests; timer via the bound notification */
    uint64_t next_inject_ms[MANIFEST_INJECTS];
    unsigned injects_done[MANIFEST_INJECTS];
    uint64_t inject_rng[MANIFEST_INJECTS]; /* each inject line's generator (its seed=) */
    uint64_t rng;
    uint64_t wallclock_unix, wallclock_tsc; /* the host's CMOS clock read at boot (0: none) */
};

extern struct init_state init;

/* Milliseconds since boot (TSC based: guest time under emulation). */
uint64_t init_now_ms(void);
/* The boot module called name, or NULL. */
const rs_boot_module_t *init_find_module(const char *name);
/* printf with the "[init] t=<ms>" prefix every init log line carries. */
void init_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* supervisor.c */
int supervisor_setup(struct server *s, unsigned index);
int supervisor_start(struct server *s, unsigned index);
/* A server died (fault, exit, watchdog, kill): destroy it and schedule its restart. */
void supervisor_crashed(struct server *s, unsigned reason, const char *why);
/* Periodic work: due restarts, watchdog pings and checks, and one piece of background work (a
 * share of emptying a pool, bounded from tick_tsc, the tick's start; or a standby). */
void supervisor_tick(uint64_t now, uint64_t tick_tsc);
/* Injects a fault of `kind` (ipc_inject) into server s. */
void supervisor_inject(struct server *s, unsigned kind);
/* The same with the seed the fault's own choices (bits, words) come from: replayable. */
void supervisor_inject_seeded(struct server *s, unsigned kind, uint64_t seed);
struct server *supervisor_find(const char *name);
void supervisor_ps(void);

/* vm.c: the virtual machine of a VMM (manifest guest= or kernel=). Made once, at setup; it
 * outlives every instance of the VMM. */
/* Checks the VM's images against its RAM (and plans a kernel's layout) before anything is made;
 * logs the reason and returns an error if they do not fit or are not what they claim. */
int vm_check(struct server *s, unsigned index);
/* Makes the VM vm_check accepted: guest space, RAM, the loaded guest, VCPU, start state. */
int vm_setup(struct server *s, unsigned index);
/* Creator slots a VMM instance needs beyond a plain server's (its copies of the RAM frames). */
unsigned vm_extra_slots(const struct server *s);
/* Gives a new VMM instance the VCPU and maps the guest's RAM into it. */
int vm_give(struct server *s);
/* A VMM instance is running: the first time, the vCPU starts. */
void vm_started(struct server *s);
/* Every timer tick: signals each VMM's ping notification with IPC_BADGE_TICK. */
void vm_tick(void);
/* Prints the VMMs' output (their output rings, proto/vmm.h): on every tick. */
void vm_print_output(void);
void vm_print_server(struct server *s); /* its VMM's output ring (also on REGISTRY_FLUSH_OUTPUT) */

/* registry.c: answers one registry request from server index `from`; returns the reply info. */
rs_msginfo_t registry_handle(unsigned from, rs_msginfo_t info);
/* devices.c: device caps for driver servers by image ("kbd": the i8042, proto/kbd.h). setup:
 * once per server (IRQ handler, ports); give: to each instance; kbd_getc: a byte the keyboard
 * driver typed, or -1. */
int kbd_setup(struct server *s);
int kbd_give(struct server *s, ps_process_t *p);
int kbd_getc(void);
/* shell.c: polls the serial console and runs complete command lines. */
void shell_poll(void);
