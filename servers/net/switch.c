// SPDX-License-Identifier: MIT
// The L2 learning switch's logic (switch.h): MAC table, forwarding decision, fair service of
// the ports over their links' rings. Pure: no system calls, no globals.
#include "switch.h"

static bool mac_eq(const uint8_t *a, const uint8_t *b) { return !memcmp(a, b, NET_MAC_LEN); }

/* A keyed hash (FNV-1a over key and address): without the key a sender could pick MACs that
 * all fall into one set and evict its entries at will. */
unsigned sw_set_of(const sw_t *sw, const uint8_t mac[NET_MAC_LEN])
{
    uint64_t h = 14695981039346656037ull ^ sw->key;
    for (unsigned i = 0; i < NET_MAC_LEN; i++) h = (h ^ mac[i]) * 1099511628211ull;
    return (unsigned)((h ^ (h >> 29)) % SW_SETS);
}

static bool fresh(const sw_entry_t *e, uint64_t now_ms)
{
    return e->port < SW_PORTS && (uint32_t)((uint32_t)now_ms - e->seen) < SW_AGE_MS;
}

void sw_init(sw_t *sw, uint64_t key)
{
    memset(sw, 0, sizeof *sw);
    sw->key = key;
    for (unsigned i = 0; i < SW_TABLE; i++) sw->table[i].port = SW_PORTS;
}

int sw_add_port(sw_t *sw, const char *name, void *rx_base, void *tx_base, uint64_t id_base)
{
    size_t n = strlen(name);
    if (sw->nports >= SW_PORTS || n == 0 || n >= NET_LINK_NAME) return -1;
    sw_port_t *p = &sw->port[sw->nports];
    memset(p, 0, sizeof *p);
    memcpy(p->name, name, n + 1);
    p->uplink = !strcmp(name, NET_UPLINK);
    if (!p->uplink) net_link_mac(name, p->mac);
    p->rx_data = chan_data(rx_base);
    // a consumer's tail is ours: one an earlier instance published flipped stays out of range,
    // and every new instance refused the ring and owed its entries for good (restarted by
    // init's owed check round after round); as nic does, start over at the producer's head
    // (frames may be dropped; a bad head of the peer's is its own to mend when it restarts)
    if (chan_consumer_attach(&p->rx_req, chan_req_ring(rx_base)))
        chan_consumer_skip_all(&p->rx_req), p->skipped |= SW_SKIPPED_RX;
    chan_producer_attach(&p->rx_comp, chan_comp_ring(rx_base)); // a corrupt tail: set empty
    p->tx_data = chan_data(tx_base);
    chan_producer_attach(&p->tx_req, chan_req_ring(tx_base));
    if (chan_consumer_attach(&p->tx_comp, chan_comp_ring(tx_base)))
        chan_consumer_skip_all(&p->tx_comp), p->skipped |= SW_SKIPPED_TX_COMP;
    p->tx_id = id_base ? id_base : 1;
    // what an earlier instance left in flight at the output has an unknown source
    p->occ_tail = p->tx_req.ring->tail;
    uint32_t held = p->tx_req.head - p->occ_tail;
    if (held > CHAN_ENTRIES) held = CHAN_ENTRIES, p->occ_tail = p->tx_req.head - CHAN_ENTRIES;
    p->occ[SW_UNKNOWN_SRC] = (uint8_t)held;
    memset(p->src, SW_UNKNOWN_SRC, sizeof p->src);
    return (int)sw->nports++;
}

int sw_lookup(const sw_t *sw, const uint8_t mac[NET_MAC_LEN], uint64_t now_ms)
{
    for (unsigned p = 0; p < sw->nports; p++)
        if (!sw->port[p].uplink && mac_eq(sw->port[p].mac, mac)) return (int)p;
    const sw_entry_t *set = &sw->table[sw_set_of(sw, mac) * SW_WAYS];
    for (unsigned w = 0; w < SW_WAYS; w++)
        if (fresh(&set[w], now_ms) && mac_eq(set[w].mac, mac)) return set[w].port;
    return -1;
}

