/* SPDX-License-Identifier: MIT */
/* Devices and channels: init finds the PCI devices the manifest's drivers name (device=), makes
 * the channels the manifest declares, and gives each instance of a server exactly its share
 * (proto/init.h). Everything is made once, before the first start, and kept by init. */
#pragma once
#include "init.h"

/* Scans PCI, then for each server with device= claims its device (I/O BAR, IRQ line, DMA
 * memory) and makes every channel of the manifest. Needs every server set up (their ping
 * notifications). A server whose device or channel cannot be made is logged and given up. */
void device_setup(void);
/* Gives instance p of server s its devices and channels (info page, IOPort, IRQ handler, DMA and
 * channel memory, signal caps); RS_OK for a server that has none. */
int device_give(struct server *s, ps_process_t *p);
/* How many of server `index`'s channels hold something it owes: requests not released (its
 * server end) or completions not consumed (its client end), where that ring's tail did not move
 * since the last call (a busy consumer owes nothing yet). For init's tick (owed_check). */
unsigned device_owed(unsigned index);
/* Creator slots an instance needs for that (one per shared page). */
unsigned device_extra_slots(const struct server *s);
/* The shell's `pci`: the functions found. */
void device_list(void);
