// SPDX-License-Identifier: MIT
// fs: the file-system server. ext2 (the library in ext2_*.c) over the disk of servers/blk when
// the manifest gives fs a client channel (blockdev_chan.c), else over a RAM disk kept in the
// persistent region when the manifest gives one large enough (persist=), so that the disk
// survives the server's own crashes and each new instance runs the log's recovery; else over a
// RAM disk in .bss, formatted at every start (the host-free mode for quick trials). One
// operation per IPC call (proto/fs.h).
#include "blockdev_chan.h"
#include "common/kstring.h"
#include "filedisk.h"
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
static struct chan_dev chan;
static uint8_t bss_disk[BSS_DISK] __attribute__((aligned(4096)));
static uint8_t scratch[EXT2_MAX_BS];
static struct fdisk disks[IPC_MAX_CHANNELS]; /* the server ends of channels: files as disks */
static bool disk_served[IPC_MAX_CHANNELS];

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

/* Time for the inodes: no real-time clock reaches fs, so the seconds count from the newest time
 * the superblock holds (its last write, mount or mkfs: a time on the host that made the image)
 * plus the TSC's seconds since boot. e2fsck wants plausible times: a dtime below the inode count
 * reads as a member of the orphan list (a deleted inode then shows as an error). */
static uint64_t clock_base, clock_rate;

static uint32_t tsc_clock(void *ctx)
{
    (void)ctx;
    return (uint32_t)(clock_base + rt_rdtsc() / clock_rate);
}

static void clock_init(const struct ext2_blkdev *dev, const ipc_control_t *ctl)
{
    clock_rate = (ctl && ctl->tsc_per_ms ? ctl->tsc_per_ms : 1000000) * 1000;
    // the superblock: 1 KiB at byte 1024; s_mtime at 44, s_wtime at 48, s_mkfs_time at 264
    if (dev->read(dev->ctx, 2, 1, scratch) != 0) return;
    const uint32_t at[] = {44, 48, 264};
    for (unsigned i = 0; i < 3; i++) {
        const uint8_t *b = scratch + at[i];
        uint64_t t = b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        if (t > clock_base) clock_base = t;
    }
}

static ipc_server_t server;

/* The library's checks found its state changed behind its back (ext2_cache_check.c, request.c):
 * a crash, said in the log, and the next instance mounts from the disk. */
void ext2_cache_corrupt(struct ext2_fs *f, uint32_t slot)
{
    (void)f;
    rt_printf("fs: instance %lu: corrupt state (%s %u): restarting\n",
              server.control ? server.control->instance : 0,
              slot < EXT2_CACHE_BLOCKS ? "cache slot" : "check", slot);
    __builtin_trap();
}

/* The library stops writing after a failed device write or flush (ext2.h: EXT2_EROFS from then
 * on). Over blk such a failure is blk's restart gone wrong, a corrupt channel or this instance's
 * own state gone bad (an injected `corrupt`), rarely the disk: serving every later write with
 * EROFS would fail them all until the next crash. A new instance attaches the channel again and
 * recovers from the log; the client's retry of the failed request (no reply goes out) runs
 * there. A disk that keeps failing restarts fs until init's backoff and restart limit act. */
static void restart_if_broken(const char *when)
{
    if (!fs.broken) return;
    rt_printf("fs: instance %lu: the disk failed %s: restarting for a clean mount\n",
              server.control ? server.control->instance : 0, when);
    __builtin_trap();
}

/* A disk of blk that no instance can mount (EUCLEAN: its metadata is damaged; seen after a
 * `corrupt` storm zeroed a metadata block): a restart cannot mend it, and restarting on every
 * failed mount kept init restarting fs some 6,000 times until the boot timed out. So after
 * DAMAGED_TRIES failed mounts fs stays up and answers every request with EUCLEAN (a clear error,
 * never data from a disk it could not check), tries the mount again at each ping of init's
 * watchdog, and restarts once the disk mounts (a flip that failed the mounts was transient). */
#define DAMAGED_TRIES 3u
static bool damaged;

static int damaged_reply(ipc_msg_t *reply)
{
    if (fs.mounted) __builtin_trap(); // damaged is only ever set without a mount: a flip
    reply->w[1] = (rs_word_t)(int64_t)EXT2_EUCLEAN;
    reply->len = 2;
    reply->label = RS_ILLEGAL_OPERATION;
    return RS_ILLEGAL_OPERATION;
}

