// SPDX-License-Identifier: MIT
// The ATA disk code (servers/blk/ata.c) against a fake register file that behaves like a PIIX
// channel with one disk (ATA-6 protocols, PIIX4 bus master): IDENTIFY, DMA and PIO transfers,
// FLUSH, LBA48 addressing, device errors, and devices that are absent, not disks, never ready or
// never finish a command, each of which must end in bounded time.
#include <criterion/criterion.h>
#include <string.h>
#include "ata.h"
#include "libipc/channel.h"

#define NSECT    512u     /* the fake disk's storage (sectors beyond it read as zero) */
#define MEM_SIZE 0x30000u /* the fake "physical" memory: descriptor table page, then data */
#define MEM_BASE 0x1F000u /* its physical address: data at 0x20000 - 0x1000 crosses 64 KiB lines */

struct fake {
    uint8_t disk[NSECT * 512];
    uint8_t mem[MEM_SIZE];
    /* identity */
    uint64_t sectors;
    bool lba48, dma_ok, absent, atapi, never_ready, fail_io, hang_cmd, srst_hold;
    char model[41];
    /* registers */
    uint8_t status, error, ctl, device, bm_cmd, bm_status;
    uint8_t count[2], lba[3][2]; /* [0] the last written, [1] the one before (48-bit FIFO) */
    uint32_t prdt;
    bool irq;
    /* the command in flight */
    uint8_t cmd;
    uint64_t cur;  /* the next sector */
    uint32_t left; /* sectors still to move */
    bool dma_pending, pio_in, pio_out;
    uint16_t buf[256];
    unsigned pos;
    /* what the driver did */
    uint64_t clock, reads, srsts, last_lba, last_count;
    uint8_t last_cmd;
    unsigned ncmds;
};

static struct fake F;

/* The device raises INTRQ; the PIIX latches it in bus-master status bit 2 (PIIX4 2.7.2). */
static void raise_irq(struct fake *f)
{
    f->irq = true;
    f->bm_status |= ATA_BM_IRQ;
}

static uint64_t sector_count(const struct fake *f, bool ext)
{
    uint32_t c = ext ? (uint32_t)f->count[1] << 8 | f->count[0] : f->count[0];
    return c ? c : (ext ? 65536u : 256u);
}

static uint64_t sector_lba(const struct fake *f, bool ext)
{
    if (ext)
        return (uint64_t)f->lba[0][0] | (uint64_t)f->lba[1][0] << 8 | (uint64_t)f->lba[2][0] << 16 |
               (uint64_t)f->lba[0][1] << 24 | (uint64_t)f->lba[1][1] << 32 |
               (uint64_t)f->lba[2][1] << 40;
    return (uint64_t)f->lba[0][0] | (uint64_t)f->lba[1][0] << 8 | (uint64_t)f->lba[2][0] << 16 |
           (uint64_t)(f->device & 0x0F) << 24;
}

static void load_sector(struct fake *f)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t b = f->cur * 512 + 2 * i;
        f->buf[i] = f->cur < NSECT ? (uint16_t)(f->disk[b] | f->disk[b + 1] << 8) : 0;
    }
    f->pos = 0;
}

static void store_sector(struct fake *f)
{
    if (f->cur >= NSECT) return;
    for (unsigned i = 0; i < 256; i++) {
        f->disk[f->cur * 512 + 2 * i] = (uint8_t)f->buf[i];
        f->disk[f->cur * 512 + 2 * i + 1] = (uint8_t)(f->buf[i] >> 8);
    }
}

static void fail(struct fake *f, uint8_t err)
{
    f->status = ATA_ST_DRDY | ATA_ST_ERR;
    f->error = err;
    raise_irq(f);
    f->pio_in = f->pio_out = f->dma_pending = false;
}

static void identify(struct fake *f)
{
    memset(f->buf, 0, sizeof(f->buf));
    f->buf[49] = (uint16_t)(1u << 9 | (f->dma_ok ? 1u << 8 : 0));
    uint64_t s28 = f->sectors > 0x0FFFFFFF ? 0x0FFFFFFF : f->sectors;
    f->buf[60] = (uint16_t)s28, f->buf[61] = (uint16_t)(s28 >> 16);
    if (f->lba48) {
        f->buf[83] = 1u << 10;
        for (unsigned i = 0; i < 4; i++) f->buf[100 + i] = (uint16_t)(f->sectors >> (16 * i));
    }
    for (unsigned i = 0; i < 20; i++)
        f->buf[27 + i] = (uint16_t)((uint8_t)f->model[2 * i] << 8 | (uint8_t)f->model[2 * i + 1]);
    f->pos = 0;
    f->pio_in = true;
    f->left = 1;
    f->status = ATA_ST_DRDY | ATA_ST_DRQ;
    raise_irq(f);
}

