/* SPDX-License-Identifier: MIT */
/* Invocation stubs: one kernel call each, in the order of resurgo/invocation.h (Untyped, CNode,
 * TCB, Frame and page tables, IRQ, I/O ports), and ps_invoke for any other. The return value is
 * the kernel's status (an rs_error); after a failed invocation its detail words (MR0..MR2, see
 * resurgo/errors.h) are still in the IPC buffer: ps_mr(i). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <resurgo/fault.h>
#include <resurgo/invocation.h>
#include <resurgo/objects.h>
#include <resurgo/rights.h>
#include "syscall_stubs.h"

/* The kernel's detail / result word i of the last invocation. */
static inline rs_word_t ps_mr(unsigned i) { return rs_mr_get(i); }

/* Generic: `label` on `cap` with nargs argument words and ncaps extra caps (cptrs). */
int ps_invoke(rs_cptr_t cap, rs_word_t label, const rs_word_t *args, unsigned nargs,
              const rs_cptr_t *caps, unsigned ncaps);

int ps_untyped_retype(rs_cptr_t ut, rs_cptr_t root, unsigned type, unsigned size_bits,
                      rs_cptr_t node_index, unsigned node_depth, rs_cptr_t offset, unsigned count);
int ps_cnode_copy(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth);
int ps_cnode_mint(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth, unsigned rights, rs_badge_t badge);
int ps_cnode_move(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                  rs_cptr_t src, unsigned src_depth);
int ps_cnode_mutate(rs_cptr_t dest_root, rs_cptr_t dest, unsigned dest_depth, rs_cptr_t src_root,
                    rs_cptr_t src, unsigned src_depth, unsigned rights);
int ps_cnode_delete(rs_cptr_t root, rs_cptr_t index, unsigned depth);
int ps_cnode_revoke(rs_cptr_t root, rs_cptr_t index, unsigned depth);
/* The CNode "badge" that sets a guard of guard_bits bits with value guard (see CNode_Mint). */
static inline rs_badge_t ps_cnode_guard(unsigned guard_bits, uint64_t guard)
{
    return ((rs_badge_t)guard_bits << 58) | guard;
}

int ps_tcb_configure(rs_cptr_t tcb, rs_cptr_t cspace, rs_cptr_t vspace, rs_cptr_t ipc_frame,
                     uint64_t ipc_vaddr);
int ps_tcb_set_priority(rs_cptr_t tcb, rs_cptr_t authority, uint64_t prio);
int ps_tcb_set_mcp(rs_cptr_t tcb, rs_cptr_t authority, uint64_t mcp);
/* ep 0: clear the fault handler. */
int ps_tcb_set_fault_handler(rs_cptr_t tcb, rs_cptr_t ep);
/* Reads n registers (RS_REG_* order) into regs (may be NULL: then they stay in the MRs). */
int ps_tcb_read_registers(rs_cptr_t tcb, bool suspend, unsigned n, uint64_t *regs);
int ps_tcb_write_registers(rs_cptr_t tcb, bool resume, unsigned n, const uint64_t *regs);
int ps_tcb_suspend(rs_cptr_t tcb);
int ps_tcb_resume(rs_cptr_t tcb);
int ps_tcb_bind_notification(rs_cptr_t tcb, rs_cptr_t ntfn);
int ps_tcb_unbind_notification(rs_cptr_t tcb);
int ps_tcb_set_tls_base(rs_cptr_t tcb, uint64_t base);
int ps_tcb_set_name(rs_cptr_t tcb, const char *name);

int ps_frame_map(rs_cptr_t frame, rs_cptr_t vspace, uint64_t vaddr, unsigned rights, unsigned attr);
int ps_frame_unmap(rs_cptr_t frame);
/* *paddr (may be NULL) gets the physical address. */
int ps_frame_get_address(rs_cptr_t frame, uint64_t *paddr);
int ps_page_table_map(rs_cptr_t table, rs_cptr_t vspace, uint64_t vaddr);
int ps_page_table_unmap(rs_cptr_t table);

int ps_irq_control_get(rs_cptr_t irq_control, unsigned irq, rs_cptr_t root, rs_cptr_t dest,
                       unsigned depth);
int ps_irq_handler_ack(rs_cptr_t handler);
int ps_irq_handler_set_notification(rs_cptr_t handler, rs_cptr_t ntfn);
int ps_irq_handler_clear(rs_cptr_t handler);
int ps_ioport_issue(rs_cptr_t control, uint16_t first, uint16_t last, rs_cptr_t root,
                    rs_cptr_t dest, unsigned depth);
/* width 1, 2 or 4; *value (may be NULL) gets what was read. */
int ps_ioport_in(rs_cptr_t port_cap, unsigned width, uint16_t port, uint32_t *value);
int ps_ioport_out(rs_cptr_t port_cap, unsigned width, uint16_t port, uint32_t value);

/* Timer: the clock is the TSC (rdtsc); a deadline signals the bound notification once. */
/* badge 0: the notification cap's own badge. */
int ps_timer_bind(rs_cptr_t timer, rs_cptr_t ntfn, rs_badge_t badge);
/* Absolute TSC value; 0 or ~0 cancels; one already past signals at once. */
int ps_timer_set_deadline(rs_cptr_t timer, uint64_t tsc);
int ps_timer_cancel(rs_cptr_t timer);
/* Each pointer may be NULL: the current TSC, its rate (cycles per ms), the armed deadline. */
int ps_timer_get_time(rs_cptr_t timer, uint64_t *now, uint64_t *tsc_per_ms, uint64_t *deadline);
