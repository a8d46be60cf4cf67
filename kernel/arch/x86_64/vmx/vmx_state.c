// SPDX-License-Identifier: MIT
// VT-x guest state: between the vendor-neutral rs_vcpu_state_t (SVM-style segment attributes,
// the CR values the guest believes in) and the VMCS guest-state area (SDM 24.4).
#include "vmx.h"
#include "../cpu.h"

/* Where each VMCS segment (ES, CS, SS, DS, FS, GS, LDTR, TR) sits in the neutral layout. */
static const uint16_t seg_off[] = {
    __builtin_offsetof(rs_vcpu_state_t, es),   __builtin_offsetof(rs_vcpu_state_t, cs),
    __builtin_offsetof(rs_vcpu_state_t, ss),   __builtin_offsetof(rs_vcpu_state_t, ds),
    __builtin_offsetof(rs_vcpu_state_t, fs),   __builtin_offsetof(rs_vcpu_state_t, gs),
    __builtin_offsetof(rs_vcpu_state_t, ldtr), __builtin_offsetof(rs_vcpu_state_t, tr),
};
#define SEG(s, i)  ((struct rs_segment *)((char *)(s) + seg_off[i]))
#define CSEG(s, i) ((const struct rs_segment *)((const char *)(s) + seg_off[i]))

/* SVM-style attributes (descriptor bits 47:40 in 7:0, 55:52 in 11:8) to VMX access rights
 * (bits 55:52 in 15:12, unusable in 16; 24.4.1, table 24-2). A segment that is not present is
 * unusable, as a null selector makes it in protected mode. VMX checks more than SVM does
 * (26.3.1.2), so state that SVM runs is made acceptable: in real mode (CR0.PE = 0) every
 * segment but LDTR is usable, with the reset attributes if none were given; code and data
 * segments are marked accessed; TR is always a busy TSS (0x8B unless it was a TSS). */
static uint32_t seg_ar(uint64_t attrib, enum vmx_seg i, bool real_mode)
{
    uint32_t ar = (uint32_t)((attrib & 0xFF) | ((attrib & 0xF00) << 4));
    bool present = ar & 0x80;
    if (i == VMX_TR) /* a present TSS (type 1/3 16-bit, 9/11 32/64-bit) marked busy */
        return present && (ar & 0x15) == 0x01 ? ar | 2 : 0x8B;
    if (!present && (i == VMX_LDTR || !real_mode)) return AR_UNUSABLE;
    if (!present) return i == VMX_CS ? 0x9B : 0x93;
    if (ar & 0x10) ar |= 1;
    return ar;
}

static uint64_t seg_attrib(uint32_t ar)
{
    if (ar & AR_UNUSABLE) return 0;
    return (ar & 0xFF) | ((ar >> 4) & 0xF00);
}

/* Reads the guest state but the GPRs (the generic layer's, in v->gpr); CR0 and CR4 as the
 * guest sees them (read shadows for the bits VMX holds fixed); the pending event is the one
 * the next entry injects, else one the VMM injected that waits behind it. */
