// SPDX-License-Identifier: MIT
// system-blk's client: writes patterned sectors through its channel to blk and reads them back,
// many requests in flight, while init crashes blk again and again (manifest.txt); then sends
// malformed and out-of-range requests, which must come back with the exact error.
#include "ipc.h"
#include "check.h"
#include "proto/blk.h"

#ifndef DISK_SECTORS
#define DISK_SECTORS 16384u /* the 8 MiB image run.py makes (meson.build: --disk-size 8) */
#endif
#define REQ_BYTES 4096u /* 8 sectors per request; data slot = ring position % 64 */
#ifndef ROUNDS
#define ROUNDS 64u /* fewer on Bochs (tests/system/blk-ata) */
#endif
#define REGIONS 4u /* a round writes region round % 4: 64 requests, 256 KiB */

struct pending {
    uint64_t id;
    bool done;
    uint32_t status;
    uint64_t offset; /* from the completion */
};

static chan_producer_t req;
static chan_consumer_t comp;
static uint8_t *data;
static uint64_t data_size, next_id = 1, duplicates, completed;
static struct pending pend[CHAN_ENTRIES];

static uint64_t pattern(uint64_t sector, unsigned round, unsigned word)
{
    return (sector * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)round << 48) ^ word;
}

/* Takes the completions that arrived: a completion whose id is not one we wait for is a
 * duplicate (a restarted blk redid a request it had completed) and is ignored. */
static void reap(void)
{
    chan_desc_t d;
    while (chan_consume(&comp, &d) == RS_OK) {
        chan_release(&comp);
        struct pending *p = &pend[(d.id - 1) % CHAN_ENTRIES];
        if (d.id == 0 || p->id != d.id || p->done) {
            duplicates++;
            continue;
        }
        p->done = true;
        p->status = d.status;
        p->offset = d.offset;
        completed++;
    }
}

/* Waits for blk's signal (our ping notification, badge IPC_BADGE_CHANNEL(0)). */
static void wait_signal(void) { rs_wait(IPC_SLOT_PING); }

/* Waits until the next request's slot and its data (slot % 64) are ours again: its previous
 * request completed and blk released the ring entry (until then a restarted blk may redo it). */
static void wait_slot(void)
{
    for (;;) {
        struct pending *p = &pend[(next_id - 1) % CHAN_ENTRIES];
        if ((!p->id || p->done) && chan_space(&req)) return;
        rs_signal(IPC_SLOT_CHANNEL0);
        wait_signal();
        reap();
    }
}

/* Queues one request and returns its id (waits for its slot). */
static uint64_t submit(uint32_t op, uint64_t sector, uint32_t data_offset, uint32_t len)
{
    wait_slot();
    uint64_t id = next_id++;
    chan_desc_t d = {.id = id, .op = op, .offset = sector, .data_offset = data_offset, .len = len};
    pend[(id - 1) % CHAN_ENTRIES] = (struct pending){.id = id};
    int err = chan_produce(&req, &d);
    if (err) rt_printf("blktest: produce failed: %s\n", rs_error_name(err));
    return id;
}

static struct pending *wait_for(uint64_t id)
{
    struct pending *p = &pend[(id - 1) % CHAN_ENTRIES];
    rs_signal(IPC_SLOT_CHANNEL0);
    while (!p->done) {
        wait_signal();
        reap();
    }
    return p;
}

/* One round: 64 writes of 4 KiB (all in flight), then 64 reads, verified. Returns the number of
 * words that differ; *errors counts completions with an error status. */
static uint64_t round_trip(unsigned round, uint64_t *errors)
{
    uint64_t base = (round % REGIONS) * (CHAN_ENTRIES * REQ_BYTES / 512), ids[CHAN_ENTRIES],
             bad = 0;
    for (unsigned i = 0; i < CHAN_ENTRIES; i++) {
        uint64_t sector = base + i * (REQ_BYTES / 512);
        uint32_t off = (uint32_t)((next_id - 1) % CHAN_ENTRIES) * REQ_BYTES;
        wait_slot(); // the buffer is ours again before we write it
        uint64_t *w = (uint64_t *)(data + off);
        for (unsigned k = 0; k < REQ_BYTES / 8; k++) w[k] = pattern(sector + k / 64, round, k % 64);
        ids[i] = submit(CHAN_OP_WRITE, sector, off, REQ_BYTES);
        rs_signal(IPC_SLOT_CHANNEL0);
    }
    for (unsigned i = 0; i < CHAN_ENTRIES; i++) *errors += wait_for(ids[i])->status != RS_OK;
    for (unsigned i = 0; i < CHAN_ENTRIES; i++) {
        uint64_t sector = base + i * (REQ_BYTES / 512);
        uint32_t off = (uint32_t)((next_id - 1) % CHAN_ENTRIES) * REQ_BYTES;
        ids[i] = submit(CHAN_OP_READ, sector, off, REQ_BYTES);
        rs_signal(IPC_SLOT_CHANNEL0);
    }
    for (unsigned i = 0; i < CHAN_ENTRIES; i++) {
        struct pending *p = wait_for(ids[i]);
        *errors += p->status != RS_OK;
        uint64_t sector = base + i * (REQ_BYTES / 512);
        uint32_t off = (uint32_t)((ids[i] - 1) % CHAN_ENTRIES) * REQ_BYTES;
        const uint64_t *w = (const uint64_t *)(data + off);
        for (unsigned k = 0; k < REQ_BYTES / 8; k++)
            bad += w[k] != pattern(sector + k / 64, round, k % 64);
    }
    return bad;
}

