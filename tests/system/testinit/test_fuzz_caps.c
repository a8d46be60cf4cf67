// SPDX-License-Identifier: MIT
// Robustness with caps of every object type: a child holding an untyped, CNodes, TCBs, an
// endpoint, a notification, frames of both sizes, page tables of every level, a VSpace, an IRQ
// handler, an I/O port, a VCPU and a GuestSpace throws 100000 mostly well-typed invocations at
// them per seed (retypes, copies, mints, moves, deletes, revokes, maps, binds, ...), while two
// other processes play IPC ping-pong that must keep going throughout. The seed and the count
// come from the kernel command line when given (fuzzc_seed=, fuzzc_calls=), to replay a seed.
#include "suites.h"
#include <resurgo/vcpu.h>

#define ME       RS_INIT_CNODE
#define D        PS_DEPTH
#define FC_CALLS 100000 /* invocations per seed */
#define FC_MS_PER_K                                                                                \
    3000                   /* give up on a seed after this long per 1000 invocations (Bochs'
                              * clock runs fast: 100000 take about 140 s of its time) */
#define FC_SLOTS      64   /* the child names slots 1..63 of its CNode */
#define FC_EPOCH      500  /* the child stops every this many invocations for init (refill) */
#define FC_RESET      8    /* every this many epochs, init empties the child's CNode */
#define PING_STALL_MS 3000 /* the ping-pong must advance at least this often ... */
#define PING_EPOCHS   4    /* ... and within every this many epochs */
#define IRQ_LINE      5    /* no device on it in either emulator */
#define PORT          0x80 /* the POST diagnostic port: writes to it do nothing */

/* The child's CNode: slots 1..3 its own TCB, CNode and VSpace (as ps_process makes them), then
 * one object of every type made by init from the child's object untyped, the IRQ handler, the
 * port and a read-only Console cap (writes would mix random bytes into the test log; the
 * Shutdown cap, which has no rights to withhold, is the one type the child never gets); slots
 * past FC_MENU_END start empty, for the child's retypes and copies. */
enum {
    S_UNTYPED = 4,
    S_CNODE,
    S_TCB,
    S_EP,
    S_NTFN,
    S_FRAME,
    S_LARGE,
    S_PT,
    S_PD,
    S_PDPT,
    S_VSPACE,
    S_VCPU,
    S_GUEST,
    S_IRQ,
    S_PORT,
    S_CONSOLE,
    FC_MENU_END
};

static const struct {
    uint8_t type, bits;
} made[] = {
    [S_UNTYPED] = {RS_OBJ_UNTYPED, 18},  [S_CNODE] = {RS_OBJ_CNODE, 4},
    [S_TCB] = {RS_OBJ_TCB, 0},           [S_EP] = {RS_OBJ_ENDPOINT, 0},
    [S_NTFN] = {RS_OBJ_NOTIFICATION, 0}, [S_FRAME] = {RS_OBJ_FRAME, 0},
    [S_LARGE] = {RS_OBJ_LARGE_FRAME, 0}, [S_PT] = {RS_OBJ_PAGE_TABLE, 0},
    [S_PD] = {RS_OBJ_PAGE_DIRECTORY, 0}, [S_PDPT] = {RS_OBJ_PDPT, 0},
    [S_VSPACE] = {RS_OBJ_VSPACE, 0},     [S_VCPU] = {RS_OBJ_VCPU, 0},
    [S_GUEST] = {RS_OBJ_GUEST_SPACE, 0},
};

