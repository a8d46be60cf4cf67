// SPDX-License-Identifier: MIT
// Channel rings (libipc/channel.c): layout, produce/consume, wrap-around, a hostile peer's
// indices and descriptors (seeded fuzz), and the restart of either end.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "xorshift.h"

#define DATA_SIZE (62u * 4096u)
#define SECTORS   2048u

static void *mem;

static void setup(void)
{
    mem = aligned_alloc(4096, CHAN_DATA_OFFSET + DATA_SIZE);
    memset(mem, 0xA5, CHAN_DATA_OFFSET + DATA_SIZE);
    chan_format(mem);
}
static void teardown(void) { free(mem); }

TestSuite(channel, .init = setup, .fini = teardown);

static chan_desc_t req(uint64_t id, uint32_t op, uint64_t sector, uint32_t off, uint32_t len)
{
    return (chan_desc_t){.id = id, .op = op, .offset = sector, .data_offset = off, .len = len};
}

Test(channel, layout_is_the_documented_one)
{
    cr_assert_eq((uint8_t *)chan_comp_ring(mem) - (uint8_t *)mem, 0x1000);
    cr_assert_eq(chan_data(mem) - (uint8_t *)mem, 0x2000);
    chan_producer_t p;
    cr_assert_eq(chan_producer_attach(&p, chan_req_ring(mem)), RS_OK);
    chan_desc_t d = req(0x1122334455667788ull, CHAN_OP_WRITE, 0x99, 0x200, 0x400);
    cr_assert_eq(chan_produce(&p, &d), RS_OK);
    uint8_t *b = mem;
    uint64_t id;
    uint32_t head, op, off, len;
    memcpy(&head, b + 0x00, 4);
    memcpy(&id, b + 0x80, 8);
    memcpy(&op, b + 0x88, 4);
    memcpy(&off, b + 0x98, 4);
    memcpy(&len, b + 0x9C, 4);
    cr_assert_eq(head, 1);
    cr_assert_eq(id, 0x1122334455667788ull);
    cr_assert_eq(op, CHAN_OP_WRITE);
    cr_assert_eq(off, 0x200);
    cr_assert_eq(len, 0x400);
}

Test(channel, fills_drains_in_order_and_wraps_the_index)
{
    chan_ring_t *r = chan_req_ring(mem);
    r->head = r->tail = UINT32_MAX - 10; // both ends see the same starting point: wraps soon
    chan_producer_t p;
    chan_consumer_t c;
    cr_assert_eq(chan_producer_attach(&p, r), RS_OK);
    cr_assert_eq(chan_consumer_attach(&c, r), RS_OK);
    uint64_t next_id = 1, expect = 1;
    for (unsigned round = 0; round < 5; round++) {
        while (chan_space(&p)) {
            chan_desc_t d = req(next_id++, CHAN_OP_READ, 0, 0, 512);
            cr_assert_eq(chan_produce(&p, &d), RS_OK);
        }
        chan_desc_t d = req(999, CHAN_OP_READ, 0, 0, 512);
        cr_assert_eq(chan_produce(&p, &d), RS_WOULD_BLOCK);
        cr_assert_eq(chan_pending(&p), CHAN_ENTRIES);
        while (chan_consume(&c, &d) == RS_OK) {
            cr_assert_eq(d.id, expect++);
            cr_assert_eq(chan_release(&c), RS_OK);
        }
        cr_assert_eq(chan_release(&c), RS_WOULD_BLOCK);
    }
    cr_assert_eq(expect, 5 * CHAN_ENTRIES + 1);
    cr_assert_lt(r->head, 1000u, "the index wrapped past 2^32");
}

Test(channel, hostile_head_is_refused_not_followed)
{
    chan_ring_t *r = chan_req_ring(mem);
    chan_consumer_t c;
    cr_assert_eq(chan_consumer_attach(&c, r), RS_OK);
    chan_desc_t d;
    r->head = CHAN_ENTRIES + 1; // more than the ring holds
    cr_assert_eq(chan_consume(&c, &d), RS_RANGE_ERROR);
    r->head = 0xFFFFFFFFu; // "behind" the tail
    cr_assert_eq(chan_consume(&c, &d), RS_RANGE_ERROR);
    r->head = 2;
    cr_assert_eq(chan_consume(&c, &d), RS_OK);
    cr_assert_eq(chan_consume(&c, &d), RS_OK);
    r->head = 1; // the producer takes back what we read already
    cr_assert_eq(chan_consume(&c, &d), RS_RANGE_ERROR);
    cr_assert_eq(c.next, 2u);
    // attach to a ring whose indices are absurd: refused, and nothing readable
    r->tail = 5;
    r->head = 5 + CHAN_ENTRIES + 7;
    cr_assert_eq(chan_consumer_attach(&c, r), RS_RANGE_ERROR);
    cr_assert_eq(chan_consume(&c, &d), RS_RANGE_ERROR);
}

