// SPDX-License-Identifier: MIT
// system-irqshare's disk client: writes patterned sectors through its channel to blk and reads
// them back, round after round, while the network harness drives nic-e1000 whose device shares
// blk's IRQ line; it makes no checks of its own (netecho's and the harness's end the run) but
// prints how many rounds came back intact, which the run expects.
#include "ipc.h"
#include "proto/blk.h"

#define REQ_BYTES 4096u
#define BATCH     16u  /* requests in flight */
#define ROUNDS    200u /* then it reports and idles */

static chan_producer_t req;
static chan_consumer_t comp;
static uint8_t *data;
static uint64_t next_id = 1;
static uint32_t status[BATCH];
static bool done[BATCH];

static uint64_t pattern(uint64_t sector, unsigned round, unsigned word)
{
    return (sector * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)round << 40) ^ word;
}

/* Submits BATCH requests of `op` (request i: sector base + 8i, data slot i) and waits for all. */
static unsigned batch(uint32_t op, uint64_t base)
{
    uint64_t first = next_id;
    for (unsigned i = 0; i < BATCH; i++) {
        done[i] = false;
        chan_desc_t d = {.id = next_id++,
                         .op = op,
                         .offset = base + i * (REQ_BYTES / 512),
                         .data_offset = i * REQ_BYTES,
                         .len = REQ_BYTES};
        while (chan_produce(&req, &d) != RS_OK) {
            rs_signal(IPC_SLOT_CHANNEL0);
            rs_wait(IPC_SLOT_PING);
        }
    }
    rs_signal(IPC_SLOT_CHANNEL0);
    unsigned left = BATCH, errors = 0;
    while (left) {
        chan_desc_t d;
        while (chan_consume(&comp, &d) == RS_OK) {
            chan_release(&comp);
            if (d.id < first || d.id >= first + BATCH || done[d.id - first]) continue;
            done[d.id - first] = true, status[d.id - first] = d.status, left--;
            errors += d.status != RS_OK;
        }
        if (left) rs_wait(IPC_SLOT_PING);
    }
    return errors;
}

int main(void *arg)
{
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    if (info->magic != IPC_DEVICE_MAGIC || info->nchannels != 1 ||
        info->channel[0].data_size < BATCH * REQ_BYTES) {
        rt_printf("blkload: no usable channel\n");
        return 1;
    }
    uint8_t *base = (uint8_t *)IPC_CHANNEL_VADDR(0);
    data = chan_data(base);
    chan_producer_attach(&req, chan_req_ring(base));
    chan_consumer_attach(&comp, chan_comp_ring(base));
    uint64_t bad = 0, errors = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        uint64_t sector = (r % 8) * BATCH * (REQ_BYTES / 512);
        for (unsigned i = 0; i < BATCH; i++) {
            uint64_t *w = (uint64_t *)(data + i * REQ_BYTES);
            for (unsigned k = 0; k < REQ_BYTES / 8; k++)
                w[k] = pattern(sector + i * 8 + k / 64, r, k % 64);
        }
        errors += batch(CHAN_OP_WRITE, sector);
        for (unsigned i = 0; i < BATCH * REQ_BYTES / 8; i++) ((uint64_t *)data)[i] = 0;
        errors += batch(CHAN_OP_READ, sector);
        for (unsigned i = 0; i < BATCH; i++) {
            const uint64_t *w = (const uint64_t *)(data + i * REQ_BYTES);
            for (unsigned k = 0; k < REQ_BYTES / 8; k++)
                bad += w[k] != pattern(sector + i * 8 + k / 64, r, k % 64);
        }
        if (r % 50 == 49)
            rt_printf("blkload: %u rounds, %lu errors, %lu words differ\n", r + 1, errors, bad);
    }
    for (;;) rs_wait(IPC_SLOT_PING); // the network side ends the run
}
