// SPDX-License-Identifier: MIT
// The ATA registers through the I/O port caps init gave (proto/init.h: the command block in
// IPC_SLOT_IOPORT, the control port in IPC_SLOT_IOPORT_CTL, the bus master in IPC_SLOT_IOPORT_BM)
// and the TSC as the clock: the ata_ops of the real driver.
#include "ata_port.h"
#include "ipc.h"
#include "invoke_stubs.h"

static const ipc_device_info_t *info(void)
{
    return (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
}

/* The cap and port of register r. */
static rs_cptr_t where(enum ata_reg r, uint16_t *port)
{
    const ipc_device_info_t *d = info();
    if (r <= ATA_R_STATUS) {
        *port = (uint16_t)(d->io_base + r);
        return IPC_SLOT_IOPORT;
    }
    if (r == ATA_R_CTL) {
        *port = (uint16_t)d->ctl_port;
        return IPC_SLOT_IOPORT_CTL;
    }
    static const uint8_t bm_off[] = {0, 2, 4}; // command, status, table (PIIX4 2.7)
    *port = (uint16_t)(d->bm_base + bm_off[r - ATA_R_BM_CMD]);
    return IPC_SLOT_IOPORT_BM;
}

static uint32_t port_in(void *ctx, enum ata_reg r, unsigned width)
{
    uint16_t port;
    rs_cptr_t cap = where(r, &port);
    uint32_t v = 0xFFFFFFFFu; // what a bus without the device reads
    ps_ioport_in(cap, width, port, &v);
    return width == 4 ? v : v & ((1u << (8 * width)) - 1);
}

static void port_out(void *ctx, enum ata_reg r, unsigned width, uint32_t v)
{
    uint16_t port;
    rs_cptr_t cap = where(r, &port);
    ps_ioport_out(cap, width, port, v);
}

static uint64_t tsc_us(void *ctx)
{
    const ipc_control_t *c = (const ipc_control_t *)IPC_CONTROL_VADDR;
    uint64_t per_ms = c->tsc_per_ms ? c->tsc_per_ms : 1000000;
    return rt_rdtsc() / (per_ms / 1000 ? per_ms / 1000 : 1);
}

const struct ata_ops ata_port_ops = {port_in, port_out, tsc_us, NULL};
