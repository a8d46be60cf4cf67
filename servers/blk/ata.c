// SPDX-License-Identifier: MIT
// The ATA disk: reset, IDENTIFY, and one DMA or PIO command at a time, moved on by
// ata_service() from the interrupt or any wake-up; every wait is bounded in time and in polls.
#include "ata.h"
#include "libipc/channel.h"
#include <resurgo/errors.h>

static uint32_t rd(struct ata *a, enum ata_reg r, unsigned w)
{
    return a->ops->in(a->ops->ctx, r, w);
}
static void wr(struct ata *a, enum ata_reg r, unsigned w, uint32_t v)
{
    a->ops->out(a->ops->ctx, r, w, v);
}
static uint64_t now(struct ata *a) { return a->ops->now_us(a->ops->ctx); }

/* The 400 ns the device may take to post its status after a command or a select (ATA-6 9.2):
 * four reads of the alternate status, which has no side effect. */
static void delay400(struct ata *a)
{
    for (unsigned i = 0; i < 4; i++) rd(a, ATA_R_CTL, 1);
}

/* Polls the alternate status until BSY is clear and (st & mask) == want, or ERR/DF come up
 * (when mask has DRQ), for at most `us` and ATA_MAX_POLLS reads. Returns the last status, and
 * ATA_ST_BSY set when it gave up waiting. */
static uint8_t wait_status(struct ata *a, uint8_t mask, uint8_t want, uint64_t us)
{
    uint64_t t0 = now(a);
    uint8_t st = ATA_ST_BSY;
    for (uint32_t n = 0; n < ATA_MAX_POLLS && now(a) - t0 <= us; n++) {
        st = (uint8_t)rd(a, ATA_R_CTL, 1);
        if (st == 0xFF) return st; // a floating bus: no device
        if (st & ATA_ST_BSY) continue;
        if ((st & mask) == want || (st & (ATA_ST_ERR | ATA_ST_DF))) return st;
    }
    return (uint8_t)(st | ATA_ST_BSY);
}

static void sleep_us(struct ata *a, uint64_t us)
{
    uint64_t t0 = now(a);
    for (uint32_t n = 0; n < ATA_MAX_POLLS && now(a) - t0 < us; n++) rd(a, ATA_R_CTL, 1);
}

/* Software reset of the channel (ATA-6 9.12: SRST for at least 5 us, then BSY within 400 ns
 * and clear again when the device is ready), interrupts left enabled (nIEN 0). The bus master
 * is stopped first: its transfer belongs to the abandoned command. */
static uint8_t reset(struct ata *a)
{
    a->resets++;
    if (a->has_bm) {
        wr(a, ATA_R_BM_CMD, 1, 0);
        wr(a, ATA_R_BM_STATUS, 1, ATA_BM_ERROR | ATA_BM_IRQ);
    }
    wr(a, ATA_R_DEVICE, 1, 0xA0); // the master: the status read below is its own (QEMU answers
    delay400(a);                  // 0 for an absent slave the firmware left selected)
    wr(a, ATA_R_CTL, 1, ATA_CTL_SRST);
    sleep_us(a, 10);
    wr(a, ATA_R_CTL, 1, 0);
    sleep_us(a, 2000);
    wr(a, ATA_R_DEVICE, 1, 0xA0);
    delay400(a);
    uint8_t st = wait_status(a, 0, 0, ATA_TIMEOUT_US);
    rd(a, ATA_R_STATUS, 1); // a pending interrupt is lowered
    return st;
}

static uint16_t word(const uint16_t *id, unsigned i) { return id[i]; }

