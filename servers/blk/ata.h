/* SPDX-License-Identifier: MIT */
/* An ATA disk on one channel of a PCI IDE controller (Intel PIIX: the PC's primary channel at
 * ports 0x1F0-0x1F7 and 0x3F6, IRQ 14): IDENTIFY, READ/WRITE DMA through the controller's
 * bus-master registers (BAR4), or PIO a sector per interrupt when there are none (32-bit
 * accesses to the data port, which the PIIX splits into two words), FLUSH CACHE.
 * ATA has no queue: one command at a time (the "slot" is 0). The register accesses and the
 * clock are callbacks, so that the host tests drive it against a fake register file.
 * References: ATA/ATAPI-6 (T13 1410D) 6.2 and 8 (the commands), 9.5-9.10 (protocols);
 * Intel 82371AB PIIX4 datasheet 2.7 (bus-master IDE registers, physical region descriptors). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* The registers, by role: the command block (ATA_R_DATA .. ATA_R_STATUS: offsets 0-7 from its
 * base; ATA_R_FEATURES/ATA_R_COMMAND are the write sides of ATA_R_ERROR/ATA_R_STATUS), the
 * control block's alternate status / device control, and the bus master's command, status and
 * descriptor table address (offsets 0, 2, 4 of the channel's bus-master block). */
enum ata_reg {
    ATA_R_DATA = 0,
    ATA_R_ERROR = 1,
    ATA_R_FEATURES = 1,
    ATA_R_COUNT = 2,
    ATA_R_LBA0 = 3,
    ATA_R_LBA1 = 4,
    ATA_R_LBA2 = 5,
    ATA_R_DEVICE = 6,
    ATA_R_STATUS = 7,
    ATA_R_COMMAND = 7,
    ATA_R_CTL = 8, /* read: alternate status (no side effect); write: device control */
    ATA_R_BM_CMD = 9,
    ATA_R_BM_STATUS = 10,
    ATA_R_BM_PRDT = 11, /* 32 bits */
};

/* Status bits (ATA-6 7.15.6) and control bits (7.9.6). */
#define ATA_ST_ERR            0x01u
#define ATA_ST_DRQ            0x08u
#define ATA_ST_DF             0x20u
#define ATA_ST_DRDY           0x40u
#define ATA_ST_BSY            0x80u
#define ATA_CTL_SRST          0x04u
#define ATA_CTL_NIEN          0x02u
/* Bus-master command and status bits (PIIX4 datasheet 2.7.1-2.7.2). */
#define ATA_BM_START          0x01u
#define ATA_BM_TO_MEM         0x08u /* the controller writes memory: a read from the disk */
#define ATA_BM_ACTIVE         0x01u
#define ATA_BM_ERROR          0x02u
#define ATA_BM_IRQ            0x04u
/* Commands (ATA-6 8.x). */
#define ATA_CMD_READ_PIO      0x20u
#define ATA_CMD_READ_PIO_EXT  0x24u
#define ATA_CMD_READ_DMA_EXT  0x25u
#define ATA_CMD_WRITE_PIO     0x30u
#define ATA_CMD_WRITE_PIO_EXT 0x34u
#define ATA_CMD_WRITE_DMA_EXT 0x35u
#define ATA_CMD_READ_DMA      0xC8u
#define ATA_CMD_WRITE_DMA     0xCAu
#define ATA_CMD_FLUSH         0xE7u
#define ATA_CMD_IDENTIFY      0xECu

#define ATA_TIMEOUT_US 2000000u /* a command (and the reset) must finish within 2 s */
#define ATA_READY_US   10000u   /* a device must be idle within 10 ms when a command starts */
#define ATA_MAX_POLLS  1000000u /* and a polling loop reads at most this many times */
#define ATA_PRD_MAX    4u       /* descriptors: a 64 KiB request crosses one 64 KiB line */

struct ata_ops {
    uint32_t (*in)(void *ctx, enum ata_reg r, unsigned width);
    void (*out)(void *ctx, enum ata_reg r, unsigned width, uint32_t v);
    uint64_t (*now_us)(void *ctx); /* a clock that never goes back */
    void *ctx;
};

struct ata {
    const struct ata_ops *ops;
    bool has_bm;  /* bus-master registers given */
    uint8_t *dma; /* DMA memory (driver's address): the descriptor table */
    uint64_t dma_paddr;
    uint64_t sectors; /* the disk's size in 512-byte sectors (IDENTIFY) */
    bool lba48, use_dma;
    char model[41];
    /* the command in flight */
    bool busy;
    unsigned op;         /* CHAN_OP_* */
    uint8_t *buf;        /* PIO: the data (driver's address) */
    uint32_t left, done; /* PIO: sectors still to move, sectors moved */
    uint64_t started_us;
    /* a finished command waiting for ata_next_done: status 0 OK, 1 device error */
    bool finished;
    uint8_t status;
    uint64_t resets, timeouts;
    const char *step;    /* ata_init's: where it stopped ("reset", "identify") */
    uint8_t last_status; /* and the status it saw there */
};

/* Sets up the channel's master device: stops the bus master, resets the channel (SRST: any
 * command a previous instance left is abandoned), waits for the device (ATA_TIMEOUT_US), and
 * reads IDENTIFY. dma/dma_paddr: memory for the descriptor table (at least 4 KiB) or NULL if
 * the bus master is not to be used (has_bm false). Returns RS_OK; RS_NOT_FOUND when no device
 * answers; RS_BUSY when it never becomes ready; RS_NOT_SUPPORTED for a device that is not an
 * ATA disk with LBA (e.g. ATAPI) or has no sectors. */
int ata_init(struct ata *a, const struct ata_ops *ops, bool has_bm, void *dma, uint64_t dma_paddr);

/* Starts op CHAN_OP_READ / CHAN_OP_WRITE (len bytes, a multiple of 512, at most 64 KiB, at
 * physical `paddr` for DMA and at `buf` for PIO) or CHAN_OP_FLUSH from `sector`; the caller has
 * checked the range against a->sectors. Needs !a->busy. A command that cannot start (the device
 * stays busy, or DMA memory above 4 GiB) finishes at once with status 1. */
void ata_submit(struct ata *a, unsigned op, uint64_t sector, uint64_t paddr, void *buf,
                uint32_t len);

/* Moves the command in flight on: called on the interrupt and on any wake-up (a timer or a
 * ping), it reads the controller's state (the device's status, which lowers its interrupt);
 * it finishes the command when the device is done, failed, or ran past ATA_TIMEOUT_US (then
 * the channel is reset). An interrupt with no command in flight is acknowledged and ignored. */
void ata_service(struct ata *a);

/* The finished command: returns slot 0 and its status in *status (0 OK, 1 I/O error), once;
 * -1 when none is finished. */
int ata_next_done(struct ata *a, uint8_t *status);
