// SPDX-License-Identifier: MIT
// The VMM server, one per guest (manifest guest=, docs/virtualization.md): receives the guest's
// exits and clients' requests on its endpoint, emulates (exit.c and the device models), commits
// the device state, then replies. A restarted instance continues from the committed state: the
// exit its predecessor died holding comes again from the kernel and is answered as if nothing
// had happened. HLT is answered only when the timer is due: meanwhile the VMM waits on its
// notification (init's ticks and pings), never on the endpoint, which would hand the exit back.
#include "ipc.h"
#include "process.h"
#include "vcpu.h"
#include "proto/registry.h"
#include "proto/net.h"
#include "proto/vmm.h"
#include "vmm.h"

_Static_assert(sizeof(ipc_control_t) <= VMM_CONSOLE_OFFSET, "the console ring follows the control "
                                                            "page's fields");

static struct vmm vmm; /* what an injected wild write destroys */
static ipc_server_t server;
static struct vmm_persist *persist;
static struct blk_mem disk;    /* the guest's disk image init keeps (manifest disk=) */
static struct vblk_chan dchan; /* or a file of fs over channel disk_k (virtio_blk_chan.h) */
static int disk_k = -1;

/* A variant build's per-phase instruction counts of an I/O exit (docs/benchmarks.md): define
 * VMM_PROFILE and run tools/bench.sh vmexit; under -icount the TSC counts instructions. */
#ifdef VMM_PROFILE
#define PROF_MARKS 12
static uint64_t prof_t[PROF_MARKS], prof_min[PROF_MARKS], prof_n;
static bool prof_io;
#define PROF(i) (prof_t[i] = rt_rdtsc())
/* Each phase's least count over 1000 port I/O exits (an average would include the ticks and
 * their interrupts that land in some of them). */
static void prof_account(void)
{
    if (!prof_io) return;
    for (unsigned i = 1; i < PROF_MARKS; i++) {
        uint64_t d = prof_t[i] - prof_t[i - 1];
        if (!(prof_n % 1000) || d < prof_min[i]) prof_min[i] = d;
    }
    if (++prof_n % 1000) return;
    rt_printf("vmm prof:");
    for (unsigned i = 1; i < PROF_MARKS; i++) rt_printf(" %lu", prof_min[i]);
    rt_printf("\n");
}
#else
#define PROF(i) ((void)0)
#endif
static struct vnet_link net;   /* the guest's network link (proto/net.h), if it has one */
static net_link_index_t net_k; /* its channels' indices */

/* The globals an instance sets once and trusts ever after, and their twin: a stray write into
 * them (a flipped pointer, endpoint or size) would have the VMM read exits from elsewhere, print
 * under another name or loop on receive errors, its guest stalled or fed garbage. Compared at
 * every exit and notification (a few words); a difference crashes this instance, and the next
 * one sets them anew (docs/restart.md "Validating inherited state"). */
struct sealed {
    struct vmm vmm; /* its `st` excluded: it moves with each transaction */
    ipc_server_t server;
    struct vmm_persist *persist;
    void *ipc_buffer;
    int64_t disk_k;
    uint64_t net_k; /* tx | rx << 32 */
};
static struct sealed seal;

static void sealed_now(struct sealed *g)
{
    g->vmm = vmm;
    g->vmm.st = NULL;
    g->server = server;
    g->persist = persist;
    g->ipc_buffer = (void *)__rs_ipc_buffer;
    g->disk_k = disk_k;
    g->net_k = net_k.tx | (uint64_t)net_k.rx << 32;
}

/* Traps unless the n words at a and b are equal (a crash: the next instance is sound). */
static void check_same(const void *a, const void *b, size_t n)
{
    bool eq = true; // string compare: one step a word, where a loop takes three
    if (n) __asm__ volatile("repe cmpsq" : "=@ccz"(eq), "+S"(a), "+D"(b), "+c"(n) : : "memory");
    if (!eq) __builtin_trap();
}

