// SPDX-License-Identifier: MIT
// The server loop: receive, drop duplicates, handle, commit, reply; answer init's pings (the
// watchdog's heartbeat) and commit the faults init injects for crash testing. The pieces are
// public (ipc.h) for servers with their own loop, such as the VMM.
#include "ipc.h"
#include "process.h" /* PS_CHILD_STACK_TOP: where a server's stack ends */

static ipc_server_t *volatile the_server; /* what a wild write aims at */

/* An injected fault waits for its moment: at once (idle), or in the middle of the next request,
 * after the handler ran but before the commit, or after the commit but before the reply. The
 * last two are where a crash could lose a reply or duplicate an effect; libipc must prevent both. */
static uint64_t pending_kind;
static enum ipc_fault_point pending_point;
static uint64_t pending_seed; /* control->inject_seed: which bits and words a fault picks */
static bool garble_next;      /* the next reply goes out corrupted (IPC_INJECT_GARBLE) */

/* The server's structure as its loop began, kept apart: a stray write into it (a flipped
 * endpoint, control or dedup pointer) would make the loop spin on a receive that fails for ever
 * while its heartbeat moves (at blk's priority, a system stalled), or write elsewhere. */
static ipc_server_t sealed;
#define IPC_STACK_REACH (64u << 10) /* how far below a frame the calls beneath it may reach */
_Static_assert(sizeof(ipc_server_t) % 8 == 0, "ipc_server_round compares it word by word");
static unsigned recv_errors; /* receives in a row that failed */

bool ipc_words_equal(const void *a, const void *b, size_t size)
{
    const uint64_t *x = a, *y = b;
    uint64_t d = 0;
    for (size_t i = 0; i < size / 8; i++) d |= x[i] ^ y[i];
    return !d;
}

static bool server_intact(const ipc_server_t *s) { return ipc_words_equal(s, &sealed, sizeof(*s)); }

static uint64_t next_rand(void)
{
    pending_seed ^= pending_seed << 13, pending_seed ^= pending_seed >> 7;
    pending_seed ^= pending_seed << 17;
    return pending_seed;
}

static void take_inject(ipc_control_t *ctl)
{
    pending_kind = ctl->inject;
    pending_seed = ctl->inject_seed | 1; // xorshift needs a state other than 0
    ctl->inject = IPC_INJECT_NONE;
}

void ipc_server_init(ipc_server_t *s, ipc_handler_fn handler, void *ctx)
{
    ipc_control_t *ctl = (ipc_control_t *)IPC_CONTROL_VADDR;
    *s = (ipc_server_t){.ep = IPC_SLOT_SERVICE, .handler = handler, .ctx = ctx, .control = ctl};
    if (ctl->persistent_vaddr)
        s->pstate = pstate_open((void *)ctl->persistent_vaddr, ctl->persistent_size);
    the_server = s;
    if (ctl->inject) { // init asked this instance to crash while it starts (IPC_INJECT_RESTART)
        take_inject(ctl);
        pending_point = IPC_FAULT_AT_ONCE;
        ipc_server_fault_point(s, IPC_FAULT_AT_ONCE);
    }
}

/* Scribbles over the server's own data: its structure (the handler pointer), or what it named. */
static void scribble(ipc_server_t *s)
{
    ipc_server_t *t = the_server ? the_server : s;
    volatile uint64_t *p = (volatile uint64_t *)(t->scribble ? t->scribble : (void *)t);
    size_t words = (t->scribble ? t->scribble_size : sizeof(*t)) / 8;
    for (size_t i = 0; i < words; i++) p[i] = 0xBADBADBADBAD0000ull + i;
}

extern char __bss_start[], _end[]; /* the linker's: the server's zero-initialised globals */

/* Flips 1 to 4 bits in words of the server's globals, its live stack (the frames of the
 * functions that called this one) or its persistent region, and returns: the server runs on
 * with them, as after a stray write of a real bug, until something breaks or nothing does. */
static void corrupt(const ipc_control_t *ctl)
{
    uint64_t sp = (uint64_t)__builtin_frame_address(0);
    uint64_t lo = (uint64_t)__bss_start, hi = (uint64_t)_end & ~7ul;
    uint64_t region = next_rand() % 3;
    if (region == 1) lo = sp, hi = PS_CHILD_STACK_TOP;
    if (region == 2 && ctl && ctl->persistent_size)
        lo = ctl->persistent_vaddr, hi = lo + ctl->persistent_size;
    if (hi <= lo + 8) return;
    unsigned flips = 1 + (unsigned)(next_rand() % 4);
    for (unsigned i = 0; i < flips; i++) {
        volatile uint64_t *w = (volatile uint64_t *)((lo + next_rand() % (hi - lo)) & ~7ul);
        *w ^= 1ull << (next_rand() % 64);
    }
}

