// SPDX-License-Identifier: MIT
// A VCPU's guest state: the x86 reset state every VCPU starts in, and ReadState / WriteState,
// which move rs_vcpu_state_t between the VMM and the guest (GPRs here in v->gpr, the rest in the
// backend's control page) after checking what the kernel can judge of it.
#include "vcpu.h"
#include "tcb.h"
#include <resurgo/invocation.h>
#include <resurgo/x86.h>

/* The x86 state after RESET but the GPRs (Intel SDM vol. 3A 9.1.1, table 9-1; AMD APM vol. 2
 * 14.1.3): real mode at F000:FFF0 with CS base FFFF0000, caching off (CD, NW) and ET set. */
const rs_vcpu_state_t vcpu_reset_state = {
    .rip = 0xFFF0,
    .rflags = 2,
    .cr0 = CR0_CD | CR0_NW | CR0_ET,
    .cs = {0xF000, 0xFFFF0000, 0xFFFF, 0x9B}, /* present, S, accessed read/execute code */
    .ds = {0, 0, 0xFFFF, 0x93},               /* present, S, accessed read/write data */
    .es = {0, 0, 0xFFFF, 0x93},
    .fs = {0, 0, 0xFFFF, 0x93},
    .gs = {0, 0, 0xFFFF, 0x93},
    .ss = {0, 0, 0xFFFF, 0x93},
    .tr = {0, 0, 0xFFFF, 0x8B},   /* present, busy 32-bit TSS */
    .ldtr = {0, 0, 0xFFFF, 0x82}, /* present, LDT */
    .gdtr_limit = 0xFFFF,
    .idtr_limit = 0xFFFF,
    .pat = RS_VCPU_PAT_RESET,
};

/* State words 0..15 (rax rbx rcx rdx rsi rdi rbp rsp r8..r15) as indices of v->gpr (x86 order). */
static const uint8_t state_gpr[16] = {
    RS_GPR_RAX, RS_GPR_RBX, RS_GPR_RCX, RS_GPR_RDX, RS_GPR_RSI, RS_GPR_RDI, RS_GPR_RBP, RS_GPR_RSP,
    RS_GPR_R8,  RS_GPR_R9,  RS_GPR_R10, RS_GPR_R11, RS_GPR_R12, RS_GPR_R13, RS_GPR_R14, RS_GPR_R15};
_Static_assert(RS_VCPU_STATE_WORD(rax) == 0 && RS_VCPU_STATE_WORD(r15) == 15, "GPR words first");

void vcpu_state_reset(struct vcpu *v) { vcpu_backend->set_state(v, &vcpu_reset_state); }

bool vcpu_event_ok(uint64_t ev)
{
    uint64_t type = (ev >> 8) & 7, vec = ev & 0xFF;
    if (ev & 0x7FFFF000ull) return false;
    if (type == 1 || type > RS_EVENT_SOFT_INT) return false;
    if (type == RS_EVENT_EXCEPTION) return vec < 32 && vec != 2;
    return !(ev & RS_EVENT_HAS_ERROR);
}

/* The whole state: the backend's part and the GPRs. */
static void state_get(struct vcpu *v, rs_vcpu_state_t *s)
{
    vcpu_backend->get_state(v, s);
    uint64_t *w = (uint64_t *)s;
    for (unsigned i = 0; i < 16; i++) w[i] = v->gpr[state_gpr[i]];
}

/* Installs a checked state. A reply's SET_RIP and SET_RFLAGS are relative to the exit's values:
 * they follow; so do the other words of an exit held (a delivery again shows the state then, as
 * its GPR words do): CR0, CR3, CR4 and EFER as checked, which is what either backend reports at
 * an exit (state_check normalised EFER; VMX's read shadows show CR0 / CR4 as written), and SEG
 * (CS / SS, CPL, the event, the shadow), which the backend computes. */