/* Traps unless reply r is recorded as rec. */
static void check_reply(const struct vmm_reply *rec, const struct vmm_reply *r)
{
    if (rec->label != r->label || rec->len != r->len || r->len > RS_REPLY_MR_COUNT)
        __builtin_trap();
    check_same(rec->w, r->w, r->len);
}

/* The pointers the exit path writes through after a fault point (its commit and output): a
 * flipped one would write into init's words of the control page (a console left raw). */
static void check_pointers(void)
{
    uint64_t d = (uintptr_t)server.control ^ (uintptr_t)seal.server.control;
    d |= (uintptr_t)vmm.ring ^ (uintptr_t)seal.vmm.ring;
    d |= (uintptr_t)persist ^ (uintptr_t)seal.persist;
    if (d) __builtin_trap();
}

static void check_globals(void)
{
    // the words the exit path and the output use, in the seal's order (a copy would cost more)
    const struct sealed *g = &seal;
    uint64_t d = (uintptr_t)vmm.name ^ (uintptr_t)g->vmm.name;
    d |= (uintptr_t)vmm.ram ^ (uintptr_t)g->vmm.ram;
    d |= vmm.ram_size ^ g->vmm.ram_size;
    d |= (uintptr_t)vmm.ops ^ (uintptr_t)g->vmm.ops;
    d |= (uintptr_t)vmm.ring ^ (uintptr_t)g->vmm.ring;
    d |= (uintptr_t)vmm.disk ^ (uintptr_t)g->vmm.disk;
    d |= (uintptr_t)vmm.net ^ (uintptr_t)g->vmm.net;
    d |= server.ep ^ g->server.ep;
    d |= (uintptr_t)server.control ^ (uintptr_t)g->server.control;
    d |= (uintptr_t)persist ^ (uintptr_t)g->persist;
    d |= (uintptr_t)__rs_ipc_buffer ^ (uintptr_t)g->ipc_buffer;
    d |= (uint64_t)(int64_t)disk_k ^ (uint64_t)g->disk_k;
    d |= (net_k.tx | (uint64_t)net_k.rx << 32) ^ g->net_k;
    if (d) __builtin_trap(); // a crash: the next instance is sound
}

static int read_state(void *ctx, rs_vcpu_state_t *s)
{
    (void)ctx;
    return ps_vcpu_read_state(IPC_SLOT_VCPU, s);
}

static int write_state(void *ctx, const rs_vcpu_state_t *s)
{
    (void)ctx;
    return ps_vcpu_write_state(IPC_SLOT_VCPU, s);
}

static void host_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

static const struct vmm_ops ops = {read_state, write_state, host_cpuid, rt_rdtsc};

/* Hands what the last commit produced to init's console through the output ring (proto/vmm.h),
 * at its fixed positions: done twice by two instances, it is printed once. When init is behind,
 * init prints the ring first (it alone moves tail: the VMM never prints itself, which was at
 * least once and put its bytes ahead of older ones still in the ring). */
static void print_output(void)
{
    static uint64_t corrupt_seen; // the state checks' count this instance reported
    uint64_t corrupt = persist->repaired + persist->sanitized;
    if (corrupt != corrupt_seen) // vmm_persist_check's doing, once per finding
        rt_printf("vmm %s: committed state found corrupt: %lu repaired from its twin, %lu "
                  "sanitized so far\n",
                  server.control->name, persist->repaired, persist->sanitized);
    corrupt_seen = corrupt;
    struct vmm_output_ring *ring =
        (struct vmm_output_ring *)((uintptr_t)server.control + VMM_OUTPUT_OFFSET);
    const struct vmm_out *o = vmm_unprinted(persist);
    uint64_t end = vmm_committed(persist)->out_end;
    if (!vmm_output_copy(ring, o, end)) {
        registry_flush_output();
        if (!vmm_output_copy(ring, o, end))
            rt_printf("vmm %s: %u bytes of output lost: init prints nothing\n",
                      server.control->name, o->len);
    }
    vmm_mark_printed(persist);
}

