/* SPDX-License-Identifier: MIT */
/* What init gives every program it starts from the manifest: the fixed slots of its CSpace, the
 * control page and persistent region in its address space, the faults init may ask it to
 * commit, and the badges of init's pings. A VMM gets its guest on top (below). libipc's server
 * loop (libipc/ipc.h) and clients rely on this layout; init (servers/init) sets it up. */
#pragma once
#include <stdint.h>

#define IPC_VMM_EXIT_REASONS 16

/* The page init shares with each server it supervises (see servers/init). */
typedef struct ipc_control {
    volatile uint64_t heartbeat; /* bumped by the server loop on every ping and request */
    volatile uint64_t inject;    /* IPC_INJECT_*: a fault init asks the server to commit */
    volatile uint64_t instance;  /* 1 for the first start, +1 per restart */
    uint64_t persistent_vaddr;   /* the persistent region, 0 if none */
    uint64_t persistent_size;
    uint64_t guest_ram_size; /* a VMM's guest RAM (at IPC_GUEST_RAM_VADDR), 0 if not a VMM */
    char name[32];
    uint64_t tsc_per_ms;     /* the TSC's rate (bootinfo's): rdtsc is the clock of IPC_SLOT_TIMER */
    uint64_t wallclock_unix; /* the host's wall clock (UTC seconds, CMOS RTC; 0: none) ... */
    uint64_t wallclock_tsc;  /* ... when the TSC read this */
    uint64_t guest_platform; /* a VMM's: IPC_GUEST_FLAT or IPC_GUEST_PC */
    /* A VMM's exits so far by rs_vcpu_exit_reason (all instances; statistics only, for init's
     * `exits NAME` and tools/bench.sh linux) */
    volatile uint64_t vmm_exits[IPC_VMM_EXIT_REASONS];
    uint64_t guest_disk_size; /* a VMM's disk image (at IPC_GUEST_DISK_VADDR), 0: none */
} ipc_control_t;

/* The platform a VMM gives its guest: the tiny guests' (guests/README.md, manifest guest=) or a
 * PC with PIC, PIT, RTC, APICs and an MP table (a Linux kernel, manifest kernel=). */
#define IPC_GUEST_FLAT 0
#define IPC_GUEST_PC   1

enum ipc_inject {
    IPC_INJECT_NONE = 0,
    IPC_INJECT_KILL,   /* done by init itself (the thread is destroyed) */
    IPC_INJECT_NULL,   /* dereference a null pointer */
    IPC_INJECT_WILD,   /* write garbage over the server's own data (its handler table) */
    IPC_INJECT_HANG,   /* loop forever: the watchdog must notice */
    IPC_INJECT_RANDOM, /* one of the above, chosen by init */
    IPC_INJECT_COUNT
};

/* Fixed layout of a supervised server's CSpace and address space (init sets it up). */
#define IPC_SLOT_OWN_CNODE 2 /* the process's own CNode (PS_SLOT_CNODE of libipc/process.h) */
#define IPC_SLOT_CONSOLE                                                                           \
    4                        /* write-only Console cap (PS_SLOT_CONSOLE) unless the manifest says
                                console=0 */
#define IPC_SLOT_SERVICE  5  /* the endpoint this server receives on */
#define IPC_SLOT_REGISTRY 6  /* init's registry (badged: init knows who asks) */
#define IPC_SLOT_PING     7  /* notification bound to the server thread: pings and injections */
#define IPC_SLOT_CLIENT0  8  /* endpoints of the services the manifest lists in caps=, in order */
#define IPC_SLOT_RECV     16 /* where a cap received from the registry lands */
#define IPC_SLOT_SHUTDOWN                                                                          \
    18 /* a Shutdown cap, only if the manifest says shutdown=1 (test
                                clients and benchmarks that end the run) */
#define IPC_CONTROL_VADDR    0x0000500000000000ul
#define IPC_PERSISTENT_VADDR 0x0000500000100000ul

/* Badge bits of the ping notification (IPC_SLOT_PING). */
#define IPC_BADGE_PING 1ul /* the watchdog's ping (and an injected fault waiting to be committed) */
#define IPC_BADGE_TICK 2ul /* a VMM only: init's timer tick, every IPC_TICK_MS */
#define IPC_BADGE_TIMER                                                                            \
    4ul /* a VMM only: the deadline set on its Timer (IPC_SLOT_TIMER) has passed */
#define IPC_TICK_MS 10

/* A VMM (manifest guest=) has, besides the above:
 * - its guest's exits on IPC_SLOT_SERVICE: the exit endpoint is the service endpoint, so that the
 *   single-threaded VMM waits on one endpoint for exits and requests alike; exits carry the badge
 *   IPC_BADGE_VCPU_EXIT (clients' badges are small: 1..IPC_MAX_CLIENTS-1);
 * - the VCPU (ReadState, WriteState, Inject, RequestWindow) in IPC_SLOT_VCPU;
 * - a Timer (SetDeadline, Cancel, GetTime; not Bind: it is bound already) in IPC_SLOT_TIMER,
 *   bound to the ping notification with IPC_BADGE_TIMER. Its deadline is an absolute TSC value
 *   (rdtsc; the rate is ipc_control_t's tsc_per_ms). Like the VCPU it belongs to the guest and
 *   outlives the VMM instance: a deadline armed before a crash still fires, into the restarted
 *   instance's notification, and a restarted VMM re-arms it from its guest's state;
 * - the guest's RAM (guest-physical 0 .. guest_ram_size) mapped at IPC_GUEST_RAM_VADDR. */
#define IPC_SLOT_VCPU       17
#define IPC_SLOT_TIMER      19
#define IPC_SLOT_VCPU_EXIT  IPC_SLOT_SERVICE
#define IPC_BADGE_VCPU_EXIT 0x5643505545584954ul /* "VCPUEXIT" */
#define IPC_GUEST_RAM_VADDR 0x0000500040000000ul

/* - the guest's disk image (manifest disk=), guest_disk_size bytes, at IPC_GUEST_DISK_VADDR
 *   (after the largest RAM). */
#define IPC_GUEST_DISK_VADDR 0x0000500080000000ul
