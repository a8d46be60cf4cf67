// SPDX-License-Identifier: MIT
// fs requests: each IPC request of proto/fs.h checked (lengths, counts, NULs, words present)
// and then carried out by the ext2 library; the error of the library travels in w[1].
#include "request.h"

#include "common/kstring.h"
#include "ext2_int.h"
#include "proto/fs.h"

/* The running request's inputs, each with a checksum taken when it arrived or was unpacked:
 * the message, and the paths and data copied out of it. A stray write into fs's stack while the
 * operation waits for the disk (issue 15's `corrupt`) would otherwise be carried out as if the
 * client had asked for it: a write to another inode, a rename of another name, its bytes with a
 * bit flipped. They are verified before every commit (ext2_fs.intact) and before the reply;
 * a mismatch crashes fs (ext2_cache_corrupt), and the client's retry runs on the next instance
 * (answered from the reply table if the operation had committed). */
#define GUARDS 6
static struct {
    const void *p;
    size_t n;
    uint64_t sum;
} guard[GUARDS];
static unsigned guards;
static uint64_t reply_sum;
/* What the running change must have done (ext2_post.c checks it before the commit). */
static struct ext2_post post;

static uint64_t bytes_sum(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void guard_add(const void *p, size_t n)
{
    if (guards == GUARDS) return;
    guard[guards].p = p;
    guard[guards].n = n;
    guard[guards].sum = bytes_sum(p, n);
    guards++;
}

static bool inputs_intact(void *ctx)
{
    (void)ctx;
    for (unsigned i = 0; i < guards && i < GUARDS; i++)
        if (bytes_sum(guard[i].p, guard[i].n) != guard[i].sum) return false;
    return true;
}

static uint64_t msg_sum(const ipc_msg_t *m)
{
    unsigned len = m->len < IPC_MAX_WORDS ? m->len : IPC_MAX_WORDS;
    return bytes_sum(m->w, len * sizeof m->w[0]) ^ m->label * 0x9E3779B97F4A7C15ull ^ m->len;
}

bool fs_reply_intact(const ipc_msg_t *reply) { return msg_sum(reply) == reply_sum; }

// An ext2 error as the reply: the rs_error class as the label, the errno itself in w[1].
static int fail(ipc_msg_t *reply, int64_t e)
{
    reply->w[1] = (rs_word_t)e;
    reply->len = 2;
    switch (e) {
    case EXT2_ENOENT: return RS_NOT_FOUND;
    case EXT2_ENOSPC:
    case EXT2_ENOMEM: return RS_NOT_ENOUGH_MEMORY;
    case EXT2_EFBIG: return RS_RANGE_ERROR;
    case EXT2_EBUSY: return RS_BUSY;
    case EXT2_EIO:
    case EXT2_EROFS:
    case EXT2_EUCLEAN: return RS_ILLEGAL_OPERATION;
    default: return RS_INVALID_ARGUMENT;
    }
}

// Bytes packed little endian from word `first` on: len bytes into out (NUL-terminated when
// str). False if the message is too short for them.
static bool unpack(const ipc_msg_t *m, unsigned first, uint64_t len, uint8_t *out, bool str)
{
    if (len > FS_INLINE_MAX || first + (len + 7) / 8 > m->len) return false;
    for (uint64_t i = 0; i < len; i++) out[i] = (uint8_t)(m->w[first + i / 8] >> (8 * (i % 8)));
    if (str) out[len] = 0;
    return true;
}

static void pack(ipc_msg_t *m, unsigned first, const uint8_t *in, uint64_t len)
{
    for (uint64_t i = 0; i < (len + 7) / 8; i++) m->w[first + i] = 0;
    for (uint64_t i = 0; i < len; i++) m->w[first + i / 8] |= (rs_word_t)in[i] << (8 * (i % 8));
    m->len = first + (unsigned)((len + 7) / 8);
}

// A path argument: length in w[at], bytes from w[at + 1]; a NUL inside is refused.
static int path_arg(const ipc_msg_t *req, unsigned at, char *out)
{
    if (req->len <= at) return RS_TRUNCATED_MESSAGE;
    uint64_t len = req->w[at];
    if (len == 0 || len > FS_PATH_MAX) return RS_INVALID_ARGUMENT;
    if (!unpack(req, at + 1, len, (uint8_t *)out, true)) return RS_TRUNCATED_MESSAGE;
    if (strlen(out) != len) return RS_INVALID_ARGUMENT;
    guard_add(out, len + 1);
    return RS_OK;
}

// The running change's post-condition, from the request and the copies made of it (guarded).
static void expect(struct ext2_fs *fs, struct ext2_post p)
{
    post = p;
    guard_add(&post, sizeof post);
    fs->post = &post;
}

// The clients' data windows by badge (fs_window_set).
static struct {
    uint8_t *base;
    uint64_t size;
} windows[FS_WINDOWS];

int fs_window_set(uint32_t client, void *base, uint64_t size)
{
    if (client >= FS_WINDOWS) return RS_INVALID_ARGUMENT;
    windows[client].base = base;
    windows[client].size = base ? size : 0;
    return RS_OK;
}

// FS_READ_WIN / FS_WRITE_WIN: every argument checked against the client's own window before
// the library sees a byte of it.
static int window_op(struct ext2_fs *fs, uint32_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    if (req->len < 5) return RS_TRUNCATED_MESSAGE;
    if (client >= FS_WINDOWS || !windows[client].base) {
        reply->w[1] = 0;
        reply->len = 2;
        return RS_ILLEGAL_OPERATION;
    }
    uint64_t len = req->w[3], at = req->w[4], size = windows[client].size;
    if (len > FS_WIN_MAX) return RS_INVALID_ARGUMENT;
    if (at > size || len > size - at) return RS_BAD_ADDRESS;
    if (req->w[1] > UINT32_MAX) return fail(reply, EXT2_ENOENT);
    uint8_t *buf = windows[client].base + at;
    if (req->label == FS_WRITE_WIN)
        expect(fs, (struct ext2_post){.op = EXT2_POST_WRITE,
                                      .ino = (uint32_t)req->w[1],
                                      .off = req->w[2],
                                      .len = len,
                                      .data = buf});
    int64_t n = req->label == FS_READ_WIN
                    ? ext2_read(fs, (uint32_t)req->w[1], req->w[2], buf, (uint32_t)len)
                    : ext2_write(fs, (uint32_t)req->w[1], req->w[2], buf, (uint32_t)len);
    if (n < 0) return fail(reply, n);
    reply->w[1] = (rs_word_t)n;
    reply->len = 2;
    return RS_OK;
}

/* The paths and data unpacked from the request: in fs_request's frame, where their guards stay
 * valid until the reply is made (a dead frame of dispatch would be reused by the calls after). */
struct copies {
    char a[FS_INLINE_MAX + 1], b[FS_INLINE_MAX + 1];
    uint8_t data[FS_INLINE_MAX];
};

static int dispatch(struct ext2_fs *fs, uint32_t client, const ipc_msg_t *req, ipc_msg_t *reply,
                    struct copies *c)
{
    char *a = c->a, *b = c->b;
    uint8_t *data = c->data;
    int rc;
    switch (req->label) {
    case FS_LOOKUP: {
        uint32_t ino;
        struct ext2_stat st;
        if ((rc = path_arg(req, 1, a)) != RS_OK) return rc;
        if ((rc = ext2_lookup(fs, a, &ino)) < 0 || (rc = ext2_stat(fs, ino, &st)) < 0)
            return fail(reply, rc);
        reply->w[1] = ino;
        reply->w[2] = st.mode;
        reply->w[3] = st.size;
        reply->len = 4;
        return RS_OK;
    }
    case FS_STAT: {
        struct ext2_stat st;
        if (req->len < 2) return RS_TRUNCATED_MESSAGE;
        if (req->w[1] > UINT32_MAX) return fail(reply, EXT2_ENOENT);
        if ((rc = ext2_stat(fs, (uint32_t)req->w[1], &st)) < 0) return fail(reply, rc);
        reply->w[1] = st.mode;
        reply->w[2] = st.size;
        reply->w[3] = st.links;
        reply->w[4] = st.mtime;
        reply->w[5] = st.generation;
        reply->len = 6;
        return RS_OK;
    }
    case FS_READ: {
        if (req->len < 4) return RS_TRUNCATED_MESSAGE;
        if (req->w[3] > FS_READ_MAX) return RS_INVALID_ARGUMENT;
        if (req->w[1] > UINT32_MAX) return fail(reply, EXT2_ENOENT);
        int64_t n = ext2_read(fs, (uint32_t)req->w[1], req->w[2], data, (uint32_t)req->w[3]);
        if (n < 0) return fail(reply, n);
        reply->w[1] = (rs_word_t)n;
        pack(reply, 2, data, (uint64_t)n);
        return RS_OK;
    }
    case FS_WRITE: {
        if (req->len < 4) return RS_TRUNCATED_MESSAGE;
        if (req->w[3] > FS_WRITE_MAX) return RS_INVALID_ARGUMENT;
        if (!unpack(req, 4, req->w[3], data, false)) return RS_TRUNCATED_MESSAGE;
        guard_add(data, req->w[3]);
        if (req->w[1] > UINT32_MAX) return fail(reply, EXT2_ENOENT);
        expect(fs, (struct ext2_post){.op = EXT2_POST_WRITE,
                                      .ino = (uint32_t)req->w[1],
                                      .off = req->w[2],
                                      .len = req->w[3],
                                      .data = data});
        int64_t n = ext2_write(fs, (uint32_t)req->w[1], req->w[2], data, (uint32_t)req->w[3]);
        if (n < 0) return fail(reply, n);
        reply->w[1] = (rs_word_t)n;
        reply->len = 2;
        return RS_OK;
    }
    case FS_CREATE:
    case FS_MKDIR: {
        uint32_t ino = 0;
        if (req->len < 2) return RS_TRUNCATED_MESSAGE;
        if ((rc = path_arg(req, 2, a)) != RS_OK) return rc;
        uint32_t mode = (uint32_t)(req->w[1] & 07777);
        expect(fs, (struct ext2_post){.op = req->label == FS_CREATE ? EXT2_POST_CREATE
                                                                    : EXT2_POST_MKDIR,
                                      .a = a,
                                      .mode = mode});
        rc = req->label == FS_CREATE ? ext2_create(fs, a, mode, &ino) : ext2_mkdir(fs, a, mode);
        if (rc < 0) return fail(reply, rc);
        reply->w[1] = ino;
        reply->len = 2;
        return RS_OK;
    }
    case FS_UNLINK:
    case FS_RMDIR:
        if ((rc = path_arg(req, 1, a)) != RS_OK) return rc;
        expect(fs, (struct ext2_post){.op = EXT2_POST_GONE, .a = a});
        rc = req->label == FS_UNLINK ? ext2_unlink(fs, a) : ext2_rmdir(fs, a);
        return rc < 0 ? fail(reply, rc) : RS_OK;
    case FS_RENAME: {
        if (req->len < 3) return RS_TRUNCATED_MESSAGE;
        uint64_t la = req->w[1], lb = req->w[2];
        if (la == 0 || lb == 0 || la > FS_PATH_MAX || lb > FS_PATH_MAX || la + lb > FS_PATH_MAX)
            return RS_INVALID_ARGUMENT;
        uint8_t both[FS_INLINE_MAX];
        if (!unpack(req, 3, la + lb, both, false)) return RS_TRUNCATED_MESSAGE;
        memcpy(a, both, la);
        a[la] = 0;
        memcpy(b, both + la, lb);
        b[lb] = 0;
        if (strlen(a) != la || strlen(b) != lb) return RS_INVALID_ARGUMENT;
        guard_add(a, la + 1);
        guard_add(b, lb + 1);
        // the source's inode before: b must name it after (0: a named nothing, nor may b)
        uint32_t sino = 0;
        if (ext2_lookup(fs, a, &sino) < 0) sino = 0;
        expect(fs, (struct ext2_post){.op = EXT2_POST_RENAME, .a = a, .b = b, .ino = sino});
        rc = ext2_rename(fs, a, b);
        return rc < 0 ? fail(reply, rc) : RS_OK;
    }
    case FS_READDIR: {
        static struct ext2_dirent de;
        if (req->len < 3) return RS_TRUNCATED_MESSAGE;
        if (req->w[1] > UINT32_MAX) return fail(reply, EXT2_ENOENT);
        uint64_t cookie = req->w[2];
        rc = ext2_readdir(fs, (uint32_t)req->w[1], &cookie, &de);
        if (rc < 0) return fail(reply, rc);
        if (rc == 0) return RS_NOT_FOUND;
        reply->w[1] = cookie;
        reply->w[2] = de.ino;
        reply->w[3] = de.type;
        reply->w[4] = de.name_len;
        pack(reply, 5, (const uint8_t *)de.name,
             de.name_len < FS_NAME_INLINE ? de.name_len : FS_NAME_INLINE);
        return RS_OK;
    }
    case FS_TRUNCATE:
        if (req->len < 3) return RS_TRUNCATED_MESSAGE;
        if (req->w[1] > UINT32_MAX) return fail(reply, EXT2_ENOENT);
        expect(fs, (struct ext2_post){
                       .op = EXT2_POST_TRUNCATE, .ino = (uint32_t)req->w[1], .len = req->w[2]});
        rc = ext2_truncate(fs, (uint32_t)req->w[1], req->w[2]);
        return rc < 0 ? fail(reply, rc) : RS_OK;
    case FS_FSYNC:
        if (req->len < 2) return RS_TRUNCATED_MESSAGE;
        if (req->w[1] > UINT32_MAX) return fail(reply, EXT2_ENOENT);
        rc = ext2_fsync(fs, (uint32_t)req->w[1]);
        return rc < 0 ? fail(reply, rc) : RS_OK;
    case FS_READ_WIN:
    case FS_WRITE_WIN: return window_op(fs, client, req, reply);
    default: return RS_ILLEGAL_OPERATION;
    }
}


static bool mutates(rs_word_t op)
{
    return op == FS_WRITE || op == FS_WRITE_WIN || op == FS_CREATE || op == FS_MKDIR ||
           op == FS_UNLINK || op == FS_RMDIR || op == FS_RENAME || op == FS_TRUNCATE;
}

/* A change that committed is answered from its record in the reply table, as its retry
 * would be: the result the operation returned sat on the stack while the commit waited for the
 * disk. r if there is none (the change failed, or changed nothing). */
static bool answered_from_record(struct ext2_fs *fs, uint32_t client, uint64_t id,
                                 const ipc_msg_t *req, ipc_msg_t *reply)
{
    int64_t rc;
    uint64_t value;
    if (ext2_tag_find(fs, client, id, &rc, &value) != 1) return false;
    // mkdir's record holds the new inode too, which its reply does not carry
    reply->w[1] = req->label == FS_MKDIR ? 0 : value;
    reply->len = 2;
    return true;
}

static int from_record(struct ext2_fs *fs, uint32_t client, uint64_t id, const ipc_msg_t *req,
                       ipc_msg_t *reply, int r)
{
    return !fs->broken && answered_from_record(fs, client, id, req, reply) ? RS_OK : r;
}

/* A request that changes nothing runs twice and both answers must agree: its locals (an inode
 * number found, a block number, bytes read) sat on the stack while it waited for the disk.
 * Not FS_READ_WIN (its bytes go to the client's window, and reading it twice costs a second
 * pass over the disk) nor FS_FSYNC (which writes). */
static int read_twice(struct ext2_fs *fs, uint32_t client, const ipc_msg_t *req, ipc_msg_t *reply,
                      struct copies *c)
{
    ipc_msg_t again = *reply;
    int r = dispatch(fs, client, req, reply, c);
    if (req->label == FS_READ_WIN || req->label == FS_FSYNC) return r;
    guards = 2; // the request and the client; dispatch guards its copies again
    int r2 = dispatch(fs, client, req, &again, c);
    unsigned len = reply->len < IPC_MAX_WORDS ? reply->len : IPC_MAX_WORDS;
    if (r2 != r || again.len != reply->len || memcmp(again.w, reply->w, len * sizeof reply->w[0]))
        ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    return r;
}

static int request(struct ext2_fs *fs, uint32_t client, const ipc_msg_t *req, ipc_msg_t *reply,
                   struct copies *c)
{
    uint64_t id = req->len ? req->w[0] : 0;
    if (!mutates(req->label)) return read_twice(fs, client, req, reply, c);
    // done before a crash that lost the reply: answered as the first time
    if (answered_from_record(fs, client, id, req, reply)) return RS_OK;
    ext2_tag(fs, client, id);
    int r = from_record(fs, client, id, req, reply, dispatch(fs, client, req, reply, c));
    // A change that failed changed nothing (its transaction was dropped), and a stray write
    // into the operation's locals (a name's length, an inode copy) can make it fail: it runs
    // once more before the failure is answered, which two independent flips would have to fail
    if (r != RS_OK && !fs->broken) {
        guards = 2; // the request and the client; dispatch guards its copies again
        ext2_tag(fs, client, id);
        r = from_record(fs, client, id, req, reply, dispatch(fs, client, req, reply, c));
    }
    fs->tag_set = false;
    return r;
}

int fs_request(struct ext2_fs *fs, uint32_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    guards = 0;
    guard_add(req, sizeof *req);
    uint32_t client_copy = client;
    guard_add(&client_copy, sizeof client_copy);
    fs->intact = inputs_intact;
    fs->post = NULL;
    struct copies c;
    int r = request(fs, client_copy, req, reply, &c);
    fs->intact = NULL;
    fs->post = NULL;
    // an answer computed from changed inputs (a failed lookup of a flipped name) is no answer
    if (!inputs_intact(NULL)) ext2_cache_corrupt(fs, EXT2_CACHE_BLOCKS);
    guards = 0;
    reply->label = (rs_word_t)r;
    reply_sum = msg_sum(reply);
    return r;
}