/* The network card's part of a commit: used indices published, frames taken from the link
 * completed and released, the link's peers signalled (virtio_net.h). */
static bool net_committed(void)
{
    if (!vmm.net) return false;
    const struct vq_ram ram = {vmm.ram, vmm.ram_size};
    bool late = virtio_net_committed(&vmm_committed(persist)->pc.net, &ram, &net);
    if (net.signal_tx) rs_signal(IPC_SLOT_CHANNEL0 + net_k.tx);
    if (net.signal_rx) rs_signal(IPC_SLOT_CHANNEL0 + net_k.rx);
    net.signal_tx = net.signal_rx = false;
    return late;
}

static void commit(void);

/* An interrupt withheld on VIRTQ_AVAIL_F_NO_INTERRUPT is due after all (virtio_net.h): raised
 * in a transaction of its own, whose commit finds nothing withheld (the interrupt is up). The
 * guest can have changed the flag only while it ran beside us, i.e. in a notification without a
 * held exit (pc_notify asks it back) or across a restart. */
static void net_late_interrupt(void)
{
    vmm.st = vmm_begin(persist);
    vmm.st->dirty |= VMM_DIRTY(VMM_SEG_NET);
    pc_net_poll(&vmm);
    virtio_net_interrupt(&vmm.st->pc.net, &net);
    pc_sync(&vmm);
    commit();
}

/* The guest's network card, iff this VMM is an end of exactly one network link. Only a server
 * with a channel has the device info page, and only it has a cap in IPC_SLOT_CHANNEL0: the
 * signal that finds out is one a (re)started end owes its peer anyway (libipc/channel.h). */
static void net_attach(const ipc_control_t *ctl)
{
    if (rs_signal(IPC_SLOT_CHANNEL0) != RS_OK) return;
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    char name[NET_LINK_NAME];
    if (info->magic != IPC_DEVICE_MAGIC) return;
    int err = net_link_only(info, &net_k);
    if (err || !net_link_name(info, net_k.tx, name)) {
        if (err != RS_FAILED_LOOKUP)
            rt_printf("vmm %s: no network card: its links are unusable (error %d)\n", ctl->name,
                      err);
        return;
    }
    net = (struct vnet_link){.tx = (uint8_t *)IPC_CHANNEL_VADDR(net_k.tx),
                             .rx = (uint8_t *)IPC_CHANNEL_VADDR(net_k.rx),
                             .tx_data = info->channel[net_k.tx].data_size,
                             .rx_data = info->channel[net_k.rx].data_size};
    net_link_mac(name, net.mac);
    vmm.net = &net;
    rs_signal(IPC_SLOT_CHANNEL0 + net_k.tx);
    rs_signal(IPC_SLOT_CHANNEL0 + net_k.rx);
    rt_printf("vmm %s: network card on link %s, MAC %02x:%02x:%02x:%02x:%02x:%02x\n", ctl->name,
              name, net.mac[0], net.mac[1], net.mac[2], net.mac[3], net.mac[4], net.mac[5]);
}

/* After a commit: tells init how much typed input it consumed and hands over its output (in
 * that order: both only once committed). */
static void committed(void)
{
    bool late = net_committed();
    vmm_console_publish(vmm.ring, vmm_committed(persist));
    print_output();

    if (disk_k >= 0) {
        // the disk's completions applied by the commit are released only now; its new requests
        // are out (they were visible before the commit: a crash made them orphans, see the
        // header)
        vblk_chan_committed(&dchan);
        if (dchan.signal) rs_signal(IPC_SLOT_CHANNEL0 + (unsigned)disk_k);
        dchan.signal = false;
    }
    if (late) net_late_interrupt();
}