/* The cap type each menu slot starts with: the labels the child favours for it. */
static const uint8_t slot_type[FC_MENU_END] = {
    [1] = RS_CAP_TCB,
    [2] = RS_CAP_CNODE,
    [3] = RS_CAP_VSPACE,
    [S_UNTYPED] = RS_CAP_UNTYPED,
    [S_CNODE] = RS_CAP_CNODE,
    [S_TCB] = RS_CAP_TCB,
    [S_EP] = RS_CAP_ENDPOINT,
    [S_NTFN] = RS_CAP_NOTIFICATION,
    [S_FRAME] = RS_CAP_FRAME,
    [S_LARGE] = RS_CAP_FRAME,
    [S_PT] = RS_CAP_PAGE_TABLE,
    [S_PD] = RS_CAP_PAGE_DIRECTORY,
    [S_PDPT] = RS_CAP_PDPT,
    [S_VSPACE] = RS_CAP_VSPACE,
    [S_VCPU] = RS_CAP_VCPU,
    [S_GUEST] = RS_CAP_GUEST_SPACE,
    [S_IRQ] = RS_CAP_IRQ_HANDLER,
    [S_PORT] = RS_CAP_IOPORT,
    [S_CONSOLE] = RS_CAP_CONSOLE,
};

/* What the fuzzing child and init share (the page at CHILD_SHARED_VADDR). */
struct fc_shared {
    uint64_t calls;    /* how many invocations to make (set by init) */
    uint64_t prng;     /* xorshift64 state, seeded by init */
    uint64_t count;    /* invocations made so far */
    uint64_t stop_req; /* the child asks init for a refill at this count ... */
    uint64_t stop_ack; /* ... and waits until init acknowledges it */
    uint64_t done;
    uint64_t last[6]; /* the invocation in progress: syscall, cptr, label, MR0, MR1, MR2 */
    uint64_t results[RS_ERROR_COUNT + 1];
    uint32_t ok_by_label[RS_INV_LABEL_COUNT]; /* invocations (Call) that succeeded, by label */
};

/* What each ping-pong process and init share. */
struct ping_shared {
    uint64_t pings; /* round trips completed by the pinger */
    uint64_t bad;   /* replies that did not carry the value expected */
};

/* Mostly the menu, sometimes the child's free slots, rarely its own TCB (which it may suspend or
 * break: init then kicks it) or garbage. */
static rs_cptr_t fc_slot(uint64_t *s)
{
    uint64_t r = xorshift(s), p = (r & 0xFF) % 100;
    if (p < 70) return 2 + (r >> 8) % (FC_MENU_END - 2);
    if (p < 97) return FC_MENU_END + (r >> 8) % (FC_SLOTS - FC_MENU_END);
    if (p < 98) return 1;
    return xorshift(s);
}

/* Argument words: slot numbers, depth 64, object types and sizes, rights, addresses in a
 * window of the child's VSpace (4 KiB, 2 MiB and 1 GiB aligned) and around the top of user
 * space, guest-physical addresses, priorities, small numbers, and now and then anything. */
static uint64_t fc_word(uint64_t *s)
{
    uint64_t r = xorshift(s), x = r >> 8;
    switch ((r & 0xFF) % 13) {
    case 0:
    case 1: return x % FC_SLOTS;
    case 2: return (x & 7) ? 64 : x % 66;
    case 3: return x % (RS_OBJ_TYPE_COUNT + 1);
    case 4: return 4 + x % 20; /* size bits, radixes */
    case 5: return x & 15;     /* rights, attributes, widths */
    case 6: return 0x0000100000000000ul + ((x & 0x1FF) << 12);
    case 7: return 0x0000100000000000ul + ((x & 0x7) << 21) + ((x >> 3 & 1) << 30);
    case 8: return (x & 0xFF) << 12; /* guest-physical */
    case 9: return x % 256;
    case 10: return PORT + (x & 3) - 1;
    case 11: /* the edges of user space: its last page, the first non-canonical address */
        return ((x & 1) ? 0x0000800000000000ul : 0x00007FFFFFFFF000ul) + (x >> 1 & 0xFFF) - 0x800;
    default: return xorshift(s);
    }
}

