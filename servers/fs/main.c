// SPDX-License-Identifier: MIT
// fs: the file-system server. ext2 (the library in ext2_*.c) over a RAM disk kept in the
// persistent region when the manifest gives one large enough (persist=), so that the disk
// survives the server's own crashes the way a real one would and each new instance runs the
// log's recovery; else over a RAM disk in .bss, formatted at every start. One operation per
// IPC call (proto/fs.h). The channel to servers/blk replaces the RAM disk later: only the three
// block-device callbacks change.
#include "common/kstring.h"
#include "ext2.h"
#include "ipc.h"
#include "proto/fs.h"
#include "request.h"

#define BSS_DISK (512u * 1024u)

struct ramdisk {
    uint8_t *base;
    uint64_t size;
};

static struct ext2_fs fs;
static struct ramdisk disk;
static uint8_t bss_disk[BSS_DISK] __attribute__((aligned(4096)));
static uint8_t scratch[EXT2_MAX_BS];

static int rd_read(void *ctx, uint64_t sector, uint32_t count, void *buf)
{
    struct ramdisk *d = ctx;
    if (sector > d->size / 512 || count > d->size / 512 - sector) return EXT2_EIO;
    memcpy(buf, d->base + sector * 512, (size_t)count * 512);
    return 0;
}

static int rd_write(void *ctx, uint64_t sector, uint32_t count, const void *buf)
{
    struct ramdisk *d = ctx;
    if (sector > d->size / 512 || count > d->size / 512 - sector) return EXT2_EIO;
    memcpy(d->base + sector * 512, buf, (size_t)count * 512);
    return 0;
}

static int rd_flush(void *ctx)
{
    (void)ctx; // memory: a write is as durable as it will get once it is done
    return 0;
}

static int fs_handle(void *ctx, rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    return fs_request(ctx, (uint32_t)client, req, reply);
}

int main(void *arg)
{
    (void)arg;
    static ipc_server_t server;
    ipc_server_init(&server, fs_handle, &fs);
    // The RAM disk: the persistent region after libipc's state, whole 4 KiB blocks of it.
    disk.base = bss_disk;
    disk.size = sizeof bss_disk;
    const char *where = "memory (lost at a restart)";
    if (server.pstate && server.control->persistent_size) {
        uint64_t start = ((uint64_t)(uintptr_t)server.pstate->user + 4095) & ~4095ull;
        uint64_t end = server.control->persistent_vaddr + server.control->persistent_size;
        if (end > start && end - start >= 256 * 1024) {
            disk.base = (uint8_t *)(uintptr_t)start;
            disk.size = (end - start) & ~4095ull;
            where = "the persistent region";
        }
    }
    struct ext2_blkdev dev = {.ctx = &disk,
                              .sectors = disk.size / 512,
                              .read = rd_read,
                              .write = rd_write,
                              .flush = rd_flush};
    int rc = ext2_mount(&fs, &dev);
    if (rc == EXT2_EUCLEAN && (server.control->instance == 1 || disk.base == bss_disk)) {
        // A blank disk: format it. A later instance never formats the persistent disk: one it
        // cannot mount then is a fault to report, not to erase.
        if ((rc = ext2_format(&dev, 1024, 0, scratch)) == 0) rc = ext2_mount(&fs, &dev);
    }
    if (rc < 0) {
        rt_printf("fs: cannot mount the RAM disk in %s: error %d\n", where, rc);
        return 1;
    }
    rt_printf("fs: instance %lu serving ext2 on %lu KiB in %s\n", server.control->instance,
              disk.size / 1024, where);
    ipc_serve(&server);
}
