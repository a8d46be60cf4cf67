// SPDX-License-Identifier: MIT
// Host tests of virtio-blk over virtio-mmio (servers/vmm/virtio_blk.c, virtio_mmio.c,
// virtqueue.c): a driver written here from the virtio 1.2 specification (3.1.1 initialisation,
// 2.7 split virtqueues, 4.2.2 the MMIO registers, 5.2 the block device) sets the device up in a
// fake guest RAM and sends requests to an in-memory disk; then hostile rings: loops, addresses
// outside RAM, absurd lengths and counts, which must leave the device DEVICE_NEEDS_RESET, never
// an access outside RAM (ASan watches the exact-size buffers) or a hang. A backend that answers
// later (BLK_PENDING) shows requests completing by id, once.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "virtio_blk.h"
#include "le.h"

#define RAM_SIZE  (1u << 20)
#define DISK_SIZE (64u * 1024)
#define QN        32u
#define DESC      0x1000u
#define AVAIL     0x2000u
#define USED      0x3000u
#define HDR       0x4000u
#define STATUS    0x4100u
#define DATA      0x10000u

static uint8_t *ram, *disk;
static struct vq_ram gram;
static struct blk_mem mem;
static struct virtio_blk blk;
static const struct blk_backend *be;
static uint16_t avail_idx;

static void setup(void)
{
    ram = calloc(1, RAM_SIZE);
    disk = calloc(1, DISK_SIZE);
    gram = (struct vq_ram){ram, RAM_SIZE};
    blk_mem_init(&mem, disk, DISK_SIZE);
    be = &mem.be;
    memset(&blk, 0x5A, sizeof(blk)); // reset must not depend on what was there
    blk.next_id = 0;
    virtio_blk_reset(&blk);
    avail_idx = 0;
}

static void teardown(void)
{
    free(ram);
    free(disk);
}

TestSuite(virtio, .init = setup, .fini = teardown);

static uint32_t rd(uint32_t off)
{
    uint64_t v = 0xDEAD;
    virtio_blk_access(&blk, &gram, be, off, 4, false, &v);
    return (uint32_t)v;
}

static void wr(uint32_t off, uint32_t v)
{
    uint64_t x = v;
    virtio_blk_access(&blk, &gram, be, off, 4, true, &x);
}

static uint64_t cfg(uint32_t off, unsigned size)
{
    uint64_t v = 0;
    virtio_blk_access(&blk, &gram, be, VMMIO_CONFIG + off, size, false, &v);
    return v;
}

/* 3.1.1: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK. */
static void driver_init(uint64_t features)
{
    wr(VMMIO_STATUS, 0);
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE);
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
    wr(VMMIO_DRV_FEAT_SEL, 0);
    wr(VMMIO_DRV_FEATURES, (uint32_t)features);
    wr(VMMIO_DRV_FEAT_SEL, 1);
    wr(VMMIO_DRV_FEATURES, (uint32_t)(features >> 32));
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    cr_assert(rd(VMMIO_STATUS) & VIRTIO_S_FEATURES_OK, "features accepted");
    wr(VMMIO_QUEUE_SEL, 0);
    cr_assert_eq(rd(VMMIO_QUEUE_READY), 0);
    cr_assert_geq(rd(VMMIO_QUEUE_NUM_MAX), QN);
    wr(VMMIO_QUEUE_NUM, QN);
    wr(VMMIO_QUEUE_DESC_LO, DESC);
    wr(VMMIO_QUEUE_DESC_HI, 0);
    wr(VMMIO_QUEUE_AVAIL_LO, AVAIL);
    wr(VMMIO_QUEUE_AVAIL_HI, 0);
    wr(VMMIO_QUEUE_USED_LO, USED);
    wr(VMMIO_QUEUE_USED_HI, 0);
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

static void offer(uint16_t head)
{
    le_put16(ram + AVAIL + 4 + 2 * (avail_idx % QN), head);
    le_put16(ram + AVAIL + 2, ++avail_idx);
    wr(VMMIO_QUEUE_NOTIFY, 0);
}

