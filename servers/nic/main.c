// SPDX-License-Identifier: MIT
// nic-virtio and nic-e1000: a NIC driver with exactly one network link (proto/net.h). Frames
// from the wire go out on the link's transmit side, frames from its receive side go to the wire;
// interrupt driven, NIC_RX_BUFS receive buffers posted and up to NIC_TX_BUFS frames in flight.
// A restarted instance resets the device and takes up the link's channel ends as they are.
#include "ipc.h"
#include "invoke_stubs.h"
#include "nic.h"
#include "proto/net.h"

struct drv {
    uint64_t magic; /* an injected wild write destroys this: the loop then exits */
    struct nic nic;
    const ipc_device_info_t *info;
    net_link_index_t link;
    uint8_t *txc, *rxc;      /* the link's channels: transmit side (we are the client), receive */
    chan_producer_t out_req; /* frames to the peer */
    chan_consumer_t out_comp;
    chan_consumer_t in_req; /* frames from the peer */
    chan_producer_t in_comp;
    uint64_t next_id;
    uint64_t held;        /* times the link was full with frames waiting at the device */
    uint64_t link_bad;    /* requests from the link refused: bad op, id, length or buffer */
    uint64_t peer_drops;  /* our frames the peer completed as dropped or refused */
    uint64_t comp_lost;   /* completions not posted: the peer's completion ring was full */
    uint64_t last_report; /* st.rx + st.tx at the last statistics line */
    uint64_t bad_report;  /* bad input at the last report of it (each change up to 64, then at
                             powers of 2: a flood of garbage does not flood the console) */
};
#define DRV_MAGIC 0x4E49434452495645ul

static struct drv drv;
static ipc_server_t srv;

/* The words setup() chose, kept apart and compared every round (as blk's): a stray write into
 * them (a ring or channel address, the register access, DMA, the link's channel indices) ends
 * in a crash and a clean restart instead of frames lost or signals sent elsewhere. */
struct nic_setup {
    const ipc_device_info_t *info;
    uint8_t *txc, *rxc, *dma;
    const chan_ring_t *rings[4];
    struct nic_regs regs;
    uint64_t dma_paddr, dma_size, link;
};
_Static_assert(sizeof(struct nic_setup) % 8 == 0, "compared word by word");
static struct nic_setup setup_seal;

static struct nic_setup setup_now(void)
{
    return (struct nic_setup){
        .info = drv.info,
        .txc = drv.txc,
        .rxc = drv.rxc,
        .dma = drv.nic.dma,
        .rings = {drv.out_req.ring, drv.out_comp.ring, drv.in_req.ring, drv.in_comp.ring},
        .regs = drv.nic.regs,
        .dma_paddr = drv.nic.dma_paddr,
        .dma_size = drv.nic.dma_size,
        .link = drv.link.tx | (uint64_t)drv.link.rx << 32};
}

static bool setup_intact(void)
{
    struct nic_setup now = setup_now();
    return ipc_words_equal(&now, &setup_seal, sizeof(now));
}

/* nic's own ends of the link's rings agree with what it published, and nothing is consumed and
 * unreleased between rounds: a flipped private tail made it refuse the peer's request ring as
 * corrupt ("head out of range") round after round, frames to the wire stopped, until init's owed
 * check restarted it (a storm of corrupt into nic, seed 16). A new instance takes the published
 * ends up again. */
static bool ends_intact(void)
{
    return chan_producer_published(&drv.out_req) && chan_producer_published(&drv.in_comp) &&
           chan_consumer_published(&drv.in_req, 0) && chan_consumer_published(&drv.out_comp, 0);
}

