/* SPDX-License-Identifier: MIT */
/* The block-device protocol: requests on a channel (libipc/channel.h) whose server is a block
 * driver (servers/blk). A request: op CHAN_OP_READ / CHAN_OP_WRITE / CHAN_OP_FLUSH, offset = the
 * first 512-byte sector, data_offset/len = the bytes in the channel's data area (len a multiple
 * of 512, at most BLK_MAX_REQUEST; a flush has no data). Its completion has the same id, op,
 * offset, data_offset and len, and status: RS_OK; RS_ILLEGAL_OPERATION (unknown op);
 * RS_INVALID_ARGUMENT (id 0, bad len); RS_BAD_ADDRESS (data outside the data area);
 * RS_RANGE_ERROR (beyond the disk); BLK_STATUS_IO_ERROR (the device failed it); RS_NOT_SUPPORTED
 * (the device cannot flush). A special request, op BLK_OP_INFO (no data), completes with the
 * disk's size in sectors in `offset`. */
#pragma once
#include "libipc/channel.h"

#define BLK_MAX_REQUEST     (64u * 1024u)
#define BLK_OP_INFO         16
#define BLK_STATUS_IO_ERROR 0x100u
