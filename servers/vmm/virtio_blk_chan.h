/* SPDX-License-Identifier: MIT */
/* The guest disk as a file of servers/fs: a virtio-blk backend (struct blk_backend of
 * virtio_blk.h) whose sectors travel as proto/blk.h requests over a channel (libipc/channel.h)
 * to fs, which serves the file /disks/NAME.img for channel NAME (servers/fs/filedisk.h). The
 * way Firecracker backs a drive by a host file.
 *
 * Asynchronous: each backend call produces one channel request and answers BLK_PENDING; the
 * guest's request completes when fs's completions come (vblk_chan_reap), the VMM never waits.
 * Ring position p carries its data in data slot p % CHAN_ENTRIES and its record (id, guest
 * address) in rec[p % CHAN_ENTRIES] of the persistent state, committed with the rest of the
 * VMM's state. Restarts (docs/storage.md, guest disks):
 * - of the VMM: completions are released only after the transaction that applied them is
 *   committed, so a new instance reads again what its predecessor applied but did not commit;
 *   one whose record is gone (applied and committed) is ignored by id. A request produced by a
 *   transaction that was never committed is an orphan: its id (instance byte) matches no record
 *   and its completion is ignored; the guest's request is popped again from the committed ring.
 *   A slot freed by the transaction under way is not reused before its commit (a new instance
 *   could otherwise apply the old completion again over the new request's data).
 * - of fs: it redoes what it had not released; the second completion finds no record.
 * Ids: virtio id << 16 | instance byte << 8 | slot; never 0. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "libipc/channel.h"
#include "virtio_blk.h"

#define VBLK_CHAN_SEG_MAX 16u /* data buffers per request offered (config seg_max) */
#define VBLK_CHAN_INFO_ID (1ull << 63 | 0xFF) /* the size query (slot byte 0xFF: no slot) */

/* rec.info: guest address (bits 0..47), sectors (48..55), channel op (56..63) */
struct vblk_chan_rec {
    uint64_t id; /* 0: free */
    uint64_t info;
};

/* Persistent (inside struct vmm_state): plain data. */
struct vblk_chan_state {
    uint64_t sectors; /* the file's size (fs's INFO answer), 0: not known yet */
    uint64_t sent, done, ignored, errors;
    struct vblk_chan_rec rec[CHAN_ENTRIES];
};

/* The backend of one VMM instance (not persistent). */
struct vblk_chan {
    uint8_t *data;      /* the channel's data area */
    uint64_t data_size; /* bytes */
    uint32_t slot_size; /* bytes of data per ring position (a power of two, >= 4 KiB) */
    chan_producer_t req;
    chan_consumer_t comp;
    uint8_t *ram;      /* guest RAM */
    uint64_t ram_size; /* bytes */
    void *const *cur;  /* the current transaction's state (struct vmm_state *) ... */
    size_t off;        /* ... and this backend's state at this offset in it */
    uint8_t instance;
    uint64_t freed;    /* slots freed by the transaction under way */
    unsigned consumed; /* completions it read (released after its commit) */
    bool signal;       /* requests produced since the last signal to fs */
    struct blk_backend be;
};

/* Sets up the client end over a channel whose memory starts at base (data_size bytes of data);
 * the state is found at *cur + off for every call (the VMM's current transaction). Reading of
 * completions resumes at the shared tail. RS_INVALID_ARGUMENT if the data area holds less than
 * 4 KiB per ring position; RS_RANGE_ERROR if a ring was corrupt (reset as libipc does). */
int vblk_chan_init(struct vblk_chan *c, void *base, uint64_t data_size, uint8_t *ram,
                   uint64_t ram_size, void *const *cur, size_t off, uint64_t instance);
/* Sends the size query (no record: its answer comes through vblk_chan_info). */
int vblk_chan_ask_info(struct vblk_chan *c);
/* Reads completions while the size query is out: 1 and *sectors when its answer came, 0 when
 * none yet, a negative rs_error when fs refused it. Everything read is released (nothing else
 * is in flight before the size is known). */
int vblk_chan_info(struct vblk_chan *c, uint64_t *sectors);
/* Applies up to max completions to the guest's disk b: a read's data into guest RAM, then the
 * virtio request's part done (virtio_blk_complete). Returns the completions read (to release
 * after the commit: vblk_chan_committed). */
unsigned vblk_chan_reap(struct vblk_chan *c, struct virtio_blk *b, const struct vq_ram *ram,
                        unsigned max);
/* The transaction was committed: releases the completions it read, frees its slots for reuse.
 * Returns whether any were released. */
bool vblk_chan_committed(struct vblk_chan *c);
/* Free ring positions usable now, in ring order (at most CHAN_ENTRIES). */
unsigned vblk_chan_room(const struct vblk_chan *c);