/* A label for a cap of `type`: one of its own operations most of the time. */
static rs_word_t fc_label(uint64_t *s, unsigned type)
{
    static const uint8_t any[] = {1,  10, 11, 12, 13, 14, 15, 20, 21, 22, 23, 24, 25, 26,
                                  27, 28, 29, 30, 31, 40, 41, 42, 43, 44, 51, 52, 53, 56,
                                  57, 58, 59, 60, 61, 70, 71, 72, 73, 74, 75, 76};
    static const struct {
        uint8_t first, n;
    } own[RS_CAP_TYPE_COUNT] = {
        [RS_CAP_UNTYPED] = {1, 1},      [RS_CAP_CNODE] = {10, 6},
        [RS_CAP_TCB] = {20, 12},        [RS_CAP_FRAME] = {40, 3},
        [RS_CAP_PAGE_TABLE] = {43, 2},  [RS_CAP_PAGE_DIRECTORY] = {43, 2},
        [RS_CAP_PDPT] = {43, 2},        [RS_CAP_VCPU] = {72, 5},
        [RS_CAP_GUEST_SPACE] = {70, 2}, [RS_CAP_IRQ_HANDLER] = {51, 3},
        [RS_CAP_IOPORT] = {56, 6},
    };
    uint64_t r = xorshift(s), p = (r & 0xFF) % 100;
    if (p < 80 && type < RS_CAP_TYPE_COUNT && own[type].n)
        return own[type].first + (r >> 8) % own[type].n;
    if (p < 96) return any[(r >> 8) % sizeof(any)];
    return (r >> 8) % 101;
}

/* The shape of each operation's arguments, so that most invocations get past the argument
 * checks into the object code. One letter per message word: s slot, d depth, t object type,
 * b size bits, r rights, A cache attribute, a address in the window, g guest-physical address,
 * p priority, n small number, c count (mostly 1 or 2), o port, x anything, N a slot holding a
 * CNode cap, F a free slot (destinations of Retype and copies), M a menu slot; '*' repeats the
 * letter before it for the rest of a long message. One letter per extra cap: C CNode,
 * V VSpace, F frame, T TCB, E endpoint, N notification, G GuestSpace. */
static const struct {
    const char *mrs, *caps;
} shape[RS_INV_LABEL_COUNT] = {
    [RS_UNTYPED_RETYPE] = {"tbNdFc", "C"},
    [RS_CNODE_COPY] = {"FdMdrx", "C"},
    [RS_CNODE_MINT] = {"FdMdrx", "C"},
    [RS_CNODE_MOVE] = {"FdMd", "C"},
    [RS_CNODE_MUTATE] = {"FdMdrx", "C"},
    [RS_CNODE_DELETE] = {"sd", ""},
    [RS_CNODE_REVOKE] = {"sd", ""},
    [RS_TCB_CONFIGURE] = {"na", "CVF"},
    [RS_TCB_SET_PRIORITY] = {"p", "T"},
    [RS_TCB_SET_MCP] = {"p", "T"},
    [RS_TCB_SET_FAULT_HANDLER] = {"", "E"},
    [RS_TCB_READ_REGISTERS] = {"nn", ""},
    [RS_TCB_WRITE_REGISTERS] = {"nnx*", ""},
    [RS_TCB_BIND_NOTIFICATION] = {"", "N"},
    [RS_TCB_SET_TLS_BASE] = {"a", ""},
    [RS_TCB_SET_NAME] = {"xx", ""},
    [RS_FRAME_MAP] = {"arA", "V"},
    [RS_PAGE_TABLE_MAP] = {"a", "V"},
    [RS_IRQ_HANDLER_SET_NOTIFICATION] = {"", "N"},
    [RS_IOPORT_IN8] = {"o", ""},
    [RS_IOPORT_IN16] = {"o", ""},
    [RS_IOPORT_IN32] = {"o", ""},
    [RS_IOPORT_OUT8] = {"ox", ""},
    [RS_IOPORT_OUT16] = {"ox", ""},
    [RS_IOPORT_OUT32] = {"ox", ""},
    [RS_GUEST_SPACE_MAP] = {"gr", "F"},
    [RS_GUEST_SPACE_UNMAP] = {"", "F"},
    [RS_VCPU_BIND] = {"", "TGE"},
    [RS_VCPU_WRITE_STATE] = {"x*", ""},
    [RS_VCPU_INJECT] = {"x", ""},
    [RS_VCPU_REQUEST_WINDOW] = {"n", ""},
    [RS_VCPU_SET_REGISTER] = {"nx", ""},
    [RS_VCPU_GET_REGISTER] = {"n", ""},
};

