// SPDX-License-Identifier: MIT
// Host tests of the guest disk over a channel (servers/vmm/virtio_blk_chan.c): a virtio driver
// written here (as test_vmm_virtio.c's, virtio 1.2 3.1.1, 2.7, 5.2) sends requests to
// virtio_blk.c with the channel backend; a fake fs serves the channel from an in-memory disk.
// Requests complete only when fs's completions are reaped; duplicates (fs redoing a request),
// completions read again by a restarted VMM, orphans of a VMM transaction that was never
// committed, and hostile completions (unknown ids, slots out of range) complete each guest
// request exactly once and never write guest RAM they should not.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_blk_chan.h"
#include "le.h"
#include "proto/blk.h"

#define RAM_SIZE  (1u << 20)
#define DISK_SIZE (64u * 1024)
#define QN        32u
#define DESC      0x1000u
#define AVAIL     0x2000u
#define USED      0x3000u
#define HDR       0x4000u
#define STATUS    0x4100u
#define DATA      0x10000u
#define CHAN_DATA (64u * 8192u)

/* What the VMM commits: the device and the backend's records (one "transaction" state). */
struct state {
    struct virtio_blk blk;
    struct vblk_chan_state chan;
};

static uint8_t *ram, *disk, *chanmem;
static struct vq_ram gram;
static struct state st, committed;
static void *cur = &st;
static struct vblk_chan c;
static uint16_t avail_idx;
static chan_consumer_t fs_req; /* the fake fs's ends */
static chan_producer_t fs_comp;

static void vmm_start(uint64_t instance)
{
    cr_assert_eq(vblk_chan_init(&c, chanmem, CHAN_DATA, ram, RAM_SIZE, &cur,
                                offsetof(struct state, chan), instance),
                 0);
    c.be.sectors = DISK_SIZE / 512;
}

static void setup(void)
{
    ram = calloc(1, RAM_SIZE);
    disk = calloc(1, DISK_SIZE);
    chanmem = aligned_alloc(4096, CHAN_DATA_OFFSET + CHAN_DATA);
    memset(chanmem, 0, CHAN_DATA_OFFSET + CHAN_DATA);
    chan_format(chanmem);
    for (unsigned i = 0; i < DISK_SIZE; i++) disk[i] = (uint8_t)(i * 7 + i / 512);
    gram = (struct vq_ram){ram, RAM_SIZE};
    st = (struct state){0};
    virtio_blk_reset(&st.blk);
    vmm_start(1);
    cr_assert_eq(chan_consumer_attach(&fs_req, chan_req_ring(chanmem)), 0);
    cr_assert_eq(chan_producer_attach(&fs_comp, chan_comp_ring(chanmem)), 0);
    avail_idx = 0;
}

static void teardown(void)
{
    free(ram);
    free(disk);
    free(chanmem);
}

TestSuite(blk_chan, .init = setup, .fini = teardown);

static uint32_t rd(uint32_t off)
{
    uint64_t v = 0xDEAD;
    virtio_blk_access(&st.blk, &gram, &c.be, off, 4, false, &v);
    return (uint32_t)v;
}

static void wr(uint32_t off, uint32_t v)
{
    uint64_t x = v;
    virtio_blk_access(&st.blk, &gram, &c.be, off, 4, true, &x);
}