static uint32_t status_of(uint32_t op, uint64_t sector, uint32_t off, uint32_t len, uint64_t *out)
{
    struct pending *p = wait_for(submit(op, sector, off, len));
    if (out) *out = p->offset;
    return p->status;
}

int main(void *arg)
{
    const ipc_control_t *ctl = (const ipc_control_t *)IPC_CONTROL_VADDR;
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    check_plan(9);
    bool have = info->magic == IPC_DEVICE_MAGIC && info->nchannels == 1 &&
                info->channel[0].role == IPC_CHANNEL_CLIENT;
    check(have && info->channel[0].data_size >= CHAN_ENTRIES * REQ_BYTES, "BLK-0001",
          "init gave the client one channel with room for 64 requests of 4 KiB",
          "nchannels %lu, data %lu", have ? info->nchannels : 0,
          have ? info->channel[0].data_size : 0);
    if (!have) {
        check_done();
        ipc_shutdown(ctl);
    }
    uint8_t *base = (uint8_t *)IPC_CHANNEL_VADDR(0);
    data = chan_data(base);
    data_size = info->channel[0].data_size;
    chan_producer_attach(&req, chan_req_ring(base));
    chan_consumer_attach(&comp, chan_comp_ring(base));

    uint64_t sectors = 0;
    uint32_t st = status_of(BLK_OP_INFO, 0, 0, 0, &sectors);
    check(st == RS_OK && sectors == DISK_SECTORS, "BLK-0002", "blk reports the disk's size",
          "status %lu, sectors %lu", st, sectors);

    uint64_t bad = 0, errors = 0, t0 = rt_rdtsc();
    for (unsigned r = 0; r < ROUNDS; r++) bad += round_trip(r, &errors);
    uint64_t ms = (rt_rdtsc() - t0) / (ctl->tsc_per_ms ? ctl->tsc_per_ms : 1);
    rt_printf("blktest: %u rounds, %lu requests completed, %lu duplicate completions ignored, "
              "%lu ms\n",
              ROUNDS, completed, duplicates, ms);
    check(errors == 0, "BLK-0003",
          "every write and read of 64 rounds (64 in flight each) completed with RS_OK",
          "%lu errors of %lu", errors, (uint64_t)ROUNDS * 128);
    check(bad == 0, "BLK-0004", "every sector read back holds the pattern last written to it",
          "%lu words differ, %lu", bad, 0);
    check(status_of(CHAN_OP_FLUSH, 0, 0, 0, NULL) == RS_OK, "BLK-0005", "a flush completes",
          "%lu %lu", 0, 0);
    uint32_t a = status_of(CHAN_OP_READ, DISK_SECTORS - 4, 0, REQ_BYTES, NULL),
             b = status_of(CHAN_OP_WRITE, ~0ull, 0, 512, NULL);
    check(a == RS_RANGE_ERROR && b == RS_RANGE_ERROR, "BLK-0006",
          "requests beyond the disk (straddling its end, at sector 2^64-1) get RS_RANGE_ERROR",
          "got %lu and %lu", a, b);
    a = status_of(CHAN_OP_READ, 0, 0, 100, NULL);
    b = status_of(CHAN_OP_READ, 0, 0, BLK_MAX_REQUEST + 512, NULL);
    check(a == RS_INVALID_ARGUMENT && b == RS_INVALID_ARGUMENT, "BLK-0007",
          "a length not a multiple of 512, or above 64 KiB, gets RS_INVALID_ARGUMENT",
          "got %lu and %lu", a, b);
    a = status_of(CHAN_OP_READ, 0, (uint32_t)data_size - 512, 1024, NULL);
    b = status_of(CHAN_OP_WRITE, 0, 0xFFFFFE00u, 1024, NULL);
    check(a == RS_BAD_ADDRESS && b == RS_BAD_ADDRESS, "BLK-0008",
          "data outside the channel's data area gets RS_BAD_ADDRESS", "got %lu and %lu", a, b);
    a = status_of(99, 0, 0, 512, NULL);
    check(a == RS_ILLEGAL_OPERATION, "BLK-0009", "an unknown operation gets RS_ILLEGAL_OPERATION",
          "got %lu %lu", a, 0);
    check_done();
    ipc_shutdown(ctl);
}
