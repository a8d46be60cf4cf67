// SPDX-License-Identifier: MIT
// system-fs-bulk's client: file data through fs's bulk data path (proto/fs.h FS_READ_WIN and
// FS_WRITE_WIN: the bytes in this client's data window, a manifest channel `fsdata-...` to fs).
// A 2 MiB file written in 64 KiB calls, read back in 64 and 256 KiB calls and at odd offsets,
// unaligned and random overwrites, all checked against a copy kept here (FNV checksums and byte
// compares), the window and inline paths compared, and hostile window offsets, lengths and
// inode numbers answered with their exact errors without touching the file. Built with
// -DFS_CRASH (system-fs-bulk-crash) it goes on while init crashes fs and blk, and checks every
// file whose fsync returned. The harness then runs e2fsck -fn on the image.
#include "ipc.h"
#include "check.h"
#include "channel.h"
#include "proto/fs.h"
#include "proto/registry.h"

#define FILE_BYTES (2u << 20)
#define CALL       (64u << 10)
#ifdef FS_CRASH
#define PLAN             10
#define MIN_FS_RESTARTS  6
#define MIN_BLK_RESTARTS 6
#define MAX_ROUNDS       400
#else
#define PLAN 8
#endif

static ipc_client_t fs;
static uint8_t *win;
static uint64_t win_size, failures;
static uint8_t model[FILE_BYTES]; /* what the file must hold */

static uint64_t seed = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    return seed;
}