Test(channel, hostile_tail_is_refused_not_followed)
{
    chan_ring_t *r = chan_comp_ring(mem);
    chan_producer_t p;
    cr_assert_eq(chan_producer_attach(&p, r), RS_OK);
    chan_desc_t d = req(1, CHAN_OP_READ, 0, 0, 512);
    cr_assert_eq(chan_produce(&p, &d), RS_OK);
    r->tail = 7; // the consumer claims to have taken entries never produced
    cr_assert_eq(chan_produce(&p, &d), RS_RANGE_ERROR);
    cr_assert_eq(chan_space(&p), 0u);
    cr_assert_eq(p.head, 1u, "a refused produce writes nothing");
    r->tail = 1;
    cr_assert_eq(chan_produce(&p, &d), RS_OK);
    // a producer restarting over a corrupt tail starts empty at that tail
    r->head = 100;
    r->tail = 0;
    cr_assert_eq(chan_producer_attach(&p, r), RS_RANGE_ERROR);
    cr_assert_eq(p.head, 0u);
    cr_assert_eq(r->head, 0u);
}

Test(channel, descriptor_checks_name_each_rejection)
{
    const uint32_t max = 64 * 1024;
    chan_desc_t d = req(1, CHAN_OP_READ, 0, 0, 512);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_OK);
    d = req(1, 0, 0, 0, 512);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_ILLEGAL_OPERATION);
    d = req(1, 77, 0, 0, 512);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_ILLEGAL_OPERATION);
    d = req(0, CHAN_OP_READ, 0, 0, 512);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_INVALID_ARGUMENT);
    d = req(1, CHAN_OP_WRITE, 0, 0, 0);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_INVALID_ARGUMENT);
    d = req(1, CHAN_OP_WRITE, 0, 0, 513);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_INVALID_ARGUMENT);
    d = req(1, CHAN_OP_WRITE, 0, 0, max + 512);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_INVALID_ARGUMENT);
    d = req(1, CHAN_OP_WRITE, 0, DATA_SIZE - 512, 1024);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_BAD_ADDRESS);
    d = req(1, CHAN_OP_WRITE, 0, 0xFFFFFE00u, 1024); // would wrap in 32 bits
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_BAD_ADDRESS);
    d = req(1, CHAN_OP_WRITE, 0, DATA_SIZE - 512, 512);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_OK);
    d = req(1, CHAN_OP_READ, SECTORS - 1, 0, 1024);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_RANGE_ERROR);
    d = req(1, CHAN_OP_READ, UINT64_MAX, 0, 512);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_RANGE_ERROR);
    d = req(1, CHAN_OP_READ, SECTORS - 2, 0, 1024);
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_OK);
    d = req(1, CHAN_OP_FLUSH, UINT64_MAX, 0xFFFFFFFF, 0xFFFFFFFF); // a flush carries no data
    cr_assert_eq(chan_desc_check(&d, DATA_SIZE, SECTORS, max), RS_OK);
}

/* A server (consumer) dies with requests read but not completed: the next instance reads them
 * again from the shared tail; the ones completed before the crash were released and are not. */
Test(channel, restarted_server_redoes_what_it_did_not_complete)
{
    chan_producer_t client;
    chan_consumer_t server;
    cr_assert_eq(chan_producer_attach(&client, chan_req_ring(mem)), RS_OK);
    cr_assert_eq(chan_consumer_attach(&server, chan_req_ring(mem)), RS_OK);
    for (uint64_t id = 1; id <= 5; id++) {
        chan_desc_t d = req(id, CHAN_OP_WRITE, id, 0, 512);
        cr_assert_eq(chan_produce(&client, &d), RS_OK);
    }
    chan_desc_t d;
    for (int i = 0; i < 3; i++) cr_assert_eq(chan_consume(&server, &d), RS_OK);
    cr_assert_eq(chan_release(&server), RS_OK); // request 1 completed
    cr_assert_eq(chan_unreleased(&server), 2u);
    // crash: the private state is gone; a new instance attaches
    memset(&server, 0x5A, sizeof(server));
    cr_assert_eq(chan_consumer_attach(&server, chan_req_ring(mem)), RS_OK);
    uint64_t seen[8], n = 0;
    while (chan_consume(&server, &d) == RS_OK) seen[n++] = d.id;
    cr_assert_eq(n, 4);
    for (unsigned i = 0; i < 4; i++) cr_assert_eq(seen[i], i + 2);
    cr_assert_eq(chan_pending(&client), 4u);
}

