// SPDX-License-Identifier: MIT
// blk: the block driver. It serves the requests of its channel (proto/blk.h) with a virtio-blk
// PCI device (up to 64 requests in flight) or an ATA disk on an IDE channel (one at a time; init
// gave an ATA channel when info->ctl_port is set), interrupt driven. A restarted instance resets
// the device and does again every request it had read but not completed (libipc/channel.h).
#include "ipc.h"
#include "proto/blk.h"
#include "invoke_stubs.h"
#include "virtio_blk.h"
#include "ata_port.h"

/* A request read from the channel and not yet released: entry n of the request ring is
 * inflight[n % CHAN_ENTRIES]. */
enum req_state { REQ_FREE, REQ_DEVICE, REQ_DONE, REQ_POSTED };
struct req {
    chan_desc_t d; /* the private copy, checked */
    enum req_state state;
    unsigned slot; /* the device slot while REQ_DEVICE */
    uint64_t seal; /* req_seal() of the above, status but for: set at each change */
};

struct blk {
    uint64_t magic;  /* an injected wild write destroys this: the loop then exits */
    struct vblk dev; /* virtio: its slots, sectors and can_flush are the driver's too */
    bool is_ata;
    struct ata ata; /* ATA: one slot; dev.slots, dev.sectors, dev.can_flush copied from it */
    const ipc_device_info_t *info;
    uint8_t *chan;
    uint64_t data_size;
    chan_consumer_t req;
    chan_producer_t comp;
    struct req inflight[CHAN_ENTRIES];
    int slot_req[VBLK_SLOTS]; /* the inflight index a device slot serves, -1 free */
    uint64_t served, errors, irqs;
    unsigned busy;                 /* device slots in use */
    unsigned max_busy, max_read;   /* the most device slots in use, requests read and unreleased */
    unsigned said_busy, said_read; /* the figures last logged */
};
#define BLK_MAGIC 0x424C4B4452495645ul

static struct blk blk;
static ipc_server_t srv;

/* The words setup() chose, kept apart and compared every round: a stray write into them (the
 * I/O base: the interrupt status read elsewhere, a level interrupt never lowered, blk spinning
 * at 110 above every VMM) ends in a crash and a clean restart instead. */
struct blk_setup {
    uint64_t io, dma_paddr, dma_size, sectors, data_size;
    const uint8_t *dma, *chan;
    const ipc_device_info_t *info;
    const chan_ring_t *req_ring, *comp_ring;
    uint64_t shape; /* qsize | slots << 16 | can_flush << 48 | is_ata << 56 */
};
_Static_assert(sizeof(struct blk_setup) % 8 == 0, "compared word by word");
static struct blk_setup setup_seal;

static struct blk_setup setup_now(void)
{
    return (struct blk_setup){.io = blk.dev.io,
                              .dma_paddr = blk.dev.dma_paddr,
                              .dma_size = blk.dev.dma_size,
                              .sectors = blk.dev.sectors,
                              .data_size = blk.data_size,
                              .dma = blk.dev.dma,
                              .chan = blk.chan,
                              .info = blk.info,
                              .req_ring = blk.req.ring,
                              .comp_ring = blk.comp.ring,
                              .shape = blk.dev.qsize | (uint64_t)blk.dev.slots << 16 |
                                       (uint64_t)blk.dev.can_flush << 48 |
                                       (uint64_t)blk.is_ata << 56};
}

static bool setup_intact(void)
{
    struct blk_setup now = setup_now();
    return ipc_words_equal(&now, &setup_seal, sizeof(now));
}

/* blk's own ends of the rings agree with what it published (the request ring's tail, the
 * completion ring's head): a flipped one made it refuse the ring as corrupt for ever, fs
 * waiting and blk's heartbeat moving. */
static bool ends_intact(void)
{
    return chan_consumer_published(&blk.req, CHAN_ENTRIES) && chan_producer_published(&blk.comp);
}

/* A request's check (its descriptor but the status, state, slot), taken at each change and
 * compared before the next: a request flipped while it waits for the device (its id: fs waited
 * for ever for the completion it never got; its state: a completion before the data) is a
 * crash, and the next instance does again what is not released. */
static uint64_t req_seal(const struct req *r)
{
    uint64_t h = 0x9E3779B97F4A7C15ul;
    uint64_t w[5] = {r->d.id, r->d.op, r->d.offset, (uint64_t)r->d.data_offset << 32 | r->d.len,
                     (uint64_t)r->state << 32 | r->slot};
    for (unsigned i = 0; i < 5; i++) h = (h ^ w[i]) * 0x100000001B3ul, h ^= h >> 29;
    return h;
}

static void req_check(const struct req *r)
{
    if (r->seal != req_seal(r)) __builtin_trap();
}

/* Finishes a request with `status`: its completion goes out now or, with the completion ring
 * full, at a later round. */
static void finish(struct req *r, uint32_t status)
{
    req_check(r);
    r->d.status = status;
    r->state = REQ_DONE;
    r->seal = req_seal(r);
    if (status) blk.errors++;
}

