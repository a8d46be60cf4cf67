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
 * the dedup table without executing it again.
 *
 * What init gives each program it supervises (CSpace slots, control page, persistent region) is
 * init's side of the contract: proto/init.h. */
#pragma once
#include "rt.h"
#include "proto/init.h" /* the server loop follows init's conventions: control page, slots */

#define IPC_MAX_WORDS   16 /* request/reply words, id included */
#define IPC_MAX_CLIENTS 17 /* badges 1..16: one per manifest server */
#define IPC_MAX_STAGED  16 /* persistent writes per request */

typedef struct ipc_msg {
    rs_word_t label; /* request: operation; reply: rs_error */
    unsigned len;    /* words used in w[], w[0] = request id */
    rs_word_t w[IPC_MAX_WORDS];
} ipc_msg_t;

/* ---- persistent state with an atomic commit ---- */
/* A dedup record: the last request id executed for a client and its reply. Stray writes flip bits
 * in the persistent region (issue 15's `corrupt`): a flipped id made a retry run again (echo
 * counted an increment twice), so the id is kept twice and a check covers the id and the reply;
 * pstate_lookup reads it. */
typedef struct ipc_dedup_entry {
    uint64_t id, id_again;          /* the request id (w[0] of its reply), twice */
    uint64_t check;                 /* over id, status, len and words (pstate_record) */
    int32_t status;                 /* the reply's label */
    uint32_t len;                   /* the reply's length, w[0] included */
    rs_word_t w[IPC_MAX_WORDS - 1]; /* the reply's w[1..] */
} ipc_dedup_entry_t;

