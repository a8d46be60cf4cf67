// SPDX-License-Identifier: MIT
// Processes: a container (a slot block and an untyped sized for the image) holding a CNode,
// VSpace and TCB; the image loaded by elf_load.c; destroyed by revoking the untyped (see
// process.h for the contracts).
#include "process.h"
#include "elf_load.h"
#include "kstring.h"

#define PAGE     RS_PAGE_SIZE
#define USER_TOP RS_USER_TOP

/* First code of every child: the runtime's IPC buffer pointer, then the entry function; a
 * returning entry suspends its thread (through the TCB cap the child holds in PS_SLOT_TCB). */
static _Noreturn void process_trampoline(uint64_t arg, rs_ipc_buffer_t *ipc, ps_entry_fn fn)
{
    __rs_ipc_buffer = ipc;
    fn(arg);
    ps_tcb_suspend(PS_SLOT_TCB);
    for (;;) __asm__ volatile("ud2"); // the cap is gone: fault, so that a handler hears of it
}

/* Reserves the slot block and the process untyped, sized for `pages` frames and the CNode. */
static int make_container(ps_process_t *p, ps_env_t *env, uint64_t pages, unsigned radix,
                          unsigned extra)
{
    const unsigned tables = 9, objects = 8; // PDPT/PD/PT for image and stack (+1 set spare)
    p->block_len = (unsigned)(pages + tables + objects + extra);
    p->block = ps_slot_alloc_range(env->slots, p->block_len);
    if (!p->block) return RS_NOT_ENOUGH_MEMORY;
    p->parent_slots = env->slots;
    ps_slots_init(&p->slots, p->block, p->block + p->block_len);
    uint64_t bytes = (1ull << (radix + RS_SLOT_BITS)) + (pages + tables + objects) * PAGE;
    unsigned bits = 12;
    while ((1ull << bits) < bytes) bits++;
    ps_env_t mine = *env; // memory from the creator's untyped, slot from the block
    mine.slots = &p->slots;
    int err = ps_new_object(&mine, RS_OBJ_UNTYPED, bits, &p->untyped);
    if (err) return err;
    ps_ut_init(&p->ut, &p->ut_entry, 1);
    ps_ut_add(&p->ut, p->untyped, bits, 0, false);
    p->env = *env;
    p->env.slots = &p->slots;
    p->env.ut = &p->ut;
    return RS_OK;
}

/* CNode (guarded so that depth 64 names a slot), VSpace and TCB; the child's own caps. */
static int make_objects(ps_process_t *p, unsigned radix)
{
    rs_cptr_t raw;
    int err = ps_new_object(&p->env, RS_OBJ_CNODE, radix, &raw);
    if (err) return err;
    if (!(p->cnode = ps_slot_alloc(&p->slots))) return RS_NOT_ENOUGH_MEMORY;
    rs_cptr_t me = p->env.cnode;
    err = ps_cnode_mint(me, p->cnode, PS_DEPTH, me, raw, PS_DEPTH, RS_RIGHTS_ALL,
                        ps_cnode_guard(64 - radix, 0));
    if (err) return err;
    p->cnode_radix = radix;
    if ((err = ps_new_object(&p->env, RS_OBJ_VSPACE, 0, &p->vspace)) ||
        (err = ps_new_object(&p->env, RS_OBJ_TCB, 0, &p->tcb)))
        return err;
    if ((err = ps_cnode_copy(p->cnode, PS_SLOT_TCB, PS_DEPTH, me, p->tcb, PS_DEPTH)) ||
        (err = ps_cnode_copy(p->cnode, PS_SLOT_CNODE, PS_DEPTH, me, p->cnode, PS_DEPTH)) ||
        (err = ps_cnode_copy(p->cnode, PS_SLOT_VSPACE, PS_DEPTH, me, p->vspace, PS_DEPTH)))
        return err;
    return RS_OK;
}

static int make_stack_and_ipc(ps_process_t *p, unsigned stack_pages)
{
    p->stack_top = PS_CHILD_STACK_TOP;
    p->ipc_vaddr = PS_CHILD_IPC_BUFFER;
    for (unsigned i = 1; i <= stack_pages; i++) {
        int err = ps_map_new_frame(&p->env, p->vspace, p->stack_top - i * PAGE,
                                   RS_RIGHT_READ | RS_RIGHT_WRITE, NULL);
        if (err) return err;
    }
    return ps_map_new_frame(&p->env, p->vspace, p->ipc_vaddr, RS_RIGHT_READ | RS_RIGHT_WRITE,
                            &p->ipc_frame);
}

static uint64_t elf_entry(const void *image) { return ((const struct elf64_ehdr *)image)->entry; }

