// SPDX-License-Identifier: MIT
// Threads in the caller's own address space and CSpace: stack and IPC buffer frames, a TCB, and
// registers that enter a trampoline (see thread.h).
#include "thread.h"
#include "invoke_stubs.h"
#include "map.h"
#include "kstring.h"

#define PAGE RS_PAGE_SIZE

static _Noreturn void thread_trampoline(uint64_t arg, rs_ipc_buffer_t *ipc, ps_thread_fn fn,
                                        rs_cptr_t tcb)
{
    fn(arg, ipc);
    ps_syscall_buf(ipc, RS_SYS_CALL, tcb, rs_msginfo(RS_TCB_SUSPEND, 0, 0, 0));
    for (;;) __asm__ volatile("ud2");
}

int ps_thread_create(ps_thread_t *t, ps_env_t *env, ps_thread_fn fn, uint64_t arg,
                     uint64_t stack_top, unsigned stack_pages, uint64_t ipc_vaddr, uint8_t prio,
                     rs_cptr_t fault_ep)
{
    memset(t, 0, sizeof(*t));
    if (!fn || (stack_top | ipc_vaddr) & (PAGE - 1)) return RS_INVALID_ARGUMENT;
    int err;
    for (unsigned i = 1; i <= stack_pages; i++)
        if ((err = ps_map_new_frame(env, env->vspace, stack_top - i * PAGE,
                                    RS_RIGHT_READ | RS_RIGHT_WRITE, NULL)))
            return err;
    if ((err = ps_map_new_frame(env, env->vspace, ipc_vaddr, RS_RIGHT_READ | RS_RIGHT_WRITE,
                                &t->ipc_frame)) ||
        (err = ps_new_object(env, RS_OBJ_TCB, 0, &t->tcb)) ||
        (err = ps_tcb_configure(t->tcb, env->cnode, env->vspace, t->ipc_frame, ipc_vaddr)) ||
        (err = ps_tcb_set_priority(t->tcb, env->tcb, prio)))
        return err;
    if (fault_ep && (err = ps_tcb_set_fault_handler(t->tcb, fault_ep))) return err;
    t->stack_top = stack_top;
    t->ipc_vaddr = ipc_vaddr;
    uint64_t regs[RS_REG_RDI + 1] = {0};
    regs[RS_REG_RIP] = (uint64_t)(uintptr_t)thread_trampoline;
    regs[RS_REG_RSP] = stack_top - 8;
    regs[RS_REG_RFLAGS] = 0x202;
    regs[RS_REG_RDI] = arg;
    regs[RS_REG_RSI] = ipc_vaddr;
    regs[RS_REG_RDX] = (uint64_t)(uintptr_t)fn;
    regs[RS_REG_RCX] = t->tcb;
    return ps_tcb_write_registers(t->tcb, false, RS_REG_RDI + 1, regs);
}
