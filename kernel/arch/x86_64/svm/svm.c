// SPDX-License-Identifier: MIT
// The AMD SVM backend (AMD64 APM vol. 2, chapter 15): enabling SVM on the CPU, the VMCB of a new
// vCPU with its intercepts, guest state in and out of the VMCB, and nested page-table entries.
// Running the guest and decoding its exits is svm_exit.c.
#include "svm.h"
#include "arch.h"
#include "cpu.h"
#include "pte.h"
#include "layout.h"
#include "kstring.h"

/* Host memory SVM needs besides the VMCBs, in the kernel image (physically contiguous): the area
 * VMRUN saves the host's state to (VM_HSAVE_PA, APM 15.30.4), the VMSAVE image of the host's
 * FS/GS/TR/LDTR and syscall MSRs, and the permission maps every guest shares: all ones, so that
 * every port and MSR access exits (IOPM 12 KiB, APM 15.10.1; MSRPM 8 KiB, APM 15.11). */
static uint8_t hsave[4096] __attribute__((aligned(4096)));
static uint8_t host_state[4096] __attribute__((aligned(4096)));
static uint8_t iopm[3 * 4096] __attribute__((aligned(4096)));
static uint8_t msrpm[2 * 4096] __attribute__((aligned(4096)));

uint32_t svm_asids, svm_features;
uint64_t svm_host_state_pa;
bool svm_tsc_aux_hw;
uint64_t svm_host_tsc_aux;

/* The MSRs a guest reads and writes without an exit: those VMLOAD / VMSAVE switch (FS, GS and
 * KernelGSBase, STAR, LSTAR, CSTAR, SFMASK, SYSENTER_CS/ESP/EIP; APM 15.5.2) and TSC_AUX, which
 * svm_run switches when the CPU has it (RDTSCP reads it, CPUID 8000_0001h EDX[27]). PAT stays
 * intercepted: with nested paging the guest's is G_PAT in the VMCB (APM 15.25.8), and the
 * kernel answers its RDMSR / WRMSR itself (svm_exit.c), so that no emulator's handling of a
 * passed-through PAT can change the host's. */
static const uint32_t msr_passthrough[] = {
    0xC0000100, 0xC0000101, 0xC0000102,             /* FS_BASE, GS_BASE, KERNEL_GS_BASE */
    0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, /* STAR, LSTAR, CSTAR, SFMASK */
    0x174,      0x175,      0x176,                  /* SYSENTER_CS, _ESP, _EIP */
};

/* Clears the read and write intercept bits of one MSR: two bits per MSR, in three 2 KiB ranges
 * for MSRs 0-1FFFh, C000_0000h-C000_1FFFh and C001_0000h-C001_1FFFh (APM 15.11, table 15-8). */
static void msrpm_pass(uint32_t msr)
{
    uint32_t off = msr < 0x2000 ? 0 : msr - 0xC0000000u < 0x2000 ? 0x800 : 0x1000;
    uint32_t n = msr & 0x1FFF;
    msrpm[off + n / 4] &= (uint8_t) ~(3u << (2 * (n % 4)));
}

static uint64_t image_phys(const void *p) { return (uint64_t)(uintptr_t)p - KERNEL_VMA; }

bool svm_host_saved;
uint64_t svm_host_fs_base;

void svm_host_save(void)
{
    // VMSAVE (APM 15.5.2): FS, GS, TR, LDTR with their hidden state, KernelGSBase, STAR, LSTAR,
    // CSTAR, SFMASK, SYSENTER_*; all set once at boot (gdt.c) but the FS base, which
    // switch_to loads per thread and which svm_run hands back to its cache after each exit
    __asm__ volatile("vmsave" ::"a"(svm_host_state_pa) : "memory");
    svm_host_fs_base = ((const struct vmcb *)host_state)->fs.base;
    svm_host_saved = true;
}

/* SVM with nested paging (CPUID 8000_0001h ECX.SVM, 8000_000Ah EDX.NP; APM 15.4, 15.25). */
static bool svm_probe(void) { return cpu_features.svm && cpu_features.npt; }

static bool svm_cpu_init(void)
{
    uint32_t r[4];
    cpuid(0x8000000A, 0, r);
    svm_asids = r[1];
    svm_features = r[3];
    if (svm_asids < 2) return false;              // ASID 0 is the host's
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME); // APM 15.4
    wrmsr(MSR_VM_HSAVE_PA, image_phys(hsave));
    svm_host_state_pa = image_phys(host_state);
    memset(iopm, 0xFF, sizeof(iopm));
    memset(msrpm, 0xFF, sizeof(msrpm));
    for (unsigned i = 0; i < sizeof(msr_passthrough) / sizeof(msr_passthrough[0]); i++)
        msrpm_pass(msr_passthrough[i]);
    cpuid(0x80000001, 0, r);
    svm_tsc_aux_hw = r[3] & (1u << 27);
    if (svm_tsc_aux_hw) {
        svm_host_tsc_aux = rdmsr(MSR_TSC_AUX);
        msrpm_pass(MSR_TSC_AUX);
    }
    return true;
}

