// SPDX-License-Identifier: MIT
// Disk benchmark client: sequential write and read MB/s and 4 KiB random read and write IOPS,
// either raw through a block channel to servers/blk (built with -DRAW: bench-disk-raw.elf) or
// through servers/fs (caps=fs: files by proto/fs.h, data inline in IPC messages and through the
// client's data window). It
// prints `bench:` lines and asserts nothing (docs/benchmarks.md, "Disk").
#include "ipc.h"
#include "proto/blk.h"
#include "common/kstring.h"
#include "proto/fs.h"

#ifdef SMOKE /* the suite's short run (bench-disk-all-runs): that it runs and prints */
#define SEQ_BYTES (1u << 20)
#define RAND_OPS  64u
#define FS_SEQ    (8u << 10)
#define FS_RAND   4u
#else
#define SEQ_BYTES (8u << 20) /* raw: 8 MiB each way */
#define RAND_OPS  1000u
#define FS_SEQ    (64u << 10) /* fs: a 64 KiB file (every write is durable: slow) */
#define FS_RAND   16u         /* fs: 4 KiB random reads and writes */
#endif
#define SEQ_REQ   65536u      /* raw: 64 KiB requests */
#define QD        8u          /* raw: requests in flight (sequential runs, random QD8) */
#define AREA_SECT (64u << 11) /* random offsets within the first 64 MiB */

static const ipc_control_t *me;
static uint64_t seed = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void)
{
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    return seed;
}
static uint64_t now_us(void) { return rt_rdtsc() * 1000 / (me->tsc_per_ms ? me->tsc_per_ms : 1); }

/* bytes in us as "MB/s" with three decimals (MB = 10^6 bytes) */
static void print_rate(const char *what, uint64_t bytes, uint64_t us)
{
    uint64_t milli = us ? bytes * 1000 / us : 0;
    rt_printf("bench: disk %s: %lu.%03lu MB/s (%lu KiB in %lu us)\n", what, milli / 1000,
              milli % 1000, bytes >> 10, us);
}
static void print_iops(const char *what, uint64_t ops, uint64_t us)
{
    rt_printf("bench: disk %s: %lu IOPS (%lu ops in %lu us, %lu us each)\n", what,
              us ? ops * 1000000 / us : 0, ops, us, ops ? us / ops : 0);
}

#ifdef RAW
/* ---- raw: the block channel ---- */
static chan_producer_t req;
static chan_consumer_t comp;
static uint64_t next_id = 1, outstanding, sectors, errors;

static void reap(void)
{
    chan_desc_t d;
    while (chan_consume(&comp, &d) == RS_OK) {
        chan_release(&comp);
        errors += d.status != RS_OK;
        outstanding--;
    }
}

/* Waits until fewer than `depth` requests are out and the ring has room. */
static void drain_to(uint64_t depth)
{
    while (outstanding > depth || (depth && !chan_space(&req))) {
        rs_signal(IPC_SLOT_CHANNEL0);
        rs_wait(IPC_SLOT_PING);
        reap();
    }
}

static void raw_submit(uint32_t op, uint64_t sector, uint32_t data_offset, uint32_t len)
{
    drain_to(QD - 1);
    chan_desc_t d = {
        .id = next_id++, .op = op, .offset = sector, .data_offset = data_offset, .len = len};
    if (chan_produce(&req, &d) == RS_OK) outstanding++;
    rs_signal(IPC_SLOT_CHANNEL0);
}

static void raw_seq(uint32_t op, const char *what)
{
    uint64_t t0 = now_us();
    for (uint64_t off = 0; off < SEQ_BYTES; off += SEQ_REQ)
        raw_submit(op, off / 512, (uint32_t)((off / SEQ_REQ) % QD) * SEQ_REQ, SEQ_REQ);
    drain_to(0);
    print_rate(what, SEQ_BYTES, now_us() - t0);
}

