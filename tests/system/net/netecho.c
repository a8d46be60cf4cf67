// SPDX-License-Identifier: MIT
// netecho: the peer at the other end of a NIC driver's link (proto/net.h) in the system-net
// tests. It reflects every frame it receives (destination and source MAC swapped) so the host
// harness (harness.py) sees it come back, reading no more while its own side of the link is
// full (so nothing is lost between the harness's socket and back); first it offers the driver malformed requests, which
// must be refused with RS_INVALID_ARGUMENT. A control frame from the harness (ethertype
// NETECHO_TYPE, payload "STOP" and the harness's counts) ends the run with the checks.
// On a switch port (any link but NET_UPLINK: system-net-switch*) its MAC is the port's bound
// net_link_mac, and it also sends one frame with a foreign source MAC, which the switch must
// refuse with RS_INSUFFICIENT_RIGHTS (NETECHO-0004); a control frame "SHOW" makes it print a
// line on which the test types init's `net`.
#include "ipc.h"
#include "check.h"
#include "proto/net.h"

#define NETECHO_TYPE 0x88B5u /* IEEE 802 local experimental ethertype */
#define NBAD         7u

static uint8_t my_mac[NET_MAC_LEN] = {0x02, 0x52, 0x53, 0x45, 0x43, 0x48};
static bool on_switch;
static uint64_t spoof_id, spoof_status = ~0ull;

static net_link_index_t link;
static uint8_t *txc, *rxc;
static chan_producer_t out_req;
static chan_consumer_t out_comp, in_req;
static chan_producer_t in_comp;
static uint64_t next_id = 1, reflected, dropped, refused_frames, other_status;
static uint64_t bad_ids[NBAD], bad_refused, bad_wrong;

/* Completions of what we sent: the malformed requests' must say RS_INVALID_ARGUMENT (a driver
 * that restarted may complete one twice: the first answer counts). */
static void reap(void)
{
    chan_desc_t d;
    while (chan_consume(&out_comp, &d) == RS_OK) {
        chan_release(&out_comp);
        bool bad = false;
        for (unsigned i = 0; i < NBAD; i++)
            if (bad_ids[i] && bad_ids[i] == d.id) {
                bad_ids[i] = 0;
                bad = true;
                if (d.status == RS_INVALID_ARGUMENT) bad_refused++;
                else bad_wrong++;
            }
        if (bad) continue;
        if (spoof_id && d.id == spoof_id) {
            spoof_id = 0;
            spoof_status = d.status;
            continue;
        }
        if (d.status == NET_STATUS_DROPPED) dropped++;
        else if (d.status != RS_OK) other_status++;
    }
}

/* Sends one request as given (data_offset and len unchecked: the malformed ones too). */
static bool send(uint32_t op, uint64_t id, uint32_t data_offset, uint32_t len)
{
    chan_desc_t d = {.id = id, .op = op, .data_offset = data_offset, .len = len};
    return chan_produce(&out_req, &d) == RS_OK;
}

static void send_bad(void)
{
    static const struct {
        uint32_t op, len, off_delta;
        bool zero_id;
    } bad[NBAD] = {
        {NET_OP_FRAME, 0, 0, false},    {NET_OP_FRAME, 13, 0, false},
        {NET_OP_FRAME, 1519, 0, false}, {NET_OP_FRAME, 0xFFFFFFFFu, 0, false},
        {NET_OP_FRAME, 60, 64, false},  {CHAN_OP_READ, 60, 0, false},
        {NET_OP_FRAME, 60, 0, true},
    };
    for (unsigned i = 0; i < NBAD; i++) {
        uint32_t off = NET_BUF_OFFSET(out_req.head) + bad[i].off_delta;
        memset(chan_data(txc) + NET_BUF_OFFSET(out_req.head), 0xEE, 64);
        uint64_t id = bad[i].zero_id ? 0 : next_id++;
        if (send(bad[i].op, id, off, bad[i].len)) bad_ids[i] = id;
    }
    // the id-0 request is answered with id 0: count it by its slot instead
    bad_ids[NBAD - 1] = 0;
    if (!on_switch) return;
    // a well-formed broadcast whose source is not the port's MAC: the switch must refuse it
    uint8_t *f = chan_data(txc) + NET_BUF_OFFSET(out_req.head);
    static const uint8_t foreign[NET_MAC_LEN] = {0x02, 0x00, 0xde, 0xad, 0xbe, 0xef};
    memset(f, 0xFF, NET_MAC_LEN);
    memcpy(f + NET_MAC_LEN, foreign, NET_MAC_LEN);
    f[12] = NETECHO_TYPE >> 8, f[13] = NETECHO_TYPE & 0xFF;
    memset(f + 14, 0x5A, 46);
    uint64_t id = next_id++;
    if (send(NET_OP_FRAME, id, NET_BUF_OFFSET(out_req.head), 60)) spoof_id = id;
}

/* The harness's SHOW frame: the test types init's `net` on the line printed for it. */
static bool is_show(const uint8_t *f, uint32_t len)
{
    return len >= 18 && ((uint32_t)f[12] << 8 | f[13]) == NETECHO_TYPE &&
           !memcmp(f + 14, "SHOW", 4);
}