static uint64_t shaped_word(uint64_t *s, char k)
{
    uint64_t r = xorshift(s), x = r >> 8;
    switch (k) {
    case 's': return (r & 3) ? 2 + x % (FC_SLOTS - 2) : x % FC_SLOTS;
    case 'd': return (r & 15) ? 64 : x % 66;
    case 't': return x % (RS_OBJ_TYPE_COUNT + 1);
    case 'b': return (r & 3) ? 0 : 4 + x % 20;
    case 'r': return x & 15;
    case 'a': return fc_word(s) & ((r & 1) ? ~0ul : 0x00007FFFFFFFFFFFul);
    case 'g': return (r & 7) ? (x & 0x3FF) << 12 : xorshift(s);
    case 'p': return x % 256;
    case 'n': return (r & 3) ? x % 4 : x % 128;
    case 'M': return (r & 3) ? 1 + x % (FC_MENU_END - 1) : x % FC_SLOTS;
    case 'N': return (r & 3) ? PS_SLOT_CNODE : (r & 4) ? S_CNODE : x % FC_SLOTS;
    case 'F': return (r & 3) ? FC_MENU_END + x % (FC_SLOTS - FC_MENU_END) : x % 300;
    case 'c': return (r & 3) ? 1 + (x & 1) : x % 300;
    case 'A': return (r & 3) ? x % 3 : x & 15;
    case 'o': return PORT + (x % 8) - 4;
    default: return fc_word(s);
    }
}

static rs_cptr_t shaped_cap(uint64_t *s, char k)
{
    uint64_t r = xorshift(s), x = (r >> 8) & 1;
    switch (k) {
    case 'C': return x ? PS_SLOT_CNODE : S_CNODE;
    case 'V': return x ? PS_SLOT_VSPACE : S_VSPACE;
    case 'F': return x ? S_FRAME : S_LARGE;
    case 'T': return x ? PS_SLOT_TCB : S_TCB;
    case 'E': return S_EP;
    case 'N': return S_NTFN;
    case 'G': return S_GUEST;
    default: return fc_slot(s);
    }
}

/* One invocation (or, for endpoints and notifications, one non-blocking IPC). The PRNG state
 * and the count are saved before it is made, so that a restarted child goes on with the next. */
static void fc_one(volatile struct fc_shared *sh)
{
    uint64_t seed = sh->prng, *s = &seed, r = xorshift(s);
    rs_cptr_t c = fc_slot(s);
    unsigned type = c < FC_MENU_END ? slot_type[c] : RS_CAP_NULL;
    rs_word_t label = fc_label(s, type);
    uint64_t nr = RS_SYS_CALL;
    if (type == RS_CAP_ENDPOINT || type == RS_CAP_NOTIFICATION || (r & 0xFF) < 8) {
        static const uint8_t ipc[] = {RS_SYS_NBSEND, RS_SYS_NBRECV, RS_SYS_NBSEND, RS_SYS_NBRECV,
                                      RS_SYS_YIELD,  RS_SYS_REPLY,  RS_SYS_CALL,   RS_SYS_SEND};
        // Call and Send block on an endpoint nobody receives on: rarely (init kicks the child)
        nr = ipc[(r >> 8) % (type == RS_CAP_NOTIFICATION ? 8 : 6 + ((r >> 16 & 15) == 0))];
    }
    unsigned len = (r >> 20) & 7, caps = (r >> 23) & 3;
    if ((r >> 25 & 15) == 0) len = (unsigned)((r >> 29) % 72); // VCPU state, registers
    rs_ipc_buffer_t *b = rs_ipc_buffer();
    for (unsigned i = 0; i < len; i++) b->mr[i] = fc_word(s);
    for (unsigned i = 0; i < RS_MSG_MAX_EXTRA_CAPS; i++) b->caps_or_badges[i] = fc_slot(s);
    const char *m = label < RS_INV_LABEL_COUNT ? shape[label].mrs : NULL;
    if (m && nr == RS_SYS_CALL && (r >> 36 & 3) != 0) { // 3 in 4: shaped arguments
        unsigned n = (unsigned)strlen(m), star = n && m[n - 1] == '*';
        len = star ? (r >> 38 & 1 ? RS_VCPU_STATE_WORDS : 2 + RS_REG_COUNT) : n;
        for (unsigned i = 0; i < len; i++)
            b->mr[i] = shaped_word(s, m[i < n - star ? i : n - star - 1]);
        caps = (unsigned)strlen(shape[label].caps);
        for (unsigned i = 0; i < caps; i++)
            b->caps_or_badges[i] = shaped_cap(s, shape[label].caps[i]);
    }
    b->receive_cnode = (r >> 40 & 1) ? PS_SLOT_CNODE : 0;
    b->receive_index = FC_MENU_END + (r >> 41) % (FC_SLOTS - FC_MENU_END);
    b->receive_depth = D;
    rs_msginfo_t info = rs_msginfo(label, 0, caps, len);
    sh->last[0] = nr, sh->last[1] = c, sh->last[2] = label;
    sh->last[3] = len > 0 ? b->mr[0] : 0, sh->last[4] = len > 1 ? b->mr[1] : 0;
    sh->last[5] = len > 2 ? b->mr[2] : 0;
    sh->prng = seed;
    sh->count++;
    uint64_t e = rs_syscall(nr, c, info).error;
    sh->results[e < RS_ERROR_COUNT ? e : RS_ERROR_COUNT]++;
    if (e == RS_OK && nr == RS_SYS_CALL && label < RS_INV_LABEL_COUNT) sh->ok_by_label[label]++;
}

