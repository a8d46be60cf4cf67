// SPDX-License-Identifier: MIT
// x86 interrupts and exceptions: a user exception becomes a fault record (resurgo/fault.h) that
// the generic tcb_raise_fault delivers to the thread's handler, device interrupts go to their
// notification, the timer drives the scheduler. A CPU exception in the kernel itself is a kernel
// bug: dump once and stop (entry.S moves to a stack of its own first).
#include "../../tcb.h"
#include "../../sched.h"
#include "../../irq.h"
#include "../../console.h"
#include "../../timer_obj.h"
#include "../../fastpath_fault.h"
#include "arch.h"
#include "cpu.h"
#include "fpu.h"
#include <resurgo/fault.h>

uint64_t kernel_ticks;

static bool handle_interrupt(uint64_t vector)
{
    if (vector == TIMER_VECTOR) {
        uint64_t now = rdtsc();
        if (arch_timer_ack(now)) {
            kernel_ticks++;
            sched_tick();
        }
        ktimer_expire(now); // sets the LAPIC timer again
        return true;
    }
    // a spurious IRQ 7 from the master PIC has no in-service bit: not a real interrupt
    if (vector == IRQ_VECTOR_BASE + 7 && !(arch_pic_isr() & 0x80)) return true;
    if (vector >= IRQ_VECTOR_BASE && vector < IRQ_VECTOR_BASE + IRQ_ISA_COUNT) {
        if (arch_pic_accept((unsigned)(vector - IRQ_VECTOR_BASE)))
            irq_deliver((unsigned)(vector - IRQ_VECTOR_BASE));
        return true;
    }
    if (vector >= IRQ_GSI_VECTOR_BASE && vector < IRQ_GSI_VECTOR_BASE + IRQ_COUNT - IRQ_ISA_COUNT) {
        irq_deliver((unsigned)(vector - IRQ_GSI_VECTOR_BASE + IRQ_ISA_COUNT)); // level: no latch
        return true;
    }
    return vector == SPURIOUS_VECTOR;
}

_Noreturn void trap_from_user(struct user_context *ctx)
{
    struct tcb *t = cur;
    struct fault_info *f = &t->fault;
    uint64_t vector = ctx->vector;
    if (vector == 14) { // first: a pager's round trip starts here (the fault fast path)
        f->type = RS_FAULT_VM;
        f->w[0] = ctx->rip;
        f->w[1] = read_cr2();
        f->w[2] = (ctx->error >> 4) & 1; // instruction fetch
        f->w[3] = ctx->error;
        f->w[4] = 0;
    } else if (vector == FPU_NM_VECTOR) {
        fpu_claim(t->ctx.fpu); // lazy FPU switch, not a fault
        sched_exit_kernel();
    } else if (handle_interrupt(vector)) {
        sched_exit_kernel();
    } else {
        f->type = RS_FAULT_USER_EXCEPTION;
        f->w[0] = ctx->rip;
        f->w[1] = ctx->rsp;
        f->w[2] = ctx->rflags;
        f->w[3] = vector;
        f->w[4] = ctx->error;
    }
    fastpath_fault(t); // returns if it declines
    tcb_raise_fault(t);
    sched_exit_kernel();
}

void trap_from_kernel(struct user_context *frame)
{
    if (handle_interrupt(frame->vector)) return;
    panic("unexpected interrupt vector %lu in the kernel", frame->vector);
}

/* Test kernels may define this to fault while the report is printed (entry_selftest.c). */
__attribute__((weak)) void panic_selftest_hook(void) {}

/* Prints the one report of a CPU exception in the kernel and halts; entry.S calls it on the panic
 * stack, after it has claimed the panic. */
_Noreturn void kernel_exception_report(const struct user_context *frame)
{
    kprintf("\nKERNEL PANIC: CPU exception %lu (error %lx) in the kernel, cr2 %lx\n", frame->vector,
            frame->error, read_cr2());
    panic_selftest_hook();
    arch_dump_context(frame);
    kprintf("halted\n");
    panic_halt();
}

/* arch_restore_user found a non-canonical or kernel-half RIP in the context it was to return to:
 * the thread gets the #GP a jump there would have given it, delivered to its fault handler. */
_Noreturn void trap_bad_user_rip(struct user_context *ctx)
{
    struct tcb *t = cur;
    struct fault_info *f = &t->fault;
    // what the CPU would report for a jump to a non-canonical address: #GP(0) at the target
    f->type = RS_FAULT_USER_EXCEPTION;
    f->w[0] = ctx->rip;
    f->w[1] = ctx->rsp;
    f->w[2] = ctx->rflags;
    f->w[3] = 13;
    f->w[4] = 0;
    tcb_raise_fault(t);
    sched_exit_kernel();
}
