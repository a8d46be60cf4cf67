// SPDX-License-Identifier: MIT
// system-switch's peers of the switch (servers/net), each link its own switch port. By the name
// init gives it (switch.manifest):
// - `swtest` holds links uplink, pb and pc and makes the checks: flooding, learning behind the
//   uplink, bound MACs, spoofing refused, hostile descriptors, fairness against a flooding port,
//   and a stream pb -> pc while it has init crash the switch again and again (loss reported);
// - `flooder` holds link pa: on a command frame it floods broadcasts as fast as its ring takes
//   them, until told to stop.
// Everything goes over the links (proto/net.h); nothing waits for the switch but with a deadline.
#include "ipc.h"
#include "check.h"
#include "proto/net.h"
#include "proto/registry.h"

#define ETHERTYPE 0x88B5u /* IEEE 802 local experimental */
enum cmd { CMD_DATA = 1, CMD_FLOOD = 2, CMD_STOP = 3, CMD_NOISE = 4 };

struct link {
    const char *name;
    net_link_index_t idx;
    uint8_t mac[NET_MAC_LEN];
    uint8_t *tx_data, *rx_data;
    chan_producer_t tx;      /* our frames */
    chan_consumer_t tx_comp; /* the switch's completions of them */
    chan_consumer_t rx;      /* the switch's frames */
    chan_producer_t rx_comp;
    uint64_t id;
    uint32_t last_status; /* of the newest completion */
    uint64_t completions;
};

/* What a received frame said (our payload: cmd, seq). */
struct rx {
    uint32_t len;
    uint8_t dst[6], src[6];
    uint32_t cmd, seq;
};

static const ipc_control_t *ctl;
static const ipc_device_info_t *info;

static uint64_t now_ms(void) { return rt_rdtsc() / (ctl->tsc_per_ms ? ctl->tsc_per_ms : 1); }

static bool link_open(struct link *l, const char *name)
{
    l->name = name;
    if (net_link_find(info, name, &l->idx)) return false;
    uint8_t *txb = (uint8_t *)IPC_CHANNEL_VADDR(l->idx.tx),
            *rxb = (uint8_t *)IPC_CHANNEL_VADDR(l->idx.rx);
    l->tx_data = chan_data(txb);
    l->rx_data = chan_data(rxb);
    chan_producer_attach(&l->tx, chan_req_ring(txb));
    chan_consumer_attach(&l->tx_comp, chan_comp_ring(txb));
    chan_consumer_attach(&l->rx, chan_req_ring(rxb));
    chan_producer_attach(&l->rx_comp, chan_comp_ring(rxb));
    net_link_mac(name, l->mac);
    l->id = 1;
    rs_signal(IPC_SLOT_CHANNEL0 + l->idx.tx); // a start is signalled once (channel.h)
    rs_signal(IPC_SLOT_CHANNEL0 + l->idx.rx);
    return true;
}

static void reap(struct link *l)
{
    chan_desc_t d;
    while (chan_consume(&l->tx_comp, &d) == RS_OK) {
        chan_release(&l->tx_comp);
        l->last_status = d.status;
        l->completions++;
    }
}

/* Produces a descriptor as given: RS_WOULD_BLOCK when the ring is full (the frame is dropped). */
static int send_desc(struct link *l, chan_desc_t d)
{
    reap(l);
    int err = chan_produce(&l->tx, &d);
    if (!err) rs_signal(IPC_SLOT_CHANNEL0 + l->idx.tx);
    return err;
}

static uint32_t put_frame(struct link *l, const uint8_t *dst, const uint8_t *src, uint32_t cmd,
                          uint32_t seq, uint32_t len)
{
    uint8_t *f = l->tx_data + NET_BUF_OFFSET(l->tx.head);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = ETHERTYPE >> 8, f[13] = ETHERTYPE & 0xFF;
    memcpy(f + 14, &cmd, 4);
    memcpy(f + 18, &seq, 4);
    for (uint32_t i = 22; i < len; i++) f[i] = (uint8_t)(seq + i);
    return len;
}