/* The fuzzing child: all its state is in the shared page, so init may restart it from the top
 * at any moment and it carries on. Every FC_EPOCH invocations it waits for init's refill. */
static void child_fuzz_caps(uint64_t arg)
{
    (void)arg;
    volatile struct fc_shared *sh = (volatile struct fc_shared *)CHILD_SHARED_VADDR;
    while (sh->count < sh->calls) {
        if (sh->count % FC_EPOCH == 0 && sh->stop_ack != sh->count) {
            sh->stop_req = sh->count;
            while (sh->stop_ack != sh->count) rs_yield();
        }
        fc_one(sh);
    }
    sh->done = 1;
    for (;;) rs_yield();
}

/* Ping-pong: the pinger Calls with a number, the ponger answers with it plus one. */
static void child_pinger(uint64_t arg)
{
    (void)arg;
    volatile struct ping_shared *sh = (volatile struct ping_shared *)CHILD_SHARED_VADDR;
    for (uint64_t n = 1;; n++) {
        rs_mr_set(0, n);
        rs_result_t r = rs_call(CHILD_SLOT_A, rs_msginfo(7, 0, 0, 1));
        if (r.error != RS_OK || rs_mr_get(0) != n + 1) sh->bad++;
        sh->pings++;
        rs_yield();
    }
}

static void child_ponger(uint64_t arg)
{
    (void)arg;
    rs_result_t r = rs_recv(CHILD_SLOT_A);
    for (;;) {
        rs_mr_set(0, r.error == RS_OK ? rs_mr_get(0) + 1 : 0);
        r = rs_reply_recv(CHILD_SLOT_A, rs_msginfo(0, 0, 0, 1));
    }
}

/* Yields until *word > floor or `ms` pass; returns whether it got there. */
static bool wait_above(volatile uint64_t *word, uint64_t floor, unsigned ms)
{
    uint64_t end = now_ms() + ms;
    while (*word <= floor) {
        if (now_ms() > end) return false;
        rs_yield();
    }
    return true;
}

struct fc {
    ps_process_t p;
    volatile struct fc_shared *sh;
    uint64_t start_regs[RS_REG_COUNT];
    rs_cptr_t objects, irq, port, console; /* init's caps: the menu's untyped, the handler,
                                           * the port, the read-only console */
    unsigned kicks, refills, revokes;
    unsigned ping_gap; /* most epochs in a row without a ping */
};

/* Fills the child's empty menu slots (a slot it filled with something else is left as it is),
 * and revokes whatever the child made from its untyped in slot S_UNTYPED (objects in use among
 * them: running threads, bound VCPUs, mapped frames), which empties it for the next epoch. */
