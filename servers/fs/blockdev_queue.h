/* SPDX-License-Identifier: MIT */
/* fs's queue of block requests to a driver over a channel (blockdev_queue.c): several in flight. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "libipc/channel.h"

/* Request n (counted from 0 by this queue) has id id_base + n and record rec[n % CHAN_ENTRIES];
 * its ring slot is released once n < sent - chan_pending(). */
struct bq_rec {
    uint64_t id;     /* 0: never used */
    uint64_t sector; /* first sector */
    uint64_t result; /* the completion's offset (BLK_OP_INFO: the size) */
    uint64_t dstart; /* its buffer's position in the data area, counted without wrapping */
    uint8_t *dst;    /* a read's destination, copied to at its completion */
    uint32_t op, len, data_offset, status;
    bool done;
    bool ra;      /* read ahead: its data stays in its buffer for a read of exactly these sectors */
    uint64_t chk; /* of the fields above (blockdev_queue.c: rec_seal) */
};

struct blkq {
    uint8_t *data;      /* the channel's data area */
    uint64_t data_size; /* its bytes, used as a ring of request buffers in request order */
    chan_producer_t req;
    chan_consumer_t comp;
    uint32_t max_len; /* bytes per request */
    unsigned window;  /* requests not completed at most (1..CHAN_ENTRIES; 1: writes waited for) */
    uint64_t id_base, sent, dpos;
    uint64_t idle_below, idle_below_chk; /* requests below it are done; its complement */
    unsigned inflight;                   /* sent, not completed */
    uint32_t werr;     /* the status of a failed write not reported yet (by the next flush) */
    uint64_t sectors;  /* the disk's size (read ahead stays below it; 0: no read ahead) */
    unsigned ra_depth; /* requests read ahead of a sequential reader at most */
    uint64_t seq_end;  /* the sector after the last read */
    unsigned seq_run;  /* reads of RA_MIN sectors or more that continued the one before */
    uint64_t ra_next;  /* the sector after the last prefetch */
    uint64_t ignored, max_inflight, waits, ra_sent, ra_hits;
    struct bq_rec rec[CHAN_ENTRIES];
    /* The owner's: sleep until the driver may have signalled; signal the driver; a point just
     * after a request is published (fs's injected faults); any may be NULL but wait. */
    void *ctx;
    void (*wait)(void *ctx);
    void (*kick)(void *ctx);
    void (*published)(void *ctx);
    /* The owner's reaction to a record or a wait found changed behind the queue's back (a
     * stray write into fs's memory): must not return (NULL: a trap). */
    void (*corrupt)(void *ctx);
};

/* Takes up the client end of the channel at base (data_size bytes of data area) with ids from
 * id_base on (distinct from every other instance's). The hooks are set by the caller after.
 * RS_RANGE_ERROR if a ring was corrupt (reset as libipc/channel.h says), else RS_OK. */
int blkq_attach(struct blkq *q, void *base, uint64_t data_size, uint64_t id_base);
/* Takes the completions that arrived: a read's data is copied to its destination, a failed
 * write's status kept for the next flush. One matching no request of ours in flight (a redo by a
 * restarted driver, a dead instance's) is counted in `ignored`. */
void blkq_reap(struct blkq *q);
/* Waits until the driver has released every slot (at the start: a dead instance's requests). */
void blkq_drain(struct blkq *q);
/* Reads count sectors into buf, in requests of at most max_len sent together (after any
 * overlapping write completed), waiting for all: 0 or the first failure's status. */
uint32_t blkq_read(struct blkq *q, uint64_t sector, uint32_t count, void *buf);
/* Copies count sectors from buf into the data area and sends them as writes (after any
 * overlapping unreleased write and unfinished read): does not wait for their completion. A
 * failure shows at the next flush. Nonzero only if the ring is corrupt. */
uint32_t blkq_write(struct blkq *q, uint64_t sector, uint32_t count, const void *buf);
/* Waits until every request sent completed, then flushes: its status, or the status of a write
 * that failed since the last flush (then reported once). */
uint32_t blkq_flush(struct blkq *q);
/* One request without data (op BLK_OP_INFO, ...), waited for: its status and *result. */
uint32_t blkq_call(struct blkq *q, uint32_t op, uint64_t *result);