int ata_init(struct ata *a, const struct ata_ops *ops, bool has_bm, void *dma, uint64_t dma_paddr)
{
    // the table's own address register has 32 bits too: DMA memory above 4 GiB means PIO
    bool bm = has_bm && dma && dma_paddr + 4096 <= (1ull << 32);
    *a = (struct ata){.ops = ops, .has_bm = bm, .dma = dma, .dma_paddr = dma_paddr};
    uint8_t st = a->last_status = reset(a);
    a->step = "reset";
    if (st == 0xFF || st == 0) return RS_NOT_FOUND;
    if (st & ATA_ST_BSY) return RS_BUSY;
    a->step = "identify";
    // IDENTIFY DEVICE (ATA-6 8.15), PIO data-in, polled: an ATAPI device aborts it and leaves its
    // signature 14h/EBh in the cylinder registers (ATA-6 9.12)
    wr(a, ATA_R_DEVICE, 1, 0xA0);
    delay400(a);
    wr(a, ATA_R_COMMAND, 1, ATA_CMD_IDENTIFY);
    delay400(a);
    if ((a->last_status = (uint8_t)rd(a, ATA_R_CTL, 1)) == 0) return RS_NOT_FOUND;
    st = a->last_status = wait_status(a, ATA_ST_DRQ, ATA_ST_DRQ, ATA_TIMEOUT_US);
    if (st == 0xFF) return RS_NOT_FOUND;
    if (st & ATA_ST_BSY) return RS_BUSY;
    if (st & (ATA_ST_ERR | ATA_ST_DF) || rd(a, ATA_R_LBA1, 1) || rd(a, ATA_R_LBA2, 1)) {
        rd(a, ATA_R_STATUS, 1);
        return RS_NOT_SUPPORTED;
    }
    uint16_t id[256];
    for (unsigned i = 0; i < 256; i += 2) { // dword reads: two words each (PIIX4 2.4.1)
        uint32_t w = rd(a, ATA_R_DATA, 4);
        id[i] = (uint16_t)w, id[i + 1] = (uint16_t)(w >> 16);
    }
    rd(a, ATA_R_STATUS, 1);             // lowers the interrupt IDENTIFY raised
    for (unsigned i = 0; i < 20; i++) { // words 27-46, two characters a word, high byte first
        a->model[2 * i] = (char)(word(id, 27 + i) >> 8);
        a->model[2 * i + 1] = (char)word(id, 27 + i);
    }
    for (int i = 39; i >= 0 && (a->model[i] == ' ' || !a->model[i]); i--) a->model[i] = 0;
    for (unsigned i = 0; i < 40; i++)
        if (a->model[i] && (a->model[i] < 0x20 || a->model[i] > 0x7E)) a->model[i] = '?';
    if (!(word(id, 49) & (1u << 9))) return RS_NOT_SUPPORTED; // no LBA
    a->sectors = word(id, 60) | (uint32_t)word(id, 61) << 16;
    if (word(id, 83) & (1u << 10)) { // the 48-bit address feature set (ATA-6 6.16)
        a->lba48 = true;
        uint64_t s48 = 0;
        for (unsigned i = 0; i < 4; i++) s48 |= (uint64_t)word(id, 100 + i) << (16 * i);
        if (s48 > a->sectors) a->sectors = s48;
    }
    if (!a->sectors) return RS_NOT_SUPPORTED;
    a->use_dma = a->has_bm && (word(id, 49) & (1u << 8));
    return RS_OK;
}

/* Device, count and address registers for a command on `count` sectors at `lba` (ATA-6 6.16:
 * with the 48-bit feature set, the high bytes are written first, then the low ones). */
static void address(struct ata *a, uint64_t lba, uint32_t count, bool ext)
{
    if (ext) {
        wr(a, ATA_R_DEVICE, 1, 0x40);
        wr(a, ATA_R_COUNT, 1, (count >> 8) & 0xFF);
        wr(a, ATA_R_LBA0, 1, (lba >> 24) & 0xFF);
        wr(a, ATA_R_LBA1, 1, (lba >> 32) & 0xFF);
        wr(a, ATA_R_LBA2, 1, (lba >> 40) & 0xFF);
    } else {
        wr(a, ATA_R_DEVICE, 1, 0xE0 | ((lba >> 24) & 0x0F));
    }
    wr(a, ATA_R_COUNT, 1, count & 0xFF); // 0 means 256 (65536 with ext): never sent here
    wr(a, ATA_R_LBA0, 1, lba & 0xFF);
    wr(a, ATA_R_LBA1, 1, (lba >> 8) & 0xFF);
    wr(a, ATA_R_LBA2, 1, (lba >> 16) & 0xFF);
}

static void finish(struct ata *a, uint8_t status)
{
    a->busy = false;
    a->finished = true;
    a->status = status;
}