/* A consumer that published a tail whose bits a stray write flipped (a storm of corrupt into
 * nic): every new instance finds the ring out of range; one that may drop frames skips to the
 * producer's head, and the ring carries frames again. */
Test(channel, a_flipped_published_tail_is_skipped_by_a_consumer_that_may_drop)
{
    chan_producer_t peer;
    chan_consumer_t nic;
    cr_assert_eq(chan_producer_attach(&peer, chan_req_ring(mem)), RS_OK);
    for (uint64_t id = 1; id <= 3; id++) {
        chan_desc_t d = req(id, CHAN_OP_WRITE, id, 0, 512);
        cr_assert_eq(chan_produce(&peer, &d), RS_OK);
    }
    chan_req_ring(mem)->tail ^= 1u << 20;
    cr_assert_eq(chan_consumer_attach(&nic, chan_req_ring(mem)), RS_RANGE_ERROR);
    chan_consumer_skip_all(&nic);
    chan_desc_t d;
    cr_assert_eq(chan_consume(&nic, &d), RS_WOULD_BLOCK, "the unread frames are dropped");
    cr_assert_eq(chan_space(&peer), CHAN_ENTRIES, "and their slots the producer's again");
    d = req(4, CHAN_OP_WRITE, 4, 0, 512);
    cr_assert_eq(chan_produce(&peer, &d), RS_OK);
    cr_assert_eq(chan_consume(&nic, &d), RS_OK);
    cr_assert_eq(d.id, 4);
    // a new instance attaches to the ring as it is now: in range
    cr_assert_eq(chan_release(&nic), RS_OK);
    cr_assert_eq(chan_consumer_attach(&nic, chan_req_ring(mem)), RS_OK);
}

/* A client (producer) dies with requests outstanding: the new instance takes up its head and
 * the server's completions keep coming; nothing is produced twice or lost. */
Test(channel, restarted_client_takes_up_its_head)
{
    chan_producer_t client;
    chan_consumer_t server;
    cr_assert_eq(chan_producer_attach(&client, chan_req_ring(mem)), RS_OK);
    cr_assert_eq(chan_consumer_attach(&server, chan_req_ring(mem)), RS_OK);
    chan_desc_t d = req(1, CHAN_OP_READ, 0, 0, 512);
    for (int i = 0; i < 10; i++) cr_assert_eq(chan_produce(&client, &d), RS_OK);
    memset(&client, 0, sizeof(client));
    cr_assert_eq(chan_producer_attach(&client, chan_req_ring(mem)), RS_OK);
    cr_assert_eq(client.head, 10u);
    cr_assert_eq(chan_pending(&client), 10u);
    d.id = 11;
    cr_assert_eq(chan_produce(&client, &d), RS_OK);
    unsigned n = 0;
    while (chan_consume(&server, &d) == RS_OK) n++, chan_release(&server);
    cr_assert_eq(n, 11u);
    cr_assert_eq(d.id, 11u);
}

/* A hostile peer writes random indices and descriptors between our operations; seeded so a
 * failure replays. The honest consumer must never read more than the ring holds past its tail,
 * never accept a descriptor outside the data area or the disk, and recover once the peer
 * behaves. Checked independently of channel.c's own arithmetic. */