/* Commits the transaction begun last. */
static void commit(void)
{
    vmm_commit(persist);
    committed();
}

/* The guest disk's completions from fs, applied in the transaction under way. */
static bool disk_reap(void)
{
    if (disk_k < 0) return false;
    const struct vq_ram ram = {vmm.ram, vmm.ram_size};
    vmm.st->dirty |= VMM_DIRTY_DISK;
    return vblk_chan_reap(&dchan, &vmm.st->pc.blk, &ram, CHAN_ENTRIES) > 0;
}

/* After a commit that applied completions: the queue may have waited for the slots they freed
 * (a transaction does not reuse them), so it runs again in a transaction of its own. */
static void disk_kick(void)
{
    vmm.st = vmm_begin(persist);
    vmm.st->dirty |= VMM_DIRTY_DISK;
    const struct vq_ram ram = {vmm.ram, vmm.ram_size};
    virtio_blk_kick(&vmm.st->pc.blk, &ram, &dchan.be);
    pc_sync(&vmm);
    commit();
}

static rs_msginfo_t put_reply(const struct vmm_reply *r)
{
    unsigned len = r->len <= RS_REPLY_MR_COUNT ? r->len : RS_REPLY_MR_COUNT;
    for (unsigned i = 0; i < len; i++) rs_mr_set(i, r->w[i]);
    return rs_msginfo(r->label, 0, 0, len);
}

static bool pc_platform(void) { return vmm_committed(persist)->platform == VMM_PLATFORM_PC; }

/* The pc platform wakes at its devices' next deadline by the kernel timer (a past one fires at
 * once), not on init's ticks. */
static void arm_timer(void)
{
    uint64_t next = pc_next_ns(&vmm);
    ps_timer_set_deadline(IPC_SLOT_TIMER, next == UINT64_MAX ? 0 : pc_ns_to_tsc(&vmm, next) | 1);
}

/* The pc platform's time moved on (a timer, a tick, input): the devices catch up in a
 * transaction of their own; an interrupt now pending while no exit is held brings the guest
 * back as soon as it can take it. */
static bool pc_notify(rs_badge_t bits, bool holding_exit)
{
    vmm.st = vmm_begin(persist);
    if (bits & IPC_BADGE_TICK) vmm_console_tick(&vmm); // feeds input, prints an idle line
    else vmm_console_feed(&vmm);
    bool reaped = disk_reap();
    pc_net_poll(&vmm); // before pc_sync: the lines it raises are seen at once
    pc_sync(&vmm);
    commit();
    // after the commit: it may have raised a network interrupt that was withheld (net_committed)
    bool due = pc_pending(&vmm) && !vmm.st->stopped;
    if (reaped) {
        disk_kick();
        due = pc_pending(&vmm) && !vmm.st->stopped;
    }
    if (due && !holding_exit) ps_vcpu_request_window(IPC_SLOT_VCPU, true);
    arm_timer();
    return due;
}

/* init's ping and timer tick (badge bits). A tick is a transaction of its own; when it raises
 * the timer and no exit is held, the guest is asked to come back as soon as it can take it.
 * Returns whether the timer interrupt is pending. The tiny guests' time moves by these ticks; the
 * pc platform's by the TSC, woken by the Timer (IPC_BADGE_TIMER) pc_notify arms. */
static bool on_notify(rs_badge_t bits, bool holding_exit)
{
    if (bits & IPC_BADGE_PING) ipc_server_ping(&server);
    check_globals(); // after the ping, where an injected fault strikes
    if (pc_platform()) return pc_notify(bits, holding_exit);
    if (!(bits & IPC_BADGE_TICK)) return vmm_committed(persist)->irq_pending;
    vmm.st = vmm_begin(persist);
    bool was = vmm.st->irq_pending, due = vmm_tick(&vmm), stopped = vmm.st->stopped;
    vmm_console_tick(&vmm);
    commit();
    if (due && !was && !holding_exit && !stopped) ps_vcpu_request_window(IPC_SLOT_VCPU, true);
    return due;
}

