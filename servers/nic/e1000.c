// SPDX-License-Identifier: MIT
// The Intel 82540EM (e1000) through its memory BAR 0: legacy receive and transmit descriptor
// rings in DMA memory (PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's
// Manual, 317453, "SDM" below: 3.2 receive, 3.3 transmit, 13 registers).
#include "nic.h"
#include "proto/net.h"

/* Registers (SDM 13.4). */
#define CTRL   0x0000
#define STATUS 0x0008
#define EERD   0x0014
#define ICR    0x00C0
#define IMS    0x00D0
#define IMC    0x00D8
#define RCTL   0x0100
#define TCTL   0x0400
#define TIPG   0x0410
#define RDBAL  0x2800
#define RDBAH  0x2804
#define RDLEN  0x2808
#define RDH    0x2810
#define RDT    0x2818
#define TDBAL  0x3800
#define TDBAH  0x3804
#define TDLEN  0x3808
#define TDH    0x3810
#define TDT    0x3818
#define MTA    0x5200
#define RAL0   0x5400
#define RAH0   0x5404

#define CTRL_ASDE  (1u << 5)
#define CTRL_SLU   (1u << 6)
#define CTRL_RST   (1u << 26)
#define STATUS_LU  (1u << 1)
#define EERD_START (1u << 0)
#define EERD_DONE  (1u << 4)
#define RAH_AV     (1u << 31)

#define ICR_TXDW   0x01
#define ICR_LSC    0x04
#define ICR_RXSEQ  0x08
#define ICR_RXDMT0 0x10
#define ICR_RXO    0x40
#define ICR_RXT0   0x80

#define RCTL_EN    (1u << 1)
#define RCTL_BAM   (1u << 15) /* broadcasts accepted */
#define RCTL_UPE   (1u << 3)  /* promiscuous: the uplink carries every guest's MAC */
#define RCTL_MPE   (1u << 4)
#define RCTL_SECRC (1u << 26) /* the FCS stripped; BSIZE 00: 2048-byte buffers */
#define TCTL_EN    (1u << 1)
#define TCTL_PSP   (1u << 3)
#define TCTL_CT    (0x10u << 4)                /* collision threshold (SDM 13.4.33) */
#define TCTL_COLD  (0x40u << 12)               /* collision distance, full duplex */
#define TIPG_VALUE (10u | 8u << 10 | 6u << 20) /* IPGT 10, IPGR1 8, IPGR2 6 (SDM 13.4.34) */

#define RX_DD   0x01 /* descriptor done */
#define RX_EOP  0x02 /* end of packet */
#define TX_EOP  0x01
#define TX_IFCS 0x02 /* the device appends the FCS */
#define TX_RS   0x08 /* report status: DD is written back */
#define TX_DD   0x01

/* DMA memory: the two rings (16 bytes a descriptor, 128-byte multiples, SDM 3.2.6), then the
 * buffers. */
#define RX_RING    0x0000u
#define TX_RING    0x0400u
#define RX_BUF_OFF 0x1000u
#define TX_BUF_OFF (RX_BUF_OFF + NIC_RX_BUFS * NIC_BUF_SIZE)

struct rx_desc {
    uint64_t addr;
    uint16_t length, csum;
    uint8_t status, errors;
    uint16_t special;
};
struct tx_desc {
    uint64_t addr;
    uint16_t length;
    uint8_t cso, cmd, status, css;
    uint16_t special;
};
_Static_assert(sizeof(struct rx_desc) == 16 && sizeof(struct tx_desc) == 16, "SDM 3.2.3, 3.3.3");
_Static_assert(NIC_RX_BUFS * 16 <= TX_RING - RX_RING && NIC_TX_BUFS * 16 <= RX_BUF_OFF - TX_RING,
               "the rings fit");

static uint32_t rd(struct nic *n, uint32_t reg) { return n->regs.read(n->regs.ctx, 4, reg); }
static void wr(struct nic *n, uint32_t reg, uint32_t x) { n->regs.write(n->regs.ctx, 4, reg, x); }

static volatile struct rx_desc *rxd(struct nic *n, unsigned i)
{
    return (volatile struct rx_desc *)(n->dma + RX_RING) + i;
}
static volatile struct tx_desc *txd(struct nic *n, unsigned i)
{
    return (volatile struct tx_desc *)(n->dma + TX_RING) + i;
}