static void state_set(struct vcpu *v, const rs_vcpu_state_t *s)
{
    const uint64_t *w = (const uint64_t *)s;
    for (unsigned i = 0; i < 16; i++) v->gpr[state_gpr[i]] = w[i];
    vcpu_backend->set_state(v, s);
    v->exit.rip = s->rip;
    v->exit.rflags = s->rflags;
    v->exit.cr0 = s->cr0;
    v->exit.cr3 = s->cr3;
    v->exit.cr4 = s->cr4;
    v->exit.efer = s->efer;
    vcpu_exit_seg_refresh(v);
}

int vcpu_decode_read_state(struct invocation *inv, struct vcpu *v)
{
    if (!tcb_ipc_buffer(inv->caller)) return inv_error(inv, RS_BAD_ADDRESS, 0, 0, 0);
    rs_vcpu_state_t s;
    state_get(v, &s);
    const uint64_t *w = (const uint64_t *)&s;
    for (unsigned i = 0; i < RS_VCPU_STATE_WORDS; i++) inv_result(inv, i, w[i]);
    return RS_OK;
}

/* CR4 bits a guest may have: VME..UMIP (0-11), FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE. */
#define CR4_ALLOWED                                                                                \
    (0xFFFull | CR4_FSGSBASE | CR4_PCIDE | CR4_OSXSAVE | CR4_SMEP | CR4_SMAP | CR4_PKE)
#define EFER_ALLOWED   (EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE | EFER_SVME)
#define RFLAGS_ALLOWED VCPU_RFLAGS_ALLOWED
#define W(field)       ((int)RS_VCPU_STATE_WORD(field))
_Static_assert(CR4_ALLOWED == 0x770FFFull, "the CR4 bits WriteState accepts");

/* A PAT with a reserved memory type in an entry: 2, 3, or 8 and above (Intel SDM vol. 3A
 * 11.12.2, AMD APM vol. 2 7.8.1; WRMSR raises #GP, so does VM entry). */
bool vcpu_pat_ok(uint64_t pat)
{
    for (unsigned i = 0; i < 8; i++) {
        uint8_t t = (uint8_t)(pat >> (8 * i));
        if (t >= 8 || t == 2 || t == 3) return false;
    }
    return true;
}

/* The MSR words: what WRMSR would refuse with #GP (Intel SDM vol. 4; AMD APM vol. 2 6.1.1), and
 * what VM entry checks (SDM 26.3.1.1: canonical SYSENTER_ESP/EIP). Returns -1 or the word. */
static int msr_check(const rs_vcpu_state_t *s)
{
    if (!vcpu_canonical(s->kernel_gs_base)) return W(kernel_gs_base);
    if (!vcpu_canonical(s->lstar)) return W(lstar);
    if (!vcpu_canonical(s->cstar)) return W(cstar);
    if (s->sfmask >> 32) return W(sfmask);
    if (s->sysenter_cs >> 32) return W(sysenter_cs);
    if (!vcpu_canonical(s->sysenter_esp)) return W(sysenter_esp);
    if (!vcpu_canonical(s->sysenter_eip)) return W(sysenter_eip);
    if (!vcpu_pat_ok(s->pat)) return W(pat);
    if (s->tsc_aux >> 32) return W(tsc_aux);
    return -1;
}

static int segment_check(const struct rs_segment *g, int word)
{
    if (g->selector > 0xFFFF) return word;
    if (!vcpu_canonical(g->base)) return word + 1;
    if (g->limit > 0xFFFFFFFFull) return word + 2;
    if (g->attrib > 0xFFF) return word + 3;
    return -1;
}

/* Checks what the kernel can judge of a guest state and normalises it (RFLAGS bit 1 set,
 * EFER.LMA = LME && PG, SVME dropped). Returns -1, or the index of the first word at fault. */
