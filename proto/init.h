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
    /* A VMM's last exit received and last answered (RS_EXIT_MR_SEQ; they differ while it holds
     * one). With its heartbeat, what init's tick looks at to find a VMM that owes its guest an
     * answer (servers/init/supervisor.c, owed_check). The NIC driver and the switch mark their
     * wakeups the same way (in: its heartbeat when it wakes, out: in again when it is back at its
     * receive). */
    volatile uint64_t vmm_exit_in, vmm_exit_out;
    volatile uint64_t inject_seed; /* with inject: what a random fault picks (bits, words) */
} ipc_control_t;

/* The platform a VMM gives its guest: the tiny guests' (guests/README.md, manifest guest=) or a
 * PC with PIC, PIT, RTC, APICs and an MP table (a Linux kernel, manifest kernel=). */
#define IPC_GUEST_FLAT 0
#define IPC_GUEST_PC   1

enum ipc_inject {
    IPC_INJECT_NONE = 0,
    IPC_INJECT_KILL,    /* done by init itself (the thread is destroyed) */
    IPC_INJECT_NULL,    /* dereference a null pointer */
    IPC_INJECT_WILD,    /* write garbage over the server's own data (its handler table) */
    IPC_INJECT_HANG,    /* loop forever: the watchdog must notice */
    IPC_INJECT_RANDOM,  /* one of the others, chosen by init */
    IPC_INJECT_CORRUPT, /* flip bits in its own globals, stack or persistent state; run on */
    IPC_INJECT_GARBLE,  /* its next reply goes out corrupted: bit flips in words, wrong label */
    IPC_INJECT_EXHAUST, /* use up its memory (a server has no untyped: its stack) until it faults */
    IPC_INJECT_RESTART, /* killed, and its next instance crashes before it serves (init) */
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

/* A driver (manifest device=) and an end of a channel (manifest channel) have, besides the above,
 * a read-only page at IPC_DEVICE_INFO_VADDR (ipc_device_info_t) that says what init gave it, and:
 * - IPC_SLOT_IRQ: the IRQ handler (Ack) of its device's interrupt line; the line signals the
 *   ping notification with IPC_BADGE_IRQ (the kernel masks the line until the Ack);
 * - IPC_SLOT_IOPORT: the IOPort cap of its device's (first) I/O BAR;
 * - its DMA memory, physically contiguous, mapped at IPC_DMA_VADDR (physical address in the
 *   info page: no IOMMU, see docs/storage.md);
 * - per channel k: the channel's memory (libipc/channel.h) mapped at IPC_CHANNEL_VADDR(k), and
 *   in IPC_SLOT_CHANNEL0 + k a cap that signals the other end (its ping notification, badged
 *   IPC_BADGE_CHANNEL(j) where j is the channel's index at that end). Channel memory and both
 *   ends' notifications belong to init: they outlive either end's restarts.
 * - at IPC_DEVICE_BAR_VADDR(k): its memory BAR k, uncached (below 4 GiB, at most 1 MiB; see
 *   ipc_device_info_t.bar[k].mapped). */
/* An ATA channel (manifest device=ata, or a PCI IDE controller's id): IPC_SLOT_IOPORT holds its
 * command block (io_base, 8 ports), and, a driver not being a VMM, the VMM's slots hold
 * - IPC_SLOT_IOPORT_CTL: its control port (ctl_port: device control / alternate status);
 * - IPC_SLOT_IOPORT_BM: the controller's bus-master registers for the channel (bm_base, 8
 *   ports), if the controller has them (bm_base 0 if not: PIO only). */
#define IPC_SLOT_IOPORT_CTL   17
#define IPC_SLOT_IOPORT_BM    19
#define IPC_SLOT_IRQ          20
#define IPC_SLOT_IOPORT       21
#define IPC_SLOT_CHANNEL0     22 /* .. IPC_SLOT_CHANNEL0 + IPC_MAX_CHANNELS - 1 */
#define IPC_MAX_CHANNELS      16
#define IPC_BADGE_IRQ         8ul
#define IPC_BADGE_CHANNEL(k)  (16ul << (k)) /* the ping badge of a server's channel k */
#define IPC_DEVICE_INFO_VADDR 0x0000500000080000ul
#define IPC_DMA_VADDR         0x0000500020000000ul
#define IPC_CHANNEL_VADDR(k)  (0x0000500010000000ul + (uint64_t)(k)*0x01000000ul)
#define IPC_DEVICE_MAGIC      0x4445564943455331ul /* "DEVICES1" */

/* The device's memory BAR k (k = the BAR's index, 0..5), mapped uncached when init could make
 * frames over it (ipc_bar_info_t.mapped); at most IPC_BAR_MAX_SIZE bytes of each. */
#define IPC_MAX_BARS            6
#define IPC_BAR_MAX_SIZE        0x100000ul
#define IPC_DEVICE_BAR_VADDR(k) (0x0000500400000000ul + (uint64_t)(k)*0x10000000ul)

typedef struct ipc_channel_info {
    char name[24];
    uint32_t role;      /* IPC_CHANNEL_CLIENT (produces requests) or IPC_CHANNEL_SERVER */
    uint32_t peer;      /* the other end's badge as a client (its manifest index + 1) */
    uint64_t size;      /* the whole channel (rings and data area), bytes */
    uint64_t data_size; /* its data area (at CHAN_DATA_OFFSET), bytes */
    uint64_t paddr;     /* physical address of the channel's memory (contiguous): DMA into data */
} ipc_channel_info_t;

typedef struct ipc_bar_info {
    uint64_t paddr, size; /* a memory BAR as the firmware placed it, size 0: none (or I/O) */
    uint64_t mapped;      /* bytes mapped at IPC_DEVICE_BAR_VADDR(k): size, or 0 */
} ipc_bar_info_t;

#define IPC_CHANNEL_CLIENT 0
#define IPC_CHANNEL_SERVER 1

typedef struct ipc_device_info {
    uint64_t magic; /* IPC_DEVICE_MAGIC */
    /* the device (manifest device=), vendor 0 if none */
    uint16_t vendor, device;
    uint8_t bus, dev, fn;
    uint8_t irq;                  /* legacy PIC line of IPC_SLOT_IRQ, 0xFF if none */
    uint64_t io_base, io_size;    /* the I/O BAR of IPC_SLOT_IOPORT, size 0 if none */
    uint64_t dma_paddr, dma_size; /* DMA memory at IPC_DMA_VADDR, size 0 if none */
    uint32_t nchannels;
    uint32_t pad;
    ipc_channel_info_t channel[IPC_MAX_CHANNELS];
    ipc_bar_info_t bar[IPC_MAX_BARS]; /* memory BARs by index (a 64-bit one takes two) */
    uint64_t ctl_port, bm_base;       /* an ATA channel's (see IPC_SLOT_IOPORT_CTL), else 0 */
} ipc_device_info_t;
/* - the guest's disk image (manifest disk=), guest_disk_size bytes, at IPC_GUEST_DISK_VADDR
 *   (after the largest RAM). */
#define IPC_GUEST_DISK_VADDR 0x0000500080000000ul
_Static_assert(sizeof(ipc_device_info_t) <= 4096, "the device info fits its page");
_Static_assert(IPC_CHANNEL_VADDR(IPC_MAX_CHANNELS) <= IPC_DMA_VADDR, "channel windows below DMA");
