/* SPDX-License-Identifier: MIT */
/* The boot manifest: which servers init starts, with what, and which faults it injects.
 *
 *   # comment
 *   server NAME [image=MODULE] [prio=N] [persist=PAGES] [watchdog=MS] [restarts=N] [backoff=MS]
 *               [caps=A,B] [guest=MODULE [ram=MIB]] [console=0|1] [shutdown=0|1]
 *   server NAME ... kernel=MODULE [initrd=MODULE] [ram=MIB] [disk=MODULE] [cmdline=REST OF THE LINE]
 *   inject target=NAME kind=kill|null|wild|hang|corrupt|garble|exhaust|restart|random [at=MS]
 *          [every=MS] [jitter=MS] [count=N] [seed=N] [kinds=K1,K2]
 *   channel NAME client=SERVER server=SERVER [pages=N]
 *
 * `caps` lists services whose endpoints the server gets as a client (slots IPC_SLOT_CLIENT0..).
 * watchdog=0 turns the watchdog off (for programs that are not libipc servers); restarts=0 means
 * no limit; backoff is the longest wait before a restart (default 500 ms). Numbers are decimal,
 * at most MANIFEST_MAX_NUMBER. console=1 (the default) gives the server a write-only Console cap
 * (IPC_SLOT_CONSOLE) so that it can print; reading the console stays with init. shutdown=1 gives
 * it a Shutdown cap (IPC_SLOT_SHUTDOWN): only for test clients and benchmarks that end the run.
 * owed=TICKS (default 0: off; the campaigns and the demo say 1): a VMM, the NIC driver, the
 * switch or a channel's end found hung by what it owes (an exit, a tick, a wakeup not finished, a
 * channel request) after that many of init's ticks without a heartbeat and one more tick of
 * probing (supervisor.c, owed_check). Off by default:
 * on a heavily loaded host a busy VMM's exit (a flood of console lines) took over 30 ms.
 * An inject's `jitter` adds 0..jitter ms to each `every`; `seed` seeds its own generator (the
 * random kinds, jitter and the faults' bit choices: a run is replayed from it); `kinds` is what
 * kind=random picks from (default: every kind).
 * A line has at most 16 words and MANIFEST_LINE - 1 characters.
 *
 * `guest` makes the server a VMM: init builds a virtual machine (servers/init/vm.c) whose flat
 * image is the boot module named there, with `ram` MiB of RAM (default 4; even, for 2 MiB
 * frames; at most MANIFEST_MAX_RAM_MIB), and hands it to every instance of the server. A VMM
 * keeps its device state in its persistent region: persist defaults to 2 pages for it.
 *
 * `kernel` instead of `guest` makes the VM's guest a Linux bzImage, loaded by the Linux boot
 * protocol (servers/init/linux_boot.h) with the boot module `initrd` as its initial RAM disk and
 * `cmdline` as its command line. cmdline= must be the last key of its line: its value is the rest
 * of the line as written, spaces, quotes, '=' and '#' included (leading and trailing blanks
 * dropped), at most MANIFEST_CMDLINE - 1 characters; without it the command line is empty.
 * guest= and kernel= exclude each other; initrd= and cmdline= need kernel=. A kernel's VM has
 * the same `ram` default (4 MiB): a Debian kernel needs ram=128 or more (it decompresses to
 * 16 MiB and up). `disk` (needs kernel=) gives the guest a virtio-blk disk whose contents are
 * the boot module named there: init copies it into frames it keeps for the VM's lifetime (at most
 * MANIFEST_MAX_DISK_MIB), so the disk outlives every restart of the VMM.
 *
 * `device=SPEC` makes the server the driver of one PCI device: "virtio-blk" (1af4:1001),
 * "virtio-net" (1af4:1000) or "pci:VVVV:DDDD" (hex ids); the first such device no other server
 * has. Init gives it only that device (its I/O BAR, its IRQ line) and `dma` pages (default 16,
 * at most 256) of physically contiguous DMA memory (servers/init/device.c, proto/init.h).
 * `channel` declares a channel (libipc/channel.h) of `pages` pages (default 32, 3 to 256; two
 * hold the rings) between a client and a server, which get it as their next channel index in
 * the order of the channel lines; a server has at most MANIFEST_SERVER_CHANNELS. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define MANIFEST_NAME            24
#define MANIFEST_SERVERS         16
#define MANIFEST_INJECTS         16
#define MANIFEST_CAPS            8
#define MANIFEST_MAX_NUMBER      100000000
#define MANIFEST_MAX_RAM_MIB     1024 /* one guest page directory of 2 MiB frames */
#define MANIFEST_DEFAULT_RAM_MIB 4
#define MANIFEST_MAX_DISK_MIB    64
#define MANIFEST_LINE            512
#define MANIFEST_CMDLINE         384
#define MANIFEST_CHANNELS        32
#define MANIFEST_SERVER_CHANNELS 16 /* IPC_MAX_CHANNELS */
#define MANIFEST_DEFAULT_DMA     16
#define MANIFEST_DEFAULT_OWED    0
#define MANIFEST_DEFAULT_CHANNEL 32