static void driver_init(void)
{
    wr(VMMIO_STATUS, 0);
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
    wr(VMMIO_DRV_FEAT_SEL, 1);
    wr(VMMIO_DRV_FEATURES, 1); // VERSION_1
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    wr(VMMIO_QUEUE_SEL, 0);
    wr(VMMIO_QUEUE_NUM, QN);
    wr(VMMIO_QUEUE_DESC_LO, DESC);
    wr(VMMIO_QUEUE_AVAIL_LO, AVAIL);
    wr(VMMIO_QUEUE_USED_LO, USED);
    wr(VMMIO_QUEUE_READY, 1);
    wr(VMMIO_STATUS,
       VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
    uint8_t *d = ram + DESC + 16 * i;
    le_put64(d, addr);
    le_put32(d + 8, len);
    le_put16(d + 12, flags);
    le_put16(d + 14, next);
}

static uint16_t used_idx(void) { return le_get16(ram + USED + 2); }

/* Offers a request (header, `segs` data buffers of seg bytes each at DATA, status) on chain
 * head 0 and notifies. */
static void offer(uint32_t type, uint64_t sector, unsigned segs, uint32_t seg)
{
    le_put32(ram + HDR, type);
    le_put32(ram + HDR + 4, 0);
    le_put64(ram + HDR + 8, sector);
    ram[STATUS] = 0xEE;
    bool in = type == VIRTIO_BLK_T_IN;
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    for (unsigned i = 0; i < segs; i++)
        desc(1 + i, DATA + i * seg, seg, VQ_DESC_F_NEXT | (in ? VQ_DESC_F_WRITE : 0), 2 + i);
    desc(1 + segs, STATUS, 1, VQ_DESC_F_WRITE, 0);
    le_put16(ram + AVAIL + 4 + 2 * (avail_idx % QN), 0);
    le_put16(ram + AVAIL + 2, ++avail_idx);
    wr(VMMIO_QUEUE_NOTIFY, 0);
}

/* The fake fs: serves up to max requests against disk; `twice` posts each completion twice
 * (an fs that crashed between completion and release, redone by its next instance). */
static unsigned fs_serve(unsigned max, bool twice)
{
    unsigned n = 0;
    chan_desc_t d;
    while (n < max && chan_consume(&fs_req, &d) == RS_OK) {
        int bad = d.op == BLK_OP_INFO ? 0 : chan_desc_check(&d, CHAN_DATA, DISK_SIZE / 512, 65536);
        if (!bad && d.op == CHAN_OP_READ)
            memcpy(chanmem + CHAN_DATA_OFFSET + d.data_offset, disk + d.offset * 512, d.len);
        if (!bad && d.op == CHAN_OP_WRITE)
            memcpy(disk + d.offset * 512, chanmem + CHAN_DATA_OFFSET + d.data_offset, d.len);
        if (d.op == BLK_OP_INFO) d.offset = DISK_SIZE / 512;
        d.status = (uint32_t)bad;
        cr_assert_eq(chan_produce(&fs_comp, &d), 0);
        if (twice) cr_assert_eq(chan_produce(&fs_comp, &d), 0);
        chan_release(&fs_req);
        n++;
    }
    return n;
}

/* One VMM transaction that reaps, then its commit (and the kick a commit that freed slots
 * makes). */
static unsigned reap_commit(void)
{
    unsigned n = vblk_chan_reap(&c, &st.blk, &gram, CHAN_ENTRIES);
    committed = st;
    if (vblk_chan_committed(&c)) virtio_blk_kick(&st.blk, &gram, &c.be), committed = st;
    return n;
}

Test(blk_chan, the_device_offers_the_channels_limits)
{
    wr(VMMIO_DEV_FEAT_SEL, 0);
    cr_assert_eq(rd(VMMIO_DEV_FEATURES) & VIRTIO_BLK_F_SIZE_MAX, VIRTIO_BLK_F_SIZE_MAX);
    uint64_t v = 0;
    virtio_blk_access(&st.blk, &gram, &c.be, VMMIO_CONFIG + 8, 4, false, &v);
    cr_assert_eq(v, 8192, "size_max: the data slot (64 slots in 512 KiB)");
    virtio_blk_access(&st.blk, &gram, &c.be, VMMIO_CONFIG + 12, 4, false, &v);
    cr_assert_eq(v, VBLK_CHAN_SEG_MAX);
    virtio_blk_access(&st.blk, &gram, &c.be, VMMIO_CONFIG, 8, false, &v);
    cr_assert_eq(v, DISK_SIZE / 512);
}

Test(blk_chan, the_size_comes_from_fs)
{
    cr_assert_eq(vblk_chan_ask_info(&c), 0);
    uint64_t sectors = 0;
    cr_assert_eq(vblk_chan_info(&c, &sectors), 0, "no answer yet");
    fs_serve(1, false);
    cr_assert_eq(vblk_chan_info(&c, &sectors), 1);
    cr_assert_eq(sectors, DISK_SIZE / 512);
}

Test(blk_chan, requests_complete_when_fs_answers)
{
    driver_init();
    memset(ram + DATA, 0xC3, 3 * 4096);
    offer(VIRTIO_BLK_T_OUT, 8, 3, 4096);
    cr_assert_eq(used_idx(), 0, "pending until fs answers");
    cr_assert_eq(chan_pending(&c.req), 3, "one channel request per buffer");
    cr_assert(c.signal);
    cr_assert_eq(fs_serve(8, false), 3);
    cr_assert_eq(reap_commit(), 3);
    cr_assert_eq(used_idx(), 1);
    cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_OK);
    for (unsigned i = 0; i < 3 * 4096; i++) cr_assert_eq(disk[8 * 512 + i], 0xC3);
    memset(ram + DATA, 0, 2 * 8192);
    offer(VIRTIO_BLK_T_IN, 4, 2, 8192);
    fs_serve(8, false);
    reap_commit();
    cr_assert_eq(used_idx(), 2);
    cr_assert_eq(memcmp(ram + DATA, disk + 4 * 512, 2 * 8192), 0);
    offer(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
    fs_serve(8, false);
    reap_commit();
    cr_assert_eq(used_idx(), 3);
    cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_OK);
    cr_assert_eq(committed.chan.done, 6);
}

Test(blk_chan, a_buffer_beyond_size_max_fails_alone)
{
    driver_init();
    offer(VIRTIO_BLK_T_IN, 0, 1, 16384);
    cr_assert_eq(used_idx(), 1, "answered at once");
    cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_IOERR);
    cr_assert_eq(chan_pending(&c.req), 0);
}

Test(blk_chan, a_redone_request_completes_once)
{
    driver_init();
    offer(VIRTIO_BLK_T_IN, 1, 2, 4096);
    fs_serve(8, true);
    cr_assert_eq(reap_commit(), 4);
    cr_assert_eq(used_idx(), 1);
    cr_assert_eq(committed.chan.ignored, 2);
    cr_assert_eq(memcmp(ram + DATA, disk + 512, 8192), 0);
}

