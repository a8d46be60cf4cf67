// SPDX-License-Identifier: MIT
// net: the L2 learning switch. Every network link in its manifest (proto/net.h) is a port; the
// logic is switch.c's. This file finds the links, runs the loop (signals in, sw_poll, signals
// out), and publishes the status page init's `net` reads (status.h). A restarted instance takes
// up every ring where it is in shared memory and learns the uplink's MACs again (docs/network.md).
#include "ipc.h"
#include "switch.h"

struct net {
    uint64_t magic; /* an injected wild write destroys this: the loop then exits */
    sw_t sw;
    net_link_index_t link[SW_PORTS];
    uint64_t tsc_per_ms;
};
#define NET_MAGIC 0x4E45545357495443ul /* "NETSWITC" */

static struct net net;
static ipc_server_t srv;

static uint64_t now_ms(void) { return rt_rdtsc() / net.tsc_per_ms; }

/* The words setup() chose for each port (its channels' data and ring addresses, their indices),
 * kept apart and compared every round: a stray write into them (issue 15's corrupt) ends in a
 * crash and a clean restart instead of frames read from or signals sent elsewhere. */
struct port_setup {
    const uint8_t *rx_data, *tx_data;
    const chan_ring_t *rings[4];
    uint64_t link;
};
struct net_setup {
    uint64_t nports, tsc_per_ms;
    struct port_setup port[SW_PORTS];
};
_Static_assert(sizeof(struct net_setup) % 8 == 0, "compared word by word");
static struct net_setup setup_seal;

static struct net_setup setup_now(void)
{
    struct net_setup n = {.nports = net.sw.nports, .tsc_per_ms = net.tsc_per_ms};
    for (unsigned p = 0; p < net.sw.nports && p < SW_PORTS; p++) {
        const sw_port_t *sp = &net.sw.port[p];
        n.port[p] = (struct port_setup){
            .rx_data = sp->rx_data,
            .tx_data = sp->tx_data,
            .rings = {sp->rx_req.ring, sp->rx_comp.ring, sp->tx_req.ring, sp->tx_comp.ring},
            .link = net.link[p].tx | (uint64_t)net.link[p].rx << 32};
    }
    return n;
}

/* Each port's own ends of its rings agree with what the switch published, and nothing is
 * consumed and unreleased between rounds: a flipped private tail made the switch take the
 * peer's ring for broken ("head out of range") for good, as in nic (a new instance takes the
 * published ends up again). */
static bool ends_intact(void)
{
    if (net.sw.nports > SW_PORTS) return false;
    for (unsigned p = 0; p < net.sw.nports; p++) {
        const sw_port_t *sp = &net.sw.port[p];
        if (!chan_consumer_published(&sp->rx_req, 0) || !chan_consumer_published(&sp->tx_comp, 0) ||
            !chan_producer_published(&sp->rx_comp) || !chan_producer_published(&sp->tx_req))
            return false;
    }
    return true;
}

static bool intact(void)
{
    if (net.magic != NET_MAGIC || !ends_intact()) return false;
    struct net_setup now = setup_now();
    return ipc_words_equal(&now, &setup_seal, sizeof(now));
}

static struct net_status *status(void)
{
    return (struct net_status *)((uint8_t *)srv.control + NET_STATUS_OFFSET);
}

/* Publishes counters and table under the sequence count (odd while writing). */
static void publish(uint64_t now)
{
    struct net_status *st = status();
    uint32_t seq = st->seq | 1;
    st->seq = seq;
    __asm__ volatile("" ::: "memory"); // x86 keeps stores in order; the compiler must too
    st->magic = NET_STATUS_MAGIC;
    st->nports = net.sw.nports;
    st->now_ms = now;
    st->instance = srv.control->instance;
    st->age_ms = SW_AGE_MS;
    for (unsigned p = 0; p < net.sw.nports; p++) {
        const sw_port_t *sp = &net.sw.port[p];
        struct net_status_port *o = &st->port[p];
        memcpy(o->name, sp->name, sizeof o->name);
        memcpy(o->mac, sp->mac, sizeof o->mac);
        o->uplink = sp->uplink;
        o->c = sp->c;
    }
    uint32_t n = 0;
    for (unsigned i = 0; i < SW_TABLE; i++)
        if (net.sw.table[i].port < SW_PORTS) st->table[n++] = net.sw.table[i];
    st->nentries = n;
    __asm__ volatile("" ::: "memory");
    st->seq = seq + 1;
}

/* The counters an earlier instance published carry on (statistics only: a page a wild write
 * hit is taken as it is, but never trusted for more than numbers). */
static void adopt_counters(void)
{
    const struct net_status *st = status();
    if (st->magic != NET_STATUS_MAGIC || st->nports != net.sw.nports) return;
    for (unsigned p = 0; p < net.sw.nports; p++)
        if (!strncmp(st->port[p].name, net.sw.port[p].name, NET_LINK_NAME))
            net.sw.port[p].c = st->port[p].c;
}