/* The harness's STOP frame: "STOP", then u32 sent and u32 received (little-endian). */
static bool is_stop(const uint8_t *f, uint32_t len, uint32_t *sent, uint32_t *got)
{
    if (len < 26 || ((uint32_t)f[12] << 8 | f[13]) != NETECHO_TYPE || memcmp(f + 14, "STOP", 4))
        return false;
    memcpy(sent, f + 18, 4);
    memcpy(got, f + 22, 4);
    return true;
}

int main(void *arg)
{
    const ipc_control_t *ctl = (const ipc_control_t *)IPC_CONTROL_VADDR;
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    int err = net_link_only(info, &link);
    char name[NET_LINK_NAME] = "?";
    if (!err && net_link_name(info, link.tx, name) && strcmp(name, NET_UPLINK)) {
        on_switch = true;
        net_link_mac(name, my_mac);
    }
    check_plan(err ? 1 : on_switch ? 4 : 3);
    if (err) {
        check(false, "NETECHO-0001", "netecho has one network link", "error %lu", (uint64_t)err, 0);
        check_done();
        ipc_shutdown(ctl);
    }
    txc = (uint8_t *)IPC_CHANNEL_VADDR(link.tx);
    rxc = (uint8_t *)IPC_CHANNEL_VADDR(link.rx);
    chan_producer_attach(&out_req, chan_req_ring(txc));
    chan_consumer_attach(&out_comp, chan_comp_ring(txc));
    chan_consumer_attach(&in_req, chan_req_ring(rxc));
    chan_producer_attach(&in_comp, chan_comp_ring(rxc));
    send_bad();
    rt_printf("netecho: link %s, %u malformed requests sent%s; reflecting as "
              "%02x:%02x:%02x:%02x:%02x:%02x\n",
              info->channel[link.tx].name, NBAD,
              on_switch ? " and one with a foreign source MAC" : "", my_mac[0], my_mac[1],
              my_mac[2], my_mac[3], my_mac[4], my_mac[5]);
    rs_signal(IPC_SLOT_CHANNEL0 + link.tx);
    rs_signal(IPC_SLOT_CHANNEL0 + link.rx);
    uint32_t h_sent = 0, h_got = 0;
    bool stop = false;
    while (!stop) {
        rs_wait(IPC_SLOT_PING);
        reap();
        bool produced = false, completed = false;
        chan_desc_t d;
        uint32_t pos = in_req.next;
        // with our side of the link full, the frames wait in the driver's link (and then at
        // its device, and then in QEMU's backend): flow control back to the harness, so a test
        // can ask for every frame; frames are dropped only where a ring is full at both ends
        while (!stop && chan_space(&out_req) && chan_consume(&in_req, &d) == RS_OK) {
            uint32_t st = RS_OK;
            if (d.op != NET_OP_FRAME || d.len < NET_MIN_FRAME || d.len > NET_MAX_FRAME ||
                d.data_offset != NET_BUF_OFFSET(pos)) {
                st = RS_INVALID_ARGUMENT;
                refused_frames++;
            } else {
                uint8_t *f = chan_data(rxc) + d.data_offset;
                if (is_stop(f, d.len, &h_sent, &h_got)) stop = true;
                else if (is_show(f, d.len))
                    rt_printf("netecho: status please (%lu reflected)\n", reflected);
                else {
                    uint8_t *o = chan_data(txc) + NET_BUF_OFFSET(out_req.head);
                    memcpy(o + 12, f + 12, d.len - 12);
                    memcpy(o, f + 6, NET_MAC_LEN);
                    // a broadcast or multicast destination is no source: ours instead
                    memcpy(o + 6, (f[0] & 1) ? my_mac : f, NET_MAC_LEN);
                    if (send(NET_OP_FRAME, next_id++, NET_BUF_OFFSET(out_req.head), d.len)) {
                        reflected++;
                        produced = true;
                    }
                }
            }
            d.status = st;
            if (chan_produce(&in_comp, &d) == RS_OK) completed = true;
            chan_release(&in_req);
            pos = in_req.next;
        }
        if (produced) rs_signal(IPC_SLOT_CHANNEL0 + link.tx);
        if (completed) rs_signal(IPC_SLOT_CHANNEL0 + link.rx);
    }
    reap();
    rt_printf("netecho: done: %lu frames reflected, %lu completed as dropped by the driver, "
              "%lu refused, harness sent %u and got %u back\n",
              reflected, dropped, refused_frames, h_sent, h_got);
    check(bad_refused == NBAD - 1 && bad_wrong == 0, "NETECHO-0001",
          "the driver refused every malformed request with RS_INVALID_ARGUMENT",
          "%lu refused, %lu other", bad_refused, bad_wrong);
    check(refused_frames == 0, "NETECHO-0002", "every request from the driver was a good frame",
          "%lu refused", refused_frames, 0);
    check(h_got > 0 && reflected >= h_got, "NETECHO-0003",
          "netecho reflected at least the frames the harness got back", "%lu reflected, %lu got",
          reflected, h_got);
    if (on_switch)
        check(spoof_status == RS_INSUFFICIENT_RIGHTS, "NETECHO-0004",
              "the switch refused a frame with a foreign source MAC (RS_INSUFFICIENT_RIGHTS)",
              "status %lu", spoof_status, 0);
    check_done();
    ipc_shutdown(ctl);
}
