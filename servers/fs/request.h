/* SPDX-License-Identifier: MIT */
/* fs requests (request.c): one proto/fs.h request against a mounted file system. */
#pragma once
#include "ext2.h"
#include "ipc.h"

/* Checks req of client (its badge) and carries it out on fs: fills reply->w[1..] and
 * reply->len and returns the rs_error for the reply's label (proto/fs.h lists them). A request
 * that changes the disk is recorded with its id in the same transaction, so that its retry
 * after a crash of fs (same id) gets the first reply instead of running again. */
int fs_request(struct ext2_fs *fs, uint32_t client, const ipc_msg_t *req, ipc_msg_t *reply);
/* Whether reply is as the last fs_request left it (its label the returned rs_error): checked
 * just before it is sent, since a stray write into the stack may have changed it meanwhile. */
bool fs_reply_intact(const ipc_msg_t *reply);

/* The data window of client (a badge below FS_WINDOWS): size bytes at base, which FS_READ_WIN
 * and FS_WRITE_WIN of that client address; base NULL: none. RS_INVALID_ARGUMENT for a badge
 * out of range. */
#define FS_WINDOWS 32u
int fs_window_set(uint32_t client, void *base, uint64_t size);
