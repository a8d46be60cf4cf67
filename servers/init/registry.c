// SPDX-License-Identifier: MIT
// The name registry and supervisor requests: lookup a service (a badged endpoint cap comes back),
// restart statistics, and fault injection on request.
#include "init.h"

static rs_msginfo_t answer(int status, unsigned len)
{
    return rs_msginfo((rs_word_t)status, 0, 0, len);
}

rs_msginfo_t registry_handle(unsigned from, rs_msginfo_t info)
{
    uint64_t id = rs_mr_get(0), op = rs_msginfo_label(info);
    bool nameless = op == REGISTRY_PS || op == REGISTRY_FLUSH_OUTPUT;
    if (rs_msginfo_length(info) < 1 + REGISTRY_NAME_WORDS && !nameless)
        return answer(RS_TRUNCATED_MESSAGE, 1);
    uint64_t w[REGISTRY_NAME_WORDS];
    char name[REGISTRY_NAME_WORDS * 8];
    for (unsigned i = 0; i < REGISTRY_NAME_WORDS; i++) w[i] = rs_mr_get(1 + i);
    registry_unpack_name(w, name);
    struct server *s = nameless ? NULL : supervisor_find(name);
    rs_mr_set(0, id);
    if (!nameless && !s) return answer(RS_NOT_FOUND, 1);
    switch (op) {
    case REGISTRY_LOOKUP: {
        // a fresh badged copy for this client; ours is deleted once it is on its way
        static rs_cptr_t tmp;
        if (!tmp) tmp = ps_slot_alloc(init.root.env.slots);
        ps_cnode_delete(RS_INIT_CNODE, tmp, 64);
        int err = ps_cnode_mint(RS_INIT_CNODE, tmp, 64, RS_INIT_CNODE, s->ep, 64,
                                RS_RIGHT_WRITE | RS_RIGHT_GRANT, from + 1);
        if (err) return answer(err, 1);
        rs_cap_set(0, tmp);
        return rs_msginfo(RS_OK, 0, 1, 1);
    }
    case REGISTRY_RESTARTS:
        rs_mr_set(1, s->restarts);
        rs_mr_set(2, s->reason);
        rs_mr_set(3, s->watchdog_restarts);
        return answer(RS_OK, 4);
    case REGISTRY_INJECT:
        if (rs_msginfo_length(info) < 5 || rs_mr_get(4) < IPC_INJECT_KILL ||
            rs_mr_get(4) >= IPC_INJECT_COUNT)
            return answer(RS_INVALID_ARGUMENT, 1);
        if (&init.servers[from] == s && rs_mr_get(4) == IPC_INJECT_KILL)
            return answer(RS_ILLEGAL_OPERATION, 1); // killing the caller would drop this reply
        supervisor_inject(s, (unsigned)rs_mr_get(4));
        return answer(RS_OK, 1);
    case REGISTRY_PS: supervisor_ps(); return answer(RS_OK, 1);
    case REGISTRY_FLUSH_OUTPUT:
        if (from >= init.nservers || !init.servers[from].vm) return answer(RS_ILLEGAL_OPERATION, 1);
        vm_print_server(&init.servers[from]);
        return answer(RS_OK, 1);
    default: return answer(RS_ILLEGAL_OPERATION, 1);
    }
}