static int state_check(rs_vcpu_state_t *s)
{
    if (!vcpu_canonical(s->rip)) return W(rip);
    if (s->rflags & ~RFLAGS_ALLOWED) return W(rflags);
    if ((s->cr0 >> 32) || ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE)) ||
        ((s->cr0 & CR0_NW) && !(s->cr0 & CR0_CD)))
        return W(cr0);
    if (s->cr4 & ~CR4_ALLOWED) return W(cr4);
    if (s->cr3 >> 52) return W(cr3);
    if (s->efer & ~EFER_ALLOWED) return W(efer);
    bool long_mode = (s->efer & EFER_LME) && (s->cr0 & CR0_PG);
    if (long_mode && !(s->cr4 & CR4_PAE)) return W(efer);
    const struct rs_segment *seg[] = {&s->cs, &s->ds, &s->es, &s->fs,
                                      &s->gs, &s->ss, &s->tr, &s->ldtr};
    for (unsigned i = 0; i < 8; i++) {
        int bad = segment_check(seg[i], W(cs) + 4 * (int)i);
        if (bad >= 0) return bad;
    }
    if (!vcpu_canonical(s->gdtr_base)) return W(gdtr_base);
    if (s->gdtr_limit > 0xFFFF) return W(gdtr_limit);
    if (!vcpu_canonical(s->idtr_base)) return W(idtr_base);
    if (s->idtr_limit > 0xFFFF) return W(idtr_limit);
    if (s->pending_event &&
        (!(s->pending_event & RS_EVENT_VALID) || !vcpu_event_ok(s->pending_event)))
        return W(pending_event);
    int bad = msr_check(s);
    if (bad >= 0) return bad;
    s->rflags |= 2;
    s->efer = (s->efer & ~(EFER_LMA | EFER_SVME)) | (long_mode ? EFER_LMA : 0);
    return -1;
}

int vcpu_decode_write_state(struct invocation *inv, struct vcpu *v)
{
    INV_NEED_ARGS(inv, RS_VCPU_STATE_WORDS);
    rs_vcpu_state_t s;
    uint64_t *w = (uint64_t *)&s;
    for (unsigned i = 0; i < RS_VCPU_STATE_WORDS; i++) w[i] = inv_arg(inv, i);
    int bad = state_check(&s);
    if (bad >= 0) return inv_error(inv, RS_INVALID_ARGUMENT, (uint64_t)bad, 0, 0);
    state_set(v, &s);
    return RS_OK;
}

bool vcpu_state_set_word(struct vcpu *v, unsigned i, uint64_t value)
{
    rs_vcpu_state_t s;
    state_get(v, &s);
    ((uint64_t *)&s)[i] = value;
    if (state_check(&s) >= 0) return false;
    state_set(v, &s);
    return true;
}

/* A GPR word changes v->gpr only (no interrupt shadow or held event is touched); any other word
 * is a WriteState of the current state with that word changed, with the same checks. */
int vcpu_decode_set_register(struct invocation *inv, struct vcpu *v)
{
    INV_NEED_ARGS(inv, 2);
    uint64_t i = inv_arg(inv, 0), value = inv_arg(inv, 1);
    if (i >= RS_VCPU_STATE_WORDS)
        return inv_error(inv, RS_RANGE_ERROR, 0, 0, RS_VCPU_STATE_WORDS - 1);
    if (i < 16) {
        v->gpr[state_gpr[i]] = value;
        return RS_OK;
    }
    rs_vcpu_state_t s;
    state_get(v, &s);
    ((uint64_t *)&s)[i] = value;
    int bad = state_check(&s);
    if (bad >= 0) return inv_error(inv, RS_INVALID_ARGUMENT, (uint64_t)bad, 0, 0);
    state_set(v, &s);
    return RS_OK;
}

int vcpu_decode_get_register(struct invocation *inv, struct vcpu *v)
{
    INV_NEED_ARGS(inv, 1);
    uint64_t i = inv_arg(inv, 0);
    if (i >= RS_VCPU_STATE_WORDS)
        return inv_error(inv, RS_RANGE_ERROR, 0, 0, RS_VCPU_STATE_WORDS - 1);
    if (i < 16) {
        inv_result(inv, 0, v->gpr[state_gpr[i]]);
        return RS_OK;
    }
    rs_vcpu_state_t s;
    vcpu_backend->get_state(v, &s);
    inv_result(inv, 0, ((const uint64_t *)&s)[i]);
    return RS_OK;
}