static int setup(void)
{
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    if (info->magic != IPC_DEVICE_MAGIC) {
        rt_printf("net: no channels (manifest channel lines)\n");
        return RS_NOT_FOUND;
    }
    net.tsc_per_ms = srv.control->tsc_per_ms ? srv.control->tsc_per_ms : 1;
    sw_init(&net.sw, rt_rdtsc() * 0x9E3779B97F4A7C15ull);
    for (unsigned k = 0; k < info->nchannels && k < IPC_MAX_CHANNELS; k++) {
        char name[NET_LINK_NAME];
        if (!net_link_name(info, k, name)) continue;
        bool known = false;
        for (unsigned p = 0; p < net.sw.nports; p++) known |= !strcmp(net.sw.port[p].name, name);
        if (known) continue;
        net_link_index_t idx;
        int err = net_link_find(info, name, &idx);
        if (err) {
            rt_printf("net: link %s: %s (both channels, %u pages each?)\n", name,
                      rs_error_name(err), NET_LINK_PAGES);
            continue;
        }
        int p = sw_add_port(&net.sw, name, (void *)IPC_CHANNEL_VADDR(idx.rx),
                            (void *)IPC_CHANNEL_VADDR(idx.tx), srv.control->instance << 40);
        if (p < 0) {
            rt_printf("net: link %s: more than %u ports\n", name, SW_PORTS);
            continue;
        }
        net.link[p] = idx;
    }
    if (!net.sw.nports) {
        rt_printf("net: no network links\n");
        return RS_NOT_FOUND;
    }
    adopt_counters();
    rt_printf("net: instance %lu, %u ports:", srv.control->instance, net.sw.nports);
    for (unsigned p = 0; p < net.sw.nports; p++) rt_printf(" %s", net.sw.port[p].name);
    rt_printf("\n");
    return RS_OK;
}

static int no_requests(void *ctx, rs_badge_t b, const ipc_msg_t *req, ipc_msg_t *reply)
{
    return RS_ILLEGAL_OPERATION; // frames come by the links only
}

int main(void *arg)
{
    ipc_server_init(&srv, no_requests, NULL);
    rt_printf("net: starting instance %lu\n", srv.control->instance);
    srv.scribble = &net;
    srv.scribble_size = sizeof(net);
    net.magic = NET_MAGIC;
    int err = setup();
    if (err) {
        rt_printf("net: cannot start: %s\n", rs_error_name(err));
        return 1;
    }
    // every peer hears from a (re)started switch once: a signal the previous instance owed may
    // have died with it (libipc/channel.h)
    for (unsigned p = 0; p < net.sw.nports; p++) {
        rs_signal(IPC_SLOT_CHANNEL0 + net.link[p].tx);
        rs_signal(IPC_SLOT_CHANNEL0 + net.link[p].rx);
    }
    setup_seal = setup_now();
    ipc_server_seal(&srv);
    bool more = true;
    for (;;) {
        rs_result_t r = more ? rs_nbrecv(srv.ep) : rs_recv(srv.ep);
        ipc_server_round(&srv, r); // srv as sealed, no receive failing for ever; the heartbeat
        // the wakeup is owed until this loop is back at its receive (init's owed check)
        srv.control->vmm_exit_in = srv.control->heartbeat;
        if (!intact()) {
            rt_printf("net: state destroyed: exiting for a clean restart\n");
            return 2;
        }
        bool ntfn = r.error == RS_OK && rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL;
        if (r.error == RS_OK && !ntfn) {
            ipc_msg_t reply = {.label = RS_ILLEGAL_OPERATION, .len = 1};
            rs_reply(ipc_msg_put(&reply));
        }
        if (ntfn && (r.badge & IPC_BADGE_PING)) ipc_server_ping(&srv);
        uint64_t now = now_ms();
        sw_result_t res = sw_poll(&net.sw, now);
        ipc_server_fault_point(&srv, IPC_FAULT_BEFORE_COMMIT); // frames out, signals owed
        for (unsigned p = 0; p < net.sw.nports; p++) {
            if ((res.signal_tx >> p) & 1) rs_signal(IPC_SLOT_CHANNEL0 + net.link[p].tx);
            if ((res.signal_rx >> p) & 1) rs_signal(IPC_SLOT_CHANNEL0 + net.link[p].rx);
        }
        ipc_server_fault_point(&srv, IPC_FAULT_BEFORE_REPLY);
        // a wild write at a fault point above must not reach the status page: the next
        // instance adopts the counters published there
        if (net.magic != NET_MAGIC) {
            rt_printf("net: state destroyed: exiting for a clean restart\n");
            return 2;
        }
        publish(now);
        more = res.more;
        srv.control->vmm_exit_out = srv.control->vmm_exit_in; // paid: back to the receive
    }
}