static int send_from(struct link *l, const uint8_t *dst, const uint8_t *src, uint32_t cmd,
                     uint32_t seq)
{
    reap(l);
    if (!chan_space(&l->tx)) return RS_WOULD_BLOCK;
    uint32_t len = put_frame(l, dst, src, cmd, seq, 60 + seq % 200);
    return send_desc(l, (chan_desc_t){.id = l->id++,
                                      .op = NET_OP_FRAME,
                                      .data_offset = NET_BUF_OFFSET(l->tx.head),
                                      .len = len});
}
static int send(struct link *l, const uint8_t *dst, uint32_t cmd, uint32_t seq)
{
    return send_from(l, dst, l->mac, cmd, seq);
}

/* One frame the switch gave us, completed and released at once; false if none. Frames not of
 * our ethertype, or whose payload does not match its seq, come back with cmd 0. */
static bool recv(struct link *l, struct rx *out)
{
    uint32_t pos = l->rx.next;
    chan_desc_t d;
    if (chan_consume(&l->rx, &d)) return false;
    *out = (struct rx){.len = d.len};
    bool good = d.op == NET_OP_FRAME && d.data_offset == NET_BUF_OFFSET(pos) && d.len >= 22 &&
                d.len <= NET_MAX_FRAME;
    if (good) {
        const uint8_t *f = l->rx_data + d.data_offset;
        memcpy(out->dst, f, 6);
        memcpy(out->src, f + 6, 6);
        if (f[12] == ETHERTYPE >> 8 && f[13] == (ETHERTYPE & 0xFF)) {
            memcpy(&out->cmd, f + 14, 4);
            memcpy(&out->seq, f + 18, 4);
            for (uint32_t i = 22; i < d.len; i++)
                if (f[i] != (uint8_t)(out->seq + i)) out->cmd = 0; // damaged
        }
    }
    d.status = good ? RS_OK : RS_INVALID_ARGUMENT;
    chan_produce(&l->rx_comp, &d);
    chan_release(&l->rx);
    rs_signal(IPC_SLOT_CHANNEL0 + l->idx.rx);
    return true;
}

/* ---- the flooder ---- */

