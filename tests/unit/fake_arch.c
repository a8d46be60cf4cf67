// SPDX-License-Identifier: MIT
// The machine as host unit tests see it: fakes of the x86-64 layer (exits to user mode, address
// spaces, PIC, console, panic) under the real generic kernel sources.
#include <criterion/criterion.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fake_arch.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/switch.h"
#include "console.h"
#include "vspace.h"
#include "invoke.h"

/* Leaving the kernel never returns, so the fakes jump back to the test that armed `fake_exit`:
 * its setjmp returns 1 from arch_restore_user, 2 from arch_idle_wait. */
jmp_buf *fake_exit;
struct user_context *fake_restored; /* the context the kernel last left into */
int fake_idle_waits;
uint64_t fake_free_asids = ASID_COUNT - 1; /* what vspace_free_asids answers: tests may lower it */
uint32_t fake_next_asid = 1;
int fake_vspaces_finalised;
bool fake_pic_masked[IRQ_COUNT];
char fake_console[8192];
size_t fake_console_len;

/* What arch_switch_thread (switch.h, inline in sched.c) writes. It executes `mov cr3` when the
 * thread's PML4 differs from arch_cr3, and wrmsr when its FS base differs from arch_fs_base; both
 * trap in user mode. So a test must set arch_cr3 to its threads' (shared) VSpace and leave their
 * FS bases 0: then only cur_ctx_top and tss.rsp[0] change, which the tests check. */
uint64_t cur_ctx_top; /* entry.S */
uint64_t user_cr3;    /* entry.S; PTI stays off here (pti_enabled 0) */
uint8_t pti_enabled;
struct tss tss;                  /* gdt.c */
uint64_t arch_cr3, arch_fs_base; /* paging.c */

/* fpu.c: the FPU is not touched (CR0 writes trap in user mode); only ownership is kept. */
const void *fpu_owner;
bool fpu_ts;
void fpu_set_ts(bool on) { fpu_ts = on; }
void fpu_image_init(void *img) { memset(img, 0, FPU_IMAGE_SIZE); }
void fpu_claim(void *img) { fpu_owner = img, fpu_ts = false; }
void fpu_forget(const void *img)
{
    if (fpu_owner == img) fpu_owner = NULL, fpu_ts = true;
}

_Noreturn void arch_restore_user(struct user_context *ctx)
{
    fake_restored = ctx;
    if (!fake_exit) cr_assert_fail("the kernel left to user mode where the test did not expect it");
    longjmp(*fake_exit, 1);
}

/* The fast path's exit when PTI is off (entry.S): the same here. */
_Noreturn void arch_restore_user_nopti(struct user_context *ctx);
_Noreturn void arch_restore_user_nopti(struct user_context *ctx) { arch_restore_user(ctx); }

/* Returning would make sched_exit_kernel spin (no interrupt will come): end the kernel entry. */
void arch_idle_wait(void)
{
    fake_idle_waits++;
    if (!fake_exit) cr_assert_fail("the kernel idled where the test did not expect it");
    longjmp(*fake_exit, 2);
}

void arch_pic_mask(unsigned irq, bool masked)
{
    cr_assert_lt(irq, IRQ_COUNT, "PIC line %u", irq);
    fake_pic_masked[irq] = masked;
}
void arch_pic_eoi(unsigned irq) { (void)irq; }
/* The lines the fake machine has (a test sets them; default: the 8259's 16) and a GSI an ISA
 * override routes (fake_irq_isa_gsi; 0: none). */
unsigned fake_irq_lines = IRQ_ISA_COUNT, fake_irq_isa_gsi;
unsigned arch_irq_lines(void) { return fake_irq_lines; }
bool arch_irq_line_usable(unsigned irq)
{
    return irq < fake_irq_lines && irq != 2 && (irq < IRQ_ISA_COUNT || irq != fake_irq_isa_gsi);
}