static uint16_t used_idx(void) { return le_get16(ram + USED + 2); }

/* A three-descriptor request: header, data (len bytes at DATA, written by the device for IN),
 * status. Returns the status byte. */
static uint8_t request(uint32_t type, uint64_t sector, uint32_t len)
{
    le_put32(ram + HDR, type);
    le_put32(ram + HDR + 4, 0);
    le_put64(ram + HDR + 8, sector);
    ram[STATUS] = 0xEE;
    bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
    if (len) {
        desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
        desc(1, DATA, len, VQ_DESC_F_NEXT | (in ? VQ_DESC_F_WRITE : 0), 2);
        desc(2, STATUS, 1, VQ_DESC_F_WRITE, 0);
    } else {
        desc(0, HDR, 16, VQ_DESC_F_NEXT, 2);
        desc(2, STATUS, 1, VQ_DESC_F_WRITE, 0);
    }
    offer(0);
    return ram[STATUS];
}

Test(virtio, registers_identify_a_version_2_block_device)
{
    cr_assert_eq(rd(VMMIO_MAGIC), 0x74726976);
    cr_assert_eq(rd(VMMIO_VERSION), 2);
    cr_assert_eq(rd(VMMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
    wr(VMMIO_DEV_FEAT_SEL, 1);
    cr_assert_eq(rd(VMMIO_DEV_FEATURES), 1, "VIRTIO_F_VERSION_1 (bit 32)");
    wr(VMMIO_DEV_FEAT_SEL, 0);
    cr_assert_eq(rd(VMMIO_DEV_FEATURES), (uint32_t)(VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_SEG_MAX));
    wr(VMMIO_DEV_FEAT_SEL, 7);
    cr_assert_eq(rd(VMMIO_DEV_FEATURES), 0);
    cr_assert_eq(cfg(0, 8), DISK_SIZE / 512, "capacity in sectors");
    cr_assert_eq(cfg(0, 4), DISK_SIZE / 512, "read as two words, as Linux does");
    cr_assert_eq(cfg(4, 4), 0);
    cr_assert_eq(cfg(12, 4), BLK_SEG_MAX);
    cr_assert_eq(cfg(0x1000, 4), 0, "beyond the configuration space");
    uint64_t v = 7;
    virtio_blk_access(&blk, &gram, be, VMMIO_MAGIC, 2, false, &v);
    cr_assert_eq(v, 0, "a register read of the wrong size reads 0");
}

Test(virtio, features_without_version_1_or_beyond_ours_are_refused)
{
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
    wr(VMMIO_DRV_FEATURES, (uint32_t)VIRTIO_BLK_F_FLUSH); // a legacy driver: no VERSION_1
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    cr_assert_eq(rd(VMMIO_STATUS) & VIRTIO_S_FEATURES_OK, 0);
    wr(VMMIO_STATUS, 0);
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
    wr(VMMIO_DRV_FEAT_SEL, 1);
    wr(VMMIO_DRV_FEATURES, 1 | 2); // VERSION_1 and bit 33, which we do not offer
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    cr_assert_eq(rd(VMMIO_STATUS) & VIRTIO_S_FEATURES_OK, 0);
}

Test(virtio, write_then_read_back_through_the_queue)
{
    driver_init(VIRTIO_BLK_FEATURES);
    for (unsigned i = 0; i < 4096; i++) ram[DATA + i] = (uint8_t)(i * 7 + 1);
    cr_assert_eq(request(VIRTIO_BLK_T_OUT, 3, 4096), VIRTIO_BLK_S_OK);
    cr_assert(!memcmp(disk + 3 * 512, ram + DATA, 4096), "sectors 3..10 written");
    cr_assert_eq(used_idx(), 1);
    cr_assert_eq(le_get32(ram + USED + 4), 0, "used id: the head");
    cr_assert_eq(le_get32(ram + USED + 8), 1, "only the status byte written");
    cr_assert(virtio_blk_irq(&blk));
    cr_assert_eq(rd(VMMIO_INT_STATUS), VIRTIO_INT_USED);
    wr(VMMIO_INT_ACK, VIRTIO_INT_USED);
    cr_assert(!virtio_blk_irq(&blk), "acknowledged: the line drops");

    memset(ram + DATA, 0, 4096);
    cr_assert_eq(request(VIRTIO_BLK_T_IN, 3, 4096), VIRTIO_BLK_S_OK);
    cr_assert(!memcmp(disk + 3 * 512, ram + DATA, 4096));
    cr_assert_eq(le_get32(ram + USED + 8 + 8), 4097, "data and status written");
    cr_assert_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
    cr_assert_eq(used_idx(), 3);
}

Test(virtio, get_id_and_unsupported_requests)
{
    driver_init(VIRTIO_BLK_FEATURES);
    cr_assert_eq(request(VIRTIO_BLK_T_GET_ID, 0, 20), VIRTIO_BLK_S_OK);
    cr_assert_str_eq((const char *)ram + DATA, BLK_ID);
    cr_assert_eq(request(99, 0, 0), VIRTIO_BLK_S_UNSUPP);
}

Test(virtio, requests_beyond_the_disk_or_of_part_sectors_fail_whole)
{
    driver_init(VIRTIO_BLK_FEATURES);
    memset(ram + DATA, 0xAB, 1024);
    cr_assert_eq(request(VIRTIO_BLK_T_OUT, DISK_SIZE / 512 - 1, 1024), VIRTIO_BLK_S_IOERR);
    cr_assert_eq(disk[DISK_SIZE - 1], 0, "nothing written, not even the part inside");
    cr_assert_eq(request(VIRTIO_BLK_T_OUT, UINT64_MAX, 512), VIRTIO_BLK_S_IOERR);
    cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, 100), VIRTIO_BLK_S_IOERR);
    cr_assert_eq(request(VIRTIO_BLK_T_OUT, DISK_SIZE / 512 - 1, 512), VIRTIO_BLK_S_OK);
    cr_assert_eq(disk[DISK_SIZE - 1], 0xAB);
    cr_assert_eq(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET, 0, "bad requests do not break it");
}

