/* SPDX-License-Identifier: MIT */
/* libipc: the request/response convention every server and client uses, the server loop, and
 * client calls that survive a server restart.
 *
 * Convention. A request is an IPC Call: label = operation (protocol-specific, >= 1), MR0 = request
 * id (per client, increasing, never 0), MR1.. = arguments. The reply: label = rs_error, MR0 = the
 * id echoed, MR1.. = results. The server knows its client by the badge init minted on the
 * client's endpoint cap (1 .. IPC_MAX_CLIENTS-1).
 *
 * Exactly once. A server whose state matters keeps it in its persistent region (handed back by
 * init to the next instance) and changes it only through pstate_stage(): the loop commits the
 * staged writes and the reply to the dedup table atomically (journal). A client whose call failed
 * because the server died retries with the SAME id; the restarted server answers a duplicate from
 * the dedup table without executing it again. */
#pragma once
#include "rt.h"

#define IPC_MAX_WORDS      16  /* request/reply words, id included */
#define IPC_MAX_CLIENTS    17 /* badges 1..16: one per manifest server */
#define IPC_MAX_STAGED     16  /* persistent writes per request */

typedef struct ipc_msg {
    rs_word_t label; /* request: operation; reply: rs_error */
    unsigned len;    /* words used in w[], w[0] = request id */
    rs_word_t w[IPC_MAX_WORDS];
} ipc_msg_t;

/* The page init shares with each server it supervises (see servers/init). */
typedef struct ipc_control {
    volatile uint64_t heartbeat;  /* bumped by the server loop on every ping and request */
    volatile uint64_t inject;     /* IPC_INJECT_*: a fault init asks the server to commit */
    volatile uint64_t instance;   /* 1 for the first start, +1 per restart */
    uint64_t persistent_vaddr;    /* the persistent region, 0 if none */
    uint64_t persistent_size;
    uint64_t guest_ram_size;      /* a VMM's guest RAM (at IPC_GUEST_RAM_VADDR), 0 if not a VMM */
    char name[32];
} ipc_control_t;

enum ipc_inject {
    IPC_INJECT_NONE = 0,
    IPC_INJECT_KILL,   /* done by init itself (the thread is destroyed) */
    IPC_INJECT_NULL,   /* dereference a null pointer */
    IPC_INJECT_WILD,   /* write garbage over the server's own data (its handler table) */
    IPC_INJECT_HANG,   /* loop forever: the watchdog must notice */
    IPC_INJECT_RANDOM, /* one of the above, chosen by init */
    IPC_INJECT_COUNT
};

/* Fixed layout of a supervised server's CSpace and address space (init sets it up). */
#define IPC_SLOT_OWN_CNODE 2 /* the process's own CNode (libipc process layout) */
#define IPC_SLOT_CONSOLE  4  /* write-only Console cap (PS_SLOT_CONSOLE) unless the manifest says
                                console=0 */
#define IPC_SLOT_SERVICE  5  /* the endpoint this server receives on */
#define IPC_SLOT_REGISTRY 6  /* init's registry (badged: init knows who asks) */
#define IPC_SLOT_PING     7  /* notification bound to the server thread: pings and injections */
#define IPC_SLOT_CLIENT0  8  /* endpoints of the services the manifest lists in caps=, in order */
#define IPC_SLOT_RECV     16 /* where a cap received from the registry lands */
#define IPC_SLOT_SHUTDOWN 18 /* a Shutdown cap, only if the manifest says shutdown=1 (test
                                clients and benchmarks that end the run) */
#define IPC_CONTROL_VADDR    0x0000500000000000ul
#define IPC_PERSISTENT_VADDR 0x0000500000100000ul

/* Badge bits of the ping notification (IPC_SLOT_PING). */
#define IPC_BADGE_PING 1ul /* the watchdog's ping (and an injected fault waiting to be committed) */
#define IPC_BADGE_TICK 2ul /* a VMM only: init's timer tick, every IPC_TICK_MS */
#define IPC_TICK_MS    10

/* A VMM (manifest guest=) has, besides the above:
 * - its guest's exits on IPC_SLOT_SERVICE: the exit endpoint is the service endpoint, so that the
 *   single-threaded VMM waits on one endpoint for exits and requests alike; exits carry the badge
 *   IPC_BADGE_VCPU_EXIT (clients' badges are small: 1..IPC_MAX_CLIENTS-1);
 * - the VCPU (ReadState, WriteState, Inject, RequestWindow) in IPC_SLOT_VCPU;
 * - the guest's RAM (guest-physical 0 .. guest_ram_size) mapped at IPC_GUEST_RAM_VADDR. */
#define IPC_SLOT_VCPU       17
#define IPC_SLOT_VCPU_EXIT  IPC_SLOT_SERVICE
#define IPC_BADGE_VCPU_EXIT 0x5643505545584954ul /* "VCPUEXIT" */
#define IPC_GUEST_RAM_VADDR 0x0000500040000000ul