static void refill(struct fc *f)
{
    int rv = ps_cnode_revoke(f->p.cnode, S_UNTYPED, D);
    if (rv != RS_OK && rv != RS_FAILED_LOOKUP) // an empty slot is fine: refilled below
        FAIL("revoking the child's untyped: %s", rs_error_name(rv));
    rs_cptr_t own[FC_MENU_END] = {[1] = f->p.tcb,   [2] = f->p.cnode,   [3] = f->p.vspace,
                                  [S_IRQ] = f->irq, [S_PORT] = f->port, [S_CONSOLE] = f->console};
    for (unsigned i = 1; i < FC_MENU_END; i++) {
        int err = own[i] ? ps_cnode_copy(f->p.cnode, i, D, ME, own[i], D) : RS_OK;
        if (err != RS_OK && err != RS_DELETE_FIRST)
            FAIL("copying a cap into slot %u: %s", i, rs_error_name(err));
    }
    for (unsigned i = S_UNTYPED; i <= S_GUEST; i++) {
        int err =
            ps_untyped_retype(f->objects, ME, made[i].type, made[i].bits, f->p.cnode, D, i, 1);
        if (err == RS_NOT_ENOUGH_MEMORY) {
            f->revokes++;
            CHECK_OK(ps_cnode_revoke(ME, f->objects, D));
            err =
                ps_untyped_retype(f->objects, ME, made[i].type, made[i].bits, f->p.cnode, D, i, 1);
        }
        if (err != RS_OK && err != RS_DELETE_FIRST)
            FAIL("refilling slot %u (type %u): %s", i, made[i].type, rs_error_name(err));
    }
}

/* Puts the child back on its feet (its CSpace, VSpace, IPC buffer, priority; no fault handler
 * or binding) and restarts it from the top; every FC_RESET refills it also starts from an empty
 * CNode and a fresh object untyped. */
static void repair(struct fc *f, bool reset)
{
    rs_cptr_t tcb = f->p.tcb;
    CHECK_OK(ps_tcb_suspend(tcb));
    if (reset) {
        f->revokes++;
        CHECK_OK(ps_cnode_revoke(ME, f->objects, D));
        for (unsigned i = 1; i < FC_SLOTS; i++) ps_cnode_delete(f->p.cnode, i, D);
    }
    int err = ps_tcb_configure(tcb, f->p.cnode, f->p.vspace, f->p.ipc_frame, f->p.ipc_vaddr);
    if (err == RS_REVOKE_FIRST) { // the child's root was the last cap to something it made
        f->revokes++;
        ps_cnode_revoke(ME, f->objects, D);
        err = ps_tcb_configure(tcb, f->p.cnode, f->p.vspace, f->p.ipc_frame, f->p.ipc_vaddr);
    }
    CHECK_OK(err);
    CHECK_OK(ps_tcb_set_priority(tcb, RS_INIT_TCB, TEST_PRIO));
    ps_tcb_set_fault_handler(tcb, 0); // fails harmlessly when there is none
    ps_tcb_unbind_notification(tcb);  // fails when not bound
    refill(f);
    CHECK_OK(ps_tcb_write_registers(tcb, true, RS_REG_COUNT, f->start_regs));
}

static const char *sysname(uint64_t nr)
{
    switch (nr) {
    case RS_SYS_CALL: return "Call";
    case RS_SYS_SEND: return "Send";
    case RS_SYS_NBSEND: return "NBSend";
    case RS_SYS_NBRECV: return "NBRecv";
    case RS_SYS_REPLY: return "Reply";
    case RS_SYS_YIELD: return "Yield";
    default: return "?";
    }
}

static void print_last(const struct fc *f, uint64_t seed, const char *why)
{
    const volatile struct fc_shared *sh = f->sh;
    FAIL("%s: seed 0x%lx, invocation %lu: %s cptr %lu label %lu MR0-2 %lx %lx %lx", why, seed,
         sh->count, sysname(sh->last[0]), sh->last[1], sh->last[2], sh->last[3], sh->last[4],
         sh->last[5]);
}

/* Runs the child until it made all its invocations: answers its refill stops, kicks it when a
 * few yields bring no progress, and checks that the ping-pong advances all along. */
