// SPDX-License-Identifier: MIT
// system-fs's client: through proto/fs.h (fs over blk over QEMU's virtio-blk, an image made by
// mke2fs -d) it reads a file mke2fs put there, creates and writes a few hundred files and a
// directory tree, renames and deletes some, and verifies every file's size and checksum; the
// harness then runs e2fsck -fn on the image (meson.build). Built with -DFS_CRASH for
// system-fs-crash, where init crashes fs and blk meanwhile: it then goes on writing, checking and
// deleting scratch files until both were restarted often enough, and checks every file again.
#include "ipc.h"
#include "check.h"
#include "proto/fs.h"
#include "proto/registry.h"

#define NFILES 300u
#define MAXLEN 400u
#ifdef FS_CRASH
#define MIN_FS_RESTARTS  12
#define MIN_BLK_RESTARTS 25
#define MAX_SCRATCH      4000 /* a bound in case the injections stop (the check then fails) */
#define PLAN             11
#else
#define PLAN 9
#endif
#define HELLO "hello from mke2fs -d\n" /* tests/system/fs/mkimage.sh writes it */

static ipc_client_t fs;
static uint64_t calls, failures;
static bool quiet; /* the next calls are meant to fail */

static void pack(ipc_msg_t *m, unsigned first, const void *in, uint64_t len)
{
    const uint8_t *b = in;
    for (uint64_t i = 0; i < (len + 7) / 8; i++) m->w[first + i] = 0;
    for (uint64_t i = 0; i < len; i++) m->w[first + i / 8] |= (rs_word_t)b[i] << (8 * (i % 8));
    m->len = first + (unsigned)((len + 7) / 8);
}

static uint64_t slen(const char *s)
{
    uint64_t n = 0;
    while (s[n]) n++;
    return n;
}

static int call(ipc_msg_t *req, ipc_msg_t *reply)
{
    calls++;
    int err = ipc_call(&fs, req, reply, IPC_RETRY_SAFE);
    if (err != RS_OK && !quiet && failures++ < 8)
        rt_printf("fstest: op %lu: %s (w1 %ld)\n", req->label, rs_error_name(err),
                  reply->len > 1 ? (int64_t)reply->w[1] : 0);
    return err;
}

/* An operation with a path at w[at] (length) and w[at+1..]; w[1..at-1] preset by the caller. */
static int path_op(uint64_t op, ipc_msg_t *req, unsigned at, const char *path, ipc_msg_t *reply)
{
    req->label = op;
    req->w[at] = slen(path);
    pack(req, at + 1, path, slen(path));
    return call(req, reply);
}

static int create(const char *path, uint32_t *ino)
{
    ipc_msg_t req = {.w = {0, 0100644}}, reply;
    int err = path_op(FS_CREATE, &req, 2, path, &reply);
    *ino = err == RS_OK ? (uint32_t)reply.w[1] : 0;
    return err;
}

static int mkdir(const char *path)
{
    ipc_msg_t req = {.w = {0, 040755}}, reply;
    return path_op(FS_MKDIR, &req, 2, path, &reply);
}

static int simple(uint64_t op, const char *path, ipc_msg_t *reply)
{
    ipc_msg_t req = {0};
    return path_op(op, &req, 1, path, reply);
}

static int lookup(const char *path, uint32_t *ino, uint64_t *size)
{
    ipc_msg_t reply;
    int err = simple(FS_LOOKUP, path, &reply);
    *ino = err == RS_OK ? (uint32_t)reply.w[1] : 0;
    *size = err == RS_OK ? reply.w[3] : 0;
    return err;
}

static int rename(const char *from, const char *to)
{
    ipc_msg_t req = {.label = FS_RENAME, .w = {0, slen(from), slen(to)}}, reply;
    char both[FS_INLINE_MAX];
    uint64_t a = slen(from), b = slen(to);
    for (uint64_t i = 0; i < a; i++) both[i] = from[i];
    for (uint64_t i = 0; i < b; i++) both[a + i] = to[i];
    pack(&req, 3, both, a + b);
    return call(&req, &reply);
}

static int write_all(uint32_t ino, const uint8_t *buf, uint32_t len)
{
    for (uint32_t off = 0; off < len;) {
        uint32_t n = len - off < FS_WRITE_MAX ? len - off : FS_WRITE_MAX;
        ipc_msg_t req = {.label = FS_WRITE, .w = {0, ino, off, n}}, reply;
        pack(&req, 4, buf + off, n);
        int err = call(&req, &reply);
        if (err) return err;
        if (reply.w[1] != n) return RS_INVALID_ARGUMENT;
        off += n;
    }
    return RS_OK;
}