struct manifest_server {
    char name[MANIFEST_NAME], image[MANIFEST_NAME];
    unsigned prio, persist_pages, watchdog_ms, max_restarts, backoff_ms, ncaps;
    unsigned console, shutdown; /* 0 or 1: give a Console (write) / Shutdown cap */
    char caps[MANIFEST_CAPS][MANIFEST_NAME];
    char guest[MANIFEST_NAME];      /* a flat guest image, or "" */
    char kernel[MANIFEST_NAME];     /* a Linux bzImage, or "" (one of guest and kernel: a VMM) */
    char initrd[MANIFEST_NAME];     /* the kernel's initrd, or "" */
    char cmdline[MANIFEST_CMDLINE]; /* the kernel's command line */
    char disk[MANIFEST_NAME];       /* the guest's disk image, or "" */
    unsigned ram_mib;               /* the guest's RAM; 0 unless the server is a VMM */
    char device[MANIFEST_NAME];     /* device=: a PCI device spec, or "" */
    unsigned dma_pages;             /* DMA memory of a driver (dma=) */
    unsigned owed_ticks;            /* owed=: ticks a debt may stay unpaid (0: not checked) */
    unsigned line; /* where it was declared, for errors found once the whole file is read */
};

struct manifest_channel {
    char name[MANIFEST_NAME], client[MANIFEST_NAME], server[MANIFEST_NAME];
    unsigned pages;
    unsigned line;
};

struct manifest_inject {
    char target[MANIFEST_NAME];
    unsigned kind; /* ipc_inject */
    uint64_t at_ms, every_ms, jitter_ms;
    uint64_t seed;  /* 0: init's own generator */
    unsigned kinds; /* bit per ipc_inject that kind=random picks from; 0: all */
    unsigned count;
    unsigned line;
};

struct manifest {
    struct manifest_server servers[MANIFEST_SERVERS];
    unsigned nservers;
    struct manifest_inject injects[MANIFEST_INJECTS];
    unsigned ninjects;
    struct manifest_channel channels[MANIFEST_CHANNELS];
    unsigned nchannels;
};

/* Whether the server is a VMM (guest= or kernel=): init makes it a virtual machine. */
static inline int manifest_is_vmm(const struct manifest_server *s)
{
    return s->guest[0] || s->kernel[0];
}

/* Parses `len` bytes of manifest text. Returns 0, or the 1-based line number of the first error
 * with a message in err. Unknown keys, bad numbers, too many entries and caps naming no server
 * are errors. */
unsigned manifest_parse(const char *text, size_t len, struct manifest *m, char *err, size_t errlen);
/* Index of the server called name, or -1. */
int manifest_find(const struct manifest *m, const char *name);
/* ipc_inject value for a kind name ("kill", "null", ...), or -1. */
int manifest_inject_kind(const char *word);
extern const char *const manifest_inject_names[];