#ifdef NIC_REGS_MMIO
/* Registers in memory BAR 0 (mapped uncached by init). */
static uint32_t reg_read(void *ctx, unsigned w, uint32_t off)
{
    volatile uint8_t *p = (volatile uint8_t *)IPC_DEVICE_BAR_VADDR(0) + off;
    return w == 1 ? *p : w == 2 ? *(volatile uint16_t *)p : *(volatile uint32_t *)p;
}
static void reg_write(void *ctx, unsigned w, uint32_t off, uint32_t x)
{
    volatile uint8_t *p = (volatile uint8_t *)IPC_DEVICE_BAR_VADDR(0) + off;
    if (w == 1) *p = (uint8_t)x;
    else if (w == 2) *(volatile uint16_t *)p = (uint16_t)x;
    else *(volatile uint32_t *)p = x;
}
#else
/* Registers in the I/O BAR (IPC_SLOT_IOPORT). */
static uint32_t reg_read(void *ctx, unsigned w, uint32_t off)
{
    uint32_t x = 0;
    ps_ioport_in(IPC_SLOT_IOPORT, w, (uint16_t)(drv.info->io_base + off), &x);
    return x;
}
static void reg_write(void *ctx, unsigned w, uint32_t off, uint32_t x)
{
    ps_ioport_out(IPC_SLOT_IOPORT, w, (uint16_t)(drv.info->io_base + off), x);
}
#endif

/* Takes an injected fault at `here`; a wild write (our state destroyed) ends this instance at
 * once, before anything uses the garbage. */
static void fault_point(enum ipc_fault_point here)
{
    ipc_server_fault_point(&srv, here);
    if (drv.magic != DRV_MAGIC) {
        rt_printf("nic: state destroyed: exiting for a clean restart\n");
        rt_exit(2);
    }
}

static void report(const char *why)
{
    const struct nic_stats *s = &drv.nic.st;
    rt_printf("nic: %s: instance %lu, link %s, status %x: rx %lu tx %lu, bad rx %lu tx %lu, "
              "refused %lu, held %lu, tx full %lu, peer drops %lu, garbage %lu, irqs %lu\n",
              why, srv.control->instance, (drv.nic.status & NIC_STATUS_LINK) ? "up" : "down",
              drv.nic.status, s->rx, s->tx, s->rx_bad, s->tx_bad, drv.link_bad, drv.held,
              s->tx_full, drv.peer_drops, s->dev_garbage, s->irqs);
    drv.last_report = s->rx + s->tx;
}

/* Completions of our frames: only to keep that ring moving, and to count what the peer dropped. */
static void reap(void)
{
    chan_desc_t d;
    while (chan_consume(&drv.out_comp, &d) == RS_OK) {
        chan_release(&drv.out_comp);
        if (d.status != RS_OK) drv.peer_drops++;
    }
}

/* Wire to link: frames the device received, each into the buffer of its ring position, while
 * the link has room. With the link full they wait at the device, which drops what it has no
 * buffer for: the driver never waits for its peer. Returns true if it produced. */
static bool wire_to_link(void)
{
    bool produced = false;
    while (nic_dev_rx_pending(&drv.nic)) {
        if (!chan_space(&drv.out_req)) {
            drv.held++;
            break;
        }
        uint32_t off = NET_BUF_OFFSET(drv.out_req.head), len = 0;
        if (nic_dev_rx(&drv.nic, chan_data(drv.txc) + off, &len)) break;
        chan_desc_t d = {.id = drv.next_id++, .op = NET_OP_FRAME, .data_offset = off, .len = len};
        if (chan_produce(&drv.out_req, &d)) break;
        produced = true;
    }
    return produced;
}

/* Link to wire: frames the peer sent, copied into transmit buffers while the device has one.
 * Each gets its completion (refused ones with RS_INVALID_ARGUMENT) and is released at once.
 * Returns true if it completed any. */