/* The bus master moves the whole transfer at its start (PIIX4 2.7.3: descriptors of up to 64
 * KiB, count 0 meaning 64 KiB, the last one marked), then the device interrupts. */
static void run_dma(struct fake *f)
{
    if (f->fail_io) {
        fail(f, 0x40); // UNC
        f->bm_status = (uint8_t)((f->bm_status & ~ATA_BM_ACTIVE) | ATA_BM_IRQ);
        return;
    }
    bool to_mem = f->bm_cmd & ATA_BM_TO_MEM;
    uint64_t bytes = f->left * 512ull, done = 0;
    uint32_t t = f->prdt;
    for (unsigned n = 0; n < 16 && done < bytes; n++, t += 8) {
        cr_assert(t >= MEM_BASE && t + 8 <= MEM_BASE + MEM_SIZE, "descriptor table at %x", t);
        uint32_t addr, cnt;
        memcpy(&addr, &f->mem[t - MEM_BASE], 4);
        memcpy(&cnt, &f->mem[t - MEM_BASE + 4], 4);
        uint32_t len = cnt & 0xFFFF ? cnt & 0xFFFF : 0x10000;
        cr_assert((addr & 0xFFFF) + len <= 0x10000, "a region crosses a 64 KiB line: %x+%x", addr,
                  len);
        cr_assert(addr >= MEM_BASE && addr + len <= MEM_BASE + MEM_SIZE, "region %x+%x", addr, len);
        for (uint32_t i = 0; i < len; i++, done++) {
            uint64_t s = f->cur + done / 512, o = s * 512 + done % 512;
            if (s >= NSECT) continue;
            if (to_mem) f->mem[addr - MEM_BASE + i] = f->disk[o];
            else f->disk[o] = f->mem[addr - MEM_BASE + i];
        }
        if (cnt & 0x80000000u) break;
    }
    cr_assert_eq(done, bytes, "the descriptors cover the transfer");
    f->bm_status = (uint8_t)((f->bm_status & ~ATA_BM_ACTIVE) | ATA_BM_IRQ);
    f->status = ATA_ST_DRDY;
    f->dma_pending = false;
    raise_irq(f);
}

static void command(struct fake *f, uint8_t c)
{
    f->ncmds++;
    f->last_cmd = c;
    bool ext = c == ATA_CMD_READ_DMA_EXT || c == ATA_CMD_WRITE_DMA_EXT ||
               c == ATA_CMD_READ_PIO_EXT || c == ATA_CMD_WRITE_PIO_EXT;
    f->cmd = c;
    f->error = 0;
    if (f->hang_cmd) { // accepted, and never finished
        f->status = ATA_ST_BSY;
        return;
    }
    switch (c) {
    case ATA_CMD_IDENTIFY:
        if (f->atapi) {
            f->lba[1][0] = 0x14, f->lba[2][0] = 0xEB;
            fail(f, 0x04);
            return;
        }
        identify(f);
        return;
    case ATA_CMD_FLUSH:
        f->status = ATA_ST_DRDY;
        raise_irq(f);
        return;
    case ATA_CMD_READ_PIO:
    case ATA_CMD_READ_PIO_EXT:
    case ATA_CMD_WRITE_PIO:
    case ATA_CMD_WRITE_PIO_EXT:
    case ATA_CMD_READ_DMA:
    case ATA_CMD_READ_DMA_EXT:
    case ATA_CMD_WRITE_DMA:
    case ATA_CMD_WRITE_DMA_EXT: break;
    default:
        fail(f, 0x04); // ABRT
        return;
    }
    f->cur = f->last_lba = sector_lba(f, ext);
    f->left = (uint32_t)(f->last_count = sector_count(f, ext));
    if (f->cur + f->left > f->sectors) {
        fail(f, 0x10); // IDNF
        return;
    }
    if (c == ATA_CMD_READ_DMA || c == ATA_CMD_READ_DMA_EXT || c == ATA_CMD_WRITE_DMA ||
        c == ATA_CMD_WRITE_DMA_EXT) {
        f->dma_pending = true;
        f->status = ATA_ST_DRDY | ATA_ST_BSY;
        if (f->bm_cmd & ATA_BM_START) run_dma(f);
        return;
    }
    if (f->fail_io) {
        fail(f, 0x40);
        return;
    }
    if (c == ATA_CMD_READ_PIO || c == ATA_CMD_READ_PIO_EXT) {
        load_sector(f);
        f->pio_in = true;
        f->status = ATA_ST_DRDY | ATA_ST_DRQ;
        raise_irq(f);
    } else {
        f->pio_out = true;
        f->pos = 0;
        f->status = ATA_ST_DRDY | ATA_ST_DRQ; // the first sector: no interrupt (ATA-6 9.6)
    }
}

