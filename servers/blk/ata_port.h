/* SPDX-License-Identifier: MIT */
/* The ATA registers as init handed them to this driver (ata_port.c). */
#pragma once
#include "ata.h"

/* Register access through IPC_SLOT_IOPORT / _CTL / _BM and the info page's ports; the clock is
 * the TSC at the control page's rate. */
extern const struct ata_ops ata_port_ops;
