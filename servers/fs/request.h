/* SPDX-License-Identifier: MIT */
/* fs requests (request.c): one proto/fs.h request against a mounted file system. */
#pragma once
#include "ext2.h"
#include "ipc.h"

/* Checks req and carries it out on fs: fills reply->w[1..] and reply->len and returns the
 * rs_error for the reply's label (proto/fs.h lists them). */
int fs_request(struct ext2_fs *fs, const ipc_msg_t *req, ipc_msg_t *reply);