/* A HLT holds its exit until the timer is due (pc: until any device may have changed). */
static void wait_for_timer(void)
{
    if (pc_platform()) arm_timer(); // for the HLT's transaction, which is not committed
    for (unsigned errors = 0;;) {
        rs_result_t r = rs_wait(IPC_SLOT_PING);
        server.control->heartbeat++;
        errors = r.error == RS_OK ? 0 : errors + 1;
        if (errors > 64) __builtin_trap(); // a lost cap: never a spin
        if (r.error != RS_OK || on_notify(r.badge, true)) return;
    }
}

static rs_msginfo_t on_exit(rs_msginfo_t info, bool *unrecorded)
{
    // The exit's words, those it does not carry 0. The short exits of port I/O, HLT, VMCALL and
    // the interrupt window (the most frequent) have a buffer of their own whose other words are
    // never written; every other length clears what it does not carry (string instructions:
    // one step a word).
    static uint64_t base_words[RS_EXIT_MR_COUNT], other_words[RS_EXIT_MR_COUNT];
    PROF(1);
    size_t n = rs_msginfo_length(info), rest;
    if (n > RS_EXIT_MR_COUNT) n = RS_EXIT_MR_COUNT;
    uint64_t *w = n == RS_EXIT_LEN_BASE ? base_words : other_words, *to = w;
    const uint64_t *from = __rs_ipc_buffer->mr;
    rest = RS_EXIT_MR_COUNT - n;
    __asm__ volatile("rep movsq" : "+D"(to), "+S"(from), "+c"(n) : : "memory");
    if (w == other_words)
        __asm__ volatile("rep stosq" : "+D"(to), "+c"(rest) : "a"(0ull) : "memory");
#ifdef VMM_PROFILE
    prof_io = w[RS_EXIT_MR_REASON] == RS_EXIT_IO;
#endif
    PROF(2);
    server.control->vmm_exits[w[RS_EXIT_MR_REASON] % IPC_VMM_EXIT_REASONS]++;
    // only while the committed exit's reply may not have gone out can this be that exit again
    if (vmm_reply_owed(persist) && vmm_is_redelivery(persist, vmm_fingerprint(w))) {
        persist->redelivered++;
        return put_reply(&vmm_committed(persist)->last);
    }
    struct vmm_reply r;
    PROF(3);
    // The exit's words while a HLT waits (where an injected fault strikes) and the reply until
    // it goes out are on the stack: what a stray write there changes must not reach the guest
    // (an IF flipped off stops it for good). A difference crashes this instance: uncommitted,
    // the exit comes again with its words from the kernel; committed, it is answered from the
    // record, which its checksum vouches for.
    for (uint64_t held[RS_EXIT_MR_COUNT];;) {
        vmm.st = vmm_begin(persist);
        PROF(4);
        if (vmm_exit(&vmm, w, &r) == VMM_REPLY) break;
        memcpy(held, w, sizeof(held));
        wait_for_timer();
        check_same(held, w, RS_EXIT_MR_COUNT);
    }
    PROF(5);
    // the reply as emulated, against which r is checked after each fault point (the record is
    // made only at the commit, and not at all for an exit that changed nothing)
    struct vmm_reply kept;
    if (r.len > RS_REPLY_MR_COUNT) __builtin_trap();
    kept.label = r.label;
    kept.len = r.len;
    memcpy(kept.w, r.w, r.len * sizeof(r.w[0]));
    ipc_server_fault_point(&server, IPC_FAULT_BEFORE_COMMIT);
    check_pointers();
    check_reply(&kept, &r);
    PROF(6);
    // an exit that changed nothing is not recorded: counted once its reply is out
    *unrecorded = !vmm_commit_exit(persist, w, &r);
    if (!*unrecorded) committed();
    PROF(7);
    ipc_server_fault_point(&server, IPC_FAULT_BEFORE_REPLY);
    check_pointers();
    check_reply(*unrecorded ? &kept : &vmm_committed(persist)->last, &r);
    return put_reply(&r);
}