/* Reads new requests while the device has a free slot; bad ones are finished at once. */
static bool take_requests(void)
{
    bool queued = false;
    for (;;) {
        unsigned slot = 0;
        while (slot < blk.dev.slots && blk.slot_req[slot] >= 0) slot++;
        if (slot == blk.dev.slots) return queued;
        uint32_t pos = blk.req.next;
        chan_desc_t d;
        int err = chan_consume(&blk.req, &d);
        if (err == RS_RANGE_ERROR) {
            rt_printf("blk: the client's request ring is corrupt (head out of range)\n");
            return queued;
        }
        if (err) return queued;
        struct req *r = &blk.inflight[pos % CHAN_ENTRIES];
        *r = (struct req){.d = d};
        if (d.op == BLK_OP_INFO) r->d.offset = blk.dev.sectors;
        r->seal = req_seal(r);
        if (d.op == BLK_OP_INFO) {
            finish(r, d.id ? RS_OK : RS_INVALID_ARGUMENT);
            continue;
        }
        int bad = chan_desc_check(&d, blk.data_size, blk.dev.sectors, BLK_MAX_REQUEST);
        if (!bad && d.op == CHAN_OP_FLUSH && !blk.dev.can_flush) bad = RS_NOT_SUPPORTED;
        if (bad) {
            finish(r, (uint32_t)bad);
            continue;
        }
        // zero copy: the device reads or writes the channel's data area itself
        uint64_t paddr = blk.info->channel[0].paddr + CHAN_DATA_OFFSET + d.data_offset;
        r->state = REQ_DEVICE;
        r->slot = slot;
        r->seal = req_seal(r);
        blk.slot_req[slot] = (int)(pos % CHAN_ENTRIES);
        if (++blk.busy > blk.max_busy) blk.max_busy = blk.busy;
        if (chan_unreleased(&blk.req) > blk.max_read) blk.max_read = chan_unreleased(&blk.req);
        if (blk.is_ata)
            ata_submit(&blk.ata, d.op, d.offset, paddr, blk.chan + CHAN_DATA_OFFSET + d.data_offset,
                       d.len);
        else vblk_submit(&blk.dev, slot, d.op, d.offset, paddr, d.len);
        queued = true;
    }
}

static void harvest(void)
{
    uint8_t st;
    int slot;
    while ((slot = blk.is_ata ? ata_next_done(&blk.ata, &st) : vblk_next_done(&blk.dev, &st)) >=
           0) {
        int i = blk.slot_req[slot];
        if (i >= (int)CHAN_ENTRIES) __builtin_trap(); // a flipped index: a crash, not a stray write
        if (i >= 0) blk.busy--;
        blk.slot_req[slot] = -1;
        if (i < 0 || blk.inflight[i].state != REQ_DEVICE) continue;
        if (blk.inflight[i].slot != (unsigned)slot) __builtin_trap(); // a flipped slot_req
        finish(&blk.inflight[i], st == 0   ? RS_OK
                                 : st == 2 ? RS_NOT_SUPPORTED
                                           : BLK_STATUS_IO_ERROR);
    }
}

/* Posts the completions of finished requests, then releases the oldest requests whose
 * completion is out: the release comes after the completion (a crash between the two makes the
 * next instance redo the request, and the client ignore the second completion). */
static bool post_completions(void)
{
    bool posted = false;
    for (uint32_t n = blk.req.tail; n != blk.req.next; n++) {
        struct req *r = &blk.inflight[n % CHAN_ENTRIES];
        req_check(r);
        if (r->state != REQ_DONE) continue;
        if (chan_produce(&blk.comp, &r->d)) break; // full (or a corrupt tail): later
        r->state = REQ_POSTED;
        r->seal = req_seal(r);
        posted = true;
        if (++blk.served % 1024 == 0)
            rt_printf("blk: instance %lu: %lu requests served (%lu refused), %lu interrupts\n",
                      srv.control->instance, blk.served, blk.errors, blk.irqs);
    }
    ipc_server_fault_point(&srv, IPC_FAULT_BEFORE_REPLY); // completions out, slots not released
    while (blk.req.tail != blk.req.next &&
           blk.inflight[blk.req.tail % CHAN_ENTRIES].state == REQ_POSTED) {
        req_check(&blk.inflight[blk.req.tail % CHAN_ENTRIES]);
        blk.inflight[blk.req.tail % CHAN_ENTRIES].state = REQ_FREE;
        chan_release(&blk.req);
    }
    return posted;
}