static int read_all(uint32_t ino, uint8_t *buf, uint32_t len, uint32_t *got)
{
    *got = 0;
    for (;;) {
        ipc_msg_t req = {.label = FS_READ, .len = 4, .w = {0, ino, *got, FS_READ_MAX}}, reply;
        int err = call(&req, &reply);
        if (err) return err;
        uint64_t n = reply.w[1];
        if (n == 0) return RS_OK;
        if (n > FS_READ_MAX || *got + n > len) return RS_RANGE_ERROR;
        for (uint64_t i = 0; i < n; i++)
            buf[*got + i] = (uint8_t)(reply.w[2 + i / 8] >> (8 * (i % 8)));
        *got += (uint32_t)n;
    }
}

/* The contents of file number i: its length and bytes from a seeded generator. */
static uint32_t content(unsigned i, uint8_t *buf)
{
    uint32_t len = (i * 37u) % MAXLEN;
    uint64_t x = 0x9E3779B97F4A7C15ull * (i + 1);
    for (uint32_t k = 0; k < len; k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[k] = (uint8_t)x;
    }
    return len;
}

static uint64_t fnv(const uint8_t *b, uint32_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void fmt(char *out, const char *pre, unsigned n, const char *post)
{
    char d[12];
    int k = 0;
    do d[k++] = (char)('0' + n % 10), n /= 10;
    while (n);
    while (*pre) *out++ = *pre++;
    while (k) *out++ = d[--k];
    while (*post) *out++ = *post++;
    *out = 0;
}

/* Where file i lives at the end: renamed (i % 3 == 0) into the tree, deleted (i % 3 == 1), or
 * where it was made. */
static void final_path(unsigned i, char *p)
{
    char dir[32];
    if (i % 3 == 0) {
        fmt(dir, "/t/a", i % 4, "/b");
        fmt(dir + slen(dir), "", (i / 4) % 4, "/r");
        fmt(p, dir, i, "");
    } else {
        fmt(p, "/f/", i, "");
    }
}

/* Checks file at path against the contents of number i: 1 if right. */
static int verify(const char *path, unsigned i)
{
    static uint8_t want[MAXLEN], got[MAXLEN + FS_READ_MAX];
    uint32_t ino, n, len = content(i, want);
    uint64_t size;
    if (lookup(path, &ino, &size) || size != len) return 0;
    if (read_all(ino, got, sizeof got, &n) || n != len) return 0;
    return fnv(got, n) == fnv(want, len);
}

static unsigned count_dir(const char *path)
{
    uint32_t ino;
    uint64_t size, cookie = 0;
    unsigned n = 0;
    if (lookup(path, &ino, &size)) return 0;
    for (;;) {
        ipc_msg_t req = {.label = FS_READDIR, .len = 3, .w = {0, ino, cookie}}, reply;
        if (ipc_call(&fs, &req, &reply, IPC_RETRY_SAFE) != RS_OK) return n;
        cookie = reply.w[1];
        n++;
    }
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    ipc_client_init(&fs, IPC_SLOT_CLIENT0, "fs", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    fs.next_id = me->instance << 32 | 1; // fs's reply table keys on (badge, id)
    check_plan(PLAN);
    uint64_t t0 = rt_rdtsc();

    uint8_t buf[MAXLEN + FS_READ_MAX];
    uint32_t ino, n;
    uint64_t size;
    int err = lookup("/hello.txt", &ino, &size);
    if (!err) err = read_all(ino, buf, sizeof buf, &n);
    bool same = !err && n == slen(HELLO) && fnv(buf, n) == fnv((const uint8_t *)HELLO, n);
    check(same, "FS-0001", "the file mke2fs -d put in the image reads back through fs and blk",
          "status %lu, %lu bytes", (uint64_t)err, err ? 0 : (uint64_t)n);

    // the tree: /t/aX/bY, X, Y < 4, and /f for the flat files
    unsigned bad = 0;
    char p[64], q[64];
    bad += mkdir("/f") != RS_OK;
    bad += mkdir("/t") != RS_OK;
    for (unsigned x = 0; x < 4; x++) {
        fmt(p, "/t/a", x, "");
        bad += mkdir(p) != RS_OK;
        for (unsigned y = 0; y < 4; y++) {
            fmt(q, "/t/a", x, "/b");
            fmt(q + slen(q), "", y, "");
            bad += mkdir(q) != RS_OK;
        }
    }
    check(bad == 0, "FS-0002", "22 directories made (/f, /t, /t/aX, /t/aX/bY)", "%lu failed %lu",
          (uint64_t)bad, 0);

    bad = 0;
    uint64_t bytes = 0;
    for (unsigned i = 0; i < NFILES; i++) {
        fmt(p, "/f/", i, "");
        uint32_t len = content(i, buf);
        if (create(p, &ino) || write_all(ino, buf, len)) bad++;
        bytes += len;
    }
    check(bad == 0, "FS-0003", "300 files created and written in 96-byte writes",
          "%lu failed, %lu bytes", (uint64_t)bad, bytes);

    bad = 0;
    for (unsigned i = 0; i < NFILES; i += 3) {
        fmt(p, "/f/", i, "");
        final_path(i, q);
        bad += rename(p, q) != RS_OK;
    }
    check(bad == 0, "FS-0004", "100 files renamed into the tree", "%lu failed %lu", (uint64_t)bad,
          0);

    bad = 0;
    unsigned still = 0;
    ipc_msg_t reply;
    for (unsigned i = 1; i < NFILES; i += 3) {
        fmt(p, "/f/", i, "");
        bad += simple(FS_UNLINK, p, &reply) != RS_OK;
        uint32_t gone;
        quiet = true; // the lookup of a deleted name fails on purpose
        still += lookup(p, &gone, &size) != RS_NOT_FOUND;
        quiet = false;
    }
    check(bad == 0 && still == 0, "FS-0005", "100 files unlinked, and their names are gone",
          "%lu failed, %lu still there", (uint64_t)bad, (uint64_t)still);

    bad = 0;
    for (unsigned i = 0; i < NFILES; i++) {
        if (i % 3 == 1) continue;
        final_path(i, p);
        if (!verify(p, i)) {
            if (bad < 5) rt_printf("fstest: %s differs\n", p);
            bad++;
        }
    }
    check(bad == 0, "FS-0006", "the 200 remaining files have their size and checksum",
          "%lu of %lu differ", (uint64_t)bad, 200);

    unsigned entries = count_dir("/f");
    check(entries == 2 + 100, "FS-0007", "readdir of /f lists . .. and the 100 files left",
          "%lu entries, want %lu", (uint64_t)entries, 102);

    // /t/a3 emptied and removed: rmdir of a non-empty directory refused first
    quiet = true;
    int first = simple(FS_RMDIR, "/t/a3", &reply);
    int64_t why = (int64_t)reply.w[1];
    quiet = false;
    bad = 0;
    for (unsigned i = 0; i < NFILES; i += 3) {
        if (i % 4 != 3) continue;
        final_path(i, p);
        bad += simple(FS_UNLINK, p, &reply) != RS_OK;
    }
    for (unsigned y = 0; y < 4; y++) {
        fmt(q, "/t/a3/b", y, "");
        bad += simple(FS_RMDIR, q, &reply) != RS_OK;
    }
    bad += simple(FS_RMDIR, "/t/a3", &reply) != RS_OK;
    check(first == RS_INVALID_ARGUMENT && why == -39 && bad == 0, "FS-0008",
          "rmdir of a full directory is ENOTEMPTY; emptied, it and its subtree go",
          "first %ld, then %lu failed", why, (uint64_t)bad);

#ifdef FS_CRASH
    // scratch files while the crashes go on: each acknowledged one read back, then unlinked
    uint64_t rf = 0, rb = 0, scratch = 0;
    bad = 0;
    mkdir("/x");
    while ((rf < MIN_FS_RESTARTS || rb < MIN_BLK_RESTARTS || rf + rb < 50) &&
           scratch < MAX_SCRATCH) {
        unsigned i = 1000 + (unsigned)scratch++;
        fmt(p, "/x/", i, "");
        uint32_t len = content(i, buf);
        if (create(p, &ino) || write_all(ino, buf, len) || !verify(p, i) ||
            (i % 8 && simple(FS_UNLINK, p, &reply)))
            bad++;
        if (scratch % 16 == 0)
            registry_restarts("fs", &rf, NULL), registry_restarts("blk", &rb, NULL);
    }
    registry_restarts("fs", &rf, NULL), registry_restarts("blk", &rb, NULL);
    rt_printf("fstest: %lu scratch files, %lu restarts of fs, %lu of blk\n", scratch, rf, rb);
    check(rf >= MIN_FS_RESTARTS && rb >= MIN_BLK_RESTARTS && rf + rb >= 50, "FS-0010",
          "fs (at least 12 times) and blk (25) were crashed and restarted, 50 times in all",
          "fs %lu, blk %lu", rf, rb);
    for (unsigned i = 0; i < NFILES; i++) {
        if (i % 3 == 1 || (i % 3 == 0 && i % 4 == 3)) continue; // unlinked above
        final_path(i, p);
        bad += !verify(p, i);
    }
    for (unsigned i = 1000; i < 1000 + scratch; i += 8) { // every eighth scratch file was kept
        fmt(p, "/x/", i, "");
        bad += !verify(p, i);
    }
    check(bad == 0, "FS-0011",
          "every acknowledged scratch file read back right, and after the crashes every file kept "
          "has its size and checksum",
          "%lu bad of %lu", (uint64_t)bad, scratch);
#endif
    ipc_msg_t fsync = {.label = FS_FSYNC, .len = 2, .w = {0, 2}};
    err = call(&fsync, &reply);
    uint64_t ms = (rt_rdtsc() - t0) / (me->tsc_per_ms ? me->tsc_per_ms : 1);
    rt_printf("fstest: %lu calls (%lu bytes of file data), %u retried after a crash, %lu ms\n",
              calls, bytes, fs.retries, ms);
    check(err == RS_OK && failures == 0, "FS-0009",
          "fsync of the root succeeds and no other call failed", "status %lu, %lu failures",
          (uint64_t)err, failures);
    check_done();
    ipc_shutdown(me);
}