static void damaged_retry(struct ext2_blkdev *dev)
{
    if (ext2_mount(&fs, dev) != 0) return;
    rt_printf("fs: instance %lu: the disk of blk mounts again: restarting to serve it\n",
              server.control ? server.control->instance : 0);
    __builtin_trap();
}

static int fs_handle(void *ctx, rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    if (damaged) return damaged_reply(reply);
    int rc = fs_request(ctx, (uint32_t)client, req, reply);
    restart_if_broken("in a request");
    // fs keeps no dedup table in a persistent region (its reply table is on the disk), so
    // libipc's loop reaches no fault point of its own: an injected fault meant to strike after
    // the commit and before the reply strikes here (the one meant for inside the operation
    // strikes at the operation's next block request: blockdev_chan.c)
    ipc_server_fault_point(&server, IPC_FAULT_BEFORE_REPLY);
    // the reply as fs_request made it: a stray write into the stack (an injected `corrupt`)
    // would otherwise be sealed below as a right answer; crash instead (the client retries)
    reply->label = (rs_word_t)rc;
    if (!fs_reply_intact(reply)) {
        rt_printf("fs: instance %lu: the reply changed after it was made: restarting\n",
                  server.control ? server.control->instance : 0);
        __builtin_trap();
    }
    return rc;
}

static void fdisk_between(void *ctx)
{
    // a completion published, its request not released: a crash here makes the next instance
    // redo a request the client may already have seen completed (libipc/channel.h)
    ipc_server_fault_point(ctx, IPC_FAULT_BEFORE_REPLY);
}

/* The server ends of the manifest's channels: each serves the file /disks/NAME.img of the
 * mounted file system as a block device (filedisk.h). */
static void disks_attach(void)
{
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    if (info->magic != IPC_DEVICE_MAGIC) return;
    for (unsigned k = 0; k < info->nchannels && k < IPC_MAX_CHANNELS; k++) {
        if (info->channel[k].role != IPC_CHANNEL_SERVER) continue;
        if (!strncmp(info->channel[k].name, FS_WIN_PREFIX, sizeof(FS_WIN_PREFIX) - 1)) {
            // a client's data window (proto/fs.h): its rings are unused, nobody is signalled
            uint32_t peer = info->channel[k].peer;
            if (fs_window_set(peer, chan_data((void *)IPC_CHANNEL_VADDR(k)),
                              info->channel[k].data_size) == RS_OK)
                rt_printf("fs: channel %u: data window of client %u (%lu KiB)\n", k, peer,
                          info->channel[k].data_size >> 10);
            continue;
        }
        struct fdisk *d = &disks[k];
        char name[FDISK_NAME_MAX + 1] = {0};
        memcpy(name, info->channel[k].name, FDISK_NAME_MAX);
        if (fdisk_attach(d, &fs, (void *)IPC_CHANNEL_VADDR(k), info->channel[k].data_size, name)) {
            rt_printf("fs: channel %u: '%s' names no disk file\n", k, name);
            continue;
        }
        d->between = fdisk_between;
        d->between_ctx = &server;
        disk_served[k] = true;
        rt_printf("fs: channel %u serves %s (%lu sectors%s)\n", k, d->path, d->sectors,
                  d->ino ? "" : ": not found yet");
        rs_signal(IPC_SLOT_CHANNEL0 + k); // a (re)started end signals its peer once
    }
}

/* The request loop: IPC clients on the endpoint and the disk channels' requests (their
 * notifications arrive on the same bound notification). Neither kind waits for the other: with
 * channel requests waiting the endpoint is only polled, and at most a few channel requests are
 * served between two polls. A channel signal swallowed while fs waited for blk
 * (blockdev_chan.c) is not lost: the rings are looked at before every blocking receive. */
/* Group commit (ext2.h: async): every operation is on the device when its reply goes out, and
 * durable against the loss of the device's cache after a flush: at an fsync, when the oldest
 * unflushed write is FLUSH_MS old at the next request, and at every ping of init's watchdog. */
#define FLUSH_MS 50u
static uint64_t unflushed_since;