/* VMM_INPUT: a transaction of its own, like an exit; the retry of a request whose reply was
 * lost is recognised by its id (this server has no dedup table: vmm_console_input keeps one). */
static int on_input(rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    uint8_t bytes[VMM_INPUT_MAX];
    uint64_t count = req->len >= 2 ? req->w[1] : 0;
    if (count > VMM_INPUT_MAX || req->len < 2 + (count + 7) / 8) {
        reply->w[1] = 1; // the argument at fault: the count
        reply->len = 2;
        return count > VMM_INPUT_MAX ? RS_RANGE_ERROR : RS_TRUNCATED_MESSAGE;
    }
    unsigned n = (unsigned)count;
    for (unsigned i = 0; i < n; i++) bytes[i] = (uint8_t)(req->w[2 + i / 8] >> (8 * (i % 8)));
    unsigned accepted = 0;
    vmm.st = vmm_begin(persist);
    vmm.st->dirty = VMM_DIRTY_ALL;
    int err = vmm_console_input(&vmm, client, req->w[0], bytes, n, &accepted);
    ipc_server_fault_point(&server, IPC_FAULT_BEFORE_COMMIT);
    check_pointers();
    commit();
    // a crash here: the client's retry (same id) must not queue the bytes again
    ipc_server_fault_point(&server, IPC_FAULT_BEFORE_REPLY);
    check_pointers();
    reply->w[1] = accepted;
    reply->w[2] = vmm_committed(persist)->console.q_len;
    reply->len = 3;
    return err;
}

static int on_request(void *ctx, rs_badge_t client, const ipc_msg_t *req, ipc_msg_t *reply)
{
    (void)ctx;
    const struct vmm_state *s = vmm_committed(persist);
    if (req->label == VMM_INPUT) return on_input(client, req, reply);
    if (req->label != VMM_STATS) return RS_ILLEGAL_OPERATION;
    reply->w[1] = s->irqs;
    reply->w[2] = s->seq + persist->unrecorded; // every exit answered
    reply->w[3] = s->stopped;
    reply->w[4] = s->stop_reason;
    reply->w[5] = server.control->instance;
    reply->w[6] = persist->redelivered;
    reply->w[7] = s->now_ns / VMM_TICK_NS;
    reply->len = VMM_STATS_WORDS;
    return RS_OK;
}

static _Noreturn void serve(void)
{
    ipc_msg_t req, reply;
    rs_result_t r = rs_recv(server.ep);
    for (unsigned errors = 0;;) {
        PROF(0);
        check_globals(); // before anything is written through them
        server.control->heartbeat++;
        uint64_t label = rs_msginfo_label(r.info);
        errors = r.error == RS_OK ? 0 : errors + 1;
        if (errors > 64) __builtin_trap(); // a lost endpoint: never a spin
        if (r.error != RS_OK) {
            r = rs_recv(server.ep);
        } else if (label == RS_NOTIFICATION_LABEL) {
            on_notify(r.badge, false);
            r = rs_recv(server.ep);
        } else if (r.badge == IPC_BADGE_VCPU_EXIT) {
            if (label != RS_FAULT_VCPU_EXIT) { // nothing else comes with this badge
                r = rs_recv(server.ep);
                continue;
            }
            // what the guest is owed, for init's tick (proto/init.h): received, then answered
            server.control->vmm_exit_in = rs_mr_get(RS_EXIT_MR_SEQ);
            bool unrecorded = false;
            rs_msginfo_t answer = on_exit(r.info, &unrecorded);
            PROF(8);
            server.control->vmm_exit_out = server.control->vmm_exit_in;
            PROF(9);
            r = rs_reply_recv(server.ep, answer);
            PROF(10);
            vmm_mark_replied(persist); // the reply is out: the exit cannot come back now
            if (unrecorded) persist->unrecorded++;
            PROF(11);
#ifdef VMM_PROFILE
            prof_account();
#endif
        } else {
            ipc_msg_get(&req, r.info);
            ipc_server_handle(&server, r.badge, &req, &reply);
            r = rs_reply_recv(server.ep, ipc_msg_put(&reply));
        }
    }
}

