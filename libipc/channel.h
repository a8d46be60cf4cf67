/* SPDX-License-Identifier: MIT */
/* Channels: the data plane between two servers (seL4 sDDF's transport is the model). Shared
 * memory holds two single-producer/single-consumer rings of descriptors (requests one way,
 * completions the other) and a data area the descriptors point into; each end signals the other
 * through a notification after publishing. Init makes the memory and keeps it, so a channel
 * outlives either end (docs/storage.md).
 *
 * Layout of a channel's memory (byte offsets from its base; CHAN_ENTRIES = 64):
 *   0x0000  request ring:    +0x00 head (u32; written by the client, the producer)
 *                            +0x40 tail (u32; written by the server, the consumer)
 *                            +0x80 desc[64], 32 bytes each (to 0x0880)
 *   0x1000  completion ring: the same, the server producing and the client consuming
 *   0x2000  data area:       chan_data_size bytes (init's handoff says how many)
 * A descriptor (little-endian):
 *   +0 u64 id  +8 u32 op  +12 u32 status  +16 u64 offset  +24 u32 data_offset  +28 u32 len
 * Indices run freely modulo 2^32; entry i lives in desc[i % CHAN_ENTRIES]; a ring holds
 * head - tail entries, never more than CHAN_ENTRIES.
 *
 * Trust. Each end keeps the indices it owns in private memory and only ever writes them to the
 * shared page; the peer's index is read once per operation and checked (head - tail must not
 * exceed the ring). A descriptor is copied out of shared memory before it is checked, so the
 * peer cannot change it between the check and the use (chan_desc_check then checks the copy).
 *
 * Restart. A server releases a request's slot (advances the request tail) only after it has
 * published the completion: what lies between the tail and the head after a restart was consumed
 * but perhaps not completed, and the new instance does it again (chan_consumer_attach starts
 * reading at the tail). Completions are idempotent by id: a client ignores one whose id it is
 * not waiting for. A client may reuse a request's data only once the request's slot is released
 * (until then a redone read may write the buffer again, with the same or newer disk data), and
 * must not send a write that overlaps an unreleased one (a redo could reorder them).
 *
 * Signals. After publishing, an end signals the other (its notification). An end that starts
 * or restarts signals the other once at its start, and a server signals again whenever its
 * completion ring is full: the instance before it may have died between publishing and
 * signalling, and a client waiting for that signal would wait for ever (system-blk found this). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <resurgo/errors.h>

#define CHAN_ENTRIES     64u
#define CHAN_RING_BYTES  0x1000u
#define CHAN_REQ_OFFSET  0x0000u
#define CHAN_COMP_OFFSET 0x1000u
#define CHAN_DATA_OFFSET 0x2000u
#define CHAN_SECTOR      512u

typedef struct chan_desc {
    uint64_t id;          /* the client's; never 0 */
    uint32_t op;          /* CHAN_OP_* */
    uint32_t status;      /* completions: an rs_error (RS_OK, RS_INVALID_ARGUMENT, ...) */
    uint64_t offset;      /* first sector (512 bytes) for a disk */
    uint32_t data_offset; /* into the data area */
    uint32_t len;         /* bytes */
} chan_desc_t;

typedef struct chan_ring {
    volatile uint32_t head;
    uint8_t pad0[60];
    volatile uint32_t tail;
    uint8_t pad1[60];
    chan_desc_t desc[CHAN_ENTRIES];
} chan_ring_t;

_Static_assert(sizeof(chan_desc_t) == 32, "descriptor layout");
_Static_assert(__builtin_offsetof(chan_ring_t, tail) == 0x40, "ring layout");
_Static_assert(__builtin_offsetof(chan_ring_t, desc) == 0x80, "ring layout");
_Static_assert(sizeof(chan_ring_t) <= CHAN_RING_BYTES, "a ring fits its page");

/* Operations of a block channel (proto/blk.h has the rest of that protocol). */
enum chan_op { CHAN_OP_READ = 1, CHAN_OP_WRITE = 2, CHAN_OP_FLUSH = 3 };

/* The producing end of a ring: its private head. */
typedef struct chan_producer {
    chan_ring_t *ring;
    uint32_t head;
} chan_producer_t;

