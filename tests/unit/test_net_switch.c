// SPDX-License-Identifier: MIT
// The switch's logic (servers/net/switch.c) over real channel memory: learning, ageing, the
// bounded table's eviction, flooding, spoofing refused, fair service and fair output occupancy,
// hostile descriptors and ring indices (seeded fuzz), a restart in the middle of traffic and one
// that finds its own ring tails flipped.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "servers/net/switch.h"
#include "xorshift.h"

#define CHAN_BYTES (NET_LINK_PAGES * 4096u)
#define MAXP       4

/* The peer's side of a port: it produces frames into rx, consumes what the switch sends on tx. */
struct peer {
    void *rx, *tx;
    chan_producer_t out;     /* rx requests: frames to the switch */
    chan_consumer_t out_cmp; /* rx completions */
    chan_consumer_t in;      /* tx requests: frames from the switch */
    chan_producer_t in_cmp;  /* tx completions */
    uint64_t id;
};

static sw_t sw;
static struct peer peer[MAXP];
static const char *const names[MAXP] = {NET_UPLINK, "vm-a", "vm-b", "vm-c"};
static unsigned nports;
enum { U, A, B, C };

static void attach_port(unsigned i)
{
    cr_assert_eq(sw_add_port(&sw, names[i], peer[i].rx, peer[i].tx, 1000), (int)i);
}

static void make(unsigned n)
{
    nports = n;
    sw_init(&sw, 0);
    for (unsigned i = 0; i < n; i++) {
        struct peer *p = &peer[i];
        p->rx = aligned_alloc(4096, CHAN_BYTES);
        p->tx = aligned_alloc(4096, CHAN_BYTES);
        memset(p->rx, 0xA5, CHAN_BYTES);
        memset(p->tx, 0x5A, CHAN_BYTES);
        chan_format(p->rx);
        chan_format(p->tx);
        chan_producer_attach(&p->out, chan_req_ring(p->rx));
        chan_consumer_attach(&p->out_cmp, chan_comp_ring(p->rx));
        chan_consumer_attach(&p->in, chan_req_ring(p->tx));
        chan_producer_attach(&p->in_cmp, chan_comp_ring(p->tx));
        p->id = 1;
        attach_port(i);
    }
}
static void setup4(void) { make(4); }
static void teardown(void)
{
    for (unsigned i = 0; i < nports; i++) free(peer[i].rx), free(peer[i].tx);
}
TestSuite(sw, .init = setup4, .fini = teardown);

static const uint8_t BCAST[6] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
static const uint8_t MCAST[6] = {0x01, 0x00, 0x5E, 0x00, 0x00, 0xFB};
static const uint8_t X[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56}; /* behind the uplink */
static const uint8_t Y[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};

static void mac_of(unsigned i, uint8_t mac[6]) { net_link_mac(names[i], mac); }

/* A frame: dst, src, ethertype 0x88B5 (local experimental), then seq and tag. */
static uint32_t frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t seq,
                      uint32_t len)
{
    memset(f, 0, len);
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x88, f[13] = 0xB5;
    if (len >= 18) memcpy(f + 14, &seq, 4);
    return len;
}

/* Peer i produces a descriptor as given (hostile tests) or a proper one. */
static int send_desc(unsigned i, chan_desc_t d) { return chan_produce(&peer[i].out, &d); }
static int send_raw(unsigned i, const uint8_t *f, uint32_t len)
{
    struct peer *p = &peer[i];
    uint32_t off = NET_BUF_OFFSET(p->out.head);
    memcpy(chan_data(p->rx) + off, f, len);
    return send_desc(
        i, (chan_desc_t){.id = p->id++, .op = NET_OP_FRAME, .data_offset = off, .len = len});
}
static int send(unsigned i, const uint8_t *dst, uint32_t seq)
{
    uint8_t f[64], src[6];
    mac_of(i, src);
    return send_raw(i, f, frame(f, dst, i == U ? X : src, seq, 64));
}

/* Peer i takes one frame from the switch: its length (and bytes in f), 0 if none. Completes and
 * releases it, as a receiver must. */