/* What arch_irq_pending answers at each poll: a test sets fake_irq_pending_every = n to have
 * every n-th poll find an interrupt pending (0: never), and counts the polls. */
unsigned fake_irq_pending_every;
unsigned long fake_irq_polls;
bool arch_irq_pending(void)
{
    fake_irq_polls++;
    return fake_irq_pending_every && fake_irq_polls % fake_irq_pending_every == 0;
}
void arch_shutdown(void) { cr_assert_fail("arch_shutdown called"); }

/* The clock and the hardware timer (timer.c): the TSC is what a test sets, and the deadline the
 * kernel asks for is recorded. */
uint64_t arch_tsc_per_ms = 1000000;
uint64_t fake_tsc = 1;
uint64_t fake_timer_deadline = UINT64_MAX;
unsigned long fake_timer_sets;
uint64_t arch_timer_now(void) { return fake_tsc; }
void arch_timer_set_deadline(uint64_t tsc)
{
    fake_timer_deadline = tsc;
    fake_timer_sets++;
}

void console_init(void) {}
void console_putc(char c)
{
    if (fake_console_len + 1 < sizeof(fake_console)) fake_console[fake_console_len++] = c;
}
int console_getc(void) { return -1; }

/* The real panic (printk.c, built with its panic renamed) would run cli and hlt. */
_Noreturn void panic(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cr_assert_fail("kernel panic: %s", msg);
    abort();
}

/* ---- Address spaces ---------------------------------------------------------------------------
 * kernel/arch/x86_64/vspace.c is not linked: vspace_finalise and every unmap read CR3, which traps
 * in user mode. The fakes keep its bookkeeping contract (ASIDs, unmapped caps). */

uint64_t vspace_root_phys(const struct cap *c)
{
    return c->type == RS_CAP_VSPACE ? VIRT_TO_PHYS(c->obj) : 0;
}
uint64_t vspace_free_asids(void) { return fake_free_asids; }

int vspace_init(void *pml4, uint32_t *asid_out)
{
    (void)pml4;
    if (!fake_free_asids) return RS_NOT_ENOUGH_MEMORY;
    fake_free_asids--;
    *asid_out = fake_next_asid++;
    return RS_OK;
}

void vspace_finalise(const struct cap *c)
{
    (void)c;
    fake_vspaces_finalised++;
    fake_free_asids++;
}

/* The ASID table GuestSpaces share with VSpaces (guestspace.c): asid.h's, read by its inline
 * asid_root; filled here without CR3 or the real allocator. */
uint64_t *asid_table[ASID_COUNT];
uint64_t asid_guest[ASID_COUNT / 64];

int asid_assign(void *root, bool guest, uint32_t *asid_out)
{
    if (!fake_free_asids) return RS_NOT_ENOUGH_MEMORY;
    fake_free_asids--;
    uint32_t a = fake_next_asid++ % ASID_COUNT;
    asid_table[a] = root;
    if (guest) asid_guest[a / 64] |= 1ull << (a % 64);
    else asid_guest[a / 64] &= ~(1ull << (a % 64));
    *asid_out = a;
    return RS_OK;
}

void asid_release(uint32_t asid, const void *root)
{
    if (asid < ASID_COUNT && asid_table[asid] == root) {
        asid_table[asid] = NULL;
        fake_free_asids++;
    }
}

void vspace_unmap_cap(struct cap *c)
{
    c->flags &= ~CAP_FLAG_MAPPED;
    c->small = 0;
    c->w1 = 0;
}

int frame_decode(struct invocation *inv)
{
    (void)inv;
    cr_assert_fail("frame invocations are not modelled on the host");
    abort();
}

/* Declines (as the real one does when a check fails): frame_decode's fake then reports it. */
void frame_map_fast(struct tcb *t, struct cap *c, uint64_t info) { (void)t, (void)c, (void)info; }

int page_table_decode(struct invocation *inv)
{
    (void)inv;
    cr_assert_fail("page table invocations are not modelled on the host");
    abort();
}
