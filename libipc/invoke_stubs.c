// SPDX-License-Identifier: MIT
// Invocation stubs: each packs its arguments into the message registers and extra caps of one
// Call on the object's cap (see invoke_stubs.h for the contracts).
#include "invoke_stubs.h"
#include "kstring.h"

int ps_invoke(rs_cptr_t cap, rs_word_t label, const rs_word_t *args, unsigned nargs,
              const rs_cptr_t *caps, unsigned ncaps)
{
    if (nargs > RS_MSG_MAX_LENGTH || ncaps > RS_MSG_MAX_EXTRA_CAPS) return RS_INVALID_ARGUMENT;
    for (unsigned i = 0; i < nargs; i++) rs_mr_set(i, args[i]);
    for (unsigned i = 0; i < ncaps; i++) rs_cap_set(i, caps[i]);
    return (int)rs_call(cap, rs_msginfo(label, 0, ncaps, nargs)).error;
}

/* Invocation with arguments and up to three extra caps (ncaps of c0..c2 used). */
static int inv(rs_cptr_t cap, rs_word_t label, unsigned nargs, const rs_word_t *args,
               unsigned ncaps, rs_cptr_t c0, rs_cptr_t c1, rs_cptr_t c2)
{
    const rs_cptr_t caps[3] = {c0, c1, c2};
    return ps_invoke(cap, label, args, nargs, caps, ncaps);
}

int ps_untyped_retype(rs_cptr_t ut, rs_cptr_t root, unsigned type, unsigned size_bits,
                      rs_cptr_t node_index, unsigned node_depth, rs_cptr_t offset, unsigned count)
{
    const rs_word_t a[] = {type, size_bits, node_index, node_depth, offset, count};
    return inv(ut, RS_UNTYPED_RETYPE, 6, a, 1, root, 0, 0);
}

static int cnode_op(rs_word_t label, unsigned nargs, rs_cptr_t dest_root, rs_cptr_t dest,
                    unsigned dest_depth, rs_cptr_t src_root, rs_cptr_t src, unsigned src_depth,
                    unsigned rights, rs_badge_t badge)
{
    const rs_word_t a[] = {dest, dest_depth, src, src_depth, rights, badge};
    return inv(dest_root, label, nargs, a, 1, src_root, 0, 0);
}

int ps_cnode_copy(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth)
{
    return cnode_op(RS_CNODE_COPY, 4, dest_root, dest, dest_depth, src_root, src, src_depth, 0, 0);
}

int ps_cnode_mint(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth, unsigned rights, rs_badge_t badge)
{
    return cnode_op(RS_CNODE_MINT, 6, dest_root, dest, dest_depth, src_root, src, src_depth, rights,
                    badge);
}

int ps_cnode_move(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth)
{
    return cnode_op(RS_CNODE_MOVE, 4, dest_root, dest, dest_depth, src_root, src, src_depth, 0, 0);
}

int ps_cnode_mutate(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                    rs_cptr_t src, unsigned src_depth, unsigned rights)
{
    return cnode_op(RS_CNODE_MUTATE, 5, dest_root, dest, dest_depth, src_root, src, src_depth,
                    rights, 0);
}

int ps_cnode_delete(rs_cptr_t root, rs_cptr_t index, unsigned depth)
{
    const rs_word_t a[] = {index, depth};
    return inv(root, RS_CNODE_DELETE, 2, a, 0, 0, 0, 0);
}

int ps_cnode_revoke(rs_cptr_t root, rs_cptr_t index, unsigned depth)
{
    const rs_word_t a[] = {index, depth};
    return inv(root, RS_CNODE_REVOKE, 2, a, 0, 0, 0, 0);
}

int ps_tcb_configure(rs_cptr_t tcb, rs_cptr_t cspace, rs_cptr_t vspace, rs_cptr_t ipc_frame,
                     uint64_t ipc_vaddr)
{
    const rs_word_t a[] = {0, ipc_vaddr};
    return inv(tcb, RS_TCB_CONFIGURE, 2, a, ipc_frame ? 3 : 2, cspace, vspace, ipc_frame);
}