static uint32_t recv(unsigned i, uint8_t *f)
{
    struct peer *p = &peer[i];
    uint32_t pos = p->in.next;
    chan_desc_t d;
    if (chan_consume(&p->in, &d)) return 0;
    cr_assert_eq(d.op, NET_OP_FRAME);
    cr_assert_neq(d.id, 0);
    cr_assert_eq(d.data_offset, NET_BUF_OFFSET(pos), "the switch uses the ring position's buffer");
    cr_assert(d.len >= NET_MIN_FRAME && d.len <= NET_MAX_FRAME);
    memcpy(f, chan_data(p->tx) + d.data_offset, d.len);
    d.status = RS_OK;
    chan_produce(&p->in_cmp, &d);
    chan_release(&p->in);
    return d.len;
}
static unsigned drain(unsigned i)
{
    uint8_t f[NET_MAX_FRAME];
    unsigned n = 0;
    while (recv(i, f)) n++;
    return n;
}
/* The completion status of peer i's oldest unanswered frame; -1 if none. */
static int64_t status(unsigned i)
{
    chan_desc_t d;
    if (chan_consume(&peer[i].out_cmp, &d)) return -1;
    chan_release(&peer[i].out_cmp);
    return d.status;
}

static uint64_t now = 1000;
static void poll(void) { sw_poll(&sw, now); }

Test(sw, bound_ports_use_the_link_mac_and_the_uplink_none)
{
    uint8_t m[6];
    mac_of(A, m);
    cr_assert_eq(m[0], 0x02, "locally administered unicast");
    cr_assert(sw.port[U].uplink && !sw.port[A].uplink);
    cr_assert_eq(sw_lookup(&sw, m, now), A, "a bound MAC is known before its port sends");
    cr_assert_eq(sw_lookup(&sw, X, now), -1);
}

Test(sw, broadcast_multicast_and_unknown_unicast_flood_to_all_but_the_source)
{
    const uint8_t *dsts[3] = {BCAST, MCAST, Y};
    for (unsigned k = 0; k < 3; k++) {
        send(A, dsts[k], k);
        poll();
        cr_assert_eq(status(A), RS_OK);
        cr_assert_eq(drain(A), 0, "never back to the source");
        cr_assert_eq(drain(U), 1);
        cr_assert_eq(drain(B), 1);
        cr_assert_eq(drain(C), 1);
    }
    cr_assert_eq(sw.port[A].c.rx, 3);
    cr_assert_eq(sw.port[B].c.tx, 3);
}

Test(sw, learns_macs_behind_the_uplink_and_then_forwards_only_there)
{
    uint8_t mb[6], f[NET_MAX_FRAME];
    mac_of(B, mb);
    send(A, X, 1); // X unknown: flooded
    poll();
    cr_assert_eq(drain(U) + drain(B) + drain(C), 3);
    send(U, mb, 2); // from X to B: learns X on the uplink, goes to B only
    poll();
    cr_assert_eq(drain(A) + drain(C), 0);
    cr_assert_eq(recv(B, f), 64);
    cr_assert(!memcmp(f + 6, X, 6));
    cr_assert_eq(sw_lookup(&sw, X, now), U);
    send(A, X, 3); // now known
    poll();
    cr_assert_eq(drain(B) + drain(C), 0, "a learned unicast goes to one port");
    cr_assert_eq(recv(U, f), 64);
    uint32_t seq;
    memcpy(&seq, f + 14, 4);
    cr_assert_eq(seq, 3);
}

Test(sw, entries_age_out_after_300_s_and_frames_flood_again)
{
    send(U, BCAST, 1);
    poll();
    drain(A), drain(B), drain(C);
    cr_assert_eq(sw_lookup(&sw, X, now), U);
    cr_assert_eq(sw_lookup(&sw, X, now + SW_AGE_MS - 1), U);
    cr_assert_eq(sw_lookup(&sw, X, now + SW_AGE_MS), -1);
    now += SW_AGE_MS;
    send(A, X, 2);
    poll();
    cr_assert_eq(drain(U) + drain(B) + drain(C), 3, "aged out: flooded");
    now += 5;
    send(U, BCAST, 3); // seen again: learned again
    poll();
    cr_assert_eq(sw_lookup(&sw, X, now), U);
}

/* MACs behind the uplink that fall into set `set` (with key 0). */
static unsigned same_set(unsigned set, uint8_t (*out)[6], unsigned want)
{
    unsigned n = 0;
    for (uint32_t v = 0; n < want; v++) {
        uint8_t m[6] = {0x52,      0x54, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                        (uint8_t)v};
        if (sw_set_of(&sw, m) == set) memcpy(out[n++], m, 6);
    }
    return n;
}