/* Learns that `mac` lives behind port `in`: refreshes its entry, or takes a free or aged-out way
 * of its set, else the way seen longest ago. */
static void learn(sw_t *sw, const uint8_t *mac, unsigned in, uint64_t now_ms)
{
    sw_entry_t *set = &sw->table[sw_set_of(sw, mac) * SW_WAYS], *victim = NULL;
    uint32_t oldest = 0;
    for (unsigned w = 0; w < SW_WAYS; w++) {
        sw_entry_t *e = &set[w];
        if (e->port < SW_PORTS && mac_eq(e->mac, mac)) {
            victim = e; // the same MAC: refresh (and perhaps move) it
            break;
        }
        uint32_t age = fresh(e, now_ms) ? (uint32_t)now_ms - e->seen : UINT32_MAX;
        if (!victim || age > oldest) victim = e, oldest = age;
    }
    memcpy(victim->mac, mac, NET_MAC_LEN);
    victim->port = (uint8_t)in;
    victim->seen = (uint32_t)now_ms;
}

int64_t sw_route(sw_t *sw, unsigned in, const uint8_t *frame, uint64_t now_ms, enum sw_cause *cause)
{
    const uint8_t *dst = frame, *src = frame + NET_MAC_LEN;
    const sw_port_t *p = &sw->port[in];
    // a bound port sends with its own MAC only; the uplink with any unicast MAC but a bound
    // port's (it cannot take a guest's traffic by claiming its address)
    int owner = sw_lookup(sw, src, now_ms);
    if (p->uplink ? (src[0] & 1) || (owner >= 0 && !sw->port[owner].uplink)
                  : !mac_eq(src, p->mac)) {
        *cause = SW_SPOOF;
        return -1;
    }
    if (p->uplink) learn(sw, src, in, now_ms);
    uint32_t all = ((1u << sw->nports) - 1) & ~(1u << in);
    if (dst[0] & 1) return all; // broadcast and multicast
    int out = sw_lookup(sw, dst, now_ms);
    if (out < 0) return all; // unknown unicast
    if ((unsigned)out == in) {
        *cause = SW_FILTERED;
        return -1;
    }
    return 1ll << out;
}

/* Takes the peer's completions of our frames to port q (only to keep that ring moving) and
 * accounts for the entries it released since: their sources hold that much less of the ring. */
static void out_sync(sw_port_t *q)
{
    chan_desc_t d;
    while (chan_consume(&q->tx_comp, &d) == RS_OK) {
        chan_release(&q->tx_comp);
        if (d.status != RS_OK) q->c.peer_dropped++;
    }
    uint32_t tail = q->tx_req.ring->tail;                          // read once
    if (tail - q->occ_tail > q->tx_req.head - q->occ_tail) return; // not in [occ_tail, head]
    for (; q->occ_tail != tail; q->occ_tail++) {
        uint8_t *o = &q->occ[q->src[q->occ_tail % CHAN_ENTRIES]];
        if (*o) (*o)--;
    }
}

unsigned sw_share(const sw_t *sw) { return CHAN_ENTRIES / (sw->nports > 1 ? sw->nports - 1 : 1); }

/* Gives the frame from port `in` to port q, if its ring has room and `in` its share of it. */
static bool out_put(sw_t *sw, unsigned q_index, unsigned in, const uint8_t *frame, uint32_t len)
{
    sw_port_t *q = &sw->port[q_index];
    out_sync(q);
    uint32_t held = q->tx_req.head - q->occ_tail;
    if (held >= CHAN_ENTRIES || !chan_space(&q->tx_req)) {
        q->c.drop[SW_FULL]++;
        return false;
    }
    // every other source keeps room for its guaranteed share; beyond its own, `in` only borrows
    // what the others do not have a claim on
    unsigned share = sw_share(sw);
    if (q->occ[in] >= share) {
        unsigned owed = 0;
        for (unsigned s = 0; s < sw->nports; s++)
            if (s != q_index && s != in && q->occ[s] < share) owed += share - q->occ[s];
        if (CHAN_ENTRIES - held <= owed) {
            sw->port[in].c.drop[SW_SHARE]++;
            return false;
        }
    }
    uint32_t pos = q->tx_req.head;
    memcpy(q->tx_data + NET_BUF_OFFSET(pos), frame, len);
    chan_desc_t d = {
        .id = q->tx_id++, .op = NET_OP_FRAME, .data_offset = NET_BUF_OFFSET(pos), .len = len};
    if (!d.id) d.id = q->tx_id++; // ids are never 0
    if (chan_produce(&q->tx_req, &d)) {
        q->c.drop[SW_FULL]++;
        return false;
    }
    q->src[pos % CHAN_ENTRIES] = (uint8_t)in;
    q->occ[in]++;
    q->c.tx++;
    return true;
}