static void raw_rand(uint32_t op, unsigned depth, const char *what)
{
    uint64_t t0 = now_us();
    for (unsigned i = 0; i < RAND_OPS; i++) {
        uint64_t s = (rnd() % (sectors < AREA_SECT ? sectors / 8 : AREA_SECT / 8)) * 8;
        if (depth == 1) drain_to(0);
        raw_submit(op, s, (i % QD) * 4096, 4096);
    }
    drain_to(0);
    print_iops(what, RAND_OPS, now_us() - t0);
}

static void raw(const ipc_device_info_t *info)
{
    uint8_t *base = (uint8_t *)IPC_CHANNEL_VADDR(0);
    chan_producer_attach(&req, chan_req_ring(base));
    chan_consumer_attach(&comp, chan_comp_ring(base));
    if (info->channel[0].data_size < QD * SEQ_REQ) {
        rt_printf("bench: FAILED the channel's data area is under %u KiB\n", QD * SEQ_REQ >> 10);
        return;
    }
    uint8_t *data = chan_data(base);
    for (uint32_t i = 0; i < QD * SEQ_REQ; i++) data[i] = (uint8_t)(i * 31 + 7);
    chan_desc_t d = {.id = next_id++, .op = BLK_OP_INFO};
    chan_produce(&req, &d);
    outstanding++;
    rs_signal(IPC_SLOT_CHANNEL0);
    while (outstanding) {
        rs_wait(IPC_SLOT_PING);
        chan_desc_t c;
        while (chan_consume(&comp, &c) == RS_OK) {
            chan_release(&comp);
            sectors = c.offset;
            outstanding--;
        }
    }
    rt_printf("bench: disk raw blk: %lu sectors, %u in flight, %u KiB requests\n", sectors, QD,
              SEQ_REQ >> 10);
    raw_seq(CHAN_OP_WRITE, "raw blk sequential write");
    raw_submit(CHAN_OP_FLUSH, 0, 0, 0);
    drain_to(0);
    raw_seq(CHAN_OP_READ, "raw blk sequential read");
    raw_rand(CHAN_OP_READ, 1, "raw blk 4 KiB random read QD1");
    raw_rand(CHAN_OP_WRITE, 1, "raw blk 4 KiB random write QD1");
    raw_rand(CHAN_OP_READ, QD, "raw blk 4 KiB random read QD8");
    if (errors) rt_printf("bench: FAILED %lu requests completed with an error\n", errors);
}

#else
/* ---- through fs ---- */
static ipc_client_t fs;
static uint64_t fs_errors;

static void pack(ipc_msg_t *m, unsigned first, const void *in, uint64_t len)
{
    const uint8_t *b = in;
    for (uint64_t i = 0; i < (len + 7) / 8; i++) m->w[first + i] = 0;
    for (uint64_t i = 0; i < len; i++) m->w[first + i / 8] |= (rs_word_t)b[i] << (8 * (i % 8));
    m->len = first + (unsigned)((len + 7) / 8);
}

static int call(ipc_msg_t *q, ipc_msg_t *r)
{
    int err = ipc_call(&fs, q, r, IPC_RETRY_SAFE);
    if (err && fs_errors++ < 4) rt_printf("bench: fs op %lu: %s\n", q->label, rs_error_name(err));
    return err;
}

static void fs_write(uint32_t ino, uint64_t off, const uint8_t *buf, uint32_t len)
{
    for (uint32_t k = 0; k < len;) {
        uint32_t n = len - k < FS_WRITE_MAX ? len - k : FS_WRITE_MAX;
        ipc_msg_t q = {.label = FS_WRITE, .w = {0, ino, off + k, n}}, r;
        pack(&q, 4, buf + k, n);
        if (call(&q, &r)) return;
        k += n;
    }
}

static void fs_read(uint32_t ino, uint64_t off, uint32_t len)
{
    for (uint32_t k = 0; k < len;) {
        ipc_msg_t q = {.label = FS_READ, .len = 4, .w = {0, ino, off + k, FS_READ_MAX}}, r;
        if (call(&q, &r) || !r.w[1]) return;
        k += (uint32_t)r.w[1];
    }
}