static void flush_policy(bool ping)
{
    if (!fs.unflushed) {
        unflushed_since = 0;
        return;
    }
    uint64_t now = rt_rdtsc(),
             rate = server.control->tsc_per_ms ? server.control->tsc_per_ms : 1000000;
    if (!unflushed_since) unflushed_since = now;
    if (ping || now - unflushed_since >= FLUSH_MS * rate) {
        (void)ext2_sync(&fs, false);
        restart_if_broken("at a flush");
        unflushed_since = 0;
    }
}

static struct ext2_blkdev blk_dev;

static _Noreturn void serve(void)
{
    ipc_msg_t req, reply;
    ipc_server_seal(&server); // final from here: the channels and the mount are set up
    for (;;) {
        bool work = false;
        for (unsigned k = 0; k < IPC_MAX_CHANNELS; k++)
            if (disk_served[k]) work |= fdisk_pending(&disks[k]);
        rs_result_t r = work ? rs_poll(server.ep) : rs_recv(server.ep);
        // server as sealed (a flipped endpoint slot or control pointer traps at once), and no
        // receive failing for ever behind a live heartbeat (64 in a row trap); an empty poll is
        // no failure. The heartbeat moves here.
        ipc_server_round(&server, r);
        if (r.error == RS_OK && rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL) {
            if (r.badge & IPC_BADGE_PING) ipc_server_ping(&server);
            if (damaged && (r.badge & IPC_BADGE_PING)) damaged_retry(&blk_dev);
            if (!damaged) flush_policy(r.badge & IPC_BADGE_PING);
        } else if (r.error == RS_OK) {
            ipc_msg_get(&req, r.info);
            ipc_server_handle(&server, r.badge, &req, &reply);
            rs_reply(ipc_msg_put(&reply));
            flush_policy(false);
        }
        for (unsigned k = 0; k < IPC_MAX_CHANNELS; k++) {
            if (!disk_served[k]) continue;
            // a full completion ring is signalled again: this instance's predecessor may have
            // died between filling it and its signal
            if (fdisk_serve(&disks[k], 4) || chan_pending(&disks[k].comp) == CHAN_ENTRIES)
                rs_signal(IPC_SLOT_CHANNEL0 + k);
        }
    }
}

int main(void *arg)
{
    (void)arg;
    ipc_server_init(&server, fs_handle, &fs);
    fs.async = true; // group commit (flush_policy)
    struct ext2_blkdev dev;
    // blk's channel: the first one whose client fs is
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    unsigned blk_k = 0;
    while (info->magic == IPC_DEVICE_MAGIC && blk_k + 1 < info->nchannels &&
           blk_k + 1 < IPC_MAX_CHANNELS && info->channel[blk_k].role != IPC_CHANNEL_CLIENT)
        blk_k++;
    int rc = chan_dev_open(&chan, &server, blk_k, &dev);
    if (rc != RS_NOT_FOUND) {
        // The disk of servers/blk: made by mke2fs (never formatted here); mount replays the log.
        if (rc == RS_OK) {
            clock_init(&dev, server.control);
            fs.clock = tsc_clock;
            rc = ext2_mount(&fs, &dev);
            for (unsigned t = 1; rc == EXT2_EUCLEAN && t < DAMAGED_TRIES; t++)
                rc = ext2_mount(&fs, &dev);
        }
        if (rc == EXT2_EUCLEAN) {
            rt_printf("fs: instance %lu: the disk of blk is damaged (error %d in %u mounts): "
                      "answering every request with it until it mounts\n",
                      server.control->instance, rc, DAMAGED_TRIES);
            damaged = true;
            blk_dev = dev;
            serve();
        }
        if (rc) {
            rt_printf("fs: cannot mount the disk of blk: error %d\n", rc);
            return 1;
        }
        rt_printf("fs: instance %lu serving ext2 (%u-byte blocks, %u blocks) from blk\n",
                  server.control->instance, fs.bs, fs.blocks_count);
        disks_attach();
        serve();
    }
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
    dev = (struct ext2_blkdev){.ctx = &disk,
                               .sectors = disk.size / 512,
                               .read = rd_read,
                               .write = rd_write,
                               .flush = rd_flush};
    rc = ext2_mount(&fs, &dev);
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
    disks_attach();
    serve();
}