/* Configure, priorities, fault handler, name, and the registers for the trampoline. */
static int setup_thread(ps_process_t *p, const ps_process_config_t *cfg)
{
    int err;
    if ((err = ps_tcb_configure(p->tcb, p->cnode, p->vspace, p->ipc_frame, p->ipc_vaddr)) ||
        (err = ps_tcb_set_mcp(p->tcb, p->env.tcb, cfg->mcp)) ||
        (err = ps_tcb_set_priority(p->tcb, p->env.tcb, cfg->priority)))
        return err;
    if (cfg->fault_ep && (err = ps_tcb_set_fault_handler(p->tcb, cfg->fault_ep))) return err;
    if (cfg->name && (err = ps_tcb_set_name(p->tcb, cfg->name))) return err;
    uint64_t regs[RS_REG_RDI + 1] = {0};
    // another program starts at its ELF entry (crt0: rdi = arg, rsi = IPC buffer); our own
    // image can start at any of our functions through the trampoline
    regs[RS_REG_RIP] = cfg->entry ? (uint64_t)(uintptr_t)process_trampoline : elf_entry(cfg->elf);
    regs[RS_REG_RSP] = p->stack_top - 8; // as if called: rsp + 8 is 16-byte aligned
    regs[RS_REG_RFLAGS] = 0x202;
    regs[RS_REG_RDI] = cfg->arg;
    regs[RS_REG_RSI] = p->ipc_vaddr;
    regs[RS_REG_RDX] = (uint64_t)(uintptr_t)cfg->entry;
    return ps_tcb_write_registers(p->tcb, false, RS_REG_RDI + 1, regs);
}

int ps_process_create(ps_process_t *p, ps_env_t *env, const ps_process_config_t *cfg)
{
    memset(p, 0, sizeof(*p));
    p->env = *env; // so that a failure cleans up in the right CSpace
    unsigned nph = 0;
    const struct elf64_phdr *ph = elf_check(cfg->elf, cfg->elf_size, USER_TOP, &nph);
    unsigned radix = cfg->cnode_radix ? cfg->cnode_radix : 8;
    unsigned stack_pages = cfg->stack_pages ? cfg->stack_pages : 4;
    if (!ph || radix > RS_MAX_CNODE_RADIX || stack_pages > 256) return RS_INVALID_ARGUMENT;
    uint64_t pages = elf_load_page_count(ph, nph) + stack_pages + 1;
    int err = make_container(p, env, pages, radix, cfg->extra_slots ? cfg->extra_slots : 16);
    if (!err) err = make_objects(p, radix);
    if (!err && cfg->console) // printing only: reading the console stays with the creator
        err = ps_cnode_mint(p->cnode, PS_SLOT_CONSOLE, PS_DEPTH, env->cnode, cfg->console, PS_DEPTH,
                            RS_RIGHT_WRITE, 0);
    if (!err) err = elf_load_image(&p->env, p->vspace, env, cfg->elf, ph, nph, cfg->shared);
    if (!err) err = make_stack_and_ipc(p, stack_pages);
    if (!err) err = setup_thread(p, cfg);
    if (err) ps_process_destroy(p);
    return err;
}

int ps_process_give(ps_process_t *p, rs_cptr_t dest, rs_cptr_t src, unsigned rights,
                    rs_badge_t badge)
{
    rs_cptr_t me = p->env.cnode;
    // Copy keeps everything (a CNode's guard too: Mint would set the guard from `badge`)
    if (rights == RS_RIGHTS_ALL && badge == 0)
        return ps_cnode_copy(p->cnode, dest, PS_DEPTH, me, src, PS_DEPTH);
    return ps_cnode_mint(p->cnode, dest, PS_DEPTH, me, src, PS_DEPTH, rights, badge);
}

int ps_process_share(ps_process_t *p, rs_cptr_t frame, uint64_t vaddr, unsigned rights)
{
    rs_cptr_t copy = ps_slot_alloc(&p->slots);
    if (!copy) return RS_NOT_ENOUGH_MEMORY;
    int err = ps_cnode_copy(p->env.cnode, copy, PS_DEPTH, p->env.cnode, frame, PS_DEPTH);
    if (!err) err = ps_map_frame(&p->env, p->vspace, copy, vaddr, rights, RS_ATTR_DEFAULT);
    return err;
}

int ps_process_share_image(ps_env_t *env, const void *elf, uint64_t elf_size,
                           struct elf_shared *shared)
{
    unsigned nph = 0;
    const struct elf64_phdr *ph = elf_check(elf, elf_size, USER_TOP, &nph);
    if (!ph) return RS_INVALID_ARGUMENT;
    return elf_load_shared(env, elf, ph, nph, shared);
}

int ps_process_start(ps_process_t *p) { return ps_tcb_resume(p->tcb); }

int ps_process_destroy(ps_process_t *p)
{
    if (!p->block) return RS_OK;
    rs_cptr_t me = p->env.cnode;
    int first = RS_OK, err;
    if (p->untyped) first = ps_cnode_revoke(me, p->untyped, PS_DEPTH);
    // copies of the creator's caps (shared frames) and the untyped itself are left
    for (rs_cptr_t s = p->block; s < p->block + p->block_len; s++) {
        if (!ps_slot_used(&p->slots, s)) continue;
        if ((err = ps_cnode_delete(me, s, PS_DEPTH)) && !first) first = err;
    }
    ps_slot_free_range(p->parent_slots, p->block, p->block_len);
    memset(p, 0, sizeof(*p));
    return first;
}