/* The bulk data path (proto/fs.h FS_READ_WIN / FS_WRITE_WIN) through this client's data
 * window (manifest channel fsdata-bench): the raw run's sizes and counts. */
static uint8_t *win;
static uint64_t win_size;

static void win_io(uint64_t op, uint32_t ino, uint64_t off, uint64_t len, uint64_t at)
{
    ipc_msg_t q = {.label = op, .len = 5, .w = {0, ino, off, len, at}}, r;
    if (!call(&q, &r) && r.w[1] != len && fs_errors++ < 4)
        rt_printf("bench: fs window op %lu: %lu of %lu bytes\n", op, r.w[1], len);
}

static void through_window(uint32_t ino)
{
    ipc_msg_t sync = {.label = FS_FSYNC, .len = 2, .w = {0, ino}}, r;
    for (uint64_t i = 0; i < win_size; i++) win[i] = (uint8_t)(i * 31 + 7);
    rt_printf("bench: disk through fs: data window of %lu KiB, %u KiB calls, %u MiB\n",
              win_size >> 10, SEQ_REQ >> 10, SEQ_BYTES >> 20);
    uint64_t t0 = now_us();
    for (uint64_t off = 0; off < SEQ_BYTES; off += SEQ_REQ)
        win_io(FS_WRITE_WIN, ino, off, SEQ_REQ, 0);
    call(&sync, &r);
    print_rate("fs window sequential write (+fsync)", SEQ_BYTES, now_us() - t0);
    t0 = now_us();
    for (uint64_t off = 0; off < SEQ_BYTES; off += SEQ_REQ)
        win_io(FS_READ_WIN, ino, off, SEQ_REQ, 0);
    print_rate("fs window sequential read", SEQ_BYTES, now_us() - t0);
    t0 = now_us();
    for (unsigned i = 0; i < RAND_OPS; i++)
        win_io(FS_READ_WIN, ino, (rnd() % (SEQ_BYTES / 4096)) * 4096, 4096, 0);
    print_iops("fs window 4 KiB random read", RAND_OPS, now_us() - t0);
    t0 = now_us();
    for (unsigned i = 0; i < RAND_OPS; i++)
        win_io(FS_WRITE_WIN, ino, (rnd() % (SEQ_BYTES / 4096)) * 4096, 4096, 0);
    call(&sync, &r);
    print_iops("fs window 4 KiB random write (+1 fsync)", RAND_OPS, now_us() - t0);
    t0 = now_us();
    for (unsigned i = 0; i < FS_RAND; i++) {
        win_io(FS_WRITE_WIN, ino, (rnd() % (SEQ_BYTES / 4096)) * 4096, 4096, 0);
        call(&sync, &r);
    }
    print_iops("fs window 4 KiB random write, each + fsync", FS_RAND, now_us() - t0);
}

/* The sequential runs again in calls of the whole window (FS_WIN_MAX at most), on a new file. */
static void big_calls(uint32_t ino)
{
    ipc_msg_t sync = {.label = FS_FSYNC, .len = 2, .w = {0, ino}}, r;
    uint64_t len = win_size < FS_WIN_MAX ? win_size : FS_WIN_MAX;
    uint64_t t0 = now_us();
    for (uint64_t off = 0; off < SEQ_BYTES; off += len) win_io(FS_WRITE_WIN, ino, off, len, 0);
    call(&sync, &r);
    print_rate(len == 256 * 1024 ? "fs window sequential write (+fsync), 256 KiB calls"
                                 : "fs window sequential write (+fsync), window-sized calls",
               SEQ_BYTES, now_us() - t0);
    t0 = now_us();
    for (uint64_t off = 0; off < SEQ_BYTES; off += len) win_io(FS_READ_WIN, ino, off, len, 0);
    print_rate(len == 256 * 1024 ? "fs window sequential read, 256 KiB calls"
                                 : "fs window sequential read, window-sized calls",
               SEQ_BYTES, now_us() - t0);
}