static uint8_t status_now(struct fake *f)
{
    if (f->absent) return 0xFF;
    if (f->device & 0x10) return 0; // the absent slave selected: QEMU's answer (hw/ide/core.c)
    if (f->never_ready || f->srst_hold) return ATA_ST_BSY;
    return f->status;
}

static uint32_t f_in(void *ctx, enum ata_reg r, unsigned width)
{
    struct fake *f = ctx;
    f->reads++;
    if (f->absent && r <= ATA_R_CTL) return width == 2 ? 0xFFFF : 0xFF;
    switch (r) {
    case ATA_R_DATA: {
        cr_assert(width == 2 || width == 4);
        if (width == 4) {
            uint32_t lo = f_in(ctx, r, 2);
            f->reads--;
            return lo | f_in(ctx, r, 2) << 16;
        }
        if (!f->pio_in) return 0xFFFF;
        uint16_t w = f->buf[f->pos++];
        if (f->pos == 256) {
            if (--f->left && f->cmd != ATA_CMD_IDENTIFY) {
                f->cur++;
                load_sector(f);
                raise_irq(f); // DRQ stays: the next sector
            } else {
                f->pio_in = false;
                f->status = ATA_ST_DRDY;
            }
        }
        return w;
    }
    case ATA_R_ERROR: return f->error;
    case ATA_R_COUNT: return f->count[0];
    case ATA_R_LBA0:
    case ATA_R_LBA1:
    case ATA_R_LBA2: return f->lba[r - ATA_R_LBA0][0];
    case ATA_R_DEVICE: return f->device;
    case ATA_R_STATUS: f->irq = false; return status_now(f);
    case ATA_R_CTL: return status_now(f);
    case ATA_R_BM_CMD: return f->bm_cmd;
    case ATA_R_BM_STATUS: return f->bm_status;
    case ATA_R_BM_PRDT: return f->prdt;
    }
    return 0xFF;
}

static void f_out(void *ctx, enum ata_reg r, unsigned width, uint32_t v)
{
    struct fake *f = ctx;
    if (f->absent) return;
    switch (r) {
    case ATA_R_DATA:
        cr_assert(width == 2 || width == 4);
        if (width == 4) {
            f_out(ctx, r, 2, v & 0xFFFF);
            f_out(ctx, r, 2, v >> 16);
            return;
        }
        if (!f->pio_out) return;
        f->buf[f->pos++] = (uint16_t)v;
        if (f->pos == 256) {
            store_sector(f);
            f->pos = 0;
            f->cur++;
            f->status = --f->left ? ATA_ST_DRDY | ATA_ST_DRQ : ATA_ST_DRDY;
            if (!f->left) f->pio_out = false;
            raise_irq(f);
        }
        return;
    case ATA_R_FEATURES: return;
    case ATA_R_COUNT: f->count[1] = f->count[0], f->count[0] = (uint8_t)v; return;
    case ATA_R_LBA0:
    case ATA_R_LBA1:
    case ATA_R_LBA2:
        f->lba[r - ATA_R_LBA0][1] = f->lba[r - ATA_R_LBA0][0];
        f->lba[r - ATA_R_LBA0][0] = (uint8_t)v;
        return;
    case ATA_R_DEVICE: f->device = (uint8_t)v; return;
    case ATA_R_COMMAND:
        if (status_now(f) & ATA_ST_BSY) return; // ignored while busy (ATA-6 7.15)
        command(f, (uint8_t)v);
        return;
    case ATA_R_CTL:
        if (v & ATA_CTL_SRST) {
            f->srsts++;
            f->srst_hold = true;
        } else if (f->srst_hold) { // reset done: the signature of a disk (ATA-6 9.12)
            f->srst_hold = false;
            f->hang_cmd = false;
            f->status = ATA_ST_DRDY;
            f->error = 1;
            f->count[0] = 1, f->lba[0][0] = 1, f->lba[1][0] = 0, f->lba[2][0] = 0;
            f->pio_in = f->pio_out = f->dma_pending = false;
            f->bm_status &= (uint8_t)~ATA_BM_ACTIVE;
        }
        f->ctl = (uint8_t)v;
        return;
    case ATA_R_BM_CMD:
        if ((v & ATA_BM_START) && !(f->bm_cmd & ATA_BM_START)) {
            f->bm_cmd = (uint8_t)v;
            f->bm_status |= ATA_BM_ACTIVE;
            if (f->dma_pending) run_dma(f);
            return;
        }
        if (!(v & ATA_BM_START)) f->bm_status &= (uint8_t)~ATA_BM_ACTIVE;
        f->bm_cmd = (uint8_t)v;
        return;
    case ATA_R_BM_STATUS: // bits 1 and 2 clear when written with 1
        f->bm_status &= (uint8_t) ~(v & (ATA_BM_ERROR | ATA_BM_IRQ));
        return;
    case ATA_R_BM_PRDT:
        cr_assert_eq(width, 4u);
        f->prdt = v & ~3u;
        return;
    }
}

