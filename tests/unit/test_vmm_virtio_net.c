// SPDX-License-Identifier: MIT
// Host tests of virtio-net (servers/vmm/virtio_net.c) over virtio-mmio: a driver written here
// from virtio 1.2 (3.1.1 initialisation, 2.7 split virtqueues, 5.1 the network device) sets the
// device up in a fake guest RAM; the link is two fake channels (libipc/channel.c) whose far end
// this file plays as proto/net.h describes. Then hostile input: runts, giants, bad lengths and
// offsets from the peer, descriptor loops and addresses outside RAM from the guest, a restart
// between a transaction and its commit, and a seeded fuzz of all of them (ASan watches the
// exact-size buffers; every loop in the device is bounded, so a hang is a failure by time-out).
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_net.h"
#include "le.h"
#include "xorshift.h"

#define RAM_SIZE  (1u << 20)
#define CHAN_SIZE (NET_LINK_PAGES * 4096u)
#define QN        16u
/* queue q's parts at Q_BASE(q) */
#define Q_BASE(q) (0x1000u + (q)*0x2000u)
#define DESC(q)   Q_BASE(q)
#define AVAIL(q)  (Q_BASE(q) + 0x400u)
#define USED(q)   (Q_BASE(q) + 0x800u)
#define RXBUF(i)  (0x10000u + (i)*0x800u) /* receive buffers: 2 KiB each */
#define TXBUF     0x40000u
#define RX        VIRTIO_NET_RXQ
#define TX        VIRTIO_NET_TXQ

static uint8_t *ram, *chan_tx, *chan_rx;
static struct vq_ram gram;
static struct virtio_net net;
static struct vnet_link link;
static uint16_t avail_idx[2];
static const uint8_t MAC[6] = {0x02, 0x52, 0x53, 0xAB, 0xCD, 0xEF};

static void setup(void)
{
    ram = calloc(1, RAM_SIZE);
    chan_tx = calloc(1, CHAN_SIZE);
    chan_rx = calloc(1, CHAN_SIZE);
    chan_format(chan_tx);
    chan_format(chan_rx);
    gram = (struct vq_ram){ram, RAM_SIZE};
    memset(&net, 0x5A, sizeof(net)); // reset must not depend on what was there
    virtio_net_reset(&net, MAC);
    link = (struct vnet_link){.tx = chan_tx,
                              .rx = chan_rx,
                              .tx_data = CHAN_SIZE - CHAN_DATA_OFFSET,
                              .rx_data = CHAN_SIZE - CHAN_DATA_OFFSET};
    memcpy(link.mac, MAC, 6);
    avail_idx[0] = avail_idx[1] = 0;
}

static void teardown(void)
{
    free(ram);
    free(chan_tx);
    free(chan_rx);
}

TestSuite(vnet, .init = setup, .fini = teardown);

static uint32_t rd(uint32_t off)
{
    uint64_t v = 0xDEAD;
    virtio_net_access(&net, &gram, &link, off, 4, false, &v);
    return (uint32_t)v;
}

static void wr(uint32_t off, uint32_t v)
{
    uint64_t x = v;
    virtio_net_access(&net, &gram, &link, off, 4, true, &x);
}

static uint64_t cfg(uint32_t off, unsigned size)
{
    uint64_t v = 0;
    virtio_net_access(&net, &gram, &link, VMMIO_CONFIG + off, size, false, &v);
    return v;
}

static void queue_init(unsigned q)
{
    wr(VMMIO_QUEUE_SEL, q);
    wr(VMMIO_QUEUE_NUM, QN);
    wr(VMMIO_QUEUE_DESC_LO, DESC(q));
    wr(VMMIO_QUEUE_AVAIL_LO, AVAIL(q));
    wr(VMMIO_QUEUE_USED_LO, USED(q));
    wr(VMMIO_QUEUE_READY, 1);
}