/* Gives up the command in flight: the channel is reset, the command fails. */
static void abandon(struct ata *a)
{
    reset(a);
    finish(a, 1);
}

/* PIO out: one sector from the buffer to the data port. */
static void pio_out(struct ata *a)
{
    const uint8_t *p = a->buf + a->done * 512ul;
    for (unsigned i = 0; i < 512; i += 4)
        wr(a, ATA_R_DATA, 4,
           p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 | (uint32_t)p[i + 3] << 24);
    a->left--;
    a->done++;
}

/* The physical region descriptor table for [paddr, paddr + len): entries of at most 64 KiB that
 * do not cross a 64 KiB boundary, the last one marked (PIIX4 datasheet 2.7.3). False if the
 * memory lies above 4 GiB (the table has 32-bit addresses). */
static bool prd_table(struct ata *a, uint64_t paddr, uint32_t len)
{
    if (paddr + len > (1ull << 32)) return false;
    volatile uint32_t *prd = (volatile uint32_t *)a->dma;
    unsigned n = 0;
    while (len && n < ATA_PRD_MAX) {
        uint32_t chunk = 0x10000u - (uint32_t)(paddr & 0xFFFF);
        if (chunk > len) chunk = len;
        len -= chunk;
        prd[2 * n] = (uint32_t)paddr;
        prd[2 * n + 1] = (chunk & 0xFFFF) | (len ? 0 : 0x80000000u); // count 0: 64 KiB
        paddr += chunk;
        n++;
    }
    return len == 0;
}

void ata_submit(struct ata *a, unsigned op, uint64_t sector, uint64_t paddr, void *buf,
                uint32_t len)
{
    uint32_t count = len / 512;
    bool ext = a->lba48 && (sector + count > 0x0FFFFFFFu || count > 256);
    a->busy = true;
    a->finished = false;
    a->op = op;
    a->started_us = now(a);
    uint8_t st = wait_status(a, 0, 0, ATA_READY_US); // BSY set: the last command never ended
    if (st & ATA_ST_BSY) {
        abandon(a);
        return;
    }
    if (op == CHAN_OP_FLUSH) { // FLUSH CACHE (ATA-6 8.13): non-data, an interrupt when done
        wr(a, ATA_R_DEVICE, 1, 0xA0);
        wr(a, ATA_R_COMMAND, 1, ATA_CMD_FLUSH);
        return;
    }
    bool rdop = op == CHAN_OP_READ;
    if (a->use_dma) {
        if (!prd_table(a, paddr, len)) {
            finish(a, 1);
            return;
        }
        // PIIX4 datasheet 2.7: table address, direction, status cleared; then the device's
        // command; then start (ATA-6 9.10, the DMA protocol)
        __atomic_thread_fence(__ATOMIC_SEQ_CST); // the table is in memory before the start
        wr(a, ATA_R_BM_CMD, 1, 0);
        wr(a, ATA_R_BM_PRDT, 4, (uint32_t)a->dma_paddr);
        wr(a, ATA_R_BM_CMD, 1, rdop ? ATA_BM_TO_MEM : 0);
        wr(a, ATA_R_BM_STATUS, 1, ATA_BM_ERROR | ATA_BM_IRQ);
        address(a, sector, count, ext);
        wr(a, ATA_R_COMMAND, 1,
           rdop ? (ext ? ATA_CMD_READ_DMA_EXT : ATA_CMD_READ_DMA)
                : (ext ? ATA_CMD_WRITE_DMA_EXT : ATA_CMD_WRITE_DMA));
        wr(a, ATA_R_BM_CMD, 1, (rdop ? ATA_BM_TO_MEM : 0) | ATA_BM_START);
        return;
    }
    // PIO (ATA-6 9.5, 9.6): an interrupt per sector; a write's first sector goes out on DRQ
    a->buf = buf;
    a->left = count;
    a->done = 0;
    address(a, sector, count, ext);
    wr(a, ATA_R_COMMAND, 1,
       rdop ? (ext ? ATA_CMD_READ_PIO_EXT : ATA_CMD_READ_PIO)
            : (ext ? ATA_CMD_WRITE_PIO_EXT : ATA_CMD_WRITE_PIO));
    if (rdop) return;
    delay400(a);
    st = wait_status(a, ATA_ST_DRQ, ATA_ST_DRQ, ATA_TIMEOUT_US);
    if (st & ATA_ST_BSY) {
        abandon(a);
        return;
    }
    if (st & (ATA_ST_ERR | ATA_ST_DF)) {
        rd(a, ATA_R_STATUS, 1);
        finish(a, 1);
        return;
    }
    pio_out(a);
}