uint64_t nic_dev_dma_bytes(void) { return TX_BUF_OFF + NIC_TX_BUFS * NIC_BUF_SIZE; }
const char *nic_dev_name(void) { return "e1000"; }

static void read_link(struct nic *n)
{
    bool up = rd(n, STATUS) & STATUS_LU;
    n->status = (n->status & ~NIC_STATUS_LINK) | (up ? NIC_STATUS_LINK : 0);
}

/* EEPROM word `addr` through EERD (SDM 13.4.4); false if the read never finishes. */
static bool eeprom(struct nic *n, unsigned addr, uint16_t *out)
{
    wr(n, EERD, EERD_START | addr << 8);
    for (unsigned i = 0; i < 100000; i++) {
        uint32_t v = rd(n, EERD);
        if (v & EERD_DONE) {
            *out = (uint16_t)(v >> 16);
            return true;
        }
    }
    return false;
}

static void give_rx(struct nic *n, unsigned i)
{
    volatile struct rx_desc *d = rxd(n, i);
    d->addr = n->dma_paddr + RX_BUF_OFF + i * NIC_BUF_SIZE;
    d->status = 0;
}

int nic_dev_init(struct nic *n)
{
    struct nic_regs regs = n->regs;
    uint8_t *dma = n->dma;
    uint64_t paddr = n->dma_paddr, size = n->dma_size;
    *n = (struct nic){.regs = regs, .dma = dma, .dma_paddr = paddr, .dma_size = size};
    if (size < nic_dev_dma_bytes()) return RS_NOT_SUPPORTED;
    wr(n, IMC, ~0u);
    wr(n, CTRL, rd(n, CTRL) | CTRL_RST); // the device forgets a previous instance's rings
    unsigned spin = 0;
    while ((rd(n, CTRL) & CTRL_RST) && ++spin < 1000000) {
    }
    if (spin == 1000000) return RS_BUSY;
    wr(n, IMC, ~0u); // the reset turned nothing on, but be sure (SDM 14.4)
    rd(n, ICR);
    // the MAC: the EEPROM loads it into receive address 0 at reset (SDM 5.6.1); else read it
    uint32_t ral = rd(n, RAL0), rah = rd(n, RAH0);
    if (!(rah & RAH_AV)) {
        uint16_t w[3];
        for (unsigned i = 0; i < 3; i++)
            if (!eeprom(n, i, &w[i])) return RS_BUSY;
        ral = w[0] | (uint32_t)w[1] << 16;
        rah = w[2];
        wr(n, RAL0, ral);
        wr(n, RAH0, rah | RAH_AV);
    }
    for (unsigned i = 0; i < 4; i++) n->mac[i] = (uint8_t)(ral >> (8 * i));
    n->mac[4] = (uint8_t)rah, n->mac[5] = (uint8_t)(rah >> 8);
    for (unsigned i = 0; i < 128; i++) wr(n, MTA + 4 * i, 0);
    wr(n, CTRL, (rd(n, CTRL) | CTRL_SLU | CTRL_ASDE) & ~CTRL_RST);

    for (uint32_t i = 0; i < RX_BUF_OFF; i++) dma[i] = 0;
    for (unsigned i = 0; i < NIC_RX_BUFS; i++) give_rx(n, i);
    wr(n, RDBAL, (uint32_t)(paddr + RX_RING));
    wr(n, RDBAH, (uint32_t)((paddr + RX_RING) >> 32));
    wr(n, RDLEN, NIC_RX_BUFS * 16);
    wr(n, RDH, 0);
    wr(n, RDT, NIC_RX_BUFS - 1); // the device owns RDH..RDT-1: one descriptor stays ours
    wr(n, TDBAL, (uint32_t)(paddr + TX_RING));
    wr(n, TDBAH, (uint32_t)((paddr + TX_RING) >> 32));
    wr(n, TDLEN, NIC_TX_BUFS * 16);
    wr(n, TDH, 0);
    wr(n, TDT, 0);
    wr(n, TIPG, TIPG_VALUE);
    wr(n, TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
    wr(n, RCTL, RCTL_EN | RCTL_UPE | RCTL_MPE | RCTL_BAM | RCTL_SECRC);
    wr(n, IMS, ICR_TXDW | ICR_LSC | ICR_RXSEQ | ICR_RXDMT0 | ICR_RXO | ICR_RXT0);
    read_link(n);
    n->status |= NIC_STATUS_UP;
    return RS_OK;
}

bool nic_dev_irq(struct nic *n)
{
    uint32_t icr = rd(n, ICR); // reading clears it and lowers the line (SDM 13.4.17)
    n->st.irqs++;
    if (!(icr & (ICR_LSC | ICR_RXSEQ))) return false;
    uint32_t before = n->status;
    read_link(n);
    if (before == n->status) return false;
    n->st.link_changes++;
    return true;
}

bool nic_dev_rx_pending(struct nic *n) { return rxd(n, n->e.rx_next)->status & RX_DD; }

int nic_dev_rx(struct nic *n, uint8_t *out, uint32_t *out_len)
{
    // descriptors come back in order (SDM 3.2.6): the one at rx_next is the next to finish
    for (;;) {
        unsigned i = n->e.rx_next;
        volatile struct rx_desc *d = rxd(n, i);
        uint8_t status = d->status;
        if (!(status & RX_DD)) return RS_WOULD_BLOCK;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint32_t len = d->length; // read once, then checked
        uint8_t errors = d->errors;
        bool good = (status & RX_EOP) && !errors && len >= NET_MIN_FRAME && len <= NET_MAX_FRAME;
        if (good) {
            const uint8_t *src = n->dma + RX_BUF_OFF + i * NIC_BUF_SIZE;
            for (uint32_t k = 0; k < len; k++) out[k] = src[k];
        }
        // back to the device: it owns everything up to RDT, exclusive (SDM 3.2.6)
        give_rx(n, i);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        wr(n, RDT, i);
        n->e.rx_next = (i + 1) % NIC_RX_BUFS;
        if (!good) {
            n->st.rx_bad++; // a runt, a giant, a split frame or an error the device saw
            continue;
        }
        *out_len = len;
        n->st.rx++;
        return RS_OK;
    }
}

unsigned nic_dev_tx_reclaim(struct nic *n)
{
    // in order too (SDM 3.3.3.2): DD on the oldest one in flight frees it
    while (n->e.tx_clean != n->e.tx_tail && (txd(n, n->e.tx_clean)->status & TX_DD))
        n->e.tx_clean = (n->e.tx_clean + 1) % NIC_TX_BUFS;
    return (n->e.tx_tail - n->e.tx_clean + NIC_TX_BUFS) % NIC_TX_BUFS;
}

int nic_dev_tx(struct nic *n, const uint8_t *frame, uint32_t len)
{
    if (len < NET_MIN_FRAME || len > NET_MAX_FRAME) {
        n->st.tx_bad++;
        return RS_INVALID_ARGUMENT;
    }
    unsigned next = (n->e.tx_tail + 1) % NIC_TX_BUFS;
    if (next == n->e.tx_clean) nic_dev_tx_reclaim(n);
    if (next == n->e.tx_clean) { // one descriptor stays free: TDT == TDH means empty
        n->st.tx_full++;
        return RS_WOULD_BLOCK;
    }
    unsigned i = n->e.tx_tail;
    uint8_t *buf = n->dma + TX_BUF_OFF + i * NIC_BUF_SIZE;
    for (uint32_t k = 0; k < len; k++) buf[k] = frame[k];
    volatile struct tx_desc *d = txd(n, i);
    d->addr = n->dma_paddr + TX_BUF_OFF + i * NIC_BUF_SIZE;
    d->length = (uint16_t)len; // the device pads short frames (TCTL.PSP)
    d->cso = 0, d->css = 0, d->special = 0, d->status = 0;
    d->cmd = TX_EOP | TX_IFCS | TX_RS;
    n->e.tx_tail = next;
    n->st.tx++;
    return RS_OK;
}

void nic_dev_kick(struct nic *n)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST); // descriptors before the tail (SDM 3.3.1)
    wr(n, TDT, n->e.tx_tail);
}