static void seg_set(struct vmcb_seg *d, const struct rs_segment *s)
{
    d->selector = (uint16_t)s->selector;
    d->attrib = (uint16_t)s->attrib;
    d->limit = (uint32_t)s->limit;
    d->base = s->base;
}

static void seg_get(const struct vmcb_seg *s, struct rs_segment *d)
{
    *d = (struct rs_segment){s->selector, s->base, s->limit, s->attrib};
}


/* Intercepts: what a guest must never do to the host (SVM instructions, INVD, WBINVD (a long
 * uninterruptible stall), port and MSR access, RDPMC), what the VMM emulates (CPUID, HLT, VMMCALL), host events (INTR, NMI, INIT), and
 * shutdown. #DB and #AC are intercepted because their delivery can loop forever inside the CPU
 * (APM 15.12 "Exception Intercepts"; the benign-exception hangs): the VMM reinjects them. */
static void svm_vcpu_init(struct vcpu *v, void *ctl, uint64_t ctl_phys)
{
    (void)ctl_phys;
    struct vmcb *vm = ctl;
    vm->intercept_exc = (1u << 1) | (1u << 17);
    // every debug-register access until the guest first makes one (svm_exit.c, dr_own): VMRUN
    // and #VMEXIT switch DR6 and DR7 but not DR0-3 (APM 15.5.1, 15.6)
    vm->intercept_dr = 0xFFFFFFFF;
    vm->intercept_misc1 = VMCB_I1_INTR | VMCB_I1_NMI | VMCB_I1_INIT | VMCB_I1_RDPMC |
                          VMCB_I1_CPUID | VMCB_I1_INVD | VMCB_I1_HLT | VMCB_I1_INVLPGA |
                          VMCB_I1_IOIO | VMCB_I1_MSR | VMCB_I1_FERR_FREEZE | VMCB_I1_SHUTDOWN;
    // VMRUN must be intercepted (APM 15.5.1): the guest's EFER.SVME is set, so are the others
    vm->intercept_misc2 = VMCB_I2_VMRUN | VMCB_I2_VMMCALL | VMCB_I2_VMLOAD | VMCB_I2_VMSAVE |
                          VMCB_I2_STGI | VMCB_I2_CLGI | VMCB_I2_SKINIT | VMCB_I2_WBINVD |
                          VMCB_I2_MONITOR | VMCB_I2_MWAIT | VMCB_I2_MWAIT_ARMED | VMCB_I2_XSETBV;
    vm->iopm_base = image_phys(iopm);
    vm->msrpm_base = image_phys(msrpm);
    // the guest's IF masks only virtual interrupts; physical ones always exit (APM 15.21.1)
    vm->int_ctl = VMCB_INT_V_INTR_MASKING;
    vm->np_ctl = 1;
    vm->clean = 0;
    vm->g_pat = RS_VCPU_PAT_RESET;
    vm->dr6 = 0xFFFF0FF0;
    vm->dr7 = 0x400;
}

static void svm_vcpu_destroy(struct vcpu *v) { svm_forget(v); }

static void svm_set_guest_root(struct vcpu *v, uint64_t root_phys, uint32_t tag)
{
    struct vmcb *vm = v->ctl;
    vm->ncr3 = root_phys;
    svm_of(v)->tag = tag;
    svm_forget(v);
}

static void svm_get_state(struct vcpu *v, rs_vcpu_state_t *s)
{
    const struct vmcb *vm = v->ctl;
    s->rip = vm->rip;
    s->rflags = vm->rflags;
    s->cr0 = vm->cr0;
    s->cr2 = vm->cr2;
    s->cr3 = vm->cr3;
    s->cr4 = vm->cr4;
    s->efer = vm->efer & ~(uint64_t)EFER_SVME; // ours, not the guest's
    seg_get(&vm->cs, &s->cs);
    seg_get(&vm->ds, &s->ds);
    seg_get(&vm->es, &s->es);
    seg_get(&vm->fs, &s->fs);
    seg_get(&vm->gs, &s->gs);
    seg_get(&vm->ss, &s->ss);
    seg_get(&vm->tr, &s->tr);
    seg_get(&vm->ldtr, &s->ldtr);
    s->gdtr_base = vm->gdtr.base;
    s->gdtr_limit = vm->gdtr.limit;
    s->idtr_base = vm->idtr.base;
    s->idtr_limit = vm->idtr.limit;
    s->pending_event = (vm->eventinj & VMCB_EVENT_VALID) ? vm->eventinj : svm_of(v)->queued_event;
    s->kernel_gs_base = vm->kernel_gs_base;
    s->star = vm->star;
    s->lstar = vm->lstar;
    s->cstar = vm->cstar;
    s->sfmask = vm->sfmask;
    s->sysenter_cs = vm->sysenter_cs;
    s->sysenter_esp = vm->sysenter_esp;
    s->sysenter_eip = vm->sysenter_eip;
    s->pat = vm->g_pat;
    s->tsc_aux = svm_of(v)->tsc_aux;
}