static uint64_t f_now(void *ctx)
{
    struct fake *f = ctx;
    return f->clock += 10; // every look at the clock costs 10 us: waits end after few polls
}

static const struct ata_ops ops = {f_in, f_out, f_now, &F};
static struct ata A;

static void fake_disk(uint64_t sectors, bool lba48, bool dma)
{
    memset(&F, 0, sizeof(F));
    F.sectors = sectors, F.lba48 = lba48, F.dma_ok = dma;
    strcpy(F.model, "FAKE HARDDISK                           ");
    F.status = ATA_ST_DRDY;
    for (unsigned i = 0; i < sizeof(F.disk); i++) F.disk[i] = (uint8_t)(i * 7 + i / 512);
}

static int start(bool bm) { return ata_init(&A, &ops, bm, F.mem, MEM_BASE); }

/* Runs the command in flight to its end as the interrupt would: service on each interrupt, or
 * (nothing pending) on a wake-up; at most `rounds` times. Returns the status or -1. */
static int run(unsigned rounds)
{
    uint8_t st;
    for (unsigned i = 0; i < rounds; i++) {
        if (ata_next_done(&A, &st) == 0) return st;
        ata_service(&A);
    }
    return ata_next_done(&A, &st) == 0 ? st : -1;
}

static uint8_t *data(uint32_t off) { return F.mem + 0x1000 + off; }
static uint64_t data_pa(uint32_t off) { return MEM_BASE + 0x1000 + off; }

Test(blk_ata, identify_lba28_disk_with_dma)
{
    fake_disk(NSECT, false, true);
    cr_assert_eq(start(true), RS_OK);
    cr_assert_eq(A.sectors, NSECT);
    cr_assert(!A.lba48);
    cr_assert(A.use_dma, "a DMA-capable disk behind a bus master uses DMA");
    cr_assert_str_eq(A.model, "FAKE HARDDISK");
    cr_assert_eq(F.srsts, 1u, "the channel is reset first");
    cr_assert_eq(F.last_cmd, ATA_CMD_IDENTIFY);
    cr_assert(!F.irq, "IDENTIFY's interrupt is lowered");
}

Test(blk_ata, firmware_left_the_slave_selected)
{
    fake_disk(NSECT, false, true);
    F.device = 0xB0; // as SeaBIOS leaves QEMU's primary channel after probing its slave
    cr_assert_eq(start(true), RS_OK, "the master is selected before its status is read");
    cr_assert_eq(A.sectors, NSECT);
}

Test(blk_ata, identify_lba48_size_and_no_dma_without_bus_master)
{
    fake_disk(0x123456789ull, true, true);
    cr_assert_eq(start(false), RS_OK);
    cr_assert_eq(A.sectors, 0x123456789ull, "words 100-103 give the size");
    cr_assert(A.lba48);
    cr_assert(!A.use_dma, "no bus master: PIO");
}