static void from_uplink(const uint8_t *src)
{
    uint8_t f[64];
    send_raw(U, f, frame(f, BCAST, src, 0, 64));
    poll();
    drain(A), drain(B), drain(C);
    status(U);
}

Test(sw, the_table_is_bounded_and_evicts_the_way_seen_longest_ago)
{
    uint8_t m[SW_WAYS + 2][6];
    same_set(7, m, SW_WAYS + 2);
    for (unsigned k = 0; k < SW_WAYS; k++) now += 10, from_uplink(m[k]);
    for (unsigned k = 0; k < SW_WAYS; k++) cr_assert_eq(sw_lookup(&sw, m[k], now), U);
    now += 10;
    from_uplink(m[0]); // refreshed: m[1] is now the oldest
    now += 10;
    from_uplink(m[SW_WAYS]);
    cr_assert_eq(sw_lookup(&sw, m[1], now), -1, "the way seen longest ago went");
    cr_assert_eq(sw_lookup(&sw, m[0], now), U);
    cr_assert_eq(sw_lookup(&sw, m[SW_WAYS], now), U);
    // an aged-out way goes before any fresh one
    now += SW_AGE_MS - 15; // m[2], m[3] (older) have aged out, m[0] and m[SW_WAYS] not yet
    from_uplink(m[SW_WAYS + 1]);
    cr_assert_eq(sw_lookup(&sw, m[0], now), U);
    cr_assert_eq(sw_lookup(&sw, m[SW_WAYS], now), U);
    cr_assert_eq(sw_lookup(&sw, m[SW_WAYS + 1], now), U);
    // thousands of MACs: never more than SW_TABLE entries, the newest always known
    for (uint32_t v = 0; v < 2000; v++) {
        uint8_t x[6] = {0x52, 0x55, 0, 0, (uint8_t)(v >> 8), (uint8_t)v};
        now++;
        from_uplink(x);
        cr_assert_eq(sw_lookup(&sw, x, now), U);
    }
    unsigned used = 0;
    for (unsigned i = 0; i < SW_TABLE; i++) used += sw.table[i].port < SW_PORTS;
    cr_assert_eq(used, SW_TABLE);
}

Test(sw, spoofed_sources_are_refused_and_counted)
{
    uint8_t f[64], ma[6], mb[6];
    mac_of(A, ma);
    mac_of(B, mb);
    send_raw(A, f, frame(f, BCAST, mb, 1, 64));    // A claims B's MAC
    send_raw(A, f, frame(f, BCAST, X, 2, 64));     // A claims an outside MAC
    send_raw(U, f, frame(f, BCAST, ma, 3, 64));    // the uplink claims A's MAC
    send_raw(U, f, frame(f, BCAST, MCAST, 4, 64)); // a multicast source
    poll();
    cr_assert_eq(drain(U) + drain(A) + drain(B) + drain(C), 0, "nothing went anywhere");
    cr_assert_eq(status(A), RS_INSUFFICIENT_RIGHTS);
    cr_assert_eq(status(A), RS_INSUFFICIENT_RIGHTS);
    cr_assert_eq(status(U), RS_INSUFFICIENT_RIGHTS);
    cr_assert_eq(status(U), RS_INSUFFICIENT_RIGHTS);
    cr_assert_eq(sw.port[A].c.drop[SW_SPOOF], 2);
    cr_assert_eq(sw.port[U].c.drop[SW_SPOOF], 2);
    cr_assert_eq(sw_lookup(&sw, ma, now), A, "the uplink did not take A's MAC");
    cr_assert_eq(sw_lookup(&sw, X, now), -1, "A's spoof taught nothing");
    send(A, BCAST, 5); // A with its own MAC still works
    poll();
    cr_assert_eq(status(A), RS_OK);
    cr_assert_eq(drain(B), 1);
}

Test(sw, frames_to_the_source_port_are_filtered)
{
    uint8_t f[64];
    send(U, BCAST, 1); // X on the uplink
    poll();
    drain(A), drain(B), drain(C), status(U);
    send_raw(U, f, frame(f, X, Y, 2, 64)); // Y to X, both behind the uplink
    poll();
    cr_assert_eq(status(U), RS_OK);
    cr_assert_eq(drain(U) + drain(A) + drain(B) + drain(C), 0);
    cr_assert_eq(sw.port[U].c.drop[SW_FILTERED], 1);
}

