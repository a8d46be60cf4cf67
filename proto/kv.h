/* SPDX-License-Identifier: MIT */
/* Protocol of the kv server: a small key-value table that survives the server's crashes (the
 * worked example of docs/writing-a-server.md). Requests follow the libipc convention: label =
 * operation, w[0] = request id (set by ipc_call), w[1..] = arguments; the reply's label is an
 * rs_error and w[1..] are the results. */
#pragma once
#include <stdint.h>

enum kv_op {
    KV_PUT = 1, /* w[1] key, w[2] value -> RS_OK (exactly once per request id) */
    KV_GET = 2, /* w[1] key -> w[1] value */
};

/* Errors: RS_TRUNCATED_MESSAGE (too few words), RS_INVALID_ARGUMENT (key 0: it marks a free
 * entry), RS_NOT_FOUND (GET of a key never PUT), RS_NOT_ENOUGH_MEMORY (PUT of a new key into a
 * full table), RS_ILLEGAL_OPERATION (unknown operation). */

#define KV_ENTRIES 64 /* keys the table holds: the 65th distinct key gets RS_NOT_ENOUGH_MEMORY */