Test(virtio, a_header_split_across_descriptors_and_data_in_its_buffer)
{
    driver_init(VIRTIO_BLK_FEATURES);
    le_put32(ram + HDR, VIRTIO_BLK_T_OUT);
    le_put32(ram + HDR + 4, 0);
    le_put64(ram + HDR + 8, 5);
    memset(ram + HDR + 16, 0x3C, 512); // data right after the header, in the same buffer
    desc(0, HDR, 4, VQ_DESC_F_NEXT, 1);
    desc(1, HDR + 4, 12 + 512, VQ_DESC_F_NEXT, 2);
    desc(2, STATUS, 1, VQ_DESC_F_WRITE, 0);
    offer(0);
    cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_OK);
    cr_assert_eq(disk[5 * 512], 0x3C);
    cr_assert_eq(disk[5 * 512 + 511], 0x3C);
    cr_assert_eq(disk[6 * 512], 0);
}

static void expect_broken(const char *why)
{
    cr_assert(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET, "%s: DEVICE_NEEDS_RESET", why);
    cr_assert(rd(VMMIO_INT_STATUS) & VIRTIO_INT_CONFIG, "%s: config interrupt", why);
    uint16_t u = used_idx();
    request(VIRTIO_BLK_T_FLUSH, 0, 0);
    cr_assert_eq(used_idx(), u, "%s: a broken device takes no more requests", why);
    // a reset brings it back
    driver_init(VIRTIO_BLK_FEATURES);
    le_put16(ram + AVAIL + 2, 0);
    le_put16(ram + USED + 2, 0);
    avail_idx = 0;
    cr_assert_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK, "%s: works after reset", why);
}

Test(virtio, a_descriptor_loop_breaks_the_device)
{
    driver_init(VIRTIO_BLK_FEATURES);
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    desc(1, STATUS, 1, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 0); // back to 0
    offer(0);
    expect_broken("loop");
}