Test(channel, fuzz_hostile_producer_and_descriptors)
{
    uint64_t seed = 0x5EED0011ull;
    chan_ring_t *r = chan_req_ring(mem);
    chan_consumer_t c;
    chan_consumer_attach(&c, r);
    unsigned accepted = 0, refused = 0;
    for (unsigned i = 0; i < 200000; i++) {
        uint64_t x = xorshift64(&seed);
        switch (x % 8) {
        case 0: r->head = (uint32_t)(x >> 8); break;                 // anything
        case 1: r->head = c.tail + (uint32_t)((x >> 8) % 80); break; // near the window
        case 2: r->tail = (uint32_t)(x >> 8); break;                 // the consumer's own index
        default: {
            chan_desc_t *d = &r->desc[(x >> 8) % CHAN_ENTRIES];
            uint64_t y = xorshift64(&seed);
            d->id = y % 4 ? y : 0;
            d->op = (uint32_t)(x >> 20) % 5;
            d->offset = y % 3 ? (y >> 7) % (SECTORS + 64) : y;
            d->data_offset = (uint32_t)(xorshift64(&seed) % (DATA_SIZE + 8192));
            d->len = (uint32_t)(x >> 32) % 3 ? ((uint32_t)(x >> 40) % 140) * 256 : (uint32_t)y;
        }
        }
        chan_desc_t d;
        int err = chan_consume(&c, &d);
        cr_assert(err == RS_OK || err == RS_WOULD_BLOCK || err == RS_RANGE_ERROR);
        cr_assert_leq(c.next - c.tail, CHAN_ENTRIES, "read past the ring at step %u", i);
        if (err == RS_OK) {
            int v = chan_desc_check(&d, DATA_SIZE, SECTORS, 65536);
            bool in_data = (uint64_t)d.data_offset + d.len <= DATA_SIZE;
            bool on_disk = d.offset < SECTORS && d.len / 512 <= SECTORS - d.offset;
            if (v == RS_OK) {
                accepted++;
                cr_assert(d.id && d.op >= 1 && d.op <= 3);
                if (d.op != CHAN_OP_FLUSH)
                    cr_assert(in_data && on_disk && d.len && d.len % 512 == 0 && d.len <= 65536,
                              "accepted a bad descriptor at step %u", i);
            } else refused++;
            if (x & 1) chan_release(&c);
        }
        if (x % 97 == 0) { // the server restarts now and then
            chan_consumer_attach(&c, r);
            cr_assert_eq(c.next, c.tail);
        }
    }
    cr_assert_gt(accepted, 1000u, "the fuzz reached the accepting path");
    cr_assert_gt(refused, 1000u, "the fuzz reached the refusing paths");
    // the peer behaves again: the channel works from wherever the indices are
    r->head = c.tail = c.next = r->tail;
    chan_producer_t p;
    cr_assert_eq(chan_producer_attach(&p, r), RS_OK);
    chan_desc_t d = req(42, CHAN_OP_READ, 1, 0, 512), e;
    cr_assert_eq(chan_produce(&p, &d), RS_OK);
    cr_assert_eq(chan_consume(&c, &e), RS_OK);
    cr_assert_eq(e.id, 42u);
}

/* The same from the producer's side: a hostile consumer moves the tail at random. */
Test(channel, fuzz_hostile_consumer)
{
    uint64_t seed = 0xC0FFEEull;
    chan_ring_t *r = chan_comp_ring(mem);
    chan_producer_t p;
    chan_producer_attach(&p, r);
    unsigned ok = 0, bad = 0;
    for (unsigned i = 0; i < 100000; i++) {
        uint64_t x = xorshift64(&seed);
        if (x % 3 == 0) r->tail = (uint32_t)(x >> 8);
        else if (x % 3 == 1) r->tail = p.head - (uint32_t)((x >> 8) % 70);
        uint32_t before = p.head;
        chan_desc_t d = req(i + 1, CHAN_OP_READ, 0, 0, 512);
        int err = chan_produce(&p, &d);
        cr_assert(err == RS_OK || err == RS_WOULD_BLOCK || err == RS_RANGE_ERROR);
        cr_assert_eq(p.head, before + (err == RS_OK));
        cr_assert_leq(chan_pending(&p), CHAN_ENTRIES);
        if (err == RS_OK) ok++;
        else bad++;
        if (x % 101 == 0) chan_producer_attach(&p, r); // a restart of the producer
    }
    cr_assert_gt(ok, 1000u);
    cr_assert_gt(bad, 1000u);
}

Test(channel, own_ends_agree_with_what_was_published_until_a_stray_write)
{
    chan_producer_t p;
    chan_consumer_t c;
    chan_desc_t d = req(1, CHAN_OP_READ, 0, 0, CHAN_SECTOR), got;
    cr_assert_eq(chan_producer_attach(&p, chan_req_ring(mem)), RS_OK);
    cr_assert_eq(chan_consumer_attach(&c, chan_req_ring(mem)), RS_OK);
    cr_assert_eq(chan_produce(&p, &d), RS_OK);
    cr_assert(chan_producer_published(&p));
    cr_assert_eq(chan_consume(&c, &got), RS_OK);
    cr_assert(!chan_consumer_published(&c, 0), "one read and held");
    cr_assert(chan_consumer_published(&c, 1));
    cr_assert_eq(chan_release(&c), RS_OK);
    cr_assert(chan_consumer_published(&c, 0));
    p.head ^= 4; // flipped private copies
    c.tail ^= 1, c.next = c.tail;
    cr_assert(!chan_producer_published(&p));
    cr_assert(!chan_consumer_published(&c, CHAN_ENTRIES));
}
