// SPDX-License-Identifier: MIT
// fs's block device over a channel to servers/blk (proto/blk.h): the callbacks of struct
// ext2_blkdev over blockdev_queue.c, waiting on the ping notification.
#include "blockdev_chan.h"

#include "common/kstring.h"
#include "ext2.h"
#include "proto/blk.h"

/* A wake of the ping notification: answers init's pings (heartbeat, injected faults), since
 * fs's request loop is not running while an operation waits for the disk. */
static void woken(struct chan_dev *c, rs_result_t r)
{
    if (c->srv->control) c->srv->control->heartbeat++;
    if (r.error == RS_OK && (r.badge & IPC_BADGE_PING)) ipc_server_ping(c->srv);
}

static void wake(void *ctx) { woken(ctx, rs_wait(IPC_SLOT_PING)); }

static void kick(void *ctx) { rs_signal(((struct chan_dev *)ctx)->peer); }

static void published(void *ctx)
{
    struct chan_dev *c = ctx;
    // an injected fault meant for inside an operation strikes here: with a request in flight,
    // between a write and its flush (or a commit record and its flush)
    ipc_server_fault_point(c->srv, IPC_FAULT_BEFORE_COMMIT);
    // A checkpoint writes hundreds of blocks home and waits only when the ring is full, which a
    // fast driver never lets happen: without a look at the pings here such an operation ran
    // past the watchdog (on Bochs, 4 MIPS: some 500 ms) and fs was restarted as hung. A
    // request sent is progress. (A wake taken here is harmless: the waits reap before they
    // sleep.) Every 8th: a system call per request costs what pipelining gains on a slow disk.
    if (c->q.sent % 8) return;
    rs_result_t r = rs_poll(IPC_SLOT_PING);
    if (r.error == RS_OK) woken(c, r);
}

static void corrupt(void *ctx)
{
    const ipc_control_t *ctl = ((struct chan_dev *)ctx)->srv->control;
    rt_printf("fs: instance %lu: corrupt state (blk queue): restarting\n", ctl ? ctl->instance : 0);
    __builtin_trap();
}

static int cd_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    struct chan_dev *c = ctx;
    return blkq_read(&c->q, sector, count, buf) == RS_OK ? 0 : EXT2_EIO;
}

static int cd_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    struct chan_dev *c = ctx;
    uint32_t st = blkq_write(&c->q, sector, count, buf);
    if (c->q.max_inflight > c->said_inflight &&
        c->q.max_inflight >= 2 * c->said_inflight) { // a new power of two: a few lines a boot
        c->said_inflight = c->q.max_inflight;
        rt_printf("fs: up to %lu blk requests in flight\n", c->q.max_inflight);
    }
    return st == RS_OK ? 0 : EXT2_EIO;
}

static int cd_flush(void *ctx)
{
    struct chan_dev *c = ctx;
    uint32_t st = blkq_flush(&c->q);
    if (c->q.sent - c->said_sent >= 1024) { // how often fs had to wait for blk (benchmarks)
        c->said_sent = c->q.sent;
        rt_printf(
            "fs: blk: %lu requests, %lu waits for blk, %lu read ahead (%lu reads from them)\n",
            c->q.sent, c->q.waits, c->q.ra_sent, c->q.ra_hits);
    }
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
    *c = (struct chan_dev){.srv = srv, .peer = IPC_SLOT_CHANNEL0 + k};
    // Ids never repeat across instances: a completion for a dead instance's request is ignored.
    uint64_t id_base = (srv->control ? srv->control->instance : 1) << 40;
    if (blkq_attach(&c->q, base, info->channel[k].data_size, id_base))
        rt_printf("fs: a ring of the blk channel was corrupt: reset\n");
    c->q.ctx = c;
    c->q.wait = wake;
    c->q.kick = kick;
    c->q.published = published;
    c->q.corrupt = corrupt;
#ifdef BLKQ_ONE_AT_A_TIME
    c->q.window = 1; // every request waited for, as before blockdev_queue.c (benchmarks only)
    c->q.ra_depth = 0;
#endif
    // The requests of a dead instance may still run: wait until blk released them all, so that
    // none of its writes lands after this instance's recovery has read or written the disk.
    unsigned left = chan_pending(&c->q.req);
    rs_signal(c->peer); // a (re)started end signals its peer once (libipc/channel.h)
    blkq_drain(&c->q);
    uint64_t sectors = 0;
    uint32_t st = blkq_call(&c->q, BLK_OP_INFO, &sectors);
    if (st != RS_OK) return (int)st;
    c->q.sectors = sectors; // read ahead stays on the disk
    *dev = (struct ext2_blkdev){
        .ctx = c, .sectors = sectors, .read = cd_read, .write = cd_write, .flush = cd_flush};
    rt_printf("fs: disk of %lu sectors over channel %u (%u requests of a dead instance drained; "
              "up to %u in flight, %u KiB each, %u read ahead)\n",
              sectors, k, left, c->q.window, c->q.max_len >> 10, c->q.ra_depth);
    return RS_OK;
}