/* The consuming end: `next` is the next entry to read, `tail` the first not yet released. */
typedef struct chan_consumer {
    chan_ring_t *ring;
    uint32_t next, tail;
} chan_consumer_t;

/* The two rings of a channel whose memory starts at base. */
static inline chan_ring_t *chan_req_ring(void *base)
{
    return (chan_ring_t *)((uint8_t *)base + CHAN_REQ_OFFSET);
}
static inline chan_ring_t *chan_comp_ring(void *base)
{
    return (chan_ring_t *)((uint8_t *)base + CHAN_COMP_OFFSET);
}
static inline uint8_t *chan_data(void *base) { return (uint8_t *)base + CHAN_DATA_OFFSET; }

/* Zeroes both rings of a fresh channel (init, once; never again: the memory outlives both ends). */
void chan_format(void *base);

/* Takes up the producing end of `ring` as it is in shared memory (a first start or a restart):
 * the head is the shared one. RS_RANGE_ERROR if the ring holds more than CHAN_ENTRIES entries
 * (the peer corrupted its tail): the end is then set empty at the peer's tail. */
int chan_producer_attach(chan_producer_t *p, chan_ring_t *ring);
/* Free entries, 0 also when the peer's tail is out of range. */
unsigned chan_space(const chan_producer_t *p);
/* Entries produced and not yet released by the consumer (CHAN_ENTRIES when the peer's tail is
 * out of range: a corrupt tail counts as a full ring). */
unsigned chan_pending(const chan_producer_t *p);
/* Writes d at the head and publishes it (a release store of the head). RS_WOULD_BLOCK when the
 * ring is full, RS_RANGE_ERROR when the peer's tail is out of range. */
int chan_produce(chan_producer_t *p, const chan_desc_t *d);

/* Takes up the consuming end: reading starts at the shared tail, so everything not released
 * is read again. RS_RANGE_ERROR if head - tail exceeds the ring (then nothing is readable until
 * the producer's head comes back into range). */
int chan_consumer_attach(chan_consumer_t *c, chan_ring_t *ring);
/* For a consumer that may drop what it has not read (frames, not disk requests): after
 * chan_consumer_attach found head - tail out of range, takes the producer's head as read and
 * released. The tail is the consumer's own: one its previous instance published with bits a
 * stray write flipped stays out of range for good, and every new instance would refuse the
 * ring (a storm of corrupt into nic: restarted by init's owed check round after round). */
void chan_consumer_skip_all(chan_consumer_t *c);
/* Copies the next unread entry into *d and moves past it (it stays unreleased). Returns RS_OK,
 * RS_WOULD_BLOCK when there is none, RS_RANGE_ERROR when the producer's head is out of range. */
int chan_consume(chan_consumer_t *c, chan_desc_t *d);
/* Releases the oldest unreleased entry (tail + 1, published). RS_WOULD_BLOCK if every read
 * entry is released already. */
int chan_release(chan_consumer_t *c);
/* Entries read but not released. */
static inline unsigned chan_unreleased(const chan_consumer_t *c) { return c->next - c->tail; }
/* A server's check, each round, of its own ends of a ring against what it published: a private
 * head or tail a stray write flipped made it take the peer's ring for corrupt for good (issue
 * 15's corrupt into blk and nic). A consumer may hold up to `held` entries read and unreleased
 * (0: one that releases what it reads within the round). */
static inline bool chan_producer_published(const chan_producer_t *p)
{
    return p->head == p->ring->head;
}
static inline bool chan_consumer_published(const chan_consumer_t *c, uint32_t held)
{
    return c->tail == c->ring->tail && chan_unreleased(c) <= held;
}

/* Checks a request (a private copy) against a data area of data_size bytes and a device of
 * `sectors` sectors: RS_OK, RS_ILLEGAL_OPERATION (unknown op), RS_INVALID_ARGUMENT (id 0, len
 * 0 or not a multiple of CHAN_SECTOR, or more than max_len), RS_BAD_ADDRESS (data outside the
 * data area), RS_RANGE_ERROR (sectors beyond the device). A flush needs no data. */
int chan_desc_check(const chan_desc_t *d, uint64_t data_size, uint64_t sectors, uint32_t max_len);