/* The guest disk as a file of fs: the first client channel whose name starts with "disk"
 * (fs serves channel NAME as /disks/NAME.img). Its size comes from fs once per VM, before the
 * guest runs (the only wait for fs; later instances find it in the state); meanwhile init's
 * pings are answered. False when the channel is unusable. */
static bool disk_open(const ipc_control_t *ctl)
{
    const ipc_device_info_t *info = (const ipc_device_info_t *)IPC_DEVICE_INFO_VADDR;
    // a VMM without channels has no info page (reading it would fault) and an empty first
    // channel slot: a signal through it fails (a peer's spurious wake is harmless otherwise)
    if (ctl->guest_disk_size || rs_signal(IPC_SLOT_CHANNEL0) != RS_OK ||
        info->magic != IPC_DEVICE_MAGIC)
        return true;
    for (unsigned k = 0; disk_k < 0 && k < info->nchannels && k < IPC_MAX_CHANNELS; k++)
        if (info->channel[k].role == IPC_CHANNEL_CLIENT &&
            !memcmp(info->channel[k].name, "disk", 4))
            disk_k = (int)k;
    if (disk_k < 0) return true;
    const ipc_channel_info_t *ci = &info->channel[disk_k];
    int err = vblk_chan_init(&dchan, (void *)IPC_CHANNEL_VADDR(disk_k), ci->data_size, vmm.ram,
                             vmm.ram_size, (void *const *)&vmm.st,
                             offsetof(struct vmm_state, disk_chan), ctl->instance);
    if (err == RS_INVALID_ARGUMENT) {
        rt_printf("vmm %s: disk channel %s too small\n", ctl->name, ci->name);
        return false;
    }
    uint64_t sectors = vmm_committed(persist)->disk_chan.sectors;
    rs_signal(IPC_SLOT_CHANNEL0 + (unsigned)disk_k); // a (re)started end signals once
    if (!sectors) {
        vblk_chan_ask_info(&dchan);
        rs_signal(IPC_SLOT_CHANNEL0 + (unsigned)disk_k);
        int got;
        while (!(got = vblk_chan_info(&dchan, &sectors))) {
            rs_result_t r = rs_wait(IPC_SLOT_PING);
            server.control->heartbeat++;
            if (r.error == RS_OK && (r.badge & IPC_BADGE_PING)) ipc_server_ping(&server);
        }
        if (got < 0 || !sectors) {
            rt_printf("vmm %s: fs has no disk for channel %s: error %d\n", ctl->name, ci->name,
                      got);
            return false;
        }
        vmm.st = vmm_begin(persist);
        vmm.st->dirty |= VMM_DIRTY(VMM_SEG_DISK);
        vmm.st->disk_chan.sectors = sectors;
        vmm_commit(persist);
    }
    dchan.signal = false;
    dchan.be.sectors = sectors;
    vmm.disk = &dchan.be;
    rt_printf("vmm %s: disk of %lu sectors from fs over channel %s, %lu requests so far\n",
              ctl->name, sectors, ci->name, vmm_committed(persist)->disk_chan.sent);
    return true;
}

/* The pc platform's power-on, once per VM: the first instance resets the devices and writes the
 * firmware tables into guest RAM before the guest's first instruction (init resumes the vCPU
 * once the VMM serves); a restarted instance finds them made. */