static bool supervise(struct fc *f, volatile struct ping_shared *ping, uint64_t seed)
{
    volatile struct fc_shared *sh = f->sh;
    uint64_t t0 = now_ms(), end = t0 + FC_MS_PER_K * (sh->calls / 1000 + 1);
    uint64_t pings = ping->pings, ping_at = t0, last = 0;
    uint64_t epoch_pings = pings;
    unsigned idle = 0, epochs = 0, gap = 0;
    while (!sh->done) {
        rs_yield();
        uint64_t now = now_ms();
        if (ping->pings != pings) {
            pings = ping->pings;
            ping_at = now;
        } else if (now - ping_at > PING_STALL_MS) {
            print_last(f, seed, "the ping-pong stopped");
            return false;
        }
        if (now > end) {
            print_last(f, seed, "out of time");
            return false;
        }
        if (sh->stop_req != sh->stop_ack) { // a refill stop: the child waits, yielding
            gap = ping->pings == epoch_pings ? gap + 1 : 0;
            epoch_pings = ping->pings;
            if (gap > f->ping_gap) f->ping_gap = gap;
            if (gap >= PING_EPOCHS) {
                print_last(f, seed, "no ping in the last epochs");
                return false;
            }
            bool reset = ++epochs % FC_RESET == 0;
            f->refills++;
            repair(f, reset);
            sh->stop_ack = sh->stop_req;
            idle = 0;
        } else if (sh->count != last) {
            last = sh->count;
            idle = 0;
        } else if (++idle >= 3) {
            f->kicks++;
            repair(f, false);
            idle = 0;
        }
    }
    return true;
}

static void print_results(const struct fc *f, uint64_t seed, uint64_t ms, uint64_t pings)
{
    const volatile struct fc_shared *sh = f->sh;
    char line[420];
    int n = rt_snprintf(line, sizeof(line),
                        "[fuzzc] seed 0x%lx: %lu invocations in %lu ms, %u kicks, %u refills, "
                        "%u revokes, %lu pings (at most %u epochs in a row without); statuses:",
                        seed, sh->count, ms, f->kicks, f->refills, f->revokes, pings, f->ping_gap);
    for (unsigned e = 0; e <= RS_ERROR_COUNT && n < (int)sizeof(line); e++)
        if (sh->results[e])
            n += rt_snprintf(line + n, sizeof(line) - (size_t)n, " %s=%lu",
                             e < RS_ERROR_COUNT ? rs_error_name((int)e) : "other", sh->results[e]);
    rt_printf("%s\n", line);
    n = rt_snprintf(line, sizeof(line), "[fuzzc] successful invocations by label:");
    for (unsigned l = 0; l < RS_INV_LABEL_COUNT && n < (int)sizeof(line); l++)
        if (sh->ok_by_label[l])
            n += rt_snprintf(line + n, sizeof(line) - (size_t)n, " %u:%u", l, sh->ok_by_label[l]);
    rt_printf("%s\n", line);
}

/* Afterwards the kernel still makes objects of every kind and carries IPC to a new process. */
static void child_echo(uint64_t arg) { child_report(1, arg + 1, 0, 0, 0); }

