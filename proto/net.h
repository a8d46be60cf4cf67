/* SPDX-License-Identifier: MIT */
/* The network-link protocol: Ethernet frames between two servers (a NIC driver, the switch
 * servers/net, a VMM's virtio-net) over a pair of channels (libipc/channel.h), one per direction.
 *
 * Naming. A link L is the two manifest channels `L.a` and `L.b`, one with each end as client:
 *     channel L.a client=X server=Y      frames X -> Y
 *     channel L.b client=Y server=X      frames Y -> X
 * At either end, the channel of L where it is the client is its transmit side and the one where
 * it is the server its receive side (net_link_find). A server with several links (the switch)
 * makes one port per link name. Links carry no other traffic; names are at most
 * NET_LINK_NAME - 1 characters before the ".a"/".b".
 *
 * Addresses. The switch's port for link NET_UPLINK (the NIC driver's) carries the outside world's
 * MACs. Every other link has one MAC, net_link_mac(L): the VMM gives it to its guest's NIC and
 * the switch refuses frames on that port from any other source (no spoofing).
 *
 * Frames. The sender is the client: it writes a frame into its data area and produces a request
 * {id != 0, op NET_OP_FRAME, offset 0, data_offset, len}. A frame is a whole Ethernet frame from
 * the destination MAC on, without the FCS: NET_MIN_FRAME..NET_MAX_FRAME bytes. The buffer of the
 * request at ring position p (the producer's head when it produced it) is fixed:
 * data_offset = NET_BUF_OFFSET(p) = (p % CHAN_ENTRIES) * NET_BUF_SIZE. A buffer is the sender's
 * again once the receiver has released that request (the request ring's tail passed it), so a
 * sender needs no state beyond the ring to reuse buffers, also after it restarts. The data area
 * must hold CHAN_ENTRIES buffers (NET_LINK_PAGES pages for the whole channel).
 *
 * The receiver consumes a request, takes the frame (copies it to a device, another link or a
 * guest), produces a completion (same id; status RS_OK, NET_STATUS_DROPPED when it had no room,
 * RS_INVALID_ARGUMENT for a bad length or a data_offset other than NET_BUF_OFFSET of its position,
 * RS_INSUFFICIENT_RIGHTS from the switch for a source MAC the port may not use) and releases
 * the request. The sender consumes and releases completions only to keep that ring moving (and
 * to count drops).
 *
 * Loss and restarts. Ethernet may lose and, rarely, duplicate frames; upper layers (TCP) cope.
 * A receiver that restarts reads again what it had consumed but not released, so a frame may be
 * delivered twice; a sender that restarts loses only frames it had not yet produced. Neither end
 * ever waits for the other: a full ring means the frame is dropped (counted). Signals follow
 * libipc/channel.h: after producing, after completing, and once at every (re)start. */
#pragma once
#include "libipc/channel.h"
#include "proto/init.h"
#include <string.h>

#define NET_OP_FRAME       32u
#define NET_STATUS_DROPPED 0x200u
#define NET_MIN_FRAME      14u   /* the Ethernet header */
#define NET_MAX_FRAME      1518u /* 1500 bytes of payload, header and one VLAN tag */
#define NET_BUF_SIZE       1536u
#define NET_BUF_OFFSET(p)  (((uint32_t)(p) % CHAN_ENTRIES) * NET_BUF_SIZE)
#define NET_LINK_PAGES     26u /* 2 ring pages + 64 buffers of 1,536 bytes */
#define NET_LINK_NAME      20u
#define NET_MAC_LEN        6u
#define NET_UPLINK         "uplink"

_Static_assert(CHAN_DATA_OFFSET + CHAN_ENTRIES * NET_BUF_SIZE <= NET_LINK_PAGES * 4096u,
               "a link channel holds a buffer per ring entry");

/* The two channel indices (at this end, in ipc_device_info_t.channel[]) of link `name`. */
typedef struct net_link_index {
    unsigned tx, rx;
} net_link_index_t;

/* Finds link `name`'s channels in the info page: its transmit side (this end the client) and
 * receive side (this end the server). Returns RS_OK, RS_FAILED_LOOKUP if either is missing,
 * RS_RANGE_ERROR if a channel's data area is too small for CHAN_ENTRIES buffers. */
static inline int net_link_find(const ipc_device_info_t *info, const char *name,
                                net_link_index_t *out)
{
    size_t n = strlen(name);
    int tx = -1, rx = -1;
    if (n == 0 || n >= NET_LINK_NAME) return RS_INVALID_ARGUMENT;
    for (unsigned k = 0; k < info->nchannels && k < IPC_MAX_CHANNELS; k++) {
        const ipc_channel_info_t *c = &info->channel[k];
        if (strncmp(c->name, name, n) || c->name[n] != '.' ||
            (c->name[n + 1] != 'a' && c->name[n + 1] != 'b') || c->name[n + 2])
            continue;
        if (c->data_size < CHAN_ENTRIES * NET_BUF_SIZE) return RS_RANGE_ERROR;
        if (c->role == IPC_CHANNEL_CLIENT) tx = (int)k;
        else rx = (int)k;
    }
    if (tx < 0 || rx < 0) return RS_FAILED_LOOKUP;
    out->tx = (unsigned)tx;
    out->rx = (unsigned)rx;
    return RS_OK;
}

/* The name of channel k's link (its name without ".a"/".b") into out (NET_LINK_NAME bytes);
 * false if channel k is not a link channel. */
static inline bool net_link_name(const ipc_device_info_t *info, unsigned k, char *out)
{
    if (k >= info->nchannels || k >= IPC_MAX_CHANNELS) return false;
    const char *s = info->channel[k].name;
    size_t n = 0;
    while (n < sizeof info->channel[k].name && s[n]) n++;
    if (n < 3 || n - 2 >= NET_LINK_NAME || s[n - 2] != '.' || (s[n - 1] != 'a' && s[n - 1] != 'b'))
        return false;
    memcpy(out, s, n - 2);
    out[n - 2] = 0;
    return true;
}

/* For a server with exactly one link (a NIC driver, a VMM with one NIC): finds it. RS_FAILED_LOOKUP
 * if there is none or its pair is incomplete, RS_INVALID_ARGUMENT if there are several. */
static inline int net_link_only(const ipc_device_info_t *info, net_link_index_t *out)
{
    char name[NET_LINK_NAME], other[NET_LINK_NAME];
    bool found = false;
    for (unsigned k = 0; k < info->nchannels && k < IPC_MAX_CHANNELS; k++) {
        if (!net_link_name(info, k, other)) continue;
        if (found && strcmp(name, other)) return RS_INVALID_ARGUMENT;
        memcpy(name, other, sizeof name);
        found = true;
    }
    return found ? net_link_find(info, name, out) : RS_FAILED_LOOKUP;
}

/* The MAC of link `name` (not the uplink): locally administered 02:52:53 ("RS") and 24 bits of
 * the name's FNV-1a hash, so the VMM and the switch agree without configuration. */
static inline void net_link_mac(const char *name, uint8_t mac[NET_MAC_LEN])
{
    uint32_t h = 2166136261u;
    for (; *name; name++) h = (h ^ (uint8_t)*name) * 16777619u;
    mac[0] = 0x02, mac[1] = 0x52, mac[2] = 0x53;
    mac[3] = (uint8_t)(h >> 16), mac[4] = (uint8_t)(h >> 8), mac[5] = (uint8_t)h;
}
