// SPDX-License-Identifier: MIT
// fs's block device over a channel to servers/blk (proto/blk.h): each callback of struct
// ext2_blkdev becomes requests with fresh ids, waited for on the ping notification.
#include "blockdev_chan.h"

#include "common/kstring.h"
#include "ext2.h"
#include "proto/blk.h"

/* One request at a time, data at the start of the data area. The data may be reused only once
 * blk has released the request's ring slot (a restarted blk redoes what it has not released,
 * libipc/channel.h): chan_pending() == 0 before every new request guarantees that. */

/* Waits for one wake of the ping notification; answers init's pings (heartbeat, injected faults)
 * meanwhile, since fs's request loop is not running while it waits here. */
static void wake(struct chan_dev *c)
{
    rs_result_t r = rs_wait(IPC_SLOT_PING);
    if (c->srv->control) c->srv->control->heartbeat++;
    if (r.error == RS_OK && (r.badge & IPC_BADGE_PING)) ipc_server_ping(c->srv);
}

/* Takes the completions that arrived; one whose id is not the one awaited is a duplicate (a
 * restarted blk redid a request) or belongs to a dead instance of fs: ignored. */
static void reap(struct chan_dev *c)
{
    chan_desc_t d;
    while (chan_consume(&c->comp, &d) == RS_OK) {
        chan_release(&c->comp);
        if (d.id && d.id == c->waiting && !c->done) {
            c->done = true;
            c->status = d.status;
            c->result = d.offset;
        } else {
            c->ignored++;
        }
    }
}

/* Waits until blk released every request slot: nothing earlier can still touch the data area
 * or the disk. */
static void drain(struct chan_dev *c)
{
    while (chan_pending(&c->req)) {
        reap(c);
        if (!chan_pending(&c->req)) break;
        rs_signal(c->peer);
        wake(c);
    }
    reap(c);
}

/* One request, waited for: its status (and *result: the completion's offset). */
static uint32_t request(struct chan_dev *c, uint32_t op, uint64_t sector, uint32_t len,
                        uint64_t *result)
{
    drain(c);
    chan_desc_t d = {.id = ++c->next_id, .op = op, .offset = sector, .data_offset = 0, .len = len};
    c->waiting = d.id;
    c->done = false;
    if (chan_produce(&c->req, &d) != RS_OK) return BLK_STATUS_IO_ERROR; // blk corrupted its tail
    c->requests++;
    // an injected fault meant for inside an operation strikes here: with a request in flight,
    // between a write and its flush (or a commit record and its flush)
    ipc_server_fault_point(c->srv, IPC_FAULT_BEFORE_COMMIT);
    rs_signal(c->peer);
    for (;;) {
        reap(c);
        if (c->done) break;
        wake(c);
    }
    if (result) *result = c->result;
    return c->status;
}

static int cd_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    struct chan_dev *c = ctx;
    uint8_t *out = buf;
    while (count) {
        uint32_t n = count < c->max_sectors ? count : c->max_sectors;
        if (request(c, CHAN_OP_READ, sector, n * 512, NULL) != RS_OK) return EXT2_EIO;
        memcpy(out, c->data, (size_t)n * 512);
        out += (size_t)n * 512, sector += n, count -= n;
    }
    return 0;
}

static int cd_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    struct chan_dev *c = ctx;
    const uint8_t *in = buf;
    while (count) {
        uint32_t n = count < c->max_sectors ? count : c->max_sectors;
        drain(c); // the previous request's data slot is ours again
        memcpy(c->data, in, (size_t)n * 512);
        if (request(c, CHAN_OP_WRITE, sector, n * 512, NULL) != RS_OK) return EXT2_EIO;
        in += (size_t)n * 512, sector += n, count -= n;
    }
    return 0;
}

static int cd_flush(void *ctx)
{
    struct chan_dev *c = ctx;
    uint32_t st = request(c, CHAN_OP_FLUSH, 0, 0, NULL);
    if (st == RS_NOT_SUPPORTED) {
        // a device without a cache to flush (VIRTIO_BLK_F_FLUSH absent): its writes are durable
        if (!c->no_flush_said) rt_printf("fs: the disk cannot flush: taking writes as durable\n");
        c->no_flush_said = true;
        return 0;
    }
    return st == RS_OK ? 0 : EXT2_EIO;
}

int chan_dev_open(struct chan_dev *c, ipc_server_t *srv, unsigned k, struct ext2_blkdev *dev)
{
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    if (info->magic != IPC_DEVICE_MAGIC || k >= info->nchannels || k >= IPC_MAX_CHANNELS ||
        info->channel[k].role != IPC_CHANNEL_CLIENT || info->channel[k].data_size < 512)
        return RS_NOT_FOUND;
    void *base = (void *)IPC_CHANNEL_VADDR(k);
    *c = (struct chan_dev){.srv = srv, .peer = IPC_SLOT_CHANNEL0 + k, .data = chan_data(base)};
    uint64_t room =
        info->channel[k].data_size < BLK_MAX_REQUEST ? info->channel[k].data_size : BLK_MAX_REQUEST;
    c->max_sectors = (uint32_t)(room / 512);
    // Ids never repeat across instances: a completion for a dead instance's request is ignored.
    c->next_id = (srv->control ? srv->control->instance : 1) << 40;
    if (chan_producer_attach(&c->req, chan_req_ring(base)))
        rt_printf("fs: the request ring was corrupt: reset\n");
    if (chan_consumer_attach(&c->comp, chan_comp_ring(base)))
        rt_printf("fs: the completion ring was corrupt\n");
    // The requests of a dead instance may still run: wait until blk released them all, so that
    // none of its writes lands after this instance's recovery has read or written the disk.
    unsigned left = chan_pending(&c->req);
    rs_signal(c->peer); // a (re)started end signals its peer once (libipc/channel.h)
    drain(c);
    uint64_t sectors = 0;
    uint32_t st = request(c, BLK_OP_INFO, 0, 0, &sectors);
    if (st != RS_OK) return (int)st;
    *dev = (struct ext2_blkdev){
        .ctx = c, .sectors = sectors, .read = cd_read, .write = cd_write, .flush = cd_flush};
    rt_printf("fs: disk of %lu sectors over channel %u (%u requests of a dead instance drained)\n",
              sectors, k, left);
    return RS_OK;
}