static void fuzz_caps_run(const char *id, uint64_t seed)
{
    static struct fc f;
    f = (struct fc){0};
    seed = cmdline_number("fuzzc_seed", seed);
    uint64_t calls = cmdline_number("fuzzc_calls", FC_CALLS);
    rt_printf("[fuzzc] seed 0x%lx, %lu invocations (replay: --cmdline 'tests=%s fuzzc_seed=0x%lx "
              "fuzzc_calls=%lu')\n",
              seed, calls, id, seed, calls);

    // the ping-pong pair, with an endpoint the fuzzing child has no cap to
    ps_process_t pinger, ponger;
    rs_cptr_t pp = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(pp);
    REQUIRE_OK(child_create(&pinger, child_pinger, 0, 0));
    REQUIRE_OK(child_create(&ponger, child_ponger, 0, 0));
    volatile struct ping_shared *ping = (volatile struct ping_shared *)child_share(&pinger);
    REQUIRE(ping);
    REQUIRE_OK(ps_process_give(&pinger, CHILD_SLOT_A, pp, RS_RIGHTS_ALL, 0));
    REQUIRE_OK(ps_process_give(&ponger, CHILD_SLOT_A, pp, RS_RIGHTS_ALL, 0));
    REQUIRE_OK(ps_process_start(&ponger));
    REQUIRE_OK(ps_process_start(&pinger));
    REQUIRE(wait_above(&ping->pings, 0, WAIT_MS));

    // the fuzzing child, its object untyped, the IRQ handler and the port
    f.objects = new_object(RS_OBJ_UNTYPED, 23);
    f.irq = new_slot();
    f.port = new_slot();
    f.console = new_slot();
    REQUIRE(f.objects && f.irq && f.port && f.console);
    REQUIRE_OK(ps_irq_control_get(RS_INIT_IRQ_CONTROL, IRQ_LINE, ME, f.irq, D));
    REQUIRE_OK(ps_ioport_issue(RS_INIT_IOPORT_CONTROL, PORT, PORT, ME, f.port, D));
    REQUIRE_OK(ps_cnode_mint(ME, f.console, D, ME, RS_INIT_CONSOLE, D, RS_RIGHT_READ, 0));
    // no fault handler: a fault stops the child, and init kicks it
    REQUIRE_OK(child_create(&f.p, child_fuzz_caps, 0, 0));
    REQUIRE_OK(ps_tcb_read_registers(f.p.tcb, false, RS_REG_COUNT, f.start_regs));
    f.sh = (volatile struct fc_shared *)child_share(&f.p);
    REQUIRE(f.sh);
    f.sh->prng = seed;
    f.sh->calls = calls;
    f.sh->stop_ack = ~0ul;
    refill(&f); // a cap of every type in the menu, or a recorded failure
    REQUIRE_OK(ps_process_start(&f.p));

    uint64_t t0 = now_ms(), pings0 = ping->pings;
    bool finished = supervise(&f, ping, seed);
    ps_tcb_suspend(f.p.tcb);
    print_results(&f, seed, now_ms() - t0, ping->pings - pings0);
    if (!finished) return;
    CHECK_EQ(f.sh->count, calls);
    CHECK_EQ(ping->bad, 0);
    // the ping-pong goes on after the fuzzing, and the kernel still serves a new process
    uint64_t after = ping->pings;
    CHECK(wait_above(&ping->pings, after + 10, WAIT_MS));
    rs_cptr_t report = new_object(RS_OBJ_ENDPOINT, 0);
    REQUIRE(report);
    for (unsigned t = 0; t < RS_OBJ_TYPE_COUNT; t++) {
        unsigned bits = t == RS_OBJ_UNTYPED ? 12 : t == RS_OBJ_CNODE ? 2 : 0;
        CHECK(new_object(t, bits) != 0);
    }
    ps_process_t p;
    REQUIRE(child_spawn(&p, child_echo, 41, report));
    uint64_t mr[4];
    if (expect_report(report, 1, mr)) CHECK_EQ(mr[0], 42);
}

static void fuzz_caps_1(void) { fuzz_caps_run("FUZZC-0001", 0xC0FFEE0000000001ul); }
static void fuzz_caps_2(void) { fuzz_caps_run("FUZZC-0002", 0x9E3779B97F4A7C15ul); }
static void fuzz_caps_3(void) { fuzz_caps_run("FUZZC-0003", 0x0DDBA11CAFEF00D5ul); }

const struct test fuzz_caps_tests[] = {
    {"FUZZC-0001",
     "a child with caps of every object type making 100000 invocations (seed 0xc0ffee0000000001; "
     "fuzzc_seed=/fuzzc_calls= override) leaves the kernel working and an IPC ping-pong running "
     "throughout",
     fuzz_caps_1},
    {"FUZZC-0002", "the same with seed 0x9e3779b97f4a7c15", fuzz_caps_2},
    {"FUZZC-0003", "the same with seed 0x0ddba11cafef00d5", fuzz_caps_3},
    {0},
};