int ps_tcb_set_priority(rs_cptr_t tcb, rs_cptr_t authority, uint64_t prio)
{
    return inv(tcb, RS_TCB_SET_PRIORITY, 1, &prio, 1, authority, 0, 0);
}

int ps_tcb_set_mcp(rs_cptr_t tcb, rs_cptr_t authority, uint64_t mcp)
{
    return inv(tcb, RS_TCB_SET_MCP, 1, &mcp, 1, authority, 0, 0);
}

int ps_tcb_set_fault_handler(rs_cptr_t tcb, rs_cptr_t ep)
{
    return inv(tcb, RS_TCB_SET_FAULT_HANDLER, 0, NULL, ep ? 1 : 0, ep, 0, 0);
}

int ps_tcb_read_registers(rs_cptr_t tcb, bool suspend, unsigned n, uint64_t *regs)
{
    const rs_word_t a[] = {suspend, n};
    int err = inv(tcb, RS_TCB_READ_REGISTERS, 2, a, 0, 0, 0, 0);
    if (err == RS_OK && regs)
        for (unsigned i = 0; i < n && i < RS_REG_COUNT; i++) regs[i] = rs_mr_get(i);
    return err;
}

int ps_tcb_write_registers(rs_cptr_t tcb, bool resume, unsigned n, const uint64_t *regs)
{
    rs_word_t a[2 + RS_REG_COUNT] = {resume, n};
    if (n > RS_REG_COUNT) // the kernel refuses the count before it reads any register
        return inv(tcb, RS_TCB_WRITE_REGISTERS, 2, a, 0, 0, 0, 0);
    for (unsigned i = 0; i < n; i++) a[2 + i] = regs[i];
    return inv(tcb, RS_TCB_WRITE_REGISTERS, 2 + n, a, 0, 0, 0, 0);
}

int ps_tcb_suspend(rs_cptr_t tcb) { return inv(tcb, RS_TCB_SUSPEND, 0, NULL, 0, 0, 0, 0); }
int ps_tcb_resume(rs_cptr_t tcb) { return inv(tcb, RS_TCB_RESUME, 0, NULL, 0, 0, 0, 0); }

int ps_tcb_bind_notification(rs_cptr_t tcb, rs_cptr_t ntfn)
{
    return inv(tcb, RS_TCB_BIND_NOTIFICATION, 0, NULL, 1, ntfn, 0, 0);
}

int ps_tcb_unbind_notification(rs_cptr_t tcb)
{
    return inv(tcb, RS_TCB_UNBIND_NOTIFICATION, 0, NULL, 0, 0, 0, 0);
}

int ps_tcb_set_tls_base(rs_cptr_t tcb, uint64_t base)
{
    return inv(tcb, RS_TCB_SET_TLS_BASE, 1, &base, 0, 0, 0, 0);
}

int ps_tcb_set_name(rs_cptr_t tcb, const char *name)
{
    rs_word_t w[2] = {0, 0};
    size_t n = name ? strlen(name) : 0;
    memcpy(w, name ? name : "", n < 15 ? n : 15);
    return inv(tcb, RS_TCB_SET_NAME, 2, w, 0, 0, 0, 0);
}

int ps_frame_map(rs_cptr_t frame, rs_cptr_t vspace, uint64_t vaddr, unsigned rights, unsigned attr)
{
    const rs_word_t a[] = {vaddr, rights, attr};
    return inv(frame, RS_FRAME_MAP, 3, a, 1, vspace, 0, 0);
}

int ps_frame_unmap(rs_cptr_t frame) { return inv(frame, RS_FRAME_UNMAP, 0, NULL, 0, 0, 0, 0); }

