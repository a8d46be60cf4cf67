/* SPDX-License-Identifier: MIT */
/* The switch's status page: per-port counters and the MAC table, which servers/net publishes in
 * its own control page (at NET_STATUS_OFFSET, after ipc_control_t) and init's shell command `net`
 * reads. init only reads memory, never calls the switch: the page outlives every instance (init
 * keeps it), so the counters carry on across restarts, and a switch that hangs or dies leaves its
 * last status readable. The switch writes under a sequence count (odd while it writes); a reader
 * copies the page, and retries a few times if the count moved or was odd. Nothing in the page is
 * trusted by the reader (a wild write may have hit it): it bounds every count and name. */
#pragma once
#include <stdint.h>
#include "proto/net.h"

#define SW_PORTS 8u /* a link takes two of a server's IPC_MAX_CHANNELS channels */
#define SW_SETS  32u
#define SW_WAYS  4u
#define SW_TABLE (SW_SETS * SW_WAYS)

/* Why a frame was dropped (or a descriptor refused); per port, counted at the port named. */
enum sw_cause {
    SW_RUNT,     /* at the source: shorter than NET_MIN_FRAME */
    SW_GIANT,    /* at the source: longer than NET_MAX_FRAME */
    SW_BAD_DESC, /* at the source: id 0, not NET_OP_FRAME, or data_offset not the ring position's */
    SW_SPOOF,    /* at the source: a source MAC the port may not use (or a multicast one) */
    SW_FILTERED, /* at the source: the destination lives on the source port */
    SW_SHARE,    /* at the source: an output refused it, the source being over its fair share */
    SW_FULL,     /* at the output: its ring was full (its peer reads too slowly) */
    SW_NO_COMP,  /* at the source: its completion ring was full (the frame was still taken) */
    SW_CAUSES
};

static const char *const sw_cause_name[SW_CAUSES] = {"runt",     "giant", "bad",  "spoof",
                                                     "filtered", "share", "full", "nocomp"};

typedef struct sw_counters {
    uint64_t rx, tx;          /* frames taken from the port / given to it */
    uint64_t drop[SW_CAUSES]; /* enum sw_cause */
    uint64_t peer_dropped;    /* our frames the peer's completion says it dropped */
} sw_counters_t;

/* A MAC table entry: learned behind `port` at `seen` (ms of the switch's clock, mod 2^32). */
typedef struct sw_entry {
    uint8_t mac[NET_MAC_LEN];
    uint8_t port; /* SW_PORTS: free */
    uint8_t pad;
    uint32_t seen;
} sw_entry_t;

#define NET_STATUS_OFFSET 1024u
#define NET_STATUS_MAGIC  0x3154415453544E45ull /* "ENTSTAT1" */

struct net_status_port {
    char name[NET_LINK_NAME];
    uint8_t mac[NET_MAC_LEN];
    uint8_t uplink, pad;
    uint32_t pad2;
    sw_counters_t c;
};

struct net_status {
    uint64_t magic;
    volatile uint32_t seq; /* odd while the switch writes */
    uint32_t nports;
    uint64_t now_ms;   /* the switch's clock (rdtsc / tsc_per_ms) when it wrote */
    uint64_t instance; /* the switch instance that wrote */
    uint32_t age_ms, nentries;
    struct net_status_port port[SW_PORTS];
    sw_entry_t table[SW_TABLE]; /* the valid entries first, nentries of them */
};

_Static_assert(sizeof(ipc_control_t) <= NET_STATUS_OFFSET, "the status follows the control page");
_Static_assert(NET_STATUS_OFFSET + sizeof(struct net_status) <= 4096, "the status fits the page");