Test(blk_ata, dma_write_then_read_across_64k_lines)
{
    fake_disk(NSECT, false, true);
    cr_assert_eq(start(true), RS_OK);
    // data at physical 0x20000 - 0x800: a 64 KiB request crosses the 64 KiB line once
    uint32_t off = 0x10000 - 0x1000 - 0x800 + 0x1000;
    for (uint32_t i = 0; i < 0x10000; i++) data(off)[i] = (uint8_t)(i ^ 0x5A);
    ata_submit(&A, CHAN_OP_WRITE, 100, data_pa(off), data(off), 0x10000);
    cr_assert_eq(run(10), 0);
    cr_assert_eq(F.last_cmd, ATA_CMD_WRITE_DMA);
    cr_assert_eq(F.last_lba, 100u);
    cr_assert_eq(F.last_count, 128u);
    for (uint32_t i = 0; i < 0x10000; i++)
        cr_assert_eq(F.disk[100 * 512 + i], (uint8_t)(i ^ 0x5A), "disk byte %u", i);
    memset(data(off), 0, 0x10000);
    ata_submit(&A, CHAN_OP_READ, 100, data_pa(off), data(off), 0x10000);
    cr_assert_eq(run(10), 0);
    cr_assert_eq(F.last_cmd, ATA_CMD_READ_DMA);
    for (uint32_t i = 0; i < 0x10000; i++) cr_assert_eq(data(off)[i], (uint8_t)(i ^ 0x5A));
    cr_assert(!F.irq, "the interrupt is lowered");
    cr_assert_eq(F.bm_status & (ATA_BM_IRQ | ATA_BM_ERROR), 0, "bus-master status cleared");
    cr_assert_eq(F.bm_cmd & ATA_BM_START, 0, "the bus master is stopped");
}

Test(blk_ata, pio_write_then_read_several_sectors)
{
    fake_disk(NSECT, false, true);
    cr_assert_eq(start(false), RS_OK);
    for (uint32_t i = 0; i < 3 * 512; i++) data(0)[i] = (uint8_t)(i * 13);
    ata_submit(&A, CHAN_OP_WRITE, 7, 0, data(0), 3 * 512);
    cr_assert_eq(F.last_cmd, ATA_CMD_WRITE_PIO);
    cr_assert_eq(run(10), 0);
    for (uint32_t i = 0; i < 3 * 512; i++) cr_assert_eq(F.disk[7 * 512 + i], (uint8_t)(i * 13));
    memset(data(0), 0, 3 * 512);
    ata_submit(&A, CHAN_OP_READ, 7, 0, data(0), 3 * 512);
    cr_assert_eq(F.last_cmd, ATA_CMD_READ_PIO);
    cr_assert_eq(run(10), 0);
    for (uint32_t i = 0; i < 3 * 512; i++) cr_assert_eq(data(0)[i], (uint8_t)(i * 13));
    // the next sector's bytes are untouched: exactly three were read
    cr_assert_eq(data(0)[3 * 512], 0);
}

Test(blk_ata, lba48_commands_above_2_28)
{
    fake_disk(0x20000000ull, true, true);
    cr_assert_eq(start(true), RS_OK);
    ata_submit(&A, CHAN_OP_READ, 0x10000005ull, data_pa(0), data(0), 1024);
    cr_assert_eq(run(10), 0);
    cr_assert_eq(F.last_cmd, ATA_CMD_READ_DMA_EXT);
    cr_assert_eq(F.last_lba, 0x10000005ull, "high bytes through the register FIFO");
    cr_assert_eq(F.last_count, 2u);
    // and below 2^28 the 28-bit command still serves
    ata_submit(&A, CHAN_OP_WRITE, 0x0FFFFF00ull, data_pa(0), data(0), 512);
    cr_assert_eq(run(10), 0);
    cr_assert_eq(F.last_cmd, ATA_CMD_WRITE_DMA);
    cr_assert_eq(F.last_lba, 0x0FFFFF00ull);
    fake_disk(0x20000000ull, true, false); // the same by PIO
    cr_assert_eq(start(true), RS_OK);
    ata_submit(&A, CHAN_OP_WRITE, 0x1FFFFFFEull, 0, data(0), 1024);
    cr_assert_eq(run(10), 0);
    cr_assert_eq(F.last_cmd, ATA_CMD_WRITE_PIO_EXT);
    cr_assert_eq(F.last_lba, 0x1FFFFFFEull);
}

Test(blk_ata, flush)
{
    fake_disk(NSECT, false, true);
    cr_assert_eq(start(true), RS_OK);
    ata_submit(&A, CHAN_OP_FLUSH, 0, 0, NULL, 0);
    cr_assert_eq(F.last_cmd, ATA_CMD_FLUSH);
    cr_assert_eq(run(10), 0);
}