static uint64_t fnv(const uint8_t *p, uint64_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint64_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static void pack(ipc_msg_t *m, unsigned first, const void *in, uint64_t len)
{
    const uint8_t *b = in;
    for (uint64_t i = 0; i < (len + 7) / 8; i++) m->w[first + i] = 0;
    for (uint64_t i = 0; i < len; i++) m->w[first + i / 8] |= (rs_word_t)b[i] << (8 * (i % 8));
    m->len = first + (unsigned)((len + 7) / 8);
}

/* A call that must succeed (counted in failures otherwise). */
static int call(ipc_msg_t *q, ipc_msg_t *r)
{
    int err = ipc_call(&fs, q, r, IPC_RETRY_SAFE);
    if (err && failures++ < 8)
        rt_printf("fsbulk: op %lu: %s (w1 %ld)\n", q->label, rs_error_name(err),
                  r->len > 1 ? (int64_t)r->w[1] : 0);
    return err;
}

/* One window call: op, file offset, length, window offset; *count the reply's count. */
static int win_call(uint64_t op, uint64_t ino, uint64_t off, uint64_t len, uint64_t at,
                    uint64_t *count, bool quiet)
{
    ipc_msg_t q = {.label = op, .len = 5, .w = {0, ino, off, len, at}}, r = {0};
    int err = quiet ? ipc_call(&fs, &q, &r, IPC_RETRY_SAFE) : call(&q, &r);
    if (count) *count = err == RS_OK ? r.w[1] : 0;
    return err;
}

static int path_op(uint64_t op, uint64_t arg, const char *path, ipc_msg_t *r)
{
    uint64_t n = 0;
    while (path[n]) n++;
    ipc_msg_t q = {.label = op, .w = {0, arg}};
    unsigned at = op == FS_CREATE ? 2 : 1;
    q.w[at] = n;
    pack(&q, at + 1, path, n);
    return call(&q, r);
}

/* Writes model[off, off+len) to the file through the window, in calls of at most CALL bytes. */
static bool put(uint32_t ino, uint64_t off, uint64_t len)
{
    for (uint64_t k = 0; k < len;) {
        uint64_t n = len - k < CALL ? len - k : CALL, got;
        for (uint64_t i = 0; i < n; i++) win[i] = model[off + k + i];
        if (win_call(FS_WRITE_WIN, ino, off + k, n, 0, &got, false) || got != n) return false;
        k += n;
    }
    return true;
}

/* Reads [off, off+len) in calls of `chunk` bytes at window offset `at`: true if every call
 * succeeded and the bytes equal model[off..] (cmp) or hash to *h (FNV-1a, from *h's value). */
static bool get(uint32_t ino, uint64_t off, uint64_t len, uint64_t chunk, uint64_t at, uint64_t *h)
{
    bool eq = true;
    for (uint64_t k = 0; k < len;) {
        uint64_t n = len - k < chunk ? len - k : chunk, got;
        if (win_call(FS_READ_WIN, ino, off + k, n, at, &got, false) || got != n) return false;
        if (h)
            for (uint64_t i = 0; i < n; i++) *h = (*h ^ win[at + i]) * 0x100000001b3ull;
        else
            for (uint64_t i = 0; i < n && eq; i++) eq = win[at + i] == model[off + k + i];
        k += n;
    }
    return eq;
}

static int fsync(uint32_t ino)
{
    ipc_msg_t q = {.label = FS_FSYNC, .len = 2, .w = {0, ino}}, r;
    return call(&q, &r);
}

static uint64_t ms_since(const ipc_control_t *me, uint64_t t0)
{
    return (rt_rdtsc() - t0) / (me->tsc_per_ms ? me->tsc_per_ms : 1);
}

int main(void *arg)
{
    const ipc_control_t *me = arg;
    ipc_client_init(&fs, IPC_SLOT_CLIENT0, "fs", IPC_SLOT_REGISTRY, IPC_SLOT_RECV);
    fs.next_id = me->instance << 32 | 1;
    check_plan(PLAN);
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    for (unsigned k = 0; info->magic == IPC_DEVICE_MAGIC && k < info->nchannels; k++) {
        const ipc_channel_info_t *c = &info->channel[k];
        bool named = true;
        for (unsigned i = 0; i < sizeof(FS_WIN_PREFIX) - 1; i++)
            named &= c->name[i] == FS_WIN_PREFIX[i];
        if (named && c->role == IPC_CHANNEL_CLIENT) {
            win = chan_data((void *)IPC_CHANNEL_VADDR(k));
            win_size = c->data_size;
        }
    }
    check(win && win_size >= FS_WIN_MAX, "FSB-0001", "this client has a data window to fs",
          "%lu bytes (want %lu)", win_size, FS_WIN_MAX);
    if (!win) {
        check_done();
        ipc_shutdown(me);
    }

    // FSB-0002: 4 MiB in 64 KiB calls, then fsync
    for (uint32_t i = 0; i < FILE_BYTES; i++) model[i] = (uint8_t)rnd();
    ipc_msg_t r;
    uint32_t ino = 0;
    int err = path_op(FS_CREATE, 0100644, "/bulk.dat", &r);
    if (!err) ino = (uint32_t)r.w[1];
    uint64_t t0 = rt_rdtsc();
    bool ok = !err && put(ino, 0, FILE_BYTES) && !fsync(ino);
    uint64_t ms = ms_since(me, t0);
    rt_printf("fsbulk: wrote %u KiB in %lu ms\n", FILE_BYTES >> 10, ms);
    check(ok, "FSB-0002", "2 MiB written through the window in 64 KiB calls and fsynced",
          "create %lu, %lu calls failed", (uint64_t)err, failures);

    // FSB-0003: read back in 64 KiB calls at window offset 0, then in 256 KiB calls
    t0 = rt_rdtsc();
    uint64_t h = 0xcbf29ce484222325ull;
    bool a = get(ino, 0, FILE_BYTES, CALL, 0, &h) && h == fnv(model, FILE_BYTES);
    ms = ms_since(me, t0);
    rt_printf("fsbulk: read %u KiB in %lu ms\n", FILE_BYTES >> 10, ms);
    bool b = get(ino, 0, FILE_BYTES, FS_WIN_MAX, 0, NULL);
    // odd offsets and lengths, at an odd window offset, and a read past the end (short count)
    uint64_t got = 0;
    bool c = get(ino, 1000, 100001, 77777, 3, NULL) &&
             !win_call(FS_READ_WIN, ino, FILE_BYTES - 10, 4096, 0, &got, false) && got == 10;
    check(a && b && c, "FSB-0003",
          "read back in 64 KiB and 256 KiB calls and at odd offsets, checksums equal",
          "64 KiB %lu, 256 KiB and odd %lu", a, b * 2 + c);

    // FSB-0004: the inline path sees the same bytes
    bool inl = true;
    for (uint64_t off = 0; off < FILE_BYTES && inl; off += 1u << 20) {
        ipc_msg_t q = {.label = FS_READ, .len = 4, .w = {0, ino, off + 5, FS_READ_MAX}};
        inl = call(&q, &r) == RS_OK && r.w[1] == FS_READ_MAX;
        for (uint64_t i = 0; i < FS_READ_MAX && inl; i++)
            inl = (uint8_t)(r.w[2 + i / 8] >> (8 * (i % 8))) == model[off + 5 + i];
    }
    check(inl, "FSB-0004", "inline FS_READ returns the bytes the window wrote", "%lu", inl, 0);

    // FSB-0005: hostile window arguments: exact errors, the file untouched
    uint64_t f0 = failures;
    int e1 = win_call(FS_WRITE_WIN, ino, 0, 1, win_size, NULL, true);
    int e2 = win_call(FS_WRITE_WIN, ino, 0, 100, UINT64_MAX - 10, NULL, true);
    int e3 = win_call(FS_READ_WIN, ino, 0, FS_WIN_MAX, win_size - FS_WIN_MAX + 1, NULL, true);
    int e4 = win_call(FS_WRITE_WIN, ino, 0, FS_WIN_MAX + 1, 0, NULL, true);
    int e5 = win_call(FS_READ_WIN, ino, 0, UINT64_MAX, 0, NULL, true);
    int e6 = win_call(FS_WRITE_WIN, 1ull << 40, 0, 16, 0, NULL, true);
    int e7 = win_call(FS_WRITE_WIN, 2, 0, 16, 0, NULL, true); /* the root directory */
    int e8 = win_call(FS_WRITE_WIN, ino, 1ull << 62, 16, 0, NULL, true);
    ipc_msg_t shortq = {.label = FS_WRITE_WIN, .len = 4, .w = {0, ino, 0, 16}};
    int e9 = ipc_call(&fs, &shortq, &r, IPC_RETRY_SAFE);
    bool hostile = e1 == RS_BAD_ADDRESS && e2 == RS_BAD_ADDRESS && e3 == RS_BAD_ADDRESS &&
                   e4 == RS_INVALID_ARGUMENT && e5 == RS_INVALID_ARGUMENT && e6 == RS_NOT_FOUND &&
                   e7 == RS_INVALID_ARGUMENT && e8 == RS_RANGE_ERROR && e9 == RS_TRUNCATED_MESSAGE;
    if (!hostile)
        rt_printf("fsbulk: hostile: %d %d %d %d %d %d %d %d %d\n", e1, e2, e3, e4, e5, e6, e7, e8,
                  e9);
    bool untouched = get(ino, 0, FILE_BYTES, CALL, 0, NULL);
    check(hostile && untouched && failures == f0, "FSB-0005",
          "absurd window offsets, lengths, inodes and file offsets get exact errors, file intact",
          "errors %lu, intact %lu", hostile, untouched);

    // FSB-0006: unaligned overwrites across block boundaries, and an extension past the end
    static const uint32_t at[][2] = {
        {1, 3}, {1023, 2}, {4095, 70000}, {200000, 65536}, {2000000, 1}};
    ok = true;
    for (unsigned i = 0; i < 5 && ok; i++) {
        for (uint32_t j = 0; j < at[i][1]; j++) model[at[i][0] + j] = (uint8_t)rnd();
        ok = put(ino, at[i][0], at[i][1]);
    }
    ok = ok && get(ino, 0, FILE_BYTES, CALL, 0, NULL);
    check(ok, "FSB-0006", "unaligned overwrites across block boundaries read back right", "%lu", ok,
          0);

    // FSB-0007: 300 random 4 KiB writes and reads at random window offsets
    ok = true;
    t0 = rt_rdtsc();
    for (unsigned i = 0; i < 300 && ok; i++) {
        uint64_t off = (rnd() % (FILE_BYTES / 4096)) * 4096, wat = (rnd() % 16) * 4096;
        if (i % 2) {
            for (uint32_t j = 0; j < 4096; j++) win[wat + j] = model[off + j] = (uint8_t)rnd();
            ok = !win_call(FS_WRITE_WIN, ino, off, 4096, wat, &got, false) && got == 4096;
        } else {
            ok = !win_call(FS_READ_WIN, ino, off, 4096, wat, &got, false) && got == 4096;
            for (uint32_t j = 0; j < 4096 && ok; j++) ok = win[wat + j] == model[off + j];
        }
    }
    ok = ok && !fsync(ino);
    rt_printf("fsbulk: 300 random 4 KiB reads and writes in %lu ms\n", ms_since(me, t0));
    ok = ok && get(ino, 0, FILE_BYTES, FS_WIN_MAX, 0, NULL);
    check(ok, "FSB-0007", "random 4 KiB writes and reads at random window offsets agree", "%lu", ok,
          0);

#ifdef FS_CRASH
    // FSB-0009: while fs and blk crash, whole files rewritten and fsynced; each checked later
    uint64_t rf = 0, rb = 0, rounds = 0, bad = 0;
    static uint64_t sums[MAX_ROUNDS];
    while ((rf < MIN_FS_RESTARTS || rb < MIN_BLK_RESTARTS) && rounds < MAX_ROUNDS) {
        char p[] = "/c000";
        p[2] = (char)('0' + rounds / 100 % 10), p[3] = (char)('0' + rounds / 10 % 10),
        p[4] = (char)('0' + rounds % 10);
        uint32_t len = 100000 + (uint32_t)(rnd() % 300000);
        for (uint32_t j = 0; j < len; j++) model[j] = (uint8_t)rnd();
        uint32_t fino = 0;
        if (path_op(FS_CREATE, 0100644, p, &r) == RS_OK) fino = (uint32_t)r.w[1];
        if (!fino || !put(fino, 0, len) || fsync(fino)) bad++;
        sums[rounds] = fnv(model, len) ^ len;
        rounds++;
        registry_restarts("fs", &rf, NULL), registry_restarts("blk", &rb, NULL);
    }
    rt_printf("fsbulk: %lu files while fs restarted %lu times, blk %lu\n", rounds, rf, rb);
    check(rf >= MIN_FS_RESTARTS && rb >= MIN_BLK_RESTARTS, "FSB-0008",
          "fs and blk were crashed and restarted while the files were written", "fs %lu, blk %lu",
          rf, rb);
    for (uint64_t i = 0; i < rounds; i++) {
        char p[] = "/c000";
        p[2] = (char)('0' + i / 100 % 10), p[3] = (char)('0' + i / 10 % 10),
        p[4] = (char)('0' + i % 10);
        ipc_msg_t q = {0};
        uint64_t n = 5;
        q.label = FS_LOOKUP, q.w[1] = n;
        pack(&q, 2, p, n);
        if (call(&q, &r)) {
            bad++;
            continue;
        }
        uint32_t fino = (uint32_t)r.w[1], len = (uint32_t)r.w[3];
        uint64_t fh = 0xcbf29ce484222325ull;
        if (len > FILE_BYTES || !get(fino, 0, len, CALL, 0, &fh) || (fh ^ len) != sums[i]) bad++;
    }
    check(bad == 0, "FSB-0009", "every file whose fsync returned has its size and checksum",
          "%lu bad of %lu", bad, rounds);
#endif
    check(failures == 0, "FSB-0010", "no call that had to succeed failed", "%lu failures", failures,
          0);
    check_done();
    ipc_shutdown(me);
}