/* Checks a request (a private copy) read at ring position pos: a cause, or SW_CAUSES if good. */
static enum sw_cause check_desc(const chan_desc_t *d, uint32_t pos)
{
    if (!d->id || d->op != NET_OP_FRAME) return SW_BAD_DESC;
    if (d->len < NET_MIN_FRAME) return SW_RUNT;
    if (d->len > NET_MAX_FRAME) return SW_GIANT;
    if (d->data_offset != NET_BUF_OFFSET(pos)) return SW_BAD_DESC; // also keeps it in the area
    return SW_CAUSES;
}

/* Takes one frame from port `in`, if it has one: forwards it, completes and releases it.
 * Returns false when the port has nothing (more) to give now. */
static bool serve_one(sw_t *sw, unsigned in, uint64_t now_ms, sw_result_t *r)
{
    sw_port_t *p = &sw->port[in];
    uint32_t pos = p->rx_req.next;
    chan_desc_t d;
    int err = chan_consume(&p->rx_req, &d);
    if (err == RS_RANGE_ERROR) p->rx_broken = true;
    if (err) return false;
    p->rx_broken = false;
    p->c.rx++;
    enum sw_cause cause = check_desc(&d, pos);
    uint32_t status = RS_INVALID_ARGUMENT;
    if (cause == SW_CAUSES) {
        uint8_t frame[NET_MAX_FRAME]; // a private copy: the peer may change its buffer any time
        memcpy(frame, p->rx_data + d.data_offset, d.len);
        int64_t mask = sw_route(sw, in, frame, now_ms, &cause);
        if (mask < 0) {
            status = cause == SW_SPOOF ? RS_INSUFFICIENT_RIGHTS : RS_OK;
        } else {
            bool taken = false;
            for (unsigned q = 0; q < sw->nports; q++)
                if ((mask >> q) & 1 && out_put(sw, q, in, frame, d.len)) {
                    taken = true;
                    r->signal_tx |= 1u << q;
                }
            status = taken || !mask ? RS_OK : NET_STATUS_DROPPED;
            cause = SW_CAUSES;
        }
    }
    if (cause != SW_CAUSES) p->c.drop[cause]++;
    d.status = status;
    // completion first, then release (channel.h); a full completion ring costs the completion
    if (chan_produce(&p->rx_comp, &d)) p->c.drop[SW_NO_COMP]++;
    else r->signal_rx |= 1u << in;
    chan_release(&p->rx_req);
    return true;
}

sw_result_t sw_poll(sw_t *sw, uint64_t now_ms)
{
    sw_result_t r = {0};
    if (!sw->nports) return r;
    for (unsigned round = 0; round < SW_ROUNDS; round++) {
        bool any = false;
        unsigned first = sw->next_port % sw->nports;
        sw->next_port = first + 1; // the next round starts one port further
        for (unsigned k = 0; k < sw->nports; k++) {
            unsigned in = (first + k) % sw->nports;
            for (unsigned b = 0; b < SW_BUDGET; b++) {
                if (!serve_one(sw, in, now_ms, &r)) break;
                any = true;
            }
        }
        if (!any) break;
        r.more = round + 1 == SW_ROUNDS;
    }
    // the peers' completions of our frames, also when nothing came in: their rings keep moving
    for (unsigned q = 0; q < sw->nports; q++) out_sync(&sw->port[q]);
    return r;
}
