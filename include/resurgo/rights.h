/* SPDX-License-Identifier: MIT */
/* Capability access rights (Mint and Mutate can only remove them). */
#pragma once

#define RS_RIGHT_READ  (1u << 0) /* Recv on endpoints/notifications; read mappings */
#define RS_RIGHT_WRITE (1u << 1) /* Send/Signal; writable mappings */
#define RS_RIGHT_GRANT (1u << 2) /* may transfer caps through an endpoint */
#define RS_RIGHT_EXEC  (1u << 3) /* executable mappings (NX clear) */
#define RS_RIGHTS_ALL  0xFu

/* Mapping attributes for Frame_Map (cache behaviour). */
#define RS_ATTR_DEFAULT      0 /* write-back */
#define RS_ATTR_UNCACHED     1 /* device memory (MMIO) */
#define RS_ATTR_WRITECOMBINE 2