static bool platform_start(const ipc_control_t *ctl)
{
    if (pc_platform() && vmm_committed(persist)->pc.initialised) return true;
    vmm.st = vmm_begin(persist);
    vmm.st->dirty = VMM_DIRTY_ALL; // every device's power-on
    vmm.st->platform = VMM_PLATFORM_PC;
    if (!pc_reset(&vmm, rt_rdtsc(), ctl->tsc_per_ms, ctl->wallclock_unix, ctl->wallclock_tsc)) {
        rt_printf("vmm %s: guest RAM too small for the platform's tables\n", ctl->name);
        return false;
    }
    vmm_commit(persist);
    return true;
}

int main(void *arg)
{
    ipc_control_t *ctl = arg;
    persist = vmm_persist_open((void *)ctl->persistent_vaddr, ctl->persistent_size);
    if (!persist || !ctl->guest_ram_size) {
        rt_printf("vmm %s: needs a guest (manifest guest=) and %lu bytes of persistent region\n",
                  ctl->name, sizeof(struct vmm_persist));
        return 1;
    }
    // each exit carries only its reason's words (exit ABI 2: MMIO and string I/O all of them);
    // the same selection for every instance, so a re-delivered exit comes with the same words
    ps_vcpu_set_exit_words(IPC_SLOT_VCPU, RS_EXIT_SHORT_ALL);
    vmm = (struct vmm){.name = ctl->name,
                       .ram = (uint8_t *)IPC_GUEST_RAM_VADDR,
                       .ram_size = ctl->guest_ram_size,
                       .ops = &ops,
                       .ring = (struct vmm_console_ring *)((uintptr_t)ctl + VMM_CONSOLE_OFFSET)};
    if (ctl->guest_disk_size) {
        blk_mem_init(&disk, (uint8_t *)IPC_GUEST_DISK_VADDR, ctl->guest_disk_size);
        vmm.disk = &disk.be;
    }
    if (ctl->guest_platform == IPC_GUEST_PC) net_attach(ctl);
    server = (ipc_server_t){.ep = IPC_SLOT_SERVICE,
                            .handler = on_request,
                            .control = ctl,
                            .scribble = &vmm,
                            .scribble_size = sizeof(vmm)};
    if (ctl->guest_platform == IPC_GUEST_PC && !disk_open(ctl)) return 1;
    sealed_now(&seal);
    print_output(); // what the previous instance committed but did not print
    vmm_console_publish(vmm.ring, vmm_committed(persist));
    if (ctl->guest_platform == IPC_GUEST_PC) {
        if (!platform_start(ctl)) return 1;
        vmm.st = (struct vmm_state *)vmm_committed(persist);
        net.suppressed = 3; // a predecessor may have died before it looked at the flags again
        // what a predecessor committed but did not publish or release
        if (net_committed()) net_late_interrupt();
        arm_timer();       // the deadline a predecessor may have died before setting
        if (disk_k >= 0) { // completions that came while no instance ran
            vmm.st = vmm_begin(persist);
            bool reaped = disk_reap();
            pc_sync(&vmm);
            commit();
            if (reaped) disk_kick();
        }
    }
    const struct vmm_state *s = vmm_committed(persist);
    rt_printf("vmm %s: instance %lu serving; guest RAM %lu MiB, %lu exits and %lu timer interrupts "
              "so far\n",
              ctl->name, ctl->instance, ctl->guest_ram_size >> 20, s->seq + persist->unrecorded,
              s->irqs);
    if (vmm.net && s->pc.net_present) {
        const struct vnet_stats *n = &s->pc.net.s;
        rt_printf("vmm %s: network so far: tx %lu (dropped %lu, bad %lu, refused %lu), rx %lu "
                  "(dropped %lu, small %lu, bad %lu), broken %lu\n",
                  ctl->name, n->tx_frames, n->tx_dropped, n->tx_bad, n->tx_refused, n->rx_frames,
                  n->rx_dropped, n->rx_small, n->rx_bad, n->broken);
    }
    serve();
}
