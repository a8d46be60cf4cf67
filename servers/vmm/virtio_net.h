/* SPDX-License-Identifier: MIT */
/* virtio-net (virtio 1.2, 5.1) over virtio-mmio (virtio_mmio.h), attached to a network link
 * (proto/net.h): receiveq1 (queue 0) and transmitq1 (queue 1); features VERSION_1, MAC and
 * STATUS (link always up), no offloads, no control queue, no mergeable buffers. Every buffer
 * starts with the 12-byte struct virtio_net_hdr (5.1.6; VERSION_1 always has num_buffers).
 *
 * Transmit: each chain is a header and one Ethernet frame of NET_MIN_FRAME..NET_MAX_FRAME bytes,
 * which goes into the link's transmit channel at its ring position's buffer; a runt or giant is
 * dropped (tx_bad), and so is a frame the link has no room for (tx_dropped): the chain always
 * goes back to the guest, nothing waits. Receive: each frame the peer produced on the receive
 * channel goes into the next posted buffer (none: dropped, rx_dropped; too small: returned
 * empty, rx_small); a bad length or data_offset is refused (rx_bad). A malformed ring (virtqueue.h)
 * marks the device DEVICE_NEEDS_RESET (broken).
 *
 * Restart (docs/virtualization.md: the state is committed before any reply). The virtqueue
 * indices live in struct virtio_net, in the VMM's persistent state. Used-ring elements are written
 * during a transaction but the used index the guest reads is published only once the state is
 * committed (virtio_net_committed), so a transaction that dies uncommitted leaves nothing the
 * guest can see, and the next instance redoes it. Likewise the receive channel's requests are
 * completed and released only after the commit: a VMM that dies before it re-reads them (a frame
 * may be delivered twice, which proto/net.h allows), never loses one it took. Transmit produces
 * at the channel's shared head (libipc/channel.h: the producer re-attaches there), so a redone
 * transmit sends the frame again rather than lose it.
 *
 * struct virtio_net is plain data (no pointers); the link (struct vnet_link) is the VMM's
 * transient view of the two channels' memory. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "libipc/channel.h"
#include "proto/net.h"
#include "virtio_mmio.h"

#define VIRTIO_ID_NET           1
#define VIRTIO_NET_F_MAC        (1ull << 5)
#define VIRTIO_NET_F_STATUS     (1ull << 16)
#define VIRTIO_NET_FEATURES     (VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS)
#define VIRTIO_NET_S_LINK_UP    1u
#define VIRTIO_NET_HDR_LEN      12u /* struct virtio_net_hdr with num_buffers (5.1.6) */
#define VIRTIO_NET_RXQ          0u
#define VIRTIO_NET_TXQ          1u
#define VIRTIO_NET_QUEUES       2u
#define VQ_USED_F_NO_NOTIFY     1u /* used ring flags (2.7.10) */
#define VQ_AVAIL_F_NO_INTERRUPT 1u /* available ring flags (2.7.7) */

struct vnet_stats {
    uint64_t tx_frames;      /* frames put on the link */
    uint64_t tx_dropped;     /* ... for which the link had no room */
    uint64_t tx_bad;         /* runts and giants from the guest */
    uint64_t tx_refused;     /* completions from the peer saying it dropped or refused a frame */
    uint64_t rx_frames;      /* frames given to the guest */
    uint64_t rx_dropped;     /* ... for which the guest had no buffer posted (or no live device) */
    uint64_t rx_small;       /* ... whose buffer was too small */
    uint64_t rx_bad;         /* requests from the peer with a bad op, length or data_offset */
    uint64_t broken;         /* malformed rings: DEVICE_NEEDS_RESET */
    uint64_t irq_suppressed; /* used buffers added while the driver asked for no interrupt */
};

struct virtio_net {
    struct virtio_mmio t;
    uint8_t mac[6];
    uint16_t pad;
    uint64_t next_id; /* request ids given on the transmit channel (never 0) */
    struct vnet_stats s;
};
_Static_assert(sizeof(struct virtio_net) <= 512, "a device model's state is compact");

/* The link's two channels as mapped in this process (not persistent). tx: this end the client
 * (frames to the peer), rx: this end the server. A NULL tx or rx, or a data area smaller than
 * CHAN_ENTRIES buffers, is no link: frames are dropped. */
struct vnet_link {
    uint8_t mac[6];            /* the guest's: net_link_mac(the link's name) */
    uint8_t *tx, *rx;          /* channel memory (libipc/channel.h layout) */
    uint64_t tx_data, rx_data; /* their data areas' sizes */
    /* The receive requests the running transaction took (virtio_net_poll), completed and
     * released by virtio_net_committed. */
    chan_consumer_t rx_req;
    uint32_t rx_taken;
    uint32_t rx_status[CHAN_ENTRIES];
    /* Queues (bit per queue) whose used-buffer interrupt the running transaction withheld on
     * VIRTQ_AVAIL_F_NO_INTERRUPT: virtio_net_committed looks at the flag again. */
    uint8_t suppressed;
    /* Outputs: the peer's notification to signal for each channel (libipc/channel.h). */
    bool signal_tx, signal_rx;
};

/* Power-on state, with the MAC the guest reads from the configuration space. */
void virtio_net_reset(struct virtio_net *n, const uint8_t mac[6]);
/* A register access at offset off of the device's window; a QueueNotify of the transmit queue
 * sends its chains on the link. */
void virtio_net_access(struct virtio_net *n, const struct vq_ram *ram, struct vnet_link *l,
                       uint32_t off, unsigned size, bool write, uint64_t *value);
/* Once per transaction that will be committed: takes the peer's completions of our frames and
 * the frames it produced for us (at most a ring's worth) into the guest's receive buffers. A
 * transmit kick (virtio_net_access) calls it itself after sending, so an exit's transaction must
 * not call it again. */
void virtio_net_poll(struct virtio_net *n, const struct vq_ram *ram, struct vnet_link *l);
/* After the state holding n was committed: publishes both used indices to the guest, completes
 * and releases the receive requests the transaction took. Idempotent for the indices; a restarted
 * VMM calls it at its start with the committed state (and l->suppressed set for both queues: a
 * predecessor may have died before it looked again). Returns true when an interrupt the
 * transaction withheld (VIRTQ_AVAIL_F_NO_INTERRUPT) is due after all, because the driver turned
 * interrupts on before it could have seen the index: the caller then raises it in a transaction
 * of its own (virtio_net_interrupt). */
bool virtio_net_committed(const struct virtio_net *n, const struct vq_ram *ram,
                          struct vnet_link *l);
/* The used-buffer interrupt virtio_net_committed found due (a transaction of its own). */
void virtio_net_interrupt(struct virtio_net *n, struct vnet_link *l);
/* The interrupt line. */
bool virtio_net_irq(const struct virtio_net *n);