typedef struct ipc_pstate {
    uint64_t magic;
    struct {
        volatile uint64_t valid; /* the commit point: 1 = the journal must be applied */
        uint64_t client, count;
        uint64_t check; /* over client, count, record and writes: a flipped one is not applied */
        ipc_dedup_entry_t record;
        struct {
            uint64_t off, val;
        } writes[IPC_MAX_STAGED];
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
/* What the dedup record of client says of request id: not seen (NEW: run it), a retry (RETRY:
 * *reply is its committed reply), or a retry whose reply a stray write destroyed (LOST: it must not
 * run again, and its answer is gone). The journal's copy of the last commit stands in for a
 * record that fails its check. */
enum { IPC_RECORD_NEW, IPC_RECORD_RETRY, IPC_RECORD_LOST };
int pstate_lookup(const ipc_pstate_t *ps, uint64_t client, uint64_t id, ipc_msg_t *reply);
/* Fills record e with (id, reply) and its check; the journal's check over the journal as it is. */
void pstate_record(ipc_dedup_entry_t *e, uint64_t id, const ipc_msg_t *reply);
uint64_t pstate_journal_check(const ipc_pstate_t *ps);

/* ---- server ---- */
/* Handles one request from client `badge`; fills reply->w[1..] and reply->len (w[0] is set by the
 * loop) and returns the status (the reply label). */
typedef int (*ipc_handler_fn)(void *ctx, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply);

typedef struct ipc_server {
    rs_cptr_t ep;
    ipc_handler_fn handler;
    void *ctx;
    ipc_pstate_t *pstate;   /* NULL: no dedup (requests must be idempotent) */
    ipc_control_t *control; /* NULL when not supervised */
    void *scribble;         /* what an injected wild write destroys (NULL: this structure) */
    size_t scribble_size;
} ipc_server_t;

/* Sets up a supervised server from init's conventions: control page, persistent region (opened
 * with pstate_open when present), service endpoint. */
void ipc_server_init(ipc_server_t *s, ipc_handler_fn handler, void *ctx);
/* The request loop: never returns. Answers pings (heartbeat), commits injected faults, drops
 * duplicates via the dedup table, and replies. */
_Noreturn void ipc_serve(ipc_server_t *s);

/* The pieces of ipc_serve, for a server with its own receive loop (servers/vmm). */
/* Keeps a copy of s as it is now (ipc_serve's start; a loop of its own calls it once s is
 * final); ipc_server_round traps when s differs from it. */
void ipc_server_seal(const ipc_server_t *s);
/* A loop round's start, after the receive that returned r: traps if s is not as sealed or if
 * more than IPC_MAX_RECV_ERRORS receives in a row failed (a lost endpoint: a crash and a clean
 * restart, never a spin; a poll that found nothing, RS_WOULD_BLOCK, is no failure), then moves
 * the heartbeat. */
void ipc_server_round(ipc_server_t *s, rs_result_t r);
#define IPC_MAX_RECV_ERRORS 64
/* Whether the size bytes at a and b (8-byte words, size a multiple of 8) are equal: a server's
 * compare of its structure, or its setup, against the copy it sealed (word XORs, no early exit). */
bool ipc_words_equal(const void *a, const void *b, size_t size);
enum ipc_fault_point {
    IPC_FAULT_AT_ONCE,       /* while idle */
    IPC_FAULT_BEFORE_COMMIT, /* the request was handled, its effect not committed */
    IPC_FAULT_BEFORE_REPLY,  /* committed, not answered */
};
/* init's ping (IPC_BADGE_PING) arrived: takes the fault init asked for (control->inject) and picks
 * its moment; one that found no request to strike in since the last ping strikes now. */
void ipc_server_ping(ipc_server_t *s);
/* Powers the machine off (IPC_SLOT_SHUTDOWN) once init has printed what VMMs published in their
 * output rings (proto/vmm.h): init prints them on its ticks, so this waits three of them first.
 * For the test and benchmark programs that end a run. */
_Noreturn void ipc_shutdown(const ipc_control_t *ctl);

/* Commits the pending injected fault if `here` is its moment. */
void ipc_server_fault_point(ipc_server_t *s, enum ipc_fault_point here);
/* Answers one request: from the dedup table when it is a retry, else through the handler, with
 * the commit (and the fault points) around it. reply->w[0] is the id. */
void ipc_server_handle(ipc_server_t *s, rs_badge_t badge, const ipc_msg_t *req, ipc_msg_t *reply);
/* The request and reply ipc_server_handle was handed, kept apart from its registers: one of
 * those saved on the stack by the handler and flipped there would seal the reply elsewhere
 * while the loop sends its own, unsealed and without its id (a client's `invalid argument`);
 * they must agree before the reply goes out, or the server crashes. */
struct ipc_handling {
    const ipc_msg_t *req;
    ipc_msg_t *reply;
};
extern struct ipc_handling ipc_handling;

/* ---- client ---- */
typedef struct ipc_client {
    rs_cptr_t ep;        /* the service's endpoint (badged for this client) */
    const char *service; /* its registry name, for reconnecting */
    rs_cptr_t registry;  /* 0: no reconnect */
    rs_cptr_t recv_slot; /* where a looked-up cap lands (a free slot of the client) */
    uint64_t next_id;
    unsigned retries; /* calls retried so far (statistics) */
    unsigned garbled; /* replies that failed their check (statistics) */
} ipc_client_t;

#define IPC_RETRY_SAFE 1u /* the request is idempotent or the server deduplicates by id */

void ipc_client_init(ipc_client_t *c, rs_cptr_t ep, const char *service, rs_cptr_t registry,
                     rs_cptr_t recv_slot);
/* Calls the service with req (req->w[0] is set to a fresh id). If the server died during the call
 * (RS_PEER_DIED) or the endpoint is gone, and the request is IPC_RETRY_SAFE, it looks the service
 * up again if it must and retries with the same id, up to a bound. Returns the reply status, or
 * the IPC error when it gave up. Its replies come sealed (IPC_ID_CHECKED below): one that fails
 * its check is never handed back as data; with IPC_RETRY_SAFE the request goes again with the
 * same id (a deduplicating server answers with the reply it committed), else the result is
 * RS_INVALID_ARGUMENT with *reply emptied. */
int ipc_call(ipc_client_t *c, ipc_msg_t *req, ipc_msg_t *reply, unsigned flags);

/* Raw message transfer between ipc_msg_t and the message registers. */
rs_msginfo_t ipc_msg_put(const ipc_msg_t *m);
void ipc_msg_get(ipc_msg_t *m, rs_msginfo_t info);

/* Replies with a check (docs/restart.md "Reply checks"): a request whose id has IPC_ID_CHECKED set
 * (ipc_call sets it) is answered with a reply whose label carries, in bits 32..51, a 20-bit
 * check of its status (low 32 bits), length and words. ipc_reply_seal adds it (the server
 * loop, ipc_server_handle); ipc_reply_open verifies and removes it: 1 valid (label restored),
 * 0 no check (a server that does not seal: taken as it is), -1 garbled (bits changed after the
 * server sealed it: the reply must not be used). */
#define IPC_ID_CHECKED (1ull << 63)
void ipc_reply_seal(ipc_msg_t *m);
int ipc_reply_open(ipc_msg_t *m);

_Static_assert(sizeof(ipc_pstate_t) + 64 <= 4096,
               "one persistent page holds the libipc state and some user data");