Test(sw, hostile_descriptors_are_refused_with_their_cause)
{
    uint8_t f[NET_MAX_FRAME + 100];
    frame(f, BCAST, X, 0, sizeof f);
    mac_of(A, f + 6);
    struct {
        uint32_t id, op, off_delta, len;
        enum sw_cause cause;
    } bad[] = {
        {1, NET_OP_FRAME, 0, NET_MIN_FRAME - 1, SW_RUNT},
        {2, NET_OP_FRAME, 0, 0, SW_RUNT},
        {3, NET_OP_FRAME, 0, NET_MAX_FRAME + 1, SW_GIANT},
        {4, NET_OP_FRAME, 0, 0xFFFFFFFFu, SW_GIANT},
        {5, NET_OP_FRAME, NET_BUF_SIZE, 64, SW_BAD_DESC}, /* the next slot's buffer */
        {6, NET_OP_FRAME, 0x7FFFFFFFu, 64, SW_BAD_DESC},  /* far outside the area */
        {7, NET_OP_FRAME, 8, 64, SW_BAD_DESC},            /* inside its buffer, not at it */
        {8, CHAN_OP_READ, 0, 64, SW_BAD_DESC},            /* not a frame */
        {0, NET_OP_FRAME, 0, 64, SW_BAD_DESC},            /* id 0 */
    };
    unsigned n = sizeof bad / sizeof bad[0];
    for (unsigned k = 0; k < n; k++) {
        uint32_t off = NET_BUF_OFFSET(peer[A].out.head);
        memcpy(chan_data(peer[A].rx) + off, f, 64);
        send_desc(A, (chan_desc_t){.id = bad[k].id,
                                   .op = bad[k].op,
                                   .data_offset = off + bad[k].off_delta,
                                   .len = bad[k].len});
    }
    poll();
    cr_assert_eq(drain(U) + drain(B) + drain(C), 0, "nothing forwarded");
    for (unsigned k = 0; k < n; k++) cr_assert_eq(status(A), RS_INVALID_ARGUMENT, "entry %u", k);
    cr_assert_eq(sw.port[A].c.drop[SW_RUNT], 2);
    cr_assert_eq(sw.port[A].c.drop[SW_GIANT], 2);
    cr_assert_eq(sw.port[A].c.drop[SW_BAD_DESC], 5);
    // the largest and smallest frames pass
    send_raw(A, f, NET_MAX_FRAME);
    send_raw(A, f, NET_MIN_FRAME);
    poll();
    uint8_t g[NET_MAX_FRAME];
    cr_assert_eq(recv(B, g), NET_MAX_FRAME);
    cr_assert(!memcmp(g, f, NET_MAX_FRAME));
    cr_assert_eq(recv(B, g), NET_MIN_FRAME);
}

Test(sw, a_corrupt_ring_index_harms_only_its_own_port)
{
    chan_req_ring(peer[A].rx)->head = peer[A].out.head + 1000; // A's head out of range
    chan_comp_ring(peer[B].tx)->head = 0x80000000u;            // B's completions nonsense
    chan_req_ring(peer[C].tx)->tail = 0x12345678u;             // C's consumer tail nonsense
    send(U, BCAST, 1);
    poll();
    cr_assert_eq(drain(A), 1);
    cr_assert_eq(drain(B), 1, "B still gets frames: its completion ring is only ignored");
    cr_assert_eq(sw.port[C].c.drop[SW_FULL], 1, "C's ring counts as full");
    chan_req_ring(peer[A].rx)->head = peer[A].out.head; // A comes back into range
    send(A, BCAST, 2);
    poll();
    cr_assert_eq(drain(U), 1);
}