void ata_service(struct ata *a)
{
    if (!a->busy) {
        rd(a, ATA_R_STATUS, 1); // a stray interrupt (e.g. an earlier instance's command)
        if (a->has_bm) wr(a, ATA_R_BM_STATUS, 1, ATA_BM_ERROR | ATA_BM_IRQ);
        return;
    }
    bool late = now(a) - a->started_us > ATA_TIMEOUT_US;
    if (a->use_dma && a->op != CHAN_OP_FLUSH) {
        uint8_t bm = (uint8_t)rd(a, ATA_R_BM_STATUS, 1);
        uint8_t alt = (uint8_t)rd(a, ATA_R_CTL, 1);
        // done: the device interrupted (latched in the bus master's status), or it ended the
        // command with an error, or both sides are idle
        bool done = (bm & (ATA_BM_IRQ | ATA_BM_ERROR)) ||
                    (!(alt & ATA_ST_BSY) && (alt & (ATA_ST_ERR | ATA_ST_DF))) ||
                    (!(alt & (ATA_ST_BSY | ATA_ST_DRQ)) && !(bm & ATA_BM_ACTIVE));
        if (!done) {
            if (late) a->timeouts++, abandon(a);
            return;
        }
        if (alt & ATA_ST_BSY) { // the bus master is done, the device not quite yet
            alt = wait_status(a, 0, 0, 1000);
            if (alt & ATA_ST_BSY) {
                if (late) a->timeouts++, abandon(a);
                return;
            }
        }
        wr(a, ATA_R_BM_CMD, 1, 0);
        uint8_t st = (uint8_t)rd(a, ATA_R_STATUS, 1);
        wr(a, ATA_R_BM_STATUS, 1, ATA_BM_ERROR | ATA_BM_IRQ);
        finish(a, (bm & ATA_BM_ERROR) || (st & (ATA_ST_ERR | ATA_ST_DF | ATA_ST_DRQ)) ? 1 : 0);
        return;
    }
    uint8_t alt = (uint8_t)rd(a, ATA_R_CTL, 1);
    if (alt & ATA_ST_BSY) {
        if (late) a->timeouts++, abandon(a);
        return;
    }
    uint8_t st = (uint8_t)rd(a, ATA_R_STATUS, 1); // lowers the interrupt
    if (st & (ATA_ST_ERR | ATA_ST_DF)) {
        finish(a, 1);
        return;
    }
    if (a->op == CHAN_OP_FLUSH) {
        finish(a, 0);
        return;
    }
    if (a->op == CHAN_OP_READ) {
        if (!(st & ATA_ST_DRQ)) {
            if (late) a->timeouts++, abandon(a);
            return;
        }
        uint8_t *p = a->buf + a->done * 512ul;
        for (unsigned i = 0; i < 512; i += 4) {
            uint32_t w = rd(a, ATA_R_DATA, 4);
            p[i] = (uint8_t)w, p[i + 1] = (uint8_t)(w >> 8);
            p[i + 2] = (uint8_t)(w >> 16), p[i + 3] = (uint8_t)(w >> 24);
        }
        a->done++;
        if (--a->left == 0) finish(a, 0);
        else a->started_us = now(a); // the timeout runs per sector
        return;
    }
    // write: DRQ asks for the next sector; none left and DRQ clear: the last one is written
    if (a->left == 0) {
        finish(a, st & ATA_ST_DRQ ? 1 : 0);
        return;
    }
    if (!(st & ATA_ST_DRQ)) { // the device wants no more data but we have some: failed
        finish(a, 1);
        return;
    }
    pio_out(a);
    a->started_us = now(a);
}

int ata_next_done(struct ata *a, uint8_t *status)
{
    if (!a->finished) return -1;
    a->finished = false;
    *status = a->status;
    return 0;
}