Test(blk_ata, device_errors_are_io_errors)
{
    for (int bm = 0; bm < 2; bm++) {
        fake_disk(NSECT, false, true);
        cr_assert_eq(start(bm), RS_OK);
        F.fail_io = true;
        ata_submit(&A, CHAN_OP_READ, 3, data_pa(0), data(0), 4096);
        cr_assert_eq(run(10), 1, "a read the device fails (UNC), %s", bm ? "DMA" : "PIO");
        ata_submit(&A, CHAN_OP_WRITE, 3, data_pa(0), data(0), 4096);
        cr_assert_eq(run(10), 1, "a write the device fails, %s", bm ? "DMA" : "PIO");
        F.fail_io = false; // and the channel works afterwards
        ata_submit(&A, CHAN_OP_READ, 3, data_pa(0), data(0), 512);
        cr_assert_eq(run(10), 0);
        // a command past the device's end (had the caller not refused it): IDNF, an error
        ata_submit(&A, CHAN_OP_READ, NSECT - 1, data_pa(0), data(0), 1024);
        cr_assert_eq(run(10), 1);
    }
}

Test(blk_ata, absent_device_is_not_found)
{
    fake_disk(NSECT, false, true);
    F.absent = true;
    cr_assert_eq(start(true), RS_NOT_FOUND);
    cr_assert_lt(F.clock, 10000u, "a floating bus is recognised at once, not after a timeout");
}

Test(blk_ata, atapi_device_is_not_a_disk)
{
    fake_disk(NSECT, false, true);
    F.atapi = true;
    cr_assert_eq(start(true), RS_NOT_SUPPORTED);
}

Test(blk_ata, never_ready_device_times_out)
{
    fake_disk(NSECT, false, true);
    F.never_ready = true;
    cr_assert_eq(start(true), RS_BUSY);
    cr_assert_leq(F.clock, 3ull * ATA_TIMEOUT_US, "gave up after the timeout (clock %lu us)",
                  F.clock);
    cr_assert_leq(F.reads, 3ull * ATA_MAX_POLLS);
}

static uint64_t frozen(void *ctx) { return ctx ? 5 : 5; }

Test(blk_ata, never_ready_with_a_stopped_clock_is_bounded_by_polls)
{
    const struct ata_ops o = {f_in, f_out, frozen, &F}; // a clock that never moves
    fake_disk(NSECT, false, true);
    F.never_ready = true;
    cr_assert_eq(ata_init(&A, &o, true, F.mem, MEM_BASE), RS_BUSY);
    cr_assert_leq(F.reads, 4ull * ATA_MAX_POLLS, "%lu reads", F.reads);
}

Test(blk_ata, command_that_never_finishes_times_out_and_resets)
{
    for (int bm = 0; bm < 2; bm++) {
        fake_disk(NSECT, false, true);
        cr_assert_eq(start(bm), RS_OK);
        F.hang_cmd = true;
        ata_submit(&A, CHAN_OP_READ, 0, data_pa(0), data(0), 512);
        cr_assert_eq(run(5), -1, "not finished before the timeout");
        uint64_t srsts = F.srsts;
        F.clock += ATA_TIMEOUT_US + 1;
        cr_assert_eq(run(1), 1, "finished with an error after the timeout");
        cr_assert_eq(F.srsts, srsts + 1, "the channel was reset");
        cr_assert_eq(A.timeouts, 1u);
        ata_submit(&A, CHAN_OP_READ, 0, data_pa(0), data(0), 512);
        cr_assert_eq(run(10), 0, "and the next command works");
    }
}

Test(blk_ata, stray_interrupt_is_ignored)
{
    fake_disk(NSECT, false, true);
    cr_assert_eq(start(true), RS_OK);
    F.irq = true;
    ata_service(&A);
    uint8_t st;
    cr_assert_eq(ata_next_done(&A, &st), -1, "no command, no completion");
    cr_assert(!F.irq, "the stray interrupt is lowered");
}

Test(blk_ata, descriptor_table_above_4g_means_pio)
{
    fake_disk(NSECT, false, true);
    cr_assert_eq(ata_init(&A, &ops, true, F.mem, 0x100000000ull), RS_OK);
    cr_assert(!A.use_dma, "the table's address register has 32 bits");
}

Test(blk_ata, dma_above_4g_fails_without_touching_the_device)
{
    fake_disk(NSECT, false, true);
    cr_assert_eq(start(true), RS_OK);
    unsigned n = F.ncmds;
    ata_submit(&A, CHAN_OP_READ, 0, 0xFFFFF000ull, data(0), 0x2000);
    cr_assert_eq(run(1), 1);
    cr_assert_eq(F.ncmds, n, "no command was issued");
}
