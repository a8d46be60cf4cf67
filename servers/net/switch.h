/* SPDX-License-Identifier: MIT */
/* The L2 learning switch's logic (servers/net): ports over network links (proto/net.h), a
 * bounded MAC table with ageing, flooding, source-MAC binding, and fair service of the ports.
 * No system calls and no globals: main.c gives it the links' channel memory and the time, and
 * does the signalling; tests/unit/test_net_switch.c runs it over channel memory of its own.
 *
 * Forwarding. A port bound to a MAC (every link but NET_UPLINK) accepts only frames from that
 * source MAC, and that MAC is a static entry: frames to it go to its port from the start, and no
 * other port (not even the uplink) can claim it. MACs behind the uplink are learned from source
 * addresses (SW_SETS x SW_WAYS entries, set associative by a keyed hash; a new MAC replaces a
 * free or aged-out way of its set, else the one seen longest ago) and forgotten after
 * SW_AGE_MS unseen. Broadcast, multicast and unknown unicast go to every port but the source;
 * a frame whose destination lives on its source port is dropped (filtered).
 *
 * Fairness. sw_poll serves the ports round-robin, at most SW_BUDGET frames of each per round,
 * so a port that always has frames gets its share of the switch and no more. In each output
 * ring every other port (a source) is guaranteed sw_share() = CHAN_ENTRIES / (ports - 1)
 * entries: a source holding that many may add a frame only if the ring still has room for what
 * every other source is owed (its share minus what it holds). So one sender cannot fill every
 * other port's ring, and a source below its share always finds room. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "libipc/channel.h"
#include "proto/net.h"
#include "status.h"

#define SW_AGE_MS      300000u  /* 300 s, IEEE 802.1D's default ageing time */
#define SW_BUDGET      8u       /* frames per port per round */
#define SW_ROUNDS      16u      /* rounds per sw_poll: then the caller looks at its pings */
#define SW_UNKNOWN_SRC SW_PORTS /* an output entry an earlier instance produced */

/* sw_port_t.skipped: its rings whose consumer tail (ours) was out of range at start */
#define SW_SKIPPED_RX      1u /* the peer's frames to us */
#define SW_SKIPPED_TX_COMP 2u /* the peer's completions of our frames */

typedef struct sw_port {
    char name[NET_LINK_NAME];
    uint8_t mac[NET_MAC_LEN]; /* bound source MAC (not for the uplink) */
    bool uplink;
    /* frames in: the peer's requests, our completions */
    uint8_t *rx_data;
    chan_consumer_t rx_req;
    chan_producer_t rx_comp;
    bool rx_broken; /* the peer's head is out of range: nothing readable until it comes back */
    /* frames out: our requests, the peer's completions */
    uint8_t *tx_data;
    chan_producer_t tx_req;
    chan_consumer_t tx_comp;
    uint64_t tx_id;
    /* who holds the output ring: the source port of each entry in flight, counts per source */
    uint8_t src[CHAN_ENTRIES];
    uint8_t occ[SW_PORTS + 1];
    uint32_t occ_tail;
    unsigned skipped; /* SW_SKIPPED_*: rings read to their producer's head at start */
    sw_counters_t c;
} sw_port_t;

typedef struct sw {
    unsigned nports;
    uint64_t key; /* the hash key: a sender cannot aim its MACs at one set */
    sw_port_t port[SW_PORTS];
    sw_entry_t table[SW_TABLE];
    unsigned next_port; /* where the next round starts */
} sw_t;

/* What sw_poll did: ports whose peer must be signalled (bit p: port p), and whether frames are
 * still waiting (call again before sleeping). */
typedef struct sw_result {
    uint32_t signal_tx; /* frames produced to port p: signal its transmit channel */
    uint32_t signal_rx; /* completions produced to port p: signal its receive channel */
    bool more;
} sw_result_t;

/* Empties the switch: no ports, an empty table, hash key `key`. */
void sw_init(sw_t *sw, uint64_t key);

/* Adds port `name` over the channel memory of its receive side (rx: peer -> switch, this end
 * the server) and transmit side (tx: this end the client); each data area must hold
 * CHAN_ENTRIES buffers (net_link_find checks). Takes up both ends as they are in shared memory
 * (a first start or a restart; entries an earlier instance produced count for SW_UNKNOWN_SRC).
 * A ring whose consumer tail (ours) is out of range is taken as read up to the producer's head
 * (port->skipped says which). `id_base` starts this instance's request ids. Returns the port,
 * or -1 if all SW_PORTS are taken or the name is empty or too long. */
int sw_add_port(sw_t *sw, const char *name, void *rx_base, void *tx_base, uint64_t id_base);

/* Serves the ports (see above) at time now_ms: up to SW_ROUNDS rounds of SW_BUDGET frames per
 * port. Never waits and never reads shared memory twice for a decision. */
sw_result_t sw_poll(sw_t *sw, uint64_t now_ms);

/* The port a frame to `mac` goes to at now_ms: a bound port, a learned one, or -1 (flood). */
int sw_lookup(const sw_t *sw, const uint8_t mac[NET_MAC_LEN], uint64_t now_ms);

/* The output ring entries each source is guaranteed: CHAN_ENTRIES / (ports - 1). */
unsigned sw_share(const sw_t *sw);

/* The set of the MAC table where `mac` lives (table[set * SW_WAYS ..]). */
unsigned sw_set_of(const sw_t *sw, const uint8_t mac[NET_MAC_LEN]);

/* Forwarding decision for a frame (a private copy, len NET_MIN_FRAME..NET_MAX_FRAME) from port
 * `in` at now_ms: learns its source and returns the bit mask of the output ports, or -1 with
 * *cause set (SW_SPOOF, SW_FILTERED). For sw_poll and the tests. */
int64_t sw_route(sw_t *sw, unsigned in, const uint8_t *frame, uint64_t now_ms,
                 enum sw_cause *cause);