static bool link_to_wire(bool *queued)
{
    bool completed = false;
    uint64_t data_size = drv.info->channel[drv.link.rx].data_size;
    for (;;) {
        uint32_t pos = drv.in_req.next;
        chan_desc_t d;
        int err = chan_consume(&drv.in_req, &d);
        if (err == RS_RANGE_ERROR) {
            drv.link_bad++;
            rt_printf("nic: the peer's request ring is corrupt (head out of range)\n");
        }
        if (err) break;
        int st = RS_OK;
        if (d.id == 0 || d.op != NET_OP_FRAME || d.len < NET_MIN_FRAME || d.len > NET_MAX_FRAME ||
            d.data_offset != NET_BUF_OFFSET(pos) || d.data_offset + (uint64_t)d.len > data_size)
            st = RS_INVALID_ARGUMENT;
        else if (nic_dev_tx(&drv.nic, chan_data(drv.rxc) + d.data_offset, d.len) ==
                 RS_WOULD_BLOCK) {
            // every transmit buffer is in flight: the request stays unread until the device
            // finishes one (its interrupt wakes us); the consumer's position is ours alone
            drv.in_req.next--;
            break;
        } else *queued = true;
        if (st) drv.link_bad++;
        d.status = (uint32_t)st;
        if (chan_produce(&drv.in_comp, &d)) drv.comp_lost++;
        else completed = true;
        fault_point(IPC_FAULT_BEFORE_REPLY); // frame out, request unreleased
        chan_release(&drv.in_req);
    }
    return completed;
}

static int setup(void)
{
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    if (info->magic != IPC_DEVICE_MAGIC || !info->vendor) {
        rt_printf("nic: no device (manifest device=)\n");
        return RS_NOT_FOUND;
    }
    drv.info = info;
    int err = net_link_only(info, &drv.link);
    if (err) {
        rt_printf("nic: no network link (%s): the manifest needs channels L.a and L.b\n",
                  rs_error_name(err));
        return err;
    }
#ifdef NIC_REGS_MMIO
    if (info->bar[0].mapped < 0x6000) {
        rt_printf("nic: memory BAR 0 not mapped\n");
        return RS_NOT_FOUND;
    }
#else
    if (!info->io_size) {
        rt_printf("nic: no I/O BAR\n");
        return RS_NOT_FOUND;
    }
#endif
    // alive: the setup below (a device reset, a console line) can outlast two watchdog pings
    // on a slow emulator
    srv.control->heartbeat++;
    drv.nic.regs = (struct nic_regs){reg_read, reg_write, NULL};
    drv.nic.dma = (uint8_t *)IPC_DMA_VADDR;
    drv.nic.dma_paddr = info->dma_paddr;
    drv.nic.dma_size = info->dma_size;
    err = nic_dev_init(&drv.nic);
    if (err) {
        rt_printf("nic: %s: setup failed: %s (DMA %lu bytes, %lu needed)\n", nic_dev_name(),
                  rs_error_name(err), info->dma_size, nic_dev_dma_bytes());
        return err;
    }
    srv.control->heartbeat++;
    drv.txc = (uint8_t *)IPC_CHANNEL_VADDR(drv.link.tx);
    drv.rxc = (uint8_t *)IPC_CHANNEL_VADDR(drv.link.rx);
    // the link outlives us: take up both channel ends where the previous instance left them
    if (chan_producer_attach(&drv.out_req, chan_req_ring(drv.txc)))
        rt_printf("nic: transmit ring corrupt at start: reset\n");
    // frames may be dropped: a ring whose tail (ours) is out of range starts over at its head
    if (chan_consumer_attach(&drv.out_comp, chan_comp_ring(drv.txc))) {
        rt_printf("nic: transmit completions corrupt at start: skipped\n");
        chan_consumer_skip_all(&drv.out_comp);
    }
    if (chan_consumer_attach(&drv.in_req, chan_req_ring(drv.rxc))) {
        rt_printf("nic: receive ring corrupt at start: skipped\n");
        chan_consumer_skip_all(&drv.in_req);
    }
    if (chan_producer_attach(&drv.in_comp, chan_comp_ring(drv.rxc)))
        rt_printf("nic: receive completions corrupt at start: reset\n");
    drv.next_id = srv.control->instance << 40 | 1;
    const uint8_t *m = drv.nic.mac;
    rt_printf("nic: %s instance %lu: MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s, irq %u, "
              "link %s (%u rx buffers, %u tx)\n",
              nic_dev_name(), srv.control->instance, m[0], m[1], m[2], m[3], m[4], m[5],
              (drv.nic.status & NIC_STATUS_LINK) ? "up" : "down", info->irq,
              info->channel[drv.link.tx].name, NIC_RX_BUFS, NIC_TX_BUFS);
    return RS_OK;
}