Test(virtio, a_self_loop_breaks_the_device)
{
    driver_init(VIRTIO_BLK_FEATURES);
    desc(3, STATUS, 1, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 3);
    offer(3);
    expect_broken("self loop");
}

Test(virtio, an_address_outside_ram_breaks_the_device)
{
    driver_init(VIRTIO_BLK_FEATURES);
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    desc(1, RAM_SIZE - 256, 512, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2); // straddles the end
    desc(2, STATUS, 1, VQ_DESC_F_WRITE, 0);
    offer(0);
    expect_broken("straddles the end of RAM");
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    desc(1, UINT64_MAX - 10, 512, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2); // wraps around
    desc(2, STATUS, 1, VQ_DESC_F_WRITE, 0);
    offer(0);
    expect_broken("wraps");
}

Test(virtio, an_absurd_length_breaks_the_device)
{
    driver_init(VIRTIO_BLK_FEATURES);
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    desc(1, 0, 0xFFFFFFFFu, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
    desc(2, STATUS, 1, VQ_DESC_F_WRITE, 0);
    offer(0);
    expect_broken("4 GiB buffer");
    // each buffer inside RAM, but six times all of RAM in one chain: more than VQ_BYTES_MAX
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    for (unsigned i = 1; i <= 6; i++) desc(i, 0, RAM_SIZE, VQ_DESC_F_NEXT, (uint16_t)(i + 1));
    desc(7, STATUS, 1, VQ_DESC_F_WRITE, 0);
    offer(0);
    expect_broken("6 MiB in one chain");
}

Test(virtio, an_index_beyond_the_queue_or_an_absurd_count_breaks_the_device)
{
    driver_init(VIRTIO_BLK_FEATURES);
    offer(QN + 5); // head beyond the table
    expect_broken("head index");
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    desc(1, STATUS, 1, VQ_DESC_F_WRITE, 0);
    le_put16(ram + AVAIL + 4, 0);
    avail_idx = (uint16_t)(avail_idx + QN + 1); // the driver claims more than the ring holds
    le_put16(ram + AVAIL + 2, avail_idx);
    wr(VMMIO_QUEUE_NOTIFY, 0);
    expect_broken("available count");
    desc(0, HDR, 16, VQ_DESC_F_INDIRECT, 0);
    offer(0);
    expect_broken("indirect");
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    desc(1, STATUS, 1, VQ_DESC_F_WRITE, 0); // readable after writable: 2.7.4.2
    desc(1, STATUS, 1, VQ_DESC_F_WRITE | VQ_DESC_F_NEXT, 2);
    desc(2, HDR + 16, 16, 0, 0);
    offer(0);
    expect_broken("readable after writable");
}

Test(virtio, rings_outside_ram_or_misaligned_break_the_device)
{
    driver_init(VIRTIO_BLK_FEATURES);
    wr(VMMIO_QUEUE_READY, 0);
    wr(VMMIO_QUEUE_USED_LO, RAM_SIZE - 8);
    wr(VMMIO_QUEUE_READY, 1);
    offer(0);
    expect_broken("used ring outside RAM");
    wr(VMMIO_QUEUE_READY, 0);
    wr(VMMIO_QUEUE_DESC_LO, DESC + 8);
    wr(VMMIO_QUEUE_READY, 1);
    offer(0);
    expect_broken("descriptor table misaligned");
}

Test(virtio, queue_setup_is_ignored_while_the_queue_is_ready)
{
    driver_init(VIRTIO_BLK_FEATURES);
    wr(VMMIO_QUEUE_DESC_LO, 0x8000);
    cr_assert_eq(rd(VMMIO_QUEUE_DESC_LO), DESC);
    wr(VMMIO_QUEUE_SEL, 1); // a queue the block device does not have
    cr_assert_eq(rd(VMMIO_QUEUE_NUM_MAX), 0);
    wr(VMMIO_QUEUE_READY, 1);
    cr_assert_eq(rd(VMMIO_QUEUE_READY), 0);
    wr(VMMIO_QUEUE_NOTIFY, 1);
    wr(VMMIO_QUEUE_NOTIFY, 0xFFFFFFFF);
    cr_assert_eq(rd(VMMIO_STATUS) & VIRTIO_S_NEEDS_RESET, 0);
}

Test(virtio, without_driver_ok_a_notify_does_nothing)
{
    driver_init(VIRTIO_BLK_FEATURES);
    wr(VMMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
    wr(VMMIO_STATUS, 0); // reset
    cr_assert_eq(rd(VMMIO_STATUS), 0);
    cr_assert_eq(rd(VMMIO_QUEUE_READY), 0);
    request(VIRTIO_BLK_T_FLUSH, 0, 0);
    cr_assert_eq(used_idx(), 0);
}

/* ---- a backend that answers later ---- */

static struct {
    uint64_t ids[32];
    unsigned n;
} later;

static int later_read(void *ctx, uint64_t id, uint64_t sector, uint8_t *buf, uint32_t count)
{
    (void)ctx, (void)sector, (void)count;
    memset(buf, 0x77, count * 512);
    later.ids[later.n++ % 32] = id;
    return BLK_PENDING;
}
static int later_write(void *ctx, uint64_t id, uint64_t s, const uint8_t *b, uint32_t c)
{
    (void)ctx, (void)s, (void)b, (void)c;
    later.ids[later.n++ % 32] = id;
    return BLK_PENDING;
}
static int later_flush(void *ctx, uint64_t id)
{
    (void)ctx;
    later.ids[later.n++ % 32] = id;
    return BLK_PENDING;
}
static const struct blk_backend later_be = {NULL,        128,  later_read, later_write,
                                            later_flush, NULL, 0,          0};

Test(virtio, pending_requests_complete_by_id_once_and_the_queue_waits_for_slots)
{
    be = &later_be;
    memset(&later, 0, sizeof(later));
    driver_init(VIRTIO_BLK_FEATURES);
    // BLK_INFLIGHT + 2 flushes, each its own chain
    for (unsigned i = 0; i < BLK_INFLIGHT + 2; i++) {
        desc(2 * i, HDR, 16, VQ_DESC_F_NEXT, (uint16_t)(2 * i + 1));
        desc(2 * i + 1, STATUS + i, 1, VQ_DESC_F_WRITE, 0);
        le_put32(ram + HDR, VIRTIO_BLK_T_FLUSH);
        le_put16(ram + AVAIL + 4 + 2 * i, (uint16_t)(2 * i));
    }
    le_put16(ram + AVAIL + 2, BLK_INFLIGHT + 2);
    wr(VMMIO_QUEUE_NOTIFY, 0);
    cr_assert_eq(later.n, BLK_INFLIGHT, "only as many as there are slots");
    cr_assert_eq(used_idx(), 0);
    cr_assert(!virtio_blk_complete(&blk, &gram, be, 12345, VIRTIO_BLK_S_OK), "unknown id");
    uint64_t first = later.ids[0];
    cr_assert(virtio_blk_complete(&blk, &gram, be, first, VIRTIO_BLK_S_OK));
    cr_assert_eq(used_idx(), 1);
    cr_assert_eq(ram[STATUS], VIRTIO_BLK_S_OK);
    cr_assert_eq(later.n, BLK_INFLIGHT + 1, "a freed slot takes the next chain");
    cr_assert(!virtio_blk_complete(&blk, &gram, be, first, VIRTIO_BLK_S_OK), "answered once");
    cr_assert_eq(used_idx(), 1);
    cr_assert(virtio_blk_complete(&blk, &gram, be, later.ids[1], VIRTIO_BLK_S_IOERR));
    cr_assert_eq(ram[STATUS + 1], VIRTIO_BLK_S_IOERR);
    cr_assert_eq(later.n, BLK_INFLIGHT + 2);
    // the state is plain data: a copy (a restarted VMM's committed state) completes the rest
    struct virtio_blk copy = blk;
    blk = copy;
    for (unsigned i = 2; i < BLK_INFLIGHT + 2; i++)
        cr_assert(virtio_blk_complete(&blk, &gram, be, later.ids[i], VIRTIO_BLK_S_OK));
    cr_assert_eq(used_idx(), BLK_INFLIGHT + 2);
    cr_assert_eq(later.n, BLK_INFLIGHT + 2, "nothing submitted twice");
}

Test(virtio, a_multi_part_read_completes_when_its_last_part_does)
{
    be = &later_be;
    memset(&later, 0, sizeof(later));
    driver_init(VIRTIO_BLK_FEATURES);
    le_put32(ram + HDR, VIRTIO_BLK_T_IN);
    le_put64(ram + HDR + 8, 0);
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    desc(1, DATA, 512, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 2);
    desc(2, DATA + 4096, 1024, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 3);
    desc(3, STATUS, 1, VQ_DESC_F_WRITE, 0);
    offer(0);
    cr_assert_eq(later.n, 2);
    cr_assert_eq(later.ids[0], later.ids[1], "one id for the request's parts");
    cr_assert(virtio_blk_complete(&blk, &gram, be, later.ids[0], VIRTIO_BLK_S_OK));
    cr_assert_eq(used_idx(), 0);
    cr_assert(virtio_blk_complete(&blk, &gram, be, later.ids[0], VIRTIO_BLK_S_OK));
    cr_assert_eq(used_idx(), 1);
    cr_assert_eq(le_get32(ram + USED + 8), 1536 + 1);
}

/* ---- seeded fuzz ---- */

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Something near the interesting values or anything. */
static uint64_t pick_addr(void)
{
    switch (next() % 6) {
    case 0: return next() % RAM_SIZE;
    case 1: return RAM_SIZE - next() % 64;
    case 2: return next();
    case 3: return DATA + (next() % 16) * 512;
    default: return HDR + next() % 0x200;
    }
}

Test(virtio, fuzz_hostile_rings_and_register_writes)
{
    static const uint32_t regs[] = {
        VMMIO_DEV_FEAT_SEL,   VMMIO_DRV_FEATURES,  VMMIO_DRV_FEAT_SEL,  VMMIO_QUEUE_SEL,
        VMMIO_QUEUE_NUM,      VMMIO_QUEUE_READY,   VMMIO_QUEUE_NOTIFY,  VMMIO_INT_ACK,
        VMMIO_STATUS,         VMMIO_QUEUE_DESC_LO, VMMIO_QUEUE_DESC_HI, VMMIO_QUEUE_AVAIL_LO,
        VMMIO_QUEUE_AVAIL_HI, VMMIO_QUEUE_USED_LO, VMMIO_QUEUE_USED_HI, VMMIO_CONFIG_GEN};
    unsigned broken = 0, completed = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        rng = seed * 0x9E3779B97F4A7C15ull;
        memset(ram, 0, RAM_SIZE);
        driver_init(VIRTIO_BLK_FEATURES);
        avail_idx = 0;
        for (unsigned step = 0; step < 200; step++) {
            unsigned what = (unsigned)(next() % 10);
            if (what < 4) { // a random descriptor
                desc((unsigned)(next() % QN), pick_addr(),
                     (uint32_t)(next() % 3 ? next() % 8192 : next()), (uint16_t)(next() % 8),
                     (uint16_t)(next() % (QN + 4)));
            } else if (what < 6) { // a header
                le_put32(ram + HDR + (next() % 4) * 16, (uint32_t)(next() % 10));
                le_put64(ram + HDR + 8, next() % 3 ? next() % 200 : next());
            } else if (what < 8) { // offer a chain (sometimes a wild avail index)
                le_put16(ram + AVAIL + 4 + 2 * (avail_idx % QN), (uint16_t)(next() % (QN + 2)));
                avail_idx = (uint16_t)(avail_idx + (next() % 16 ? 1 : next()));
                le_put16(ram + AVAIL + 2, avail_idx);
                wr(VMMIO_QUEUE_NOTIFY, (uint32_t)(next() % 4 ? 0 : next()));
            } else if (what < 9) { // a register write, any value, any size
                uint64_t v = next() % 2 ? next() % 64 : next();
                uint32_t off = next() % 8 ? regs[next() % 16] : (uint32_t)(next() % 0x300);
                virtio_blk_access(&blk, &gram, be, off, 1u << (next() % 4), true, &v);
            } else { // a read anywhere
                uint64_t v;
                virtio_blk_access(&blk, &gram, be, (uint32_t)(next() % 0x400), 1u << (next() % 4),
                                  false, &v);
            }
            // invariants: used never runs ahead of what was taken, queue size stays sane
            const struct virtq *q = &blk.t.q[0];
            cr_assert_leq(q->num, VQ_NUM_MAX);
            cr_assert_eq(q->used_idx, q->last_avail, "each chain taken was answered (sync)");
        }
        broken += !!(blk.t.status & VIRTIO_S_NEEDS_RESET);
        completed += blk.t.q[0].used_idx;
    }
    cr_assert_gt(broken, 10, "hostile rings were caught (%u of 300)", broken);
    cr_assert_gt(completed, 10, "and some requests went through (%u)", completed);
}

/* The VMM's transaction model: a VMM that dies before committing leaves the old state, and the
 * re-delivered QueueNotify exit runs again from it. Running it twice from the same state must
 * give the same guest memory, disk and state (nothing lost, nothing applied twice in effect). */
Test(virtio, a_notify_redone_from_the_committed_state_gives_the_same_result)
{
    driver_init(VIRTIO_BLK_FEATURES);
    for (unsigned i = 0; i < 1024; i++) ram[DATA + i] = (uint8_t)(i ^ 0x5A);
    // two chains: write sectors 7..8, then read them back into DATA + 0x2000
    le_put32(ram + HDR, VIRTIO_BLK_T_OUT);
    le_put64(ram + HDR + 8, 7);
    le_put32(ram + HDR + 16, VIRTIO_BLK_T_IN);
    le_put64(ram + HDR + 24, 7);
    desc(0, HDR, 16, VQ_DESC_F_NEXT, 1);
    desc(1, DATA, 1024, VQ_DESC_F_NEXT, 2);
    desc(2, STATUS, 1, VQ_DESC_F_WRITE, 0);
    desc(3, HDR + 16, 16, VQ_DESC_F_NEXT, 4);
    desc(4, DATA + 0x2000, 1024, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, 5);
    desc(5, STATUS + 1, 1, VQ_DESC_F_WRITE, 0);
    le_put16(ram + AVAIL + 4, 0);
    le_put16(ram + AVAIL + 6, 3);
    le_put16(ram + AVAIL + 2, 2);
    const struct virtio_blk committed = blk;
    wr(VMMIO_QUEUE_NOTIFY, 0);
    uint8_t *ram1 = malloc(RAM_SIZE), *disk1 = malloc(DISK_SIZE);
    memcpy(ram1, ram, RAM_SIZE);
    memcpy(disk1, disk, DISK_SIZE);
    const struct virtio_blk after = blk;
    cr_assert_eq(used_idx(), 2);
    cr_assert(!memcmp(ram + DATA, ram + DATA + 0x2000, 1024));
    blk = committed; // the crash: the transaction's state is lost, its memory effects are not
    wr(VMMIO_QUEUE_NOTIFY, 0);
    cr_assert(!memcmp(ram, ram1, RAM_SIZE), "guest memory as after the first run");
    cr_assert(!memcmp(disk, disk1, DISK_SIZE), "disk as after the first run");
    cr_assert(!memcmp(&blk, &after, sizeof(blk)), "device state as after the first run");
    wr(VMMIO_QUEUE_NOTIFY, 0); // and once committed, a notify does not run them again
    cr_assert_eq(used_idx(), 2);
    cr_assert_eq(blk.requests, 2);
    free(ram1);
    free(disk1);
}