Test(sw, seeded_garbage_from_one_port_never_harms_the_others)
{
    uint64_t rng = 0x5EED5EED12345678ull;
    unsigned sent = 0, got = 0;
    for (unsigned it = 0; it < 3000; it++) {
        // A: random descriptors, random bytes in its data area, sometimes a random head
        uint64_t r = xorshift64(&rng);
        if (chan_space(&peer[A].out)) {
            uint32_t off = NET_BUF_OFFSET(peer[A].out.head);
            for (unsigned k = 0; k < 16; k++)
                chan_data(peer[A].rx)[off + k] = (uint8_t)xorshift64(&rng);
            chan_desc_t d = {.id = r & 3,
                             .op = r & 4 ? NET_OP_FRAME : (uint32_t)(r >> 8),
                             .data_offset = r & 8 ? off : (uint32_t)(r >> 16),
                             .len = r & 16 ? (uint32_t)(r >> 24) % 2000 : (uint32_t)(r >> 32)};
            send_desc(A, d);
        }
        if ((r & 0xFF) == 7) chan_req_ring(peer[A].rx)->head = (uint32_t)(r >> 12);
        if ((r & 0xFF) == 9) chan_req_ring(peer[A].rx)->head = peer[A].out.head;
        if ((r & 0x3FF) == 11) chan_comp_ring(peer[A].tx)->head = (uint32_t)(r >> 20);
        // B to C: a proper unicast stream
        uint8_t mc[6];
        mac_of(C, mc);
        if (send(B, mc, it) == RS_OK) sent++;
        poll();
        while (status(B) >= 0) {
        }
        got += drain(C);
        drain(U), drain(A);
        while (status(A) >= 0) {
        }
    }
    cr_assert_eq(got, sent, "B's %u frames to C all arrived (got %u)", sent, got);
    uint64_t refused = 0;
    for (unsigned c = 0; c < SW_CAUSES; c++) refused += sw.port[A].c.drop[c];
    cr_assert_gt(refused, 1000);
}

/* Ports serve round-robin: with A and B both full, the uplink gets their frames in turns of at
 * most SW_BUDGET: at no point is one port more than SW_BUDGET frames ahead. (16 each: what one
 * source may put in the uplink's ring when three share it.) */
Test(sw, ports_are_served_round_robin_in_budgets)
{
    uint8_t mu[6] = {0x52, 0x54, 0, 0, 0, 1}, f[NET_MAX_FRAME], ma[6];
    from_uplink(mu);
    mac_of(A, ma);
    for (unsigned k = 0; k < 16; k++) send(A, mu, k), send(B, mu, 100 + k);
    poll();
    int lead = 0, most = 0;
    for (unsigned k = 0; k < 32; k++) {
        cr_assert_eq(recv(U, f), 64, "frame %u", k);
        lead += !memcmp(f + 6, ma, 6) ? 1 : -1;
        if (abs(lead) > most) most = abs(lead);
    }
    cr_assert_eq(lead, 0);
    cr_assert_eq(most, SW_BUDGET, "turns of SW_BUDGET frames");
    cr_assert_eq(recv(U, f), 0);
}

/* A floods broadcasts as fast as its ring allows; B sends 3 frames to C per step; C reads 10 per
 * step (less than offered). A gets only its share of C's ring: every frame of B reaches C.
 * Without the occupancy rule A's flood fills C's ring and a quarter of B's frames are lost. */
Test(sw, a_flooding_port_gets_only_its_fair_share)
{
    uint8_t mc[6];
    mac_of(C, mc);
    unsigned sent = 0, got_b = 0, got_a = 0;
    uint8_t mb[6], f[NET_MAX_FRAME];
    mac_of(B, mb);
    for (unsigned it = 0; it < 200; it++) {
        while (send(A, BCAST, it) == RS_OK) {
        }
        for (unsigned k = 0; k < 3; k++) sent += send(B, mc, it * 4 + k) == RS_OK;
        poll();
        while (status(A) >= 0) {
        }
        while (status(B) >= 0) {
        }
        for (unsigned k = 0; k < 10 && recv(C, f); k++) {
            if (!memcmp(f + 6, mb, 6)) got_b++;
            else got_a++;
        }
        drain(U), drain(B);
        // in C's ring A holds more than its share only while the others' shares stay free
        uint32_t held = sw.port[C].tx_req.head - sw.port[C].occ_tail;
        unsigned share = sw_share(&sw), owed = 0;
        for (unsigned s = 0; s < 4; s++)
            if (s != C && s != A && sw.port[C].occ[s] < share) owed += share - sw.port[C].occ[s];
        cr_assert_leq(held, CHAN_ENTRIES);
        cr_assert(sw.port[C].occ[A] <= share || CHAN_ENTRIES - held >= owed, "A took B's room");
    }
    while (recv(C, f)) got_b += !memcmp(f + 6, mb, 6);
    cr_log_info("flood: A got %u frames to C, B %u of %u; A refused for share %lu, C full %lu",
                got_a, got_b, sent, sw.port[A].c.drop[SW_SHARE], sw.port[C].c.drop[SW_FULL]);
    cr_assert_eq(got_b, sent, "every frame of B reached C (%u of %u)", got_b, sent);
    cr_assert_gt(sw.port[A].c.drop[SW_SHARE], 1000, "A was held to its share");
    cr_assert_eq(sw.port[B].c.drop[SW_SHARE], 0);
    cr_assert_gt(got_a, 1000, "A still got its share through");
}