static int setup(void)
{
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    if (info->magic != IPC_DEVICE_MAGIC || !info->io_size || !info->nchannels ||
        info->channel[0].role != IPC_CHANNEL_SERVER) {
        rt_printf("blk: no device or no channel (manifest device= and channel server=)\n");
        return RS_NOT_FOUND;
    }
    blk.info = info;
    blk.chan = (uint8_t *)IPC_CHANNEL_VADDR(0);
    blk.data_size = info->channel[0].data_size;
    for (unsigned s = 0; s < VBLK_SLOTS; s++) blk.slot_req[s] = -1;
    int err;
    blk.is_ata = info->ctl_port != 0;
    if (blk.is_ata) {
        uint64_t t0 = rt_rdtsc();
        err = ata_init(&blk.ata, &ata_port_ops, info->bm_base != 0,
                       info->dma_size ? (void *)IPC_DMA_VADDR : NULL, info->dma_paddr);
        if (err) {
            rt_printf("blk: ATA at %lx: %s: status %x\n", info->io_base, blk.ata.step,
                      blk.ata.last_status);
            return err;
        }
        blk.dev = (struct vblk){.slots = 1, .sectors = blk.ata.sectors, .can_flush = true};
        uint64_t per_ms = srv.control->tsc_per_ms ? srv.control->tsc_per_ms : 1;
        rt_printf("blk: ATA disk \"%s\", %s, %s (reset and IDENTIFY: %lu ms)\n", blk.ata.model,
                  blk.ata.lba48 ? "LBA48" : "LBA28", blk.ata.use_dma ? "bus-master DMA" : "PIO",
                  (rt_rdtsc() - t0) / per_ms);
    } else {
        err = vblk_init(&blk.dev, info->io_base, (void *)IPC_DMA_VADDR, info->dma_paddr,
                        info->dma_size);
        if (err) return err;
    }
    if (chan_consumer_attach(&blk.req, chan_req_ring(blk.chan)))
        rt_printf("blk: request ring corrupt at start\n");
    if (chan_producer_attach(&blk.comp, chan_comp_ring(blk.chan)))
        rt_printf("blk: completion ring corrupt at start: reset\n");
    // what lies between the tail and the head was read by an earlier instance or not at all
    rt_printf("blk: instance %lu, %lu sectors, queue %u, %u in flight, flush %s, %u waiting\n",
              srv.control->instance, blk.dev.sectors, blk.dev.qsize, blk.dev.slots,
              blk.dev.can_flush ? "yes" : "no", chan_req_ring(blk.chan)->head - blk.req.tail);
    return RS_OK;
}

static int no_requests(void *ctx, rs_badge_t b, const ipc_msg_t *req, ipc_msg_t *reply)
{
    return RS_ILLEGAL_OPERATION; // data comes by the channel only
}

int main(void *arg)
{
    ipc_server_init(&srv, no_requests, NULL);
    srv.scribble = &blk;
    srv.scribble_size = sizeof(blk);
    blk.magic = BLK_MAGIC;
    int err = setup();
    if (err) {
        rt_printf("blk: cannot start: %s\n", rs_error_name(err));
        return 1;
    }
    if (blk.info->irq != 0xFF) ps_irq_handler_ack(IPC_SLOT_IRQ); // the line may be masked
    setup_seal = setup_now();
    ipc_server_seal(&srv);
    rs_result_t r = {.error = RS_OK, .info = 0, .badge = 0};
    bool first = true, fresh = true;
    for (;;) {
        if (!first) r = rs_recv(srv.ep);
        ipc_server_round(&srv, r); // srv as sealed, no receive failing for ever; the heartbeat
        if (blk.magic != BLK_MAGIC || !setup_intact() || !ends_intact()) {
            rt_printf("blk: state destroyed: exiting for a clean restart\n");
            return 2;
        }
        if (!first && r.error == RS_OK && rs_msginfo_label(r.info) != RS_NOTIFICATION_LABEL) {
            ipc_msg_t reply = {.label = RS_ILLEGAL_OPERATION, .len = 1};
            rs_reply(ipc_msg_put(&reply));
        }
        bool irq = !first && rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL &&
                   (r.badge & IPC_BADGE_IRQ);
        if (!first && rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL &&
            (r.badge & IPC_BADGE_PING))
            ipc_server_ping(&srv);
        first = false;
        if (irq) blk.irqs++;
        if (blk.is_ata) ata_service(&blk.ata); // on any wake-up: pings time a command out
        else if (irq) vblk_isr(&blk.dev);      // reading the ISR lowers the (level) line
        bool queued;
        do { // an ATA command that failed at its start is finished already: the next one goes
            harvest();
            queued = take_requests();
            if (queued && !blk.is_ata) vblk_notify(&blk.dev);
            if (queued) ipc_server_fault_point(&srv, IPC_FAULT_BEFORE_COMMIT); // at the device
        } while (blk.is_ata && blk.ata.finished);
        if ((blk.max_busy > blk.said_busy && blk.max_busy >= 2 * blk.said_busy) ||
            (blk.max_read > blk.said_read && blk.max_read >= 2 * blk.said_read)) {
            // a new power of two: the client keeps several requests in flight (a few lines)
            blk.said_busy = blk.max_busy, blk.said_read = blk.max_read;
            rt_printf("blk: instance %lu: up to %u requests at the device at once, %u read from "
                      "the ring and not released\n",
                      srv.control->instance, blk.max_busy, blk.max_read);
        }
        // a full completion ring is signalled again: the instance that filled it may have died
        // before its signal (and so may the first signal of this one: first round)
        bool posted = post_completions();
        if (posted || chan_pending(&blk.comp) == CHAN_ENTRIES || fresh)
            rs_signal(IPC_SLOT_CHANNEL0);
        fresh = false;
        if (irq) ps_irq_handler_ack(IPC_SLOT_IRQ);
    }
}