static void through_fs(void)
{
    ipc_client_init(&fs, IPC_SLOT_CLIENT0, "fs", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    fs.next_id = me->instance << 32 | 1;
    static const char path[] = "/bench.dat";
    ipc_msg_t q = {.label = FS_CREATE, .w = {0, 0100644, sizeof(path) - 1}}, r;
    pack(&q, 3, path, sizeof(path) - 1);
    if (call(&q, &r)) return;
    uint32_t ino = (uint32_t)r.w[1];
    static uint8_t buf[4096];
    for (unsigned i = 0; i < sizeof(buf); i++) buf[i] = (uint8_t)(i * 13 + 1);
    rt_printf(
        "bench: disk through fs: %u KiB file, %u-byte writes and %u-byte reads (inline IPC)\n",
        FS_SEQ >> 10, FS_WRITE_MAX, FS_READ_MAX);
    uint64_t t0 = now_us();
    for (uint32_t off = 0; off < FS_SEQ; off += sizeof(buf)) fs_write(ino, off, buf, sizeof(buf));
    ipc_msg_t sync = {.label = FS_FSYNC, .len = 2, .w = {0, ino}};
    call(&sync, &r);
    print_rate("fs sequential write (+fsync)", FS_SEQ, now_us() - t0);
    t0 = now_us();
    fs_read(ino, 0, FS_SEQ);
    print_rate("fs sequential read", FS_SEQ, now_us() - t0);
    t0 = now_us();
    for (unsigned i = 0; i < FS_RAND; i++) fs_read(ino, (rnd() % (FS_SEQ / 4096)) * 4096, 4096);
    print_iops("fs 4 KiB random read", FS_RAND, now_us() - t0);
    t0 = now_us();
    for (unsigned i = 0; i < FS_RAND; i++)
        fs_write(ino, (rnd() % (FS_SEQ / 4096)) * 4096, buf, sizeof(buf));
    call(&sync, &r);
    print_iops("fs 4 KiB random write (+fsync)", FS_RAND, now_us() - t0);
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    for (unsigned k = 0; info->magic == IPC_DEVICE_MAGIC && k < info->nchannels; k++)
        if (info->channel[k].role == IPC_CHANNEL_CLIENT &&
            !strncmp(info->channel[k].name, FS_WIN_PREFIX, sizeof(FS_WIN_PREFIX) - 1) &&
            info->channel[k].data_size >= SEQ_REQ) {
            win = chan_data((void *)IPC_CHANNEL_VADDR(k));
            win_size = info->channel[k].data_size;
        }
    static const char big[] = "/bench-win.dat";
    ipc_msg_t c = {.label = FS_CREATE, .w = {0, 0100644, sizeof(big) - 1}};
    pack(&c, 3, big, sizeof(big) - 1);
    if (win && !call(&c, &r)) through_window((uint32_t)r.w[1]);
    else if (!win) rt_printf("bench: disk through fs: no data window (manifest fsdata-...)\n");
    static const char big2[] = "/bench-win2.dat";
    ipc_msg_t c2 = {.label = FS_CREATE, .w = {0, 0100644, sizeof(big2) - 1}};
    pack(&c2, 3, big2, sizeof(big2) - 1);
    if (win && win_size > SEQ_REQ && !call(&c2, &r)) big_calls((uint32_t)r.w[1]);
    if (fs_errors) rt_printf("bench: FAILED %lu fs calls failed\n", fs_errors);
}
#endif

int main(void *arg)
{
    me = arg;
#ifdef RAW
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    if (info->magic == IPC_DEVICE_MAGIC && info->nchannels == 1 &&
        info->channel[0].role == IPC_CHANNEL_CLIENT)
        raw(info);
    else rt_printf("bench: FAILED no block channel (manifest channel client=)\n");
#else
    through_fs();
#endif
    rt_printf("bench: done\n");
    ipc_shutdown(me);
}