void vmx_get_state(struct vcpu *v, rs_vcpu_state_t *s)
{
    struct vmx_vcpu *x = vmx_of(v);
    vmx_load(x);
    s->rip = vmread(VMCS_GUEST_RIP);
    s->rflags = vmread(VMCS_GUEST_RFLAGS);
    s->cr0 = vmx_guest_cr(VMCS_GUEST_CR0, VMCS_CR0_MASK, VMCS_CR0_SHADOW);
    s->cr4 = vmx_guest_cr(VMCS_GUEST_CR4, VMCS_CR4_MASK, VMCS_CR4_SHADOW);
    s->cr2 = x->cr2;
    s->cr3 = vmread(VMCS_GUEST_CR3);
    s->efer = vmread(VMCS_GUEST_EFER);
    for (enum vmx_seg i = VMX_ES; i <= VMX_TR; i++) {
        struct rs_segment *sg = SEG(s, i);
        sg->selector = vmread(VMCS_GUEST_ES_SEL + 2 * i);
        sg->base = vmread(VMCS_GUEST_ES_BASE + 2 * i);
        sg->limit = vmread(VMCS_GUEST_ES_LIMIT + 2 * i);
        sg->attrib = seg_attrib((uint32_t)vmread(VMCS_GUEST_ES_AR + 2 * i));
    }
    s->gdtr_base = vmread(VMCS_GUEST_GDTR_BASE);
    s->gdtr_limit = vmread(VMCS_GUEST_GDTR_LIMIT);
    s->idtr_base = vmread(VMCS_GUEST_IDTR_BASE);
    s->idtr_limit = vmread(VMCS_GUEST_IDTR_LIMIT);
    uint32_t info = (uint32_t)vmread(VMCS_ENTRY_INTR_INFO);
    s->pending_event = x->deferred;
    if (info & INTR_INFO_VALID) {
        s->pending_event = info & (0xFFF | INTR_INFO_VALID);
        if (info & INTR_INFO_HAS_ERROR) s->pending_event |= vmread(VMCS_ENTRY_EXC_ERROR) << 32;
    }
    s->kernel_gs_base = x->msr[VMX_KERNEL_GS].value;
    s->star = x->msr[VMX_STAR].value;
    s->lstar = x->msr[VMX_LSTAR].value;
    s->cstar = x->msr[VMX_CSTAR].value;
    s->sfmask = x->msr[VMX_SFMASK].value;
    s->tsc_aux = x->msr[VMX_TSC_AUX].value;
    s->sysenter_cs = vmread(VMCS_GUEST_SYSENTER_CS);
    s->sysenter_esp = vmread(VMCS_GUEST_SYSENTER_ESP);
    s->sysenter_eip = vmread(VMCS_GUEST_SYSENTER_EIP);
    s->pat = vmread(VMCS_GUEST_PAT);
}

/* Writes the guest state but the GPRs (v->gpr, the generic layer's). The CPU's fixed CR0/CR4 bits
 * are applied underneath the guest's values (which stay visible through the read shadows); EFER.LMA
 * and the "IA-32e mode guest" entry control follow from EFER.LME and CR0.PG, as they must agree
 * (26.2.4, 26.3.1.1); reserved RFLAGS bits are dropped and bit 1 set. The interrupt shadow and
 * activity state are reset. Anything else VMX refuses shows as RS_EXIT_INVALID_STATE on the next
 * run. */
