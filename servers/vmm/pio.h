/* SPDX-License-Identifier: MIT */
/* String port I/O (INS, OUTS, with or without REP): each element between guest memory and a
 * port callback (pio.c). */
#pragma once
#include "mmio.h"

/* A port's side of one access of `size` bytes (1, 2, 4): IN returns the value in *value
 * (bits above `size` bytes are ignored), OUT passes it there. */
typedef void (*pio_access_fn)(void *ctx, uint16_t port, unsigned size, bool in, uint32_t *value);

/* Emulates the string port I/O of exit w (RS_EXIT_IO with RS_IO_QUAL_STRING): its elements at
 * ES:rDI (INS) or seg:rSI (OUTS; DS unless overridden), through the guest's page tables; each
 * element through port(port_ctx, ...), memory outside RAM through dev(dev_ctx, ...). With REP,
 * RCX elements (masked to the address size), at most EMU_REP_MAX per exit: the reply leaves
 * RIP on the instruction until the last. r gets the reply: RCX, RSI, RDI, and the RIP advanced
 * once done; #PF if the first element's page does not translate. */
enum vmm_action pio_string(struct vmm *v, const uint64_t *w, pio_access_fn port, void *port_ctx,
                           mmio_access_fn dev, void *dev_ctx, struct vmm_reply *r);
/* The same with the VMM's MMIO bus (mmio_bus_access) for memory outside RAM. */
enum vmm_action pio_string_exit(struct vmm *v, const uint64_t *w, pio_access_fn port,
                                void *port_ctx, struct vmm_reply *r);