int ps_frame_get_address(rs_cptr_t frame, uint64_t *paddr)
{
    int err = inv(frame, RS_FRAME_GET_ADDRESS, 0, NULL, 0, 0, 0, 0);
    if (err == RS_OK && paddr) *paddr = rs_mr_get(0);
    return err;
}

int ps_page_table_map(rs_cptr_t table, rs_cptr_t vspace, uint64_t vaddr)
{
    return inv(table, RS_PAGE_TABLE_MAP, 1, &vaddr, 1, vspace, 0, 0);
}

int ps_page_table_unmap(rs_cptr_t table)
{
    return inv(table, RS_PAGE_TABLE_UNMAP, 0, NULL, 0, 0, 0, 0);
}

int ps_irq_control_get(rs_cptr_t irq_control, unsigned irq, rs_cptr_t root, rs_cptr_t dest,
                       unsigned depth)
{
    const rs_word_t a[] = {irq, dest, depth};
    return inv(irq_control, RS_IRQ_CONTROL_GET, 3, a, 1, root, 0, 0);
}

int ps_irq_handler_ack(rs_cptr_t handler)
{
    return inv(handler, RS_IRQ_HANDLER_ACK, 0, NULL, 0, 0, 0, 0);
}

int ps_irq_handler_set_notification(rs_cptr_t handler, rs_cptr_t ntfn)
{
    return inv(handler, RS_IRQ_HANDLER_SET_NOTIFICATION, 0, NULL, 1, ntfn, 0, 0);
}

int ps_irq_handler_clear(rs_cptr_t handler)
{
    return inv(handler, RS_IRQ_HANDLER_CLEAR, 0, NULL, 0, 0, 0, 0);
}

int ps_ioport_issue(rs_cptr_t control, uint16_t first, uint16_t last, rs_cptr_t root,
                    rs_cptr_t dest, unsigned depth)
{
    const rs_word_t a[] = {first, last, dest, depth};
    return inv(control, RS_IOPORT_CONTROL_ISSUE, 4, a, 1, root, 0, 0);
}

static rs_word_t port_label(rs_word_t base, unsigned width)
{
    return base + (width == 4 ? 2 : width == 2 ? 1 : 0);
}

int ps_ioport_in(rs_cptr_t port_cap, unsigned width, uint16_t port, uint32_t *value)
{
    rs_word_t a = port;
    int err = inv(port_cap, port_label(RS_IOPORT_IN8, width), 1, &a, 0, 0, 0, 0);
    if (err == RS_OK && value) *value = (uint32_t)rs_mr_get(0);
    return err;
}

int ps_ioport_out(rs_cptr_t port_cap, unsigned width, uint16_t port, uint32_t value)
{
    const rs_word_t a[] = {port, value};
    return inv(port_cap, port_label(RS_IOPORT_OUT8, width), 2, a, 0, 0, 0, 0);
}

int ps_timer_bind(rs_cptr_t timer, rs_cptr_t ntfn, rs_badge_t badge)
{
    rs_word_t a = badge;
    return inv(timer, RS_TIMER_BIND, 1, &a, 1, ntfn, 0, 0);
}

int ps_timer_set_deadline(rs_cptr_t timer, uint64_t tsc)
{
    rs_word_t a = tsc;
    return inv(timer, RS_TIMER_SET_DEADLINE, 1, &a, 0, 0, 0, 0);
}

int ps_timer_cancel(rs_cptr_t timer) { return inv(timer, RS_TIMER_CANCEL, 0, NULL, 0, 0, 0, 0); }

int ps_timer_get_time(rs_cptr_t timer, uint64_t *now, uint64_t *tsc_per_ms, uint64_t *deadline)
{
    int err = inv(timer, RS_TIMER_GET_TIME, 0, NULL, 0, 0, 0, 0);
    if (err != RS_OK) return err;
    if (now) *now = rs_mr_get(0);
    if (tsc_per_ms) *tsc_per_ms = rs_mr_get(1);
    if (deadline) *deadline = rs_mr_get(2);
    return RS_OK;
}