void vmx_set_state(struct vcpu *v, const rs_vcpu_state_t *s)
{
    struct vmx_vcpu *x = vmx_of(v);
    const struct vmx_caps *c = &vmx_caps;
    vmx_load(x);
    vmwrite(VMCS_GUEST_RIP, s->rip);
    vmwrite(VMCS_GUEST_RFLAGS, (s->rflags & 0x3F7FD5) | 2);
    vmwrite(VMCS_GUEST_CR0, (s->cr0 | c->cr0_set) & ~c->cr0_clr);
    vmwrite(VMCS_CR0_SHADOW, s->cr0);
    vmwrite(VMCS_GUEST_CR4, (s->cr4 | c->cr4_set) & ~c->cr4_clr);
    vmwrite(VMCS_CR4_SHADOW, s->cr4);
    vmwrite(VMCS_GUEST_CR3, s->cr3);
    x->cr2 = s->cr2;
    bool lma = (s->efer & EFER_LME) && (s->cr0 & CR0_PG);
    vmwrite(VMCS_GUEST_EFER, (s->efer & ~EFER_LMA) | (lma ? EFER_LMA : 0));
    vmwrite(VMCS_ENTRY_CTLS, c->entry | (lma ? ENTRY_IA32E_GUEST : 0));
    bool real_mode = !(s->cr0 & CR0_PE);
    for (enum vmx_seg i = VMX_ES; i <= VMX_TR; i++) {
        const struct rs_segment *sg = CSEG(s, i);
        vmwrite(VMCS_GUEST_ES_SEL + 2 * i, sg->selector & 0xFFFF);
        vmwrite(VMCS_GUEST_ES_BASE + 2 * i, sg->base);
        vmwrite(VMCS_GUEST_ES_LIMIT + 2 * i, sg->limit & 0xFFFFFFFF);
        vmwrite(VMCS_GUEST_ES_AR + 2 * i, seg_ar(sg->attrib, i, real_mode));
    }
    vmwrite(VMCS_GUEST_GDTR_BASE, s->gdtr_base);
    vmwrite(VMCS_GUEST_GDTR_LIMIT, s->gdtr_limit & 0xFFFF);
    vmwrite(VMCS_GUEST_IDTR_BASE, s->idtr_base);
    vmwrite(VMCS_GUEST_IDTR_LIMIT, s->idtr_limit & 0xFFFF);
    x->msr[VMX_KERNEL_GS].value = s->kernel_gs_base;
    x->msr[VMX_STAR].value = s->star;
    x->msr[VMX_LSTAR].value = s->lstar;
    x->msr[VMX_CSTAR].value = s->cstar;
    x->msr[VMX_SFMASK].value = s->sfmask;
    x->msr[VMX_TSC_AUX].value = s->tsc_aux;
    vmwrite(VMCS_GUEST_SYSENTER_CS, s->sysenter_cs);
    vmwrite(VMCS_GUEST_SYSENTER_ESP, s->sysenter_esp);
    vmwrite(VMCS_GUEST_SYSENTER_EIP, s->sysenter_eip);
    vmwrite(VMCS_GUEST_PAT, s->pat);
    vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
    x->deferred = 0;
    x->requeued = false;
    vmwrite(VMCS_ENTRY_INTR_INFO, 0);
    if (s->pending_event & INTR_INFO_VALID) vmx_inject(v, s->pending_event);
    vmx_update_window(x);
    vmwrite(VMCS_GUEST_ACTIVITY, 0);
    vmwrite(VMCS_GUEST_PENDING_DBG, 0);
    /* CR3 or paging mode may have changed behind the guest's back: its VPID's TLB entries
     * are stale (28.3.3.3). */
    if (x->vpid) vpid_invalidate(x->vpid);
}

/* The exit's RS_EXIT_MR_SEG word (vcpu_backend.h): CS / SS access rights in rs_segment's form,
 * CPL (SS.DPL, 24.4.1), the interruptibility state (24.4.2) and what the kernel holds for
 * injection. */
uint64_t vmx_exit_seg(struct vcpu *v)
{
    struct vmx_vcpu *x = vmx_of(v);
    vmx_load(x);
    uint32_t ss_ar = (uint32_t)vmread(VMCS_GUEST_ES_AR + 2 * VMX_SS);
    uint64_t irq = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    bool pending = x->deferred || (vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID);
    return seg_attrib((uint32_t)vmread(VMCS_GUEST_ES_AR + 2 * VMX_CS)) | seg_attrib(ss_ar) << 16 |
           (uint64_t)((ss_ar >> 5) & 3) << 32 |
           (irq & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS) ? RS_EXIT_IRQ_SHADOW : 0) |
           (pending ? RS_EXIT_IRQ_PENDING : 0) | (x->vmm_window ? RS_EXIT_IRQ_WINDOW : 0);
}

/* The exit's four segment-base words (vcpu_backend.h). */
void vmx_exit_bases(struct vcpu *v, uint64_t *w)
{
    vmx_load(vmx_of(v));
    w[0] = (uint32_t)vmread(VMCS_GUEST_ES_BASE + 2 * VMX_CS) |
           vmread(VMCS_GUEST_ES_BASE + 2 * VMX_SS) << 32;
    w[1] = (uint32_t)vmread(VMCS_GUEST_ES_BASE + 2 * VMX_DS) |
           vmread(VMCS_GUEST_ES_BASE + 2 * VMX_ES) << 32;
    w[2] = vmread(VMCS_GUEST_ES_BASE + 2 * VMX_FS);
    w[3] = vmread(VMCS_GUEST_ES_BASE + 2 * VMX_GS);
}

void vmx_set_rflags(struct vcpu *v, uint64_t rflags)
{
    vmx_load(vmx_of(v));
    vmwrite(VMCS_GUEST_RFLAGS, rflags);
}