static int no_requests(void *ctx, rs_badge_t b, const ipc_msg_t *req, ipc_msg_t *reply)
{
    return RS_ILLEGAL_OPERATION; // frames come by the link only
}

int main(void *arg)
{
    ipc_server_init(&srv, no_requests, NULL);
    srv.scribble = &drv;
    srv.scribble_size = sizeof(drv);
    drv.magic = DRV_MAGIC;
    int err = setup();
    if (err) {
        rt_printf("nic: cannot start: %s\n", rs_error_name(err));
        return 1;
    }
    if (drv.info->irq != 0xFF) ps_irq_handler_ack(IPC_SLOT_IRQ); // the line may be masked
    setup_seal = setup_now();
    ipc_server_seal(&srv);
    rs_result_t r = {.error = RS_OK, .info = 0, .badge = 0};
    bool first = true;
    for (;;) {
        if (!first) r = rs_recv(srv.ep);
        ipc_server_round(&srv, r); // srv as sealed, no receive failing for ever; the heartbeat
        // the wakeup is owed until this loop is back at its receive (init's owed check)
        srv.control->vmm_exit_in = srv.control->heartbeat;
        if (drv.magic != DRV_MAGIC || !setup_intact() || !ends_intact()) {
            rt_printf("nic: state destroyed: exiting for a clean restart\n");
            return 2;
        }
        bool note = !first && rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL;
        if (!first && r.error == RS_OK && !note) {
            ipc_msg_t reply = {.label = RS_ILLEGAL_OPERATION, .len = 1};
            rs_reply(ipc_msg_put(&reply));
        }
        bool irq = note && (r.badge & IPC_BADGE_IRQ);
        if (note && (r.badge & IPC_BADGE_PING)) {
            ipc_server_ping(&srv); // may take the fault now
            fault_point(IPC_FAULT_AT_ONCE);
        }
        if (irq && nic_dev_irq(&drv.nic)) report("link change");
        reap();
        bool queued = false;
        bool produced = wire_to_link();
        bool completed = link_to_wire(&queued);
        // receive buffers given back (also those of bad frames), frames queued
        if (produced || queued || irq) nic_dev_kick(&drv.nic);
        if (irq) nic_dev_tx_reclaim(&drv.nic);
        fault_point(IPC_FAULT_BEFORE_COMMIT);
        // signals after publishing, and once at every start: the instance before may have died
        // between publishing and signalling (libipc/channel.h)
        if (produced || first) rs_signal(IPC_SLOT_CHANNEL0 + drv.link.tx);
        if (completed || first) rs_signal(IPC_SLOT_CHANNEL0 + drv.link.rx);
        if (drv.nic.st.rx + drv.nic.st.tx - drv.last_report >= 4096) report("statistics");
        uint64_t bad =
            drv.nic.st.rx_bad + drv.nic.st.tx_bad + drv.nic.st.dev_garbage + drv.link_bad;
        if (bad != drv.bad_report && (bad <= 64 || !(bad & (bad - 1)))) {
            drv.bad_report = bad;
            report("bad input");
        }
        first = false;
        if (irq) ps_irq_handler_ack(IPC_SLOT_IRQ);
        srv.control->vmm_exit_out = srv.control->vmm_exit_in; // paid: back to the receive
    }
}
