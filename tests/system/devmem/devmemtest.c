// SPDX-License-Identifier: MIT
// system-devmem's program, run as two servers (manifest.txt): devdrv, the e1000's driver, reads
// and writes its registers through BAR 0 as init mapped it (Intel 8254x Family of Gigabit
// Ethernet Controllers Software Developer's Manual, 13.4); devplain, without a device, touches
// the same address and must fault (run.py --expect matches init's line).
#include "ipc.h"
#include "check.h"

#define E1000_STATUS 0x0008 /* 13.4.2: bit 0 FD, bit 1 LU (link up) */
#define E1000_RCTL   0x0100 /* 13.4.22: receive control, read/write */
#define E1000_RAL0   0x5400 /* 13.4.62: receive address low, the MAC's first four bytes */
#define E1000_RAH0   0x5404 /* the last two, bit 31 AV (address valid) */

static volatile uint32_t *regs;

static uint32_t rd(unsigned off) { return regs[off / 4]; }
static void wr(unsigned off, uint32_t v) { regs[off / 4] = v; }

int main(void *arg)
{
    const ipc_control_t *ctl = (const ipc_control_t *)IPC_CONTROL_VADDR;
    regs = (volatile uint32_t *)IPC_DEVICE_BAR_VADDR(0);
    if (memcmp(ctl->name, "devplain", 9) == 0) {
        (void)rd(E1000_STATUS); // no device: nothing is mapped here, this faults
        rt_printf("[devplain] BAR 0 address readable without a device\n");
        return 1;
    }
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    check_plan(5);
    bool have = info->magic == IPC_DEVICE_MAGIC && info->vendor == 0x8086 && info->device == 0x100e;
    check(have, "DEVMEM-0001", "init gave devdrv the e1000 (8086:100e)", "vendor %lx device %lx",
          info->vendor, info->device);
    const ipc_bar_info_t *b = &info->bar[0];
    // 8254x manual 4.1: the register space (BAR 0) is 128 KiB; QEMU's e1000 has the same
    bool mapped =
        have && b->size == 0x20000 && b->mapped == b->size && b->paddr && b->paddr < (1ul << 32);
    check(mapped, "DEVMEM-0002", "BAR 0 (128 KiB, below 4 GiB) is mapped whole",
          "size %lx mapped %lx", b->size, b->mapped);
    if (!mapped) {
        check_done();
        ipc_shutdown(ctl);
    }
    uint32_t status = rd(E1000_STATUS);
    check(status != 0xFFFFFFFFu && (status & 3) == 3, "DEVMEM-0003",
          "STATUS says full duplex and link up (QEMU's user network is connected)",
          "status %lx %lu", status, 0);
    // QEMU gives the first NIC the MAC 52:54:00:12:34:56, stored in RAL0/RAH0 with AV set
    uint32_t ral = rd(E1000_RAL0), rah = rd(E1000_RAH0);
    check(ral == 0x12005452u && rah == 0x80005634u, "DEVMEM-0004",
          "RAL0/RAH0 hold QEMU's MAC 52:54:00:12:34:56, address valid", "ral %lx rah %lx", ral,
          rah);
    // a read/write register keeps what was written (receiver left disabled: EN, bit 1, is 0)
    wr(E1000_RCTL, 0x04008020u); // SECRC | BAM | LPE
    uint32_t r1 = rd(E1000_RCTL);
    wr(E1000_RCTL, 0);
    uint32_t r2 = rd(E1000_RCTL);
    check(r1 == 0x04008020u && r2 == 0, "DEVMEM-0005", "RCTL reads back what was written",
          "read %lx then %lx", r1, r2);
    check_done();
    ipc_shutdown(ctl);
}