static _Noreturn void flooder(void)
{
    struct link l;
    if (!link_open(&l, "pa")) {
        rt_printf("flooder: no link pa\n");
        for (;;) rs_wait(IPC_SLOT_PING);
    }
    static const uint8_t bcast[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    bool flooding = false;
    uint64_t sent = 0, full = 0, seq = 0;
    for (;;) {
        struct rx r;
        while (recv(&l, &r)) {
            if (r.cmd == CMD_FLOOD && !flooding) {
                flooding = true;
                rt_printf("flooder: flooding\n");
            } else if (r.cmd == CMD_STOP && flooding) {
                flooding = false;
                rt_printf("flooder: stopped: %lu frames sent, %lu found the ring full\n", sent,
                          full);
            }
        }
        if (!flooding) {
            rs_wait(IPC_SLOT_PING); // the switch signals when a frame comes
            continue;
        }
        // a ring's worth (the switch, above us, may take each at once), then swtest (our
        // priority) has its turn
        for (unsigned k = 0; k < CHAN_ENTRIES; k++) {
            if (send(&l, bcast, CMD_NOISE, (uint32_t)seq++) == RS_OK) sent++;
            else full++;
        }
        rs_yield();
    }
}

/* ---- the checker ---- */

static struct link up, pb, pc;
static const uint8_t BCAST[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
static const uint8_t MCAST[6] = {0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB};
static const uint8_t X[6] = {0x52, 0x54, 0x00, 0xAB, 0xCD, 0x01}; /* a host behind the uplink */
static const uint8_t Z[6] = {0x52, 0x54, 0x00, 0xAB, 0xCD, 0x02}; /* one never seen */
static uint8_t pa_mac[6];
static uint64_t noise; /* the flooder's frames seen */

/* Counts per link of frames with (cmd, seq) seen while waiting. */
struct seen {
    unsigned up, pb, pc;
};

static void take(struct link *l, unsigned *hits, uint32_t cmd, uint32_t seq)
{
    struct rx r;
    while (recv(l, &r)) {
        if (r.cmd == CMD_NOISE) noise++;
        else if (r.cmd == cmd && r.seq == seq) (*hits)++;
    }
}

/* Reads all three links for `ms` (or until `want` links have the frame): what saw (cmd, seq). */
static struct seen watch(uint32_t cmd, uint32_t seq, unsigned ms, unsigned want)
{
    struct seen s = {0};
    uint64_t end = now_ms() + ms;
    do {
        take(&up, &s.up, cmd, seq);
        take(&pb, &s.pb, cmd, seq);
        take(&pc, &s.pc, cmd, seq);
        if ((unsigned)((s.up > 0) + (s.pb > 0) + (s.pc > 0)) >= want) break;
        rs_yield();
    } while (now_ms() < end);
    return s;
}

/* Waits for link l's newest completion (the frame just sent), up to ms: its status. */
static uint32_t completion(struct link *l, uint64_t before, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    while (now_ms() < end) {
        reap(l);
        if (l->completions > before) return l->last_status;
        rs_yield();
    }
    return 0xFFFFFFFFu;
}

static uint32_t seqno = 1000;

/* The stream pb -> pc with init crashing the switch `crashes` times: frames sent, received
 * (distinct), duplicates, and the longest wait for traffic after a crash. */
static void crash_stream(unsigned crashes, uint64_t *sent, uint64_t *got, uint64_t *dups,
                         uint64_t *resumed, uint64_t *worst_ms)
{
    enum { N = 3000 };
    static uint8_t have[N];
    uint32_t base = 100000;
    uint64_t every = N / (crashes + 1);
    *sent = *got = *dups = *resumed = *worst_ms = 0;
    uint64_t crash_at = 0;
    bool waiting = false;
    for (uint32_t k = 0; k < N; k++) {
        if (k && k % every == 0 && k / every <= crashes) {
            static const unsigned kinds[] = {IPC_INJECT_KILL, IPC_INJECT_NULL, IPC_INJECT_WILD,
                                             IPC_INJECT_HANG};
            int err = registry_inject("net", kinds[(k / every) % 4]);
            if (err) rt_printf("swtest: inject: %s\n", rs_error_name(err));
            crash_at = now_ms();
            waiting = true;
        }
        // send, retrying while the ring is full (the switch may be down: a frame queued here
        // is delivered by the next instance)
        uint64_t end = now_ms() + 3000;
        while (send(&pb, pc.mac, CMD_DATA, base + k) != RS_OK && now_ms() < end) {
            struct rx r;
            while (recv(&pc, &r))
                if (r.cmd == CMD_DATA && r.seq >= base && r.seq < base + N)
                    (have[r.seq - base]++ ? (*dups)++ : (*got)++);
            rs_yield();
        }
        (*sent)++;
        // read what arrived, for a little while
        uint64_t until = now_ms() + 2;
        do {
            struct rx r;
            while (recv(&pc, &r)) {
                if (r.cmd != CMD_DATA || r.seq < base || r.seq >= base + N) continue;
                if (have[r.seq - base]++) (*dups)++;
                else (*got)++;
                if (waiting) {
                    uint64_t t = now_ms() - crash_at;
                    if (t > *worst_ms) *worst_ms = t;
                    (*resumed)++;
                    waiting = false;
                }
            }
            struct rx junk;
            while (recv(&up, &junk)) {
            }
            rs_yield();
        } while (now_ms() < until);
    }
    uint64_t end = now_ms() + 3000;
    while (*got < *sent && now_ms() < end) {
        struct rx r;
        while (recv(&pc, &r))
            if (r.cmd == CMD_DATA && r.seq >= base && r.seq < base + N)
                (have[r.seq - base]++ ? (*dups)++ : (*got)++);
        rs_yield();
    }
}

static _Noreturn void swtest(void)
{
    check_plan(10);
    bool have = link_open(&up, NET_UPLINK) && link_open(&pb, "pb") && link_open(&pc, "pc");
    net_link_mac("pa", pa_mac);
    // the switch may still be starting: a broadcast from pb, again, until pc sees one
    struct seen s = {0};
    uint64_t t0 = now_ms();
    while (have && !(s.pc && s.up) && now_ms() - t0 < 10000) {
        send(&pb, BCAST, CMD_DATA, ++seqno);
        s = watch(CMD_DATA, seqno, 200, 2);
    }
    check(have && s.pc && s.up && !s.pb, "SW-0001",
          "a broadcast from pb reaches pc and the uplink, not pb (links uplink, pb, pc found)",
          "pc %lu, uplink %lu", s.pc, s.up);
    if (!have) {
        check_done();
        ipc_shutdown(ctl);
    }

    unsigned ok = 0;
    const uint8_t *dsts[2] = {MCAST, Z};
    for (unsigned k = 0; k < 2; k++) {
        send(&pb, dsts[k], CMD_DATA, ++seqno);
        s = watch(CMD_DATA, seqno, 300, 3);
        ok += s.pc == 1 && s.up == 1 && s.pb == 0;
    }
    check(ok == 2, "SW-0002", "multicast and unknown unicast from pb flood to pc and the uplink",
          "%lu of %lu", ok, 2);

    // X speaks from behind the uplink: then pb's frames to X go to the uplink only
    send(&pb, X, CMD_DATA, ++seqno);
    struct seen before = watch(CMD_DATA, seqno, 300, 3);
    send_from(&up, BCAST, X, CMD_DATA, ++seqno);
    watch(CMD_DATA, seqno, 300, 3);
    send(&pb, X, CMD_DATA, ++seqno);
    s = watch(CMD_DATA, seqno, 300, 3);
    check(before.pc == 1 && before.up == 1 && s.up == 1 && s.pc == 0, "SW-0003",
          "the switch learns X behind the uplink: pb -> X floods before, reaches the uplink only "
          "after",
          "pc saw it %lu times after learning (before: %lu)", s.pc, before.pc);

    send(&pb, pc.mac, CMD_DATA, ++seqno);
    s = watch(CMD_DATA, seqno, 300, 3);
    check(s.pc == 1 && s.up == 0, "SW-0004",
          "pb -> pc's MAC (bound to link pc) goes to pc only, not flooded", "pc %lu, uplink %lu",
          s.pc, s.up);

    // spoofing: pb with pc's MAC, the uplink with pb's MAC
    uint64_t c0 = pb.completions;
    send_from(&pb, BCAST, pc.mac, CMD_DATA, ++seqno);
    uint32_t st1 = completion(&pb, c0, 1000);
    struct seen s1 = watch(CMD_DATA, seqno, 200, 3);
    c0 = up.completions;
    send_from(&up, BCAST, pb.mac, CMD_DATA, ++seqno);
    uint32_t st2 = completion(&up, c0, 1000);
    struct seen s2 = watch(CMD_DATA, seqno, 200, 3);
    check(st1 == RS_INSUFFICIENT_RIGHTS && st2 == RS_INSUFFICIENT_RIGHTS &&
              s1.up + s1.pc + s2.pb + s2.pc == 0,
          "SW-0005",
          "a frame with another port's source MAC (pb as pc, the uplink as pb) is refused "
          "(RS_INSUFFICIENT_RIGHTS) and goes nowhere",
          "statuses %lu and %lu", st1, st2);

    // hostile descriptors from pb: runt, giant, a foreign buffer, not a frame, id 0
    struct {
        uint64_t id;
        uint32_t op, delta, len;
    } bad[] = {{1, NET_OP_FRAME, 0, 13},
               {2, NET_OP_FRAME, 0, NET_MAX_FRAME + 1},
               {3, NET_OP_FRAME, 0, 0xFFFFFFFFu},
               {4, NET_OP_FRAME, NET_BUF_SIZE, 64},
               {5, NET_OP_FRAME, 0x40000000u, 64},
               {6, CHAN_OP_WRITE, 0, 64},
               {0, NET_OP_FRAME, 0, 64}};
    unsigned refused = 0, nbad = sizeof bad / sizeof bad[0];
    for (unsigned k = 0; k < nbad; k++) {
        uint32_t off = NET_BUF_OFFSET(pb.tx.head);
        put_frame(&pb, BCAST, pb.mac, CMD_DATA, ++seqno, 64);
        c0 = pb.completions;
        send_desc(&pb, (chan_desc_t){.id = bad[k].id ? pb.id++ : 0,
                                     .op = bad[k].op,
                                     .data_offset = off + bad[k].delta,
                                     .len = bad[k].len});
        refused += completion(&pb, c0, 1000) == RS_INVALID_ARGUMENT;
        s = watch(CMD_DATA, seqno, 50, 3);
        refused -= (s.up + s.pc) != 0;
    }
    send(&pb, pc.mac, CMD_DATA, ++seqno);
    s = watch(CMD_DATA, seqno, 300, 1);
    check(refused == nbad && s.pc == 1, "SW-0006",
          "runts, giants, foreign buffers, other ops and id 0 get RS_INVALID_ARGUMENT and go "
          "nowhere; pb's next good frame passes",
          "%lu of %lu refused", refused, nbad);

    // fairness: the flooder floods broadcasts; pb streams to pc meanwhile
    send(&pb, pa_mac, CMD_FLOOD, ++seqno);
    uint64_t n0 = noise, t1 = now_ms();
    while (noise - n0 < 200 && now_ms() - t1 < 5000) watch(0, 0, 10, 4);
    uint64_t flood_seen = noise - n0;
    unsigned sent = 0, got = 0;
    uint64_t flood_during = noise;
    for (unsigned k = 0; k < 400; k++) {
        rs_yield(); // the flooder's turn: it fills its ring again
        if (send(&pb, pc.mac, CMD_DATA, ++seqno) != RS_OK) continue;
        sent++;
        s = watch(CMD_DATA, seqno, 200, 1);
        got += s.pc;
    }
    flood_during = noise - flood_during;
    send(&pb, pa_mac, CMD_STOP, ++seqno);
    watch(0, 0, 200, 4);
    rt_printf("swtest: under flood: pb -> pc %u of %u frames arrived; %lu flood frames seen "
              "meanwhile\n",
              got, sent, flood_during);
    check(flood_seen >= 200 && flood_during >= 400 && sent == 400 && got == sent, "SW-0007",
          "while pa floods broadcasts, every frame of 400 from pb reaches pc",
          "%lu of 400 arrived, %lu flood frames", got, flood_during);

    // the stream with crashes
    uint64_t r0 = 0, r1 = 0, total, rcv, dups, resumed, worst;
    registry_restarts("net", &r0, NULL);
    crash_stream(12, &total, &rcv, &dups, &resumed, &worst);
    registry_restarts("net", &r1, NULL);
    rt_printf("swtest: crash stream: %lu frames sent, %lu arrived (%lu lost), %lu duplicates, "
              "%lu switch restarts, traffic back after each within %lu ms\n",
              total, rcv, total - rcv, dups, r1 - r0, worst);
    check(r1 - r0 >= 10, "SW-0008", "init restarted the switch at least 10 times mid-stream",
          "%lu restarts, %lu wanted", r1 - r0, 10);
    check(resumed >= 10 && rcv * 100 >= total * 99, "SW-0009",
          "traffic resumed after every crash and at least 99% of the stream arrived",
          "%lu of %lu arrived", rcv, total);

    // after the restarts: a fresh instance works as the first did
    send(&pb, pc.mac, CMD_DATA, ++seqno);
    s = watch(CMD_DATA, seqno, 2000, 1);
    struct seen s3;
    send(&pb, BCAST, CMD_DATA, ++seqno);
    s3 = watch(CMD_DATA, seqno, 2000, 2);
    check(s.pc == 1 && s3.pc == 1 && s3.up == 1, "SW-0010",
          "after the restarts unicast and broadcast are forwarded as before",
          "unicast %lu, broadcast %lu", s.pc, s3.pc + s3.up);
    check_done();
    ipc_shutdown(ctl);
}

int main(void *arg)
{
    ctl = (const ipc_control_t *)IPC_CONTROL_VADDR;
    info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    if (!strcmp(ctl->name, "flooder")) flooder();
    swtest();
}