/* ---- persistent state with an atomic commit ---- */
typedef struct ipc_dedup_entry {
    uint64_t id;     /* last request id executed for this client */
    ipc_msg_t reply; /* its reply */
} ipc_dedup_entry_t;

typedef struct ipc_pstate {
    uint64_t magic;
    struct {
        volatile uint64_t valid; /* the commit point: 1 = the journal must be applied */
        uint64_t client, count;
        ipc_dedup_entry_t record;
        struct { uint64_t off, val; } writes[IPC_MAX_STAGED];
    } journal;
    ipc_dedup_entry_t dedup[IPC_MAX_CLIENTS];
    uint64_t user[]; /* the server's own persistent data */
} ipc_pstate_t;

/* Opens the persistent region [base, base+size): initialises it on first use, applies an
 * interrupted commit after a restart. Returns NULL if the region is too small. */
ipc_pstate_t *pstate_open(void *base, uint64_t size);
/* Stages `*field = value` for the commit that ends the current request (field must lie in the
 * user area). Returns RS_NOT_ENOUGH_MEMORY when more than IPC_MAX_STAGED writes are staged. */
int pstate_stage(ipc_pstate_t *ps, volatile uint64_t *field, uint64_t value);
/* Commits the staged writes and (client, id, reply) as one atomic step; then applies them. */
void pstate_commit(ipc_pstate_t *ps, uint64_t client, uint64_t id, const ipc_msg_t *reply);
/* Drops staged writes (the request failed). */
void pstate_abort(ipc_pstate_t *ps);

/* ---- server ---- */
/* Handles one request from client `badge`; fills reply->w[1..] and reply->len (w[0] is set by the
 * loop) and returns the status (the reply label). */
typedef int (*ipc_handler_fn)(void *ctx, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply);

typedef struct ipc_server {
    rs_cptr_t ep;
    ipc_handler_fn handler;
    void *ctx;
    ipc_pstate_t *pstate;  /* NULL: no dedup (requests must be idempotent) */
    ipc_control_t *control;/* NULL when not supervised */
    void *scribble;        /* what an injected wild write destroys (NULL: this structure) */
    size_t scribble_size;
} ipc_server_t;

/* Sets up a supervised server from init's conventions: control page, persistent region (opened
 * with pstate_open when present), service endpoint. */
void ipc_server_init(ipc_server_t *s, ipc_handler_fn handler, void *ctx);
/* The request loop: never returns. Answers pings (heartbeat), commits injected faults, drops
 * duplicates via the dedup table, and replies. */
_Noreturn void ipc_serve(ipc_server_t *s);

/* The pieces of ipc_serve, for a server with its own receive loop (servers/vmm). */
enum ipc_fault_point {
    IPC_FAULT_AT_ONCE,       /* while idle */
    IPC_FAULT_BEFORE_COMMIT, /* the request was handled, its effect not committed */
    IPC_FAULT_BEFORE_REPLY,  /* committed, not answered */
};
/* init's ping (IPC_BADGE_PING) arrived: takes the fault init asked for (control->inject) and picks
 * its moment; one that found no request to strike in since the last ping strikes now. */
void ipc_server_ping(ipc_server_t *s);
/* Commits the pending injected fault if `here` is its moment. */
void ipc_server_fault_point(ipc_server_t *s, enum ipc_fault_point here);
/* Answers one request: from the dedup table when it is a retry, else through the handler, with
 * the commit (and the fault points) around it. reply->w[0] is the id. */
void ipc_server_handle(ipc_server_t *s, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply);

/* ---- client ---- */
typedef struct ipc_client {
    rs_cptr_t ep;        /* the service's endpoint (badged for this client) */
    const char *service; /* its registry name, for reconnecting */
    rs_cptr_t registry;  /* 0: no reconnect */
    rs_cptr_t recv_slot; /* where a looked-up cap lands (a free slot of the client) */
    uint64_t next_id;
    unsigned retries;    /* calls retried so far (statistics) */
} ipc_client_t;

#define IPC_RETRY_SAFE 1u /* the request is idempotent or the server deduplicates by id */

void ipc_client_init(ipc_client_t *c, rs_cptr_t ep, const char *service, rs_cptr_t registry,
                     rs_cptr_t recv_slot);
/* Calls the service with req (req->w[0] is set to a fresh id). If the server died during the call
 * (RS_PEER_DIED) or the endpoint is gone, and the request is IPC_RETRY_SAFE, it looks the service
 * up again if it must and retries with the same id, up to a bound. Returns the reply status, or
 * the IPC error when it gave up. */
int ipc_call(ipc_client_t *c, ipc_msg_t *req, ipc_msg_t *reply, unsigned flags);

/* Raw message transfer between ipc_msg_t and the message registers. */
rs_msginfo_t ipc_msg_put(const ipc_msg_t *m);
void ipc_msg_get(ipc_msg_t *m, rs_msginfo_t info);

_Static_assert(sizeof(ipc_pstate_t) + 64 <= 4096, "one persistent page holds the libipc state and some user data");