/* The switch restarts (a new sw over the same memory) with frames in flight both ways: frames
 * it had read but not released are read again (at most duplicated), none is lost, and entries
 * the old instance left in an output count until the peer releases them. */
Test(sw, a_restart_mid_stream_loses_nothing_produced)
{
    uint8_t mc[6], f[NET_MAX_FRAME];
    mac_of(C, mc);
    for (unsigned k = 0; k < 20; k++) send(B, mc, k);
    poll();                                            // all 20 at C's ring, not read
    for (unsigned k = 20; k < 30; k++) send(B, mc, k); // read by nobody yet
    // the old instance dies here; its successor takes up the rings
    sw_init(&sw, 99);
    for (unsigned i = 0; i < nports; i++) attach_port(i);
    cr_assert_eq(sw.port[C].occ[SW_UNKNOWN_SRC], 20, "the old instance's frames are counted");
    for (unsigned k = 30; k < 32; k++) send(B, mc, k);
    poll();
    bool seen[32] = {0};
    unsigned n = 0;
    while (recv(C, f)) {
        uint32_t seq;
        memcpy(&seq, f + 14, 4);
        cr_assert_lt(seq, 32);
        seen[seq] = true;
        n++;
    }
    for (unsigned k = 0; k < 32; k++) cr_assert(seen[k], "frame %u arrived", k);
    cr_assert_eq(n, 32);
    poll(); // takes C's completions and the released entries
    cr_assert_eq(sw.port[C].occ[SW_UNKNOWN_SRC], 0);
}

Test(sw, a_restart_skips_its_own_tails_found_out_of_range)
{
    uint8_t mc[6], f[NET_MAX_FRAME];
    mac_of(C, mc);
    send(B, mc, 0); // read by nobody: the new instance may drop it
    // the old instance published tails a stray write flipped: B's frames in, C's completions
    chan_req_ring(peer[B].rx)->tail ^= 1u << 20;
    chan_comp_ring(peer[C].tx)->tail ^= 1u << 20;
    sw_init(&sw, 99);
    for (unsigned i = 0; i < nports; i++) attach_port(i);
    cr_assert_eq(sw.port[B].skipped, SW_SKIPPED_RX);
    cr_assert_eq(sw.port[C].skipped, SW_SKIPPED_TX_COMP);
    cr_assert_eq(sw.port[A].skipped, 0);
    send(B, mc, 1);
    poll();
    cr_assert_eq(recv(C, f), 64, "B's ring serves again: its frame reached C");
    uint32_t seq;
    memcpy(&seq, f + 14, 4);
    cr_assert_eq(seq, 1);
    cr_assert_eq(status(B), RS_OK, "B's frame was completed");
    poll(); // takes C's completion
    chan_ring_t *cc = chan_comp_ring(peer[C].tx);
    cr_assert_eq(cc->tail, cc->head, "C's completions are consumed again");
    cr_assert_eq(sw.port[C].occ[B], 0);
}

Test(sw, ports_beyond_the_limit_and_bad_names_are_refused)
{
    cr_assert_eq(sw_add_port(&sw, "", peer[0].rx, peer[0].tx, 1), -1);
    cr_assert_eq(sw_add_port(&sw, "a-name-of-twenty-chr", peer[0].rx, peer[0].tx, 1), -1);
    while (sw.nports < SW_PORTS) cr_assert_geq(sw_add_port(&sw, "x", peer[0].rx, peer[0].tx, 1), 0);
    cr_assert_eq(sw_add_port(&sw, "y", peer[0].rx, peer[0].tx, 1), -1);
}