/* Uses up the memory the server has: a server holds no untyped (init makes its objects), so its
 * stack, one page per call, until the unmapped page below it faults. */
static __attribute__((noinline)) uint64_t exhaust(volatile uint8_t *above, uint64_t depth)
{
    volatile uint8_t page[4096];
    page[0] = (uint8_t)(above ? above[0] + 1 : 0);
    page[sizeof(page) - 1] = (uint8_t)depth;
    if (depth > (1ull << 40)) return page[0]; // never: the stack ends long before
    return exhaust(page, depth + 1) + page[sizeof(page) - 1];
}

/* A reply corrupted as a buggy server would send it: a wrong label, or bit flips in its words. */
static void garble(ipc_msg_t *reply)
{
    uint64_t r = next_rand();
    if (r % 3 == 0 || !reply->len) {
        reply->label ^= 1ull << (next_rand() % 8);
        return;
    }
    unsigned flips = 1 + (unsigned)(next_rand() % 3);
    for (unsigned i = 0; i < flips; i++)
        reply->w[next_rand() % reply->len] ^= 1ull << (next_rand() % 64);
}

/* Commits the fault init asked for. Each kind is what a real bug would do. */
void ipc_server_fault_point(ipc_server_t *s, enum ipc_fault_point here)
{
    if (!pending_kind || pending_point != here) return;
    uint64_t kind = pending_kind;
    pending_kind = IPC_INJECT_NONE;
    switch (kind) {
    case IPC_INJECT_NULL: *(volatile uint64_t *)0 = 0xDEAD; break;
    case IPC_INJECT_WILD: scribble(s); break;
    case IPC_INJECT_HANG:
        // a plain `jmp .`, not `pause`: QEMU's TCG ends each PAUSE by leaving its CPU loop
        // (helper_pause), so under -icount a pause loop ran two instructions per round of that
        // loop and the machine's clock crawled (docs/resilience.md); this one keeps its pace
        for (;;) __asm__ volatile("");
    case IPC_INJECT_CORRUPT: corrupt(s ? s->control : NULL); break;
    case IPC_INJECT_GARBLE: garble_next = true; break;
    case IPC_INJECT_EXHAUST: (void)exhaust(NULL, 0); break;
    case IPC_INJECT_RESTART: *(volatile uint64_t *)8 = 0xDEAD; break; // init's: crash at start
    default: break;
    }
    // a server that runs on (corrupt) uses s at once: its control pointer flipped, the ping's
    // `inject` store went into init's words of the control page
    if (s && sealed.control && !server_intact(s)) __builtin_trap();
}

void ipc_server_ping(ipc_server_t *s)
{
    if (pending_kind) { // no request came to carry it: the fault strikes now
        pending_point = IPC_FAULT_AT_ONCE;
        ipc_server_fault_point(s, IPC_FAULT_AT_ONCE);
    }
    if (s->control && s->control->inject) {
        pending_point = (enum ipc_fault_point)(s->control->heartbeat % 3);
        take_inject(s->control);
        // a new instance's first ping: init's crash during restart strikes before it serves
        if (pending_kind == IPC_INJECT_RESTART) pending_point = IPC_FAULT_AT_ONCE;
        ipc_server_fault_point(s, IPC_FAULT_AT_ONCE);
    }
}

/* The reply to request req as it goes out: sealed with its check if the client asked for one
 * (IPC_ID_CHECKED), then garbled if init asked for that (after the seal: the corruption a
 * client must catch happens after the server computed its reply). */
static void reply_out(const ipc_msg_t *req, ipc_msg_t *reply)
{
    if (req->len && (req->w[0] & IPC_ID_CHECKED)) ipc_reply_seal(reply);
    if (garble_next) garble_next = false, garble(reply);
}

static bool same_msg(const ipc_msg_t *a, const ipc_msg_t *b)
{
    if (a->label != b->label || a->len != b->len || a->len > IPC_MAX_WORDS) return false;
    for (unsigned i = 0; i < a->len; i++)
        if (a->w[i] != b->w[i]) return false;
    return true;
}

/* Whether p lies in the stack at or below frame: where the frames of the calls below it go,
 * never a request or reply a loop handed over from its own frame. */
static bool in_frames_below(const void *p, const void *frame)
{
    uintptr_t f = (uintptr_t)frame, a = (uintptr_t)p;
    return a < f && f - a < IPC_STACK_REACH;
}

struct ipc_handling ipc_handling;

/* The request and reply as ipc_server_handle was handed them (ipc.h: struct ipc_handling). */
static void handling_check(const ipc_msg_t *req, const ipc_msg_t *reply)
{
    if (req != ipc_handling.req || reply != ipc_handling.reply) __builtin_trap();
}