static void svm_set_state(struct vcpu *v, const rs_vcpu_state_t *s)
{
    struct vmcb *vm = v->ctl;
    vm->rip = s->rip;
    vm->rflags = s->rflags;
    vm->cr0 = s->cr0;
    vm->cr2 = s->cr2;
    vm->cr3 = s->cr3;
    vm->cr4 = s->cr4;
    vm->efer = s->efer | EFER_SVME;
    seg_set(&vm->cs, &s->cs);
    seg_set(&vm->ds, &s->ds);
    seg_set(&vm->es, &s->es);
    seg_set(&vm->fs, &s->fs);
    seg_set(&vm->gs, &s->gs);
    seg_set(&vm->ss, &s->ss);
    seg_set(&vm->tr, &s->tr);
    seg_set(&vm->ldtr, &s->ldtr);
    vm->gdtr = (struct vmcb_seg){0, 0, (uint32_t)s->gdtr_limit, s->gdtr_base};
    vm->idtr = (struct vmcb_seg){0, 0, (uint32_t)s->idtr_limit, s->idtr_base};
    // VMRUN takes the CPL from the VMCB: 0 in real mode, 3 in virtual-8086 mode, else SS.DPL
    vm->cpl = !(s->cr0 & CR0_PE)        ? 0
              : (s->rflags & RFLAGS_VM) ? 3
                                        : (uint8_t)((s->ss.attrib >> 5) & 3);
    vm->kernel_gs_base = s->kernel_gs_base;
    vm->star = s->star;
    vm->lstar = s->lstar;
    vm->cstar = s->cstar;
    vm->sfmask = s->sfmask;
    vm->sysenter_cs = s->sysenter_cs;
    vm->sysenter_esp = s->sysenter_esp;
    vm->sysenter_eip = s->sysenter_eip;
    vm->g_pat = s->pat;
    svm_of(v)->tsc_aux = s->tsc_aux;
    // an external interrupt waits in the queue until the guest can take it (svm_run)
    bool extint = VMCB_EVENT_TYPE(s->pending_event) == RS_EVENT_EXTINT;
    vm->eventinj = extint ? 0 : s->pending_event;
    svm_of(v)->queued_event = extint ? s->pending_event : 0;
    vm->int_state = 0;
    svm_update_window(v);
    svm_forget(v); // a new CR3 the guest's TLB never saw
}

static void svm_exit_bases(struct vcpu *v, uint64_t *w)
{
    const struct vmcb *vm = v->ctl;
    w[0] = (uint32_t)vm->cs.base | vm->ss.base << 32;
    w[1] = (uint32_t)vm->ds.base | vm->es.base << 32;
    w[2] = vm->fs.base;
    w[3] = vm->gs.base;
}

static void svm_set_rflags(struct vcpu *v, uint64_t rflags)
{
    ((struct vmcb *)v->ctl)->rflags = rflags;
}

/* Nested page-table entries are ordinary x86 entries; the nested walk counts as a user access,
 * so every level needs U (APM 15.25 "Nested Paging"). */
static uint64_t svm_guest_pte(uint64_t phys, unsigned rights, bool leaf)
{
    uint64_t e = phys | PTE_P | PTE_U;
    if (!leaf || (rights & RS_RIGHT_WRITE)) e |= PTE_W;
    if (leaf && !(rights & RS_RIGHT_EXEC)) e |= PTE_NX;
    return e;
}

static bool svm_guest_pte_present(uint64_t pte) { return pte & PTE_P; }

const struct vcpu_backend svm_backend = {
    .name = "svm",
    .vendor = "AMD SVM",
    .probe = svm_probe,
    .cpu_init = svm_cpu_init,
    .vcpu_init = svm_vcpu_init,
    .vcpu_destroy = svm_vcpu_destroy,
    .set_guest_root = svm_set_guest_root,
    .get_state = svm_get_state,
    .set_state = svm_set_state,
    .run = svm_run,
    .exit_seg = svm_exit_seg,
    .exit_bases = svm_exit_bases,
    .set_rflags = svm_set_rflags,
    .advance_rip = svm_advance_rip,
    .inject = svm_inject,
    .want_window = svm_want_window,
    .guest_pte = svm_guest_pte,
    .guest_pte_present = svm_guest_pte_present,
    .flush_guest = svm_flush_guest,
};