/* 3.1.1 with 5.1.5: receiveq1 and transmitq1. */
static void driver_init(void)
{
    wr(VMMIO_STATUS, 0);
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
    wr(VMMIO_DRV_FEAT_SEL, 0);
    wr(VMMIO_DRV_FEATURES, (uint32_t)VIRTIO_NET_FEATURES);
    wr(VMMIO_DRV_FEAT_SEL, 1);
    wr(VMMIO_DRV_FEATURES, (uint32_t)(VIRTIO_NET_FEATURES >> 32));
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    cr_assert(rd(VMMIO_STATUS) & VIRTIO_S_FEATURES_OK, "features accepted");
    queue_init(RX);
    queue_init(TX);
    wr(VMMIO_STATUS,
       VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
    cr_assert(virtio_mmio_live(&net.t));
    avail_idx[0] = avail_idx[1] = 0;
}

static void desc(unsigned q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *d = ram + DESC(q) + 16 * i;
    le_put64(d, addr);
    le_put32(d + 8, len);
    le_put16(d + 12, flags);
    le_put16(d + 14, next);
}

static void offer(unsigned q, uint16_t head, bool kick)
{
    le_put16(ram + AVAIL(q) + 4 + 2 * (avail_idx[q] % QN), head);
    le_put16(ram + AVAIL(q) + 2, ++avail_idx[q]);
    if (kick) wr(VMMIO_QUEUE_NOTIFY, q);
}

static uint16_t used_idx(unsigned q) { return le_get16(ram + USED(q) + 2); }
static uint32_t used_id(unsigned q, unsigned k)
{
    return le_get32(ram + USED(q) + 4 + 8 * (k % QN));
}
static uint32_t used_len(unsigned q, unsigned k)
{
    return le_get32(ram + USED(q) + 8 + 8 * (k % QN));
}

/* What the VMM does after committing the state holding `net`. */
static void committed(void) { virtio_net_committed(&net, &gram, &link); }

/* The guest sends a frame of len bytes (filled from seed) as header + frame in two buffers. */
static void send_frame(uint32_t len, uint8_t seed)
{
    memset(ram + TXBUF, 0, VIRTIO_NET_HDR_LEN);
    for (uint32_t i = 0; i < len; i++) ram[TXBUF + 0x100 + i] = (uint8_t)(seed + i * 3);
    unsigned h = (avail_idx[TX] * 2) % QN;
    desc(TX, h, TXBUF, VIRTIO_NET_HDR_LEN, VQ_DESC_F_NEXT, (uint16_t)(h + 1));
    desc(TX, h + 1, TXBUF + 0x100, len, 0, 0);
    offer(TX, (uint16_t)h, true);
}

/* The peer (the server of the transmit channel) takes the next frame; false if none. */
static bool peer_take(chan_desc_t *d, uint8_t *frame)
{
    chan_consumer_t c;
    chan_consumer_attach(&c, chan_req_ring(chan_tx));
    if (chan_consume(&c, d) != RS_OK) return false;
    cr_assert_leq(d->len, NET_MAX_FRAME);
    memcpy(frame, chan_data(chan_tx) + d->data_offset, d->len);
    chan_producer_t p;
    chan_producer_attach(&p, chan_comp_ring(chan_tx));
    chan_desc_t done = {.id = d->id, .op = NET_OP_FRAME, .status = RS_OK};
    cr_assert_eq(chan_produce(&p, &done), RS_OK);
    chan_release(&c);
    return true;
}

/* The peer (the client of the receive channel) sends a frame: proto/net.h's fixed buffer. */
static uint64_t peer_id;
static int peer_send_raw(uint32_t len, uint32_t data_offset, uint32_t op, uint8_t seed)
{
    chan_producer_t p;
    chan_producer_attach(&p, chan_req_ring(chan_rx));
    uint32_t off = data_offset == UINT32_MAX ? NET_BUF_OFFSET(p.head) : data_offset;
    for (uint32_t i = 0; i < len && (uint64_t)off + i < CHAN_SIZE - CHAN_DATA_OFFSET; i++)
        chan_data(chan_rx)[off + i] = (uint8_t)(seed ^ i);
    chan_desc_t d = {.id = ++peer_id, .op = op, .data_offset = off, .len = len};
    return chan_produce(&p, &d);
}
static int peer_send(uint32_t len, uint8_t seed)
{
    return peer_send_raw(len, UINT32_MAX, NET_OP_FRAME, seed);
}

/* The peer's completions of what it sent: statuses into st (up to max); returns the count. */
static unsigned peer_completions(uint32_t *st, unsigned max)
{
    chan_consumer_t c;
    chan_desc_t d;
    unsigned n = 0;
    chan_consumer_attach(&c, chan_comp_ring(chan_rx));
    while (chan_consume(&c, &d) == RS_OK) {
        if (n < max) st[n] = d.status;
        n++;
        chan_release(&c);
    }
    return n;
}

/* The guest posts n receive buffers of size bytes each. */
static void post_rx(unsigned n, uint32_t size)
{
    for (unsigned i = 0; i < n; i++) {
        unsigned h = avail_idx[RX] % QN;
        desc(RX, h, RXBUF(h), size, VQ_DESC_F_WRITE, 0);
        offer(RX, (uint16_t)h, false);
    }
    wr(VMMIO_QUEUE_NOTIFY, RX);
}

Test(vnet, registers_identify_a_network_device_with_mac_and_link_up)
{
    cr_assert_eq(rd(VMMIO_MAGIC), VIRTIO_MMIO_MAGIC);
    cr_assert_eq(rd(VMMIO_VERSION), 2);
    cr_assert_eq(rd(VMMIO_DEVICE_ID), 1, "5.1.1: network card");
    wr(VMMIO_DEV_FEAT_SEL, 0);
    cr_assert_eq(rd(VMMIO_DEV_FEATURES), (1u << 5) | (1u << 16), "MAC and STATUS, no offloads");
    wr(VMMIO_DEV_FEAT_SEL, 1);
    cr_assert_eq(rd(VMMIO_DEV_FEATURES), 1, "VERSION_1");
    for (unsigned i = 0; i < 6; i++) cr_assert_eq(cfg(i, 1), MAC[i]);
    cr_assert_eq(cfg(0, 4), 0xAB535202u, "mac as a word, little-endian");
    cr_assert_eq(cfg(6, 2), VIRTIO_NET_S_LINK_UP);
    cr_assert_eq(cfg(8, 2), 0, "nothing beyond status");
    wr(VMMIO_QUEUE_SEL, 2);
    cr_assert_eq(rd(VMMIO_QUEUE_NUM_MAX), 0, "two queues only");
    wr(VMMIO_QUEUE_SEL, 1);
    cr_assert_eq(rd(VMMIO_QUEUE_NUM_MAX), VQ_NUM_MAX);
}

Test(vnet, a_transmitted_frame_reaches_the_link_and_its_used_index_waits_for_the_commit)
{
    driver_init();
    send_frame(60, 7);
    chan_desc_t d;
    uint8_t frame[NET_MAX_FRAME];
    cr_assert(peer_take(&d, frame), "a request on the transmit channel");
    cr_assert_eq(d.op, NET_OP_FRAME);
    cr_assert_neq(d.id, 0);
    cr_assert_eq(d.len, 60, "the frame without the virtio-net header");
    cr_assert_eq(d.data_offset, NET_BUF_OFFSET(0), "ring position 0's buffer");
    for (unsigned i = 0; i < 60; i++) cr_assert_eq(frame[i], (uint8_t)(7 + i * 3));
    cr_assert_eq(used_idx(TX), 0, "not visible before the commit");
    cr_assert_eq(used_id(TX, 0), 0);
    committed();
    cr_assert_eq(used_idx(TX), 1);
    cr_assert_eq(used_len(TX, 0), 0, "nothing written into a transmit buffer");
    cr_assert(virtio_net_irq(&net));
    cr_assert(link.signal_tx, "the peer is to be signalled");
    cr_assert_eq(net.s.tx_frames, 1);
    // the second frame uses ring position 1's buffer
    send_frame(1514, 9);
    cr_assert(peer_take(&d, frame));
    cr_assert_eq(d.data_offset, NET_BUF_OFFSET(1));
    cr_assert_eq(d.len, 1514);
    committed();
    cr_assert_eq(used_idx(TX), 2);
}

Test(vnet, runts_and_giants_from_the_guest_are_dropped_and_counted)
{
    driver_init();
    send_frame(NET_MIN_FRAME - 1, 1);
    send_frame(NET_MAX_FRAME + 1, 1);
    send_frame(0, 1);
    chan_desc_t d;
    uint8_t frame[NET_MAX_FRAME];
    cr_assert(!peer_take(&d, frame), "nothing reaches the link");
    cr_assert_eq(net.s.tx_bad, 3);
    committed();
    cr_assert_eq(used_idx(TX), 3, "each chain goes back to the guest");
    send_frame(NET_MIN_FRAME, 1);
    send_frame(NET_MAX_FRAME, 1);
    cr_assert(peer_take(&d, frame) && d.len == NET_MIN_FRAME);
    cr_assert(peer_take(&d, frame) && d.len == NET_MAX_FRAME);
    cr_assert(virtio_mmio_live(&net.t));
}

Test(vnet, a_full_link_drops_without_waiting_and_frees_up_as_the_peer_releases)
{
    driver_init();
    for (unsigned i = 0; i < CHAN_ENTRIES; i++) send_frame(100, (uint8_t)i);
    cr_assert_eq(net.s.tx_frames, CHAN_ENTRIES);
    send_frame(100, 0xEE);
    cr_assert_eq(net.s.tx_dropped, 1, "the 65th frame: the ring is full");
    chan_desc_t d;
    uint8_t frame[NET_MAX_FRAME];
    cr_assert(peer_take(&d, frame));
    cr_assert_eq(frame[0], 0, "the first frame, intact");
    send_frame(100, 0x42);
    cr_assert_eq(net.s.tx_frames, CHAN_ENTRIES + 1, "one slot free again");
    for (unsigned i = 1; i < CHAN_ENTRIES; i++) {
        cr_assert(peer_take(&d, frame));
        cr_assert_eq(frame[0], (uint8_t)i, "frame %u intact though its buffer's slot is reused", i);
    }
    cr_assert(peer_take(&d, frame));
    cr_assert_eq(frame[0], 0x42);
    cr_assert_eq(d.data_offset, NET_BUF_OFFSET(CHAN_ENTRIES));
    committed();
    cr_assert_eq(used_idx(TX), CHAN_ENTRIES + 2);
}

Test(vnet, a_received_frame_lands_in_a_posted_buffer_and_is_released_after_the_commit)
{
    driver_init();
    post_rx(4, 2048);
    cr_assert_eq(peer_send(98, 0x33), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    cr_assert_eq(net.s.rx_frames, 1);
    cr_assert_eq(used_idx(RX), 0, "not visible before the commit");
    cr_assert_eq(chan_req_ring(chan_rx)->tail, 0, "not released before the commit");
    committed();
    cr_assert_eq(used_idx(RX), 1);
    cr_assert_eq(used_id(RX, 0), 0);
    cr_assert_eq(used_len(RX, 0), VIRTIO_NET_HDR_LEN + 98);
    uint8_t *b = ram + RXBUF(0);
    cr_assert_eq(le_get16(b + 10), 1, "num_buffers");
    cr_assert_eq(b[0], 0, "flags: no checksum offload");
    for (unsigned i = 0; i < 98; i++) cr_assert_eq(b[VIRTIO_NET_HDR_LEN + i], (uint8_t)(0x33 ^ i));
    cr_assert_eq(chan_req_ring(chan_rx)->tail, 1, "released");
    cr_assert_eq(le_get16(ram + USED(RX)), 1, "VIRTQ_USED_F_NO_NOTIFY: no kicks for refills");
    cr_assert_eq(le_get16(ram + USED(TX)), 0, "transmit kicks are wanted");
    uint32_t st[4];
    cr_assert_eq(peer_completions(st, 4), 1);
    cr_assert_eq(st[0], RS_OK);
    cr_assert(link.signal_rx);
    cr_assert(virtio_net_irq(&net));
}

Test(vnet, frames_without_a_posted_buffer_are_dropped_and_counted)
{
    driver_init();
    post_rx(1, 2048);
    for (unsigned i = 0; i < 3; i++) cr_assert_eq(peer_send(64, (uint8_t)i), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    committed();
    cr_assert_eq(net.s.rx_frames, 1);
    cr_assert_eq(net.s.rx_dropped, 2);
    uint32_t st[4];
    cr_assert_eq(peer_completions(st, 4), 3);
    cr_assert_eq(st[0], RS_OK);
    cr_assert_eq(st[1], NET_STATUS_DROPPED);
    cr_assert_eq(st[2], NET_STATUS_DROPPED);
    cr_assert_eq(chan_req_ring(chan_rx)->tail, 3, "every request released: nothing waits");
}

Test(vnet, a_buffer_too_small_goes_back_empty)
{
    driver_init();
    post_rx(2, 100);
    cr_assert_eq(peer_send(200, 1), RS_OK);
    cr_assert_eq(peer_send(80, 2), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    committed();
    cr_assert_eq(net.s.rx_small, 1);
    cr_assert_eq(net.s.rx_frames, 1);
    cr_assert_eq(used_idx(RX), 2);
    cr_assert_eq(used_len(RX, 0), 0);
    cr_assert_eq(used_len(RX, 1), VIRTIO_NET_HDR_LEN + 80);
}

Test(vnet, bad_requests_from_the_peer_are_refused_and_counted)
{
    driver_init();
    post_rx(8, 2048);
    uint32_t data = CHAN_SIZE - CHAN_DATA_OFFSET;
    cr_assert_eq(peer_send(NET_MIN_FRAME - 1, 1), RS_OK);
    cr_assert_eq(peer_send(NET_MAX_FRAME + 1, 1), RS_OK);
    cr_assert_eq(peer_send_raw(100, data - 99, NET_OP_FRAME, 1), RS_OK);       // past the data area
    cr_assert_eq(peer_send_raw(100, UINT32_MAX - 10, NET_OP_FRAME, 1), RS_OK); // would wrap
    cr_assert_eq(peer_send_raw(100, UINT32_MAX, 7, 1), RS_OK);                 // not a frame
    cr_assert_eq(peer_send(100, 1), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    committed();
    cr_assert_eq(net.s.rx_bad, 5);
    cr_assert_eq(net.s.rx_frames, 1);
    uint32_t st[8];
    cr_assert_eq(peer_completions(st, 8), 6);
    for (unsigned i = 0; i < 5; i++) cr_assert_eq(st[i], RS_INVALID_ARGUMENT, "request %u", i);
    cr_assert_eq(st[5], RS_OK);
    cr_assert_eq(used_idx(RX), 1, "only the good frame reached the guest");
}

/* The VMM dies after a transaction took frames but before its commit: the next instance starts
 * from the committed state and takes the same frames again; the guest sees each once. */
Test(vnet, a_restart_before_the_commit_delivers_each_frame_once)
{
    driver_init();
    post_rx(8, 2048);
    for (unsigned i = 0; i < 3; i++) cr_assert_eq(peer_send(70 + i, (uint8_t)(0x10 * i)), RS_OK);
    struct virtio_net before = net; // the committed state
    virtio_net_poll(&net, &gram, &link);
    cr_assert_eq(net.s.rx_frames, 3);
    // the crash: the transaction's state is lost, so is the process's link view
    net = before;
    link = (struct vnet_link){
        .tx = chan_tx, .rx = chan_rx, .tx_data = link.tx_data, .rx_data = link.rx_data};
    committed(); // the new instance publishes what was committed: nothing new
    cr_assert_eq(used_idx(RX), 0);
    cr_assert_eq(chan_req_ring(chan_rx)->tail, 0);
    cr_assert_eq(peer_send(73, 0x30), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    committed();
    cr_assert_eq(used_idx(RX), 4, "four frames, none twice");
    for (unsigned k = 0; k < 4; k++) {
        cr_assert_eq(used_id(RX, k), k);
        cr_assert_eq(used_len(RX, k), VIRTIO_NET_HDR_LEN + 70 + k);
        cr_assert_eq(ram[RXBUF(k) + VIRTIO_NET_HDR_LEN + 1], (uint8_t)((0x10 * k) ^ 1));
    }
    uint32_t st[8];
    cr_assert_eq(peer_completions(st, 8), 4);
}

/* The same for transmit: the exit comes again and the chain is sent again (proto/net.h allows
 * a duplicate, not a loss), at the channel's shared head, not over the frame already out. */
Test(vnet, a_restart_before_the_commit_sends_a_frame_again_never_loses_it)
{
    driver_init();
    struct virtio_net before = net;
    send_frame(60, 1);
    net = before; // crashed before the commit
    link.signal_tx = false;
    le_put16(ram + AVAIL(TX) + 2, avail_idx[TX]);
    wr(VMMIO_QUEUE_NOTIFY, TX); // the redelivered exit
    committed();
    cr_assert_eq(used_idx(TX), 1);
    chan_desc_t d;
    uint8_t frame[NET_MAX_FRAME];
    cr_assert(peer_take(&d, frame) && d.data_offset == NET_BUF_OFFSET(0));
    cr_assert(peer_take(&d, frame) && d.data_offset == NET_BUF_OFFSET(1), "sent again, after");
    cr_assert(!peer_take(&d, frame));
}

Test(vnet, a_descriptor_loop_or_an_address_outside_ram_needs_a_reset)
{
    driver_init();
    desc(TX, 0, TXBUF, 12, VQ_DESC_F_NEXT, 1);
    desc(TX, 1, TXBUF, 60, VQ_DESC_F_NEXT, 0); // back to 0: a loop
    offer(TX, 0, true);
    cr_assert(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET);
    cr_assert_eq(net.s.broken, 1);
    cr_assert(rd(VMMIO_INT_STATUS) & VIRTIO_INT_CONFIG);
    // broken: frames from the peer are dropped, the rings keep moving
    cr_assert_eq(peer_send(64, 1), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    committed();
    cr_assert_eq(net.s.rx_dropped, 1);
    // a reset brings it back
    driver_init();
    cr_assert(!(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET));
    desc(RX, 0, RAM_SIZE - 16, 64, VQ_DESC_F_WRITE, 0); // beyond the end of RAM
    offer(RX, 0, true);
    cr_assert_eq(peer_send(64, 1), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    cr_assert(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET);
    driver_init();
    le_put16(ram + AVAIL(TX) + 2, QN + 1); // more chains than the ring holds
    wr(VMMIO_QUEUE_NOTIFY, TX);
    cr_assert(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET);
}

Test(vnet, without_a_link_frames_are_dropped)
{
    link = (struct vnet_link){0};
    driver_init();
    send_frame(60, 1);
    cr_assert_eq(net.s.tx_dropped, 1);
    virtio_net_poll(&net, &gram, &link);
    virtio_net_poll(&net, &gram, NULL);
    virtio_net_committed(&net, &gram, NULL);
    cr_assert_eq(used_idx(TX), 1);
    link.tx = chan_tx;
    link.tx_data = NET_BUF_SIZE * CHAN_ENTRIES - 1; // a data area too small for the protocol
    send_frame(60, 1);
    cr_assert_eq(net.s.tx_dropped, 2);
}

/* Issue 12's bad input from a guest, chain by chain: each is either dropped and counted with the
 * chain given back (a frame the link must not carry) or, where the ring itself is malformed,
 * DEVICE_NEEDS_RESET; nothing reaches the link, and after a reset the next frame goes through. */
enum outcome { DROPPED, RESET };
struct hostile {
    const char *what;
    unsigned n; /* descriptors, chained 0 -> 1 -> ... unless next says otherwise */
    struct {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
    } d[5];
    enum outcome want;
};
static const struct hostile hostile_tx[] = {
    {"a zero-length chain", 1, {{TXBUF, 0, 0, 0}}, DROPPED},
    {"header only", 1, {{TXBUF, VIRTIO_NET_HDR_LEN, 0, 0}}, DROPPED},
    {"half a header", 1, {{TXBUF, 5, 0, 0}}, DROPPED},
    {"header and a 13-byte runt", 2, {{TXBUF, 12, 1, 1}, {TXBUF + 0x100, 13, 0, 0}}, DROPPED},
    {"a zero-length descriptor then the header", 2, {{TXBUF, 0, 1, 1}, {TXBUF, 12, 0, 0}}, DROPPED},
    {"a 1519-byte frame", 2, {{TXBUF, 12, 1, 1}, {TXBUF + 0x100, 1519, 0, 0}}, DROPPED},
    {"a 9000-byte jumbo frame", 2, {{TXBUF, 12, 1, 1}, {TXBUF + 0x100, 9000, 0, 0}}, DROPPED},
    {"a 64 KiB frame over two descriptors",
     3,
     {{TXBUF, 12, 1, 1}, {TXBUF, 0x8000, 1, 2}, {TXBUF, 0x8000, 0, 0}},
     DROPPED},
    {"only device-writable buffers", 1, {{TXBUF, 1500, VQ_DESC_F_WRITE, 0}}, DROPPED},
    {"a self loop", 1, {{TXBUF, 12, VQ_DESC_F_NEXT, 0}}, RESET},
    {"a loop through three", 3, {{TXBUF, 12, 1, 1}, {TXBUF, 20, 1, 2}, {TXBUF, 30, 1, 0}}, RESET},
    {"next beyond the queue", 1, {{TXBUF, 12, VQ_DESC_F_NEXT, QN}}, RESET},
    {"next at 0xFFFF", 1, {{TXBUF, 12, VQ_DESC_F_NEXT, 0xFFFF}}, RESET},
    {"an address beyond RAM", 2, {{TXBUF, 12, 1, 1}, {RAM_SIZE, 60, 0, 0}}, RESET},
    {"a buffer running past RAM's end", 2, {{TXBUF, 12, 1, 1}, {RAM_SIZE - 30, 60, 0, 0}}, RESET},
    {"an address that wraps", 2, {{TXBUF, 12, 1, 1}, {~0ull - 15, 60, 0, 0}}, RESET},
    {"a length of 4 GiB - 1", 2, {{TXBUF, 12, 1, 1}, {0, 0xFFFFFFFFu, 0, 0}}, RESET},
    {"more than 4 MiB in all",
     5,
     {{0, RAM_SIZE, 1, 1},
      {0, RAM_SIZE, 1, 2},
      {0, RAM_SIZE, 1, 3},
      {0, RAM_SIZE, 1, 4},
      {0, RAM_SIZE, 0, 0}},
     RESET},
    {"an indirect descriptor", 1, {{TXBUF, 16, VQ_DESC_F_INDIRECT, 0}}, RESET},
    {"readable after writable", 2, {{TXBUF, 12, 3, 1}, {TXBUF + 0x100, 60, 0, 0}}, RESET},
};

Test(vnet, hostile_transmit_chains_are_dropped_and_counted_or_need_a_reset)
{
    chan_desc_t d;
    uint8_t frame[NET_MAX_FRAME];
    for (unsigned k = 0; k < sizeof hostile_tx / sizeof hostile_tx[0]; k++) {
        const struct hostile *h = &hostile_tx[k];
        driver_init();
        memset(ram + USED(TX), 0, 4 + 8 * QN);
        struct vnet_stats before = net.s;
        for (unsigned i = 0; i < h->n; i++)
            desc(TX, i, h->d[i].addr, h->d[i].len, h->d[i].flags, h->d[i].next);
        offer(TX, 0, true);
        committed();
        cr_assert(!peer_take(&d, frame), "%s: nothing reaches the link", h->what);
        if (h->want == DROPPED) {
            cr_assert_eq(net.s.tx_bad, before.tx_bad + 1, "%s: counted", h->what);
            cr_assert_eq(used_idx(TX), 1, "%s: given back", h->what);
            cr_assert(virtio_mmio_live(&net.t), "%s: the device goes on", h->what);
        } else {
            cr_assert_eq(net.s.broken, before.broken + 1, "%s: counted", h->what);
            cr_assert(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET, "%s: needs a reset", h->what);
            cr_assert(rd(VMMIO_INT_STATUS) & VIRTIO_INT_CONFIG, "%s: config interrupt", h->what);
            send_frame(60, 1); // ignored until the reset
            cr_assert(!peer_take(&d, frame), "%s: a broken device sends nothing", h->what);
        }
        driver_init();
        memset(ram + USED(TX), 0, 4 + 8 * QN);
        send_frame(NET_MAX_FRAME, (uint8_t)k);
        committed();
        cr_assert(peer_take(&d, frame) && d.len == NET_MAX_FRAME, "%s: then a frame goes", h->what);
        cr_assert_eq(frame[7], (uint8_t)(k + 7 * 3), "%s: intact", h->what);
    }
}

/* The receive side's garbage: buffers the device cannot fill are given back empty (rx_small),
 * malformed ones need a reset; the frame is dropped either way, and the peer's next frame lands
 * once the guest behaves. */
static const struct hostile hostile_rx[] = {
    {"a zero-length buffer", 1, {{RXBUF(0), 0, VQ_DESC_F_WRITE, 0}}, DROPPED},
    {"room for the header only", 1, {{RXBUF(0), VIRTIO_NET_HDR_LEN, VQ_DESC_F_WRITE, 0}}, DROPPED},
    {"a read-only buffer", 1, {{RXBUF(0), 2048, 0, 0}}, DROPPED},
    {"a loop", 2, {{RXBUF(0), 12, 3, 1}, {RXBUF(1), 12, 3, 0}}, RESET},
    {"beyond RAM", 1, {{RAM_SIZE + 4096, 2048, VQ_DESC_F_WRITE, 0}}, RESET},
    {"an absurd length", 1, {{RXBUF(0), 0xFFFFFFF0u, VQ_DESC_F_WRITE, 0}}, RESET},
};

Test(vnet, hostile_receive_buffers_drop_the_frame_and_are_counted_or_need_a_reset)
{
    for (unsigned k = 0; k < sizeof hostile_rx / sizeof hostile_rx[0]; k++) {
        const struct hostile *h = &hostile_rx[k];
        driver_init();
        memset(ram + USED(RX), 0, 4 + 8 * QN);
        struct vnet_stats before = net.s;
        for (unsigned i = 0; i < h->n; i++)
            desc(RX, i, h->d[i].addr, h->d[i].len, h->d[i].flags, h->d[i].next);
        offer(RX, 0, false);
        cr_assert_eq(peer_send(100, (uint8_t)k), RS_OK);
        virtio_net_poll(&net, &gram, &link);
        committed();
        uint32_t st[4];
        cr_assert_eq(peer_completions(st, 4), 1, "%s: completed", h->what);
        cr_assert_eq(st[0], NET_STATUS_DROPPED, "%s: as dropped", h->what);
        if (h->want == DROPPED) {
            cr_assert_eq(net.s.rx_small, before.rx_small + 1, "%s: counted", h->what);
            cr_assert_eq(used_idx(RX), 1, "%s: given back", h->what);
            cr_assert_eq(used_len(RX, 0), 0, "%s: empty", h->what);
        } else {
            cr_assert_eq(net.s.broken, before.broken + 1, "%s: counted", h->what);
            cr_assert(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET, "%s: needs a reset", h->what);
        }
        driver_init();
        memset(ram + USED(RX), 0, 4 + 8 * QN);
        post_rx(1, 2048);
        cr_assert_eq(peer_send(NET_MAX_FRAME, (uint8_t)k), RS_OK);
        virtio_net_poll(&net, &gram, &link);
        committed();
        cr_assert_eq(used_idx(RX), 1, "%s: then a frame lands", h->what);
        cr_assert_eq(used_len(RX, 0), VIRTIO_NET_HDR_LEN + NET_MAX_FRAME);
        cr_assert_eq(peer_completions(st, 4), 1);
        cr_assert_eq(st[0], RS_OK, "%s", h->what);
    }
}

/* 2.7.7: while the driver's available ring says VIRTQ_AVAIL_F_NO_INTERRUPT, used buffers raise
 * no interrupt (counted); a driver that clears the flag before the index is published (the
 * index comes only after the commit) must still get one: virtio_net_committed says so, and
 * virtio_net_interrupt raises it. */
Test(vnet, no_interrupt_is_honoured_and_a_flag_cleared_before_the_index_still_interrupts)
{
    driver_init();
    post_rx(4, 2048);
    le_put16(ram + AVAIL(RX), VQ_AVAIL_F_NO_INTERRUPT);
    cr_assert_eq(peer_send(60, 1), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    cr_assert_eq(net.s.rx_frames, 1);
    cr_assert_eq(net.s.irq_suppressed, 1);
    cr_assert(!(rd(VMMIO_INT_STATUS) & VIRTIO_INT_USED), "withheld");
    cr_assert(!virtio_net_committed(&net, &gram, &link), "still polling: the guest sees it");
    cr_assert_eq(used_idx(RX), 1);
    cr_assert(!virtio_net_irq(&net));
    // the driver turns interrupts back on while the transaction runs: after the index, one
    cr_assert_eq(peer_send(61, 2), RS_OK);
    virtio_net_poll(&net, &gram, &link);
    cr_assert(!(rd(VMMIO_INT_STATUS) & VIRTIO_INT_USED));
    le_put16(ram + AVAIL(RX), 0);
    cr_assert(virtio_net_committed(&net, &gram, &link), "the withheld interrupt is due");
    cr_assert_eq(used_idx(RX), 2, "the index first");
    virtio_net_interrupt(&net, &link);
    cr_assert(rd(VMMIO_INT_STATUS) & VIRTIO_INT_USED);
    cr_assert(virtio_net_irq(&net));
    cr_assert(!virtio_net_committed(&net, &gram, &link), "once");
    // with the flag clear the interrupt comes in the transaction itself
    wr(VMMIO_INT_ACK, VIRTIO_INT_USED);
    cr_assert(!virtio_net_irq(&net));
    send_frame(60, 3);
    cr_assert(rd(VMMIO_INT_STATUS) & VIRTIO_INT_USED);
    cr_assert(!virtio_net_committed(&net, &gram, &link));
    // a restarted VMM looks again (main.c sets suppressed for both queues)
    link.suppressed = 3;
    cr_assert(virtio_net_committed(&net, &gram, &link), "flags clear: an interrupt");
    le_put16(ram + AVAIL(RX), VQ_AVAIL_F_NO_INTERRUPT);
    le_put16(ram + AVAIL(TX), VQ_AVAIL_F_NO_INTERRUPT);
    link.suppressed = 3;
    cr_assert(!virtio_net_committed(&net, &gram, &link), "flags set: none");
}

/* One exit does both directions: a transmit kick also takes every frame waiting on the link,
 * committed and published once. */
Test(vnet, a_transmit_kick_also_receives_what_waits_on_the_link)
{
    driver_init();
    post_rx(8, 2048);
    for (unsigned i = 0; i < 5; i++) cr_assert_eq(peer_send(60 + i, (uint8_t)i), RS_OK);
    for (unsigned i = 0; i < 3; i++) {
        memset(ram + TXBUF, 0, VIRTIO_NET_HDR_LEN);
        unsigned h = (avail_idx[TX] * 2) % QN;
        desc(TX, h, TXBUF, VIRTIO_NET_HDR_LEN, VQ_DESC_F_NEXT, (uint16_t)(h + 1));
        desc(TX, h + 1, TXBUF + 0x100, 60, 0, 0);
        offer(TX, (uint16_t)h, false);
    }
    wr(VMMIO_QUEUE_NOTIFY, TX); // one kick for three chains
    cr_assert_eq(net.s.tx_frames, 3);
    cr_assert_eq(net.s.rx_frames, 5, "the link's frames in the same exit");
    cr_assert_eq(used_idx(RX), 0, "nothing published before the commit");
    cr_assert_eq(used_idx(TX), 0);
    committed();
    cr_assert_eq(used_idx(RX), 5);
    cr_assert_eq(used_idx(TX), 3);
    uint32_t st[8];
    cr_assert_eq(peer_completions(st, 8), 5, "released after the commit");
}

/* Seeded fuzz: random register accesses, descriptor and ring garbage, peer requests of any
 * length and offset, corrupt ring indices, commits and lost transactions, in any order. The
 * device must stay inside its buffers (ASan), keep its link rings in range and finish every
 * call (bounded loops). */
Test(vnet, seeded_fuzz_of_guest_and_peer_garbage, .timeout = 60)
{
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (unsigned round = 0; round < 40; round++) {
        virtio_net_reset(&net, MAC);
        memset(ram, 0, RAM_SIZE);
        chan_format(chan_tx);
        chan_format(chan_rx);
        driver_init();
        for (unsigned step = 0; step < 2000; step++) {
            uint64_t r = xorshift64(&seed);
            switch (r % 12) {
            case 0: { // a register write, any offset and size
                uint64_t v = xorshift64(&seed);
                unsigned sz = 1u << (xorshift64(&seed) % 4);
                virtio_net_access(&net, &gram, &link, (uint32_t)(v >> 32) % 0x210, sz, true, &v);
                break;
            }
            case 1: { // a read
                uint64_t v;
                virtio_net_access(&net, &gram, &link, (uint32_t)(r >> 20) % 0x210, 4, false, &v);
                break;
            }
            case 2: // descriptor garbage
                desc((r >> 8) & 1, (r >> 9) % QN, xorshift64(&seed) % (RAM_SIZE + 0x1000),
                     (uint32_t)xorshift64(&seed) % 4000, (uint16_t)(r >> 20) & 7,
                     (uint16_t)((r >> 24) % (QN + 2)));
                break;
            case 3: // a plausible chain offered
                if ((r >> 8) & 1) send_frame((uint32_t)(r >> 16) % 1600, (uint8_t)r);
                else post_rx(1 + (r >> 16) % 4, (uint32_t)(r >> 20) % 2100);
                break;
            case 4: // the available index anywhere
                le_put16(ram + AVAIL((r >> 8) & 1) + 2, (uint16_t)(r >> 16));
                wr(VMMIO_QUEUE_NOTIFY, (r >> 8) & 1);
                break;
            case 5: // the peer sends something
                peer_send_raw((uint32_t)(r >> 8) % 1600,
                              (r >> 30) & 1 ? UINT32_MAX
                                            : (uint32_t)xorshift64(&seed) % (CHAN_SIZE + 64),
                              (r >> 31) & 1 ? NET_OP_FRAME : (uint32_t)(r >> 40), (uint8_t)r);
                break;
            case 6:
            case 7: // a transaction and its commit
                virtio_net_poll(&net, &gram, &link);
                committed();
                break;
            case 8: { // a transaction lost to a crash
                struct virtio_net before = net;
                virtio_net_poll(&net, &gram, &link);
                net = before;
                break;
            }
            case 9: { // the peer drains the transmit side
                chan_desc_t d;
                uint8_t f[NET_MAX_FRAME];
                for (unsigned k = 0; k < (r >> 8) % 70 && peer_take(&d, f); k++) {
                }
                uint32_t st[1];
                peer_completions(st, 1);
                break;
            }
            case 10: // a corrupt index from the peer
                if ((r >> 8) & 1) chan_req_ring(chan_rx)->head = (uint32_t)(r >> 16);
                else chan_comp_ring(chan_tx)->head = (uint32_t)(r >> 16);
                break;
            case 11:
                if ((r >> 8) % 50 == 0) driver_init();
                break;
            }
            // what the device owns stays in range
            cr_assert_leq(chan_req_ring(chan_tx)->head - chan_req_ring(chan_tx)->tail,
                          CHAN_ENTRIES);
            cr_assert_leq(link.rx_taken, CHAN_ENTRIES);
        }
    }
}