/* Never inlined: its frame must lie below its caller's, whose request and reply it checks. */
__attribute__((noinline)) void ipc_server_handle(ipc_server_t *s, rs_badge_t badge,
                                                 const ipc_msg_t *req, ipc_msg_t *reply)
{
    // A loop's pointers to its request and reply may sit in registers it saved on the stack,
    // where a stray write flips them (issue 15's corrupt into echo, seed 19: every request read
    // as label 4cfffffdf0958b4c and length 4,259,876,235, answered `illegal operation`, until a
    // crash): one that points into the frames below, or a request longer than any received,
    // is a crash, and the client's retry finds a sound instance.
    const void *frame = __builtin_frame_address(0);
    if (in_frames_below(req, frame) || in_frames_below(reply, frame) || req->len > IPC_MAX_WORDS)
        __builtin_trap();
    ipc_handling = (struct ipc_handling){req, reply};
    uint64_t id = req->len ? req->w[0] : 0;
    bool d = s->pstate && badge < IPC_MAX_CLIENTS;
    int seen = d ? pstate_lookup(s->pstate, badge, id, reply) : IPC_RECORD_NEW;
    if (seen != IPC_RECORD_NEW) { // a retry of what we (or our previous instance) already did
        // its record lost its reply to a stray write: refused, never run twice
        if (seen == IPC_RECORD_LOST)
            *reply = (ipc_msg_t){.label = RS_ILLEGAL_OPERATION, .len = 1, .w = {id}};
        reply_out(req, reply);
        return;
    }
    *reply = (ipc_msg_t){.len = 1};
    if (s->pstate) pstate_abort(s->pstate); // nothing staged but what this request stages
    reply->label = (rs_word_t)s->handler(s->ctx, badge, req, reply);
    handling_check(req, reply); // the handler's waits and fault points are behind it
    // id sat on the stack while the handler ran: a stray write into it (issue 15's `corrupt`)
    // would send the reply under another id, which the client takes for a broken protocol
    // (RS_INVALID_ARGUMENT) instead of retrying; crash instead, and the retry gets the answer
    if (id != (req->len ? req->w[0] : 0)) __builtin_trap();
    reply->w[0] = id;
    if (reply->len < 1) reply->len = 1;
    if (!d || !id) {
        if (s->pstate) pstate_abort(s->pstate);
        reply_out(req, reply);
        return;
    }
    // the reply is held across the fault points (where a stray write may strike, on this stack
    // too): one that changed there is a crash, never committed or sent (a client took a flipped
    // id for a reply to another request)
    const ipc_msg_t held = *reply;
    ipc_server_fault_point(s, IPC_FAULT_BEFORE_COMMIT);
    if (!same_msg(&held, reply)) __builtin_trap();      // not committed: the retry runs it again
    if (reply->label != RS_OK) pstate_abort(s->pstate); // failures are answered once too
    pstate_commit(s->pstate, badge, id, reply);
    ipc_server_fault_point(s, IPC_FAULT_BEFORE_REPLY);
    if (!same_msg(&held, reply)) __builtin_trap(); // committed: the retry gets the record
    handling_check(req, reply);
    reply_out(req, reply); // a retry gets the reply as committed
}

void ipc_server_seal(const ipc_server_t *s)
{
    sealed = *s;
    recv_errors = 0;
}

void ipc_server_round(ipc_server_t *s, rs_result_t r)
{
    recv_errors = r.error == RS_OK || r.error == RS_WOULD_BLOCK ? 0 : recv_errors + 1;
    if (!server_intact(s) || recv_errors > IPC_MAX_RECV_ERRORS)
        __builtin_trap(); // a crash: the next one is sound
    if (s->control) s->control->heartbeat++;
}

_Noreturn void ipc_serve(ipc_server_t *s)
{
    ipc_msg_t req, reply;
    ipc_server_seal(s);
    rs_result_t r = rs_recv(s->ep);
    for (;;) {
        ipc_server_round(s, r);
        if (r.error != RS_OK) { // nothing to answer (e.g. the caller went away): wait again
            r = rs_recv(s->ep);
            continue;
        }
        if (rs_msginfo_label(r.info) == RS_NOTIFICATION_LABEL) { // a ping from init
            ipc_server_ping(s);
            r = rs_recv(s->ep);
            continue;
        }
        ipc_msg_get(&req, r.info);
        ipc_server_handle(s, r.badge, &req, &reply);
        r = rs_reply_recv(s->ep, ipc_msg_put(&reply));
    }
}

_Noreturn void ipc_shutdown(const ipc_control_t *ctl)
{
    uint64_t rate = ctl->tsc_per_ms ? ctl->tsc_per_ms : 1000000,
             until = rt_rdtsc() + 3 * IPC_TICK_MS * rate;
    while (rt_rdtsc() < until) rs_yield();
    for (;;) rs_shutdown(IPC_SLOT_SHUTDOWN); // returns only without the cap: nothing else to do
}
