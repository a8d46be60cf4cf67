/* SPDX-License-Identifier: MIT */
/* fs's block device over a channel to servers/blk (blockdev_chan.c). */
#pragma once
#include "blockdev_queue.h"
#include "ext2.h"
#include "ipc.h"

struct chan_dev {
    ipc_server_t *srv; /* for init's pings while waiting */
    rs_cptr_t peer;    /* signals blk */
    struct blkq q;
    uint64_t said_inflight; /* the most in flight logged so far */
    uint64_t said_sent;     /* requests at the last log of the counts */
    bool no_flush_said;
};

/* Takes up channel k of the info page as the client of a block driver: waits until blk has
 * released every request an earlier instance of fs left (so none of them lands later), asks the
 * disk's size and fills *dev with callbacks over blockdev_queue.h: several requests in flight,
 * writes not waited for (a flush waits for all of them and reports a failed one), reads waited
 * for. RS_NOT_FOUND when there is no such client channel, else RS_OK or blk's status. */
int chan_dev_open(struct chan_dev *c, ipc_server_t *srv, unsigned k, struct ext2_blkdev *dev);
