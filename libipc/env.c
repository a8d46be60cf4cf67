// SPDX-License-Identifier: MIT
// The allocation environment: init's from its bootinfo, and objects made from an environment.
#include "env.h"
#include "invoke_stubs.h"

void ps_root_init(ps_root_t *r, const rs_bootinfo_t *bi)
{
    ps_slots_init(&r->slots, bi->empty.start, bi->empty.end);
    ps_ut_init(&r->ut, r->ut_storage, RS_BOOT_MAX_UNTYPED);
    ps_ut_add_bootinfo(&r->ut, bi);
    r->env = (ps_env_t){.cnode = RS_INIT_CNODE,
                        .vspace = RS_INIT_VSPACE,
                        .tcb = RS_INIT_TCB,
                        .slots = &r->slots,
                        .ut = &r->ut,
                        .scratch_vaddr = PS_SCRATCH_VADDR};
}

int ps_new_object(ps_env_t *env, unsigned type, unsigned size_bits, rs_cptr_t *out)
{
    *out = 0;
    rs_cptr_t slot = ps_slot_alloc(env->slots);
    if (!slot) return RS_NOT_ENOUGH_MEMORY;
    int err = ps_ut_retype(env->ut, env->cnode, type, size_bits, 0, 0, slot, 1, NULL);
    if (err) {
        ps_slot_free(env->slots, slot);
        return err;
    }
    *out = slot;
    return RS_OK;
}

int ps_new_untyped(ps_env_t *env, unsigned bits, ps_ut_t *ua, ps_untyped_t *storage,
                   rs_cptr_t *cap_out)
{
    int err = ps_new_object(env, RS_OBJ_UNTYPED, bits, cap_out);
    if (err) return err;
    ps_ut_init(ua, storage, 1);
    return ps_ut_add(ua, *cap_out, bits, 0, false);
}