/* The VMM applied completions and died before its commit: the next instance reads them again
 * from the committed state and completes the guest's request once. */
Test(blk_chan, completions_applied_without_commit_are_applied_again)
{
    driver_init();
    offer(VIRTIO_BLK_T_IN, 2, 2, 4096);
    committed = st;
    fs_serve(8, false);
    vblk_chan_reap(&c, &st.blk, &gram, CHAN_ENTRIES); // applied, not committed: crash
    memset(ram + DATA, 0, 8192);
    st = committed;
    vmm_start(2);
    cr_assert_eq(reap_commit(), 2, "read again");
    cr_assert_eq(used_idx(), 1);
    cr_assert_eq(memcmp(ram + DATA, disk + 2 * 512, 8192), 0);
    // and once committed and released, a third instance finds nothing to read
    vmm_start(3);
    cr_assert_eq(reap_commit(), 0);
    cr_assert_eq(used_idx(), 1);
}

/* A transaction produced requests and died before its commit: they are orphans. The guest's
 * request is taken again (from the committed virtqueue state) by the next instance; fs serves
 * both; the orphan's completion is ignored and the guest's request completes once. */
Test(blk_chan, orphans_of_an_uncommitted_transaction_are_ignored)
{
    driver_init();
    committed = st;
    memset(ram + DATA, 0xA1, 4096);
    offer(VIRTIO_BLK_T_OUT, 3, 1, 4096); // the transaction of this notify never commits
    cr_assert_eq(chan_pending(&c.req), 1);
    st = committed;
    vmm_start(2);
    cr_assert_eq(vblk_chan_room(&c), CHAN_ENTRIES - 1, "the orphan holds its position");
    wr(VMMIO_QUEUE_NOTIFY, 0); // the exit comes again
    cr_assert_eq(chan_pending(&c.req), 2);
    fs_serve(8, false);
    reap_commit();
    cr_assert_eq(used_idx(), 1);
    cr_assert_eq(committed.chan.ignored, 1, "the orphan's completion");
    cr_assert_eq(committed.chan.done, 1);
    cr_assert_eq(disk[3 * 512], 0xA1);
}

/* A slot freed by the transaction under way is not reused by it (a crash before its commit
 * would have the next instance apply the old read over the new request's data). */
Test(blk_chan, slots_freed_in_a_transaction_wait_for_its_commit)
{
    driver_init();
    for (unsigned i = 0; i < 30; i++) { // move the ring on: the freed slot is then not first
        offer(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
        fs_serve(8, false);
        reap_commit();
    }
    uint16_t done = used_idx();
    offer(VIRTIO_BLK_T_IN, 0, 1, 4096);
    fs_serve(8, false);
    vblk_chan_reap(&c, &st.blk, &gram, CHAN_ENTRIES);
    cr_assert_eq(used_idx(), done + 1);
    unsigned room = vblk_chan_room(&c);
    cr_assert_lt(room, CHAN_ENTRIES, "the freed slot is not usable yet");
    vblk_chan_committed(&c);
    cr_assert_eq(vblk_chan_room(&c), CHAN_ENTRIES);
}

Test(blk_chan, hostile_completions_are_ignored)
{
    driver_init();
    offer(VIRTIO_BLK_T_IN, 0, 1, 4096);
    memset(ram + DATA, 0x11, 4096);
    static uint8_t before[DATA + 0x10000];
    memcpy(before, ram, sizeof before);
    chan_desc_t bad[] = {
        {.id = 0, .op = CHAN_OP_READ, .len = 4096},
        {.id = 0xFFFFFFFFFFFFFFFFull, .op = CHAN_OP_READ, .len = 4096},
        {.id = 1ull << 16 | 200, .op = CHAN_OP_READ, .len = 4096},         // slot out of range
        {.id = 1ull << 16 | 1u << 8 | 5, .op = CHAN_OP_READ, .len = 4096}, // a free slot
        {.id = VBLK_CHAN_INFO_ID, .op = BLK_OP_INFO},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(chan_produce(&fs_comp, &bad[i]), 0);
    cr_assert_eq(reap_commit(), 5);
    cr_assert_eq(used_idx(), 0);
    cr_assert_eq(memcmp(before, ram, sizeof before), 0, "guest RAM untouched");
    // the real completion, its length and data offset forged: the record decides
    chan_desc_t d;
    cr_assert_eq(chan_consume(&fs_req, &d), 0);
    memcpy(chanmem + CHAN_DATA_OFFSET + d.data_offset, disk, 4096);
    d.len = 65536;
    d.data_offset = 0xFFFFF000u;
    d.op = CHAN_OP_WRITE;
    cr_assert_eq(chan_produce(&fs_comp, &d), 0);
    chan_release(&fs_req);
    reap_commit();
    cr_assert_eq(used_idx(), 1);
    cr_assert_eq(memcmp(ram + DATA, disk, 4096), 0);
    cr_assert_eq(ram[DATA + 4096], 0, "nothing past the buffer");
}
