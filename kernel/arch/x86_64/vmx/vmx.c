// SPDX-License-Identifier: MIT
// Intel VT-x backend: the VMCS of each VCPU (controls and host state), running the guest, and
// the backend table. Capabilities and VMXON are vmx_caps.c, events vmx_event.c, guest state
// conversion vmx_state.c, exit decoding vmx_exit.c, EPT entries ept.c, the world switch
// vmx_entry.S. Section numbers: Intel SDM vol. 3C (see vmx_fields.h).
#include "vmx.h"
#include "../arch.h"
#include "../cpu.h"
#include "../switch.h"
#include "../fpu.h"
#include "../../console.h"
#include "kstring.h"

/* One CPU: one current VMCS. */
static struct vmx_vcpu *vmx_current;

/* The MSR bitmap every VMCS shares (24.6.9): read bitmaps for MSRs 0-1FFFh and C000_0000h-
 * C000_1FFFh, then the write bitmaps; a set bit exits. Clear for the MSRs the guest owns: those
 * the VMCS switches (FS/GS base, SYSENTER_*, PAT: 26.3.2.1, 27.3.1, 27.5.1), those the MSR
 * areas switch (vmx_msr_index), nothing else. */
static uint8_t msr_bitmap[4096] __attribute__((aligned(4096)));
/* The host's values of the MSRs in each guest's area, loaded at every exit (27.4). */
static struct vmx_msr host_msr[VMX_MSRS] __attribute__((aligned(16)));
static const uint32_t vmx_msr_index[VMX_MSRS] = {
    [VMX_KERNEL_GS] = 0xC0000102, [VMX_STAR] = 0xC0000081,   [VMX_LSTAR] = 0xC0000082,
    [VMX_CSTAR] = 0xC0000083,     [VMX_SFMASK] = 0xC0000084, [VMX_TSC_AUX] = 0xC0000103,
};
unsigned vmx_msr_count;

static uint64_t image_phys(const void *p) { return (uint64_t)(uintptr_t)p - KERNEL_VMA; }

static void msr_bitmap_pass(uint32_t msr)
{
    unsigned half = msr < 0x2000 ? 0 : 1024, n = msr & 0x1FFF;
    msr_bitmap[half + n / 8] &= (uint8_t) ~(1u << (n % 8));        /* read */
    msr_bitmap[2048 + half + n / 8] &= (uint8_t) ~(1u << (n % 8)); /* write */
}

/* Once, before the first VMCS: the bitmap and the host's MSR values (the kernel set them at
 * boot and never changes them). TSC_AUX is the guest's only with RDTSCP enabled; without it a
 * guest's access exits to the VMM, as every other MSR does. */
static void vmx_msr_setup(void)
{
    static bool done;
    if (done) return;
    done = true;
    memset(msr_bitmap, 0xFF, sizeof(msr_bitmap));
    static const uint32_t vmcs_switched[] = {0xC0000100, 0xC0000101, 0x174, 0x175, 0x176, 0x277};
    for (unsigned i = 0; i < sizeof(vmcs_switched) / sizeof(vmcs_switched[0]); i++)
        msr_bitmap_pass(vmcs_switched[i]);
    vmx_msr_count = (vmx_caps.proc2 & PROC2_RDTSCP) ? VMX_MSRS : VMX_TSC_AUX;
    for (unsigned i = 0; i < vmx_msr_count; i++) {
        msr_bitmap_pass(vmx_msr_index[i]);
        host_msr[i] = (struct vmx_msr){vmx_msr_index[i], 0, rdmsr(vmx_msr_index[i])};
    }
}

void vmx_insn_failed(const char *insn, uint64_t field)
{
    uint64_t err = 0;
    if (vmx_current)
        __asm__ volatile("vmread %1, %0" : "=r"(err) : "r"((uint64_t)VMCS_INSN_ERROR) : "cc");
    panic("vmx: %s %lx failed (VM-instruction error %lu)", insn, field, err);
}

/* VMCLEAR and VMPTRLD take the physical address in memory; CF or ZF set = failure
 * (SDM 30.2). Each returns true on success. */
#define VMX_PHYS_OP(insn)                                                                          \
    static bool insn(uint64_t phys)                                                                \
    {                                                                                              \
        bool bad;                                                                                  \
        __asm__ volatile(#insn " %1; setna %0" : "=qm"(bad) : "m"(phys) : "cc", "memory");         \
        return !bad;                                                                               \
    }
VMX_PHYS_OP(vmclear)
VMX_PHYS_OP(vmptrld)

void vmx_load(struct vmx_vcpu *x)
{
    if (vmx_current == x) return;
    if (!vmptrld(x->vmcs_phys)) panic("vmx: vmptrld %lx failed", x->vmcs_phys);
    vmx_current = x;
}

/* Host state loaded by every VM exit (24.5, 27.5): the kernel's segments and tables, with RIP
 * at the exit stub. HOST_RSP is written by vmx_entry.S, HOST_CR3 and HOST_FS_BASE before each
 * entry (they follow the current thread). */
static void vmx_write_host_state(void)
{
    vmwrite(VMCS_HOST_CR0, read_cr0());
    vmwrite(VMCS_HOST_CR3, arch_cr3);
    vmwrite(VMCS_HOST_CR4, read_cr4());
    vmwrite(VMCS_HOST_CS_SEL, GDT_KERNEL_CS);
    vmwrite(VMCS_HOST_SS_SEL, GDT_KERNEL_DS);
    vmwrite(VMCS_HOST_DS_SEL, GDT_KERNEL_DS);
    vmwrite(VMCS_HOST_ES_SEL, GDT_KERNEL_DS);
    vmwrite(VMCS_HOST_FS_SEL, 0);
    vmwrite(VMCS_HOST_GS_SEL, 0);
    vmwrite(VMCS_HOST_TR_SEL, GDT_TSS);
    vmwrite(VMCS_HOST_FS_BASE, arch_fs_base);
    vmwrite(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    vmwrite(VMCS_HOST_TR_BASE, (uint64_t)(uintptr_t)&tss);
    vmwrite(VMCS_HOST_GDTR_BASE, vmx_host_gdtr.base);
    vmwrite(VMCS_HOST_IDTR_BASE, vmx_host_idtr.base);
    vmwrite(VMCS_HOST_SYSENTER_CS, rdmsr(MSR_SYSENTER_CS));
    vmwrite(VMCS_HOST_SYSENTER_ESP, rdmsr(MSR_SYSENTER_ESP));
    vmwrite(VMCS_HOST_SYSENTER_EIP, rdmsr(MSR_SYSENTER_EIP));
    vmwrite(VMCS_HOST_EFER, rdmsr(MSR_EFER));
    vmwrite(VMCS_HOST_PAT, rdmsr(MSR_PAT));
    vmwrite(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);
}

/* The VMX-preemption timer's start value: about 5 ms, half a scheduler tick (SDM 25.5.1: it
 * counts down at the TSC rate >> IA32_VMX_MISC[4:0] and is reloaded from the VMCS at every
 * entry, "save VMX-preemption timer value" being off). External-interrupt exiting (25.2) is
 * what normally ends a guest's run at a host tick, whatever the guest's RFLAGS.IF; Bochs
 * (2.7) leaves the host's pending interrupts masked for the whole run when the guest has
 * IF = 0 (it works out the mask before it marks the CPU as in VMX non-root operation), so a
 * spinning guest with interrupts off would never exit. The timer bounds every run anyway; its
 * exit is handled like an external-interrupt exit (vmx_exit.c). */
static uint32_t vmx_preempt_value(void)
{
    uint64_t n = arch_tsc_per_ms ? (arch_tsc_per_ms * 5) >> vmx_caps.preempt_shift : 0;
    if (n == 0) n = 1u << 20;
    return n > 0xFFFFFFFF ? 0xFFFFFFFF : (uint32_t)n;
}

/* Sets up the VMCS in `ctl`: revision, VMCLEAR (launch state "clear", 24.11.3), VMPTRLD,
 * controls, host state (the generic layer writes the reset state next). No guest-physical root yet: entering
 * before set_guest_root fails as RS_EXIT_INVALID_STATE. */
static void vmx_vcpu_init(struct vcpu *v, void *ctl, uint64_t ctl_phys)
{
    struct vmx_vcpu *x = vmx_of(v);
    const struct vmx_caps *c = &vmx_caps;
    /* Memory reused without vcpu_destroy must not pass for the current VMCS. */
    if (vmx_current == x || (vmx_current && vmx_current->vmcs_phys == ctl_phys)) vmx_current = NULL;
    memset(x, 0, sizeof(*x));
    x->vmcs_phys = ctl_phys;
    memset(ctl, 0, 4096);
    *(uint32_t *)ctl = c->revision;
    if (!vmclear(ctl_phys)) panic("vmx: vmclear %lx failed", ctl_phys);
    vmx_load(x);
    x->proc = c->proc;
    x->proc2 = c->proc2;
    vmwrite(VMCS_PIN_CTLS, c->pin);
    vmwrite(VMCS_PROC_CTLS, x->proc);
    vmwrite(VMCS_PROC_CTLS2, x->proc2);
    vmwrite(VMCS_EXIT_CTLS, c->exit);
    vmwrite(VMCS_ENTRY_CTLS, c->entry);
    /* #DB and #AC exit: a guest can make their delivery raise them again forever inside the
     * CPU (a data breakpoint on the stack slot the delivery writes, an #AC handler at CPL 3 on
     * a misaligned stack), where no host interrupt is ever taken (CVE-2015-8104, CVE-2015-5307;
     * SDM 6.15 "benign" exceptions). Each delivery now exits; the VMM reinjects them. */
    vmwrite(VMCS_EXCEPTION_BITMAP, (1u << VEC_DB) | (1u << VEC_AC));
    vmwrite(VMCS_PF_ERROR_MASK, 0);
    vmwrite(VMCS_PF_ERROR_MATCH, 0);
    vmwrite(VMCS_CR3_TARGET_COUNT, 0);
    vmx_msr_setup();
    vmwrite(VMCS_MSR_BITMAP, image_phys(msr_bitmap));
    for (unsigned i = 0; i < VMX_MSRS; i++) x->msr[i] = (struct vmx_msr){vmx_msr_index[i], 0, 0};
    /* the guest's area is both loaded at entry and stored at exit (24.7.2, 24.8.2) */
    uint64_t area = ctl_phys + VCPU_CTL_SIZE + __builtin_offsetof(struct vcpu, arch) +
                    __builtin_offsetof(struct vmx_vcpu, msr);
    vmwrite(VMCS_EXIT_MSR_STORE_ADDR, area);
    vmwrite(VMCS_ENTRY_MSR_LOAD_ADDR, area);
    vmwrite(VMCS_EXIT_MSR_LOAD_ADDR, image_phys(host_msr));
    vmwrite(VMCS_EXIT_MSR_STORE_COUNT, vmx_msr_count);
    vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, vmx_msr_count);
    vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, vmx_msr_count);
    vmwrite(VMCS_CR0_MASK, c->cr0_set | c->cr0_clr);
    vmwrite(VMCS_CR4_MASK, c->cr4_set | c->cr4_clr);
    vmwrite(VMCS_LINK_POINTER, ~0ull); /* no shadow VMCS (26.3.1.5) */
    vmwrite(VMCS_GUEST_DEBUGCTL, 0);
    vmwrite(VMCS_GUEST_DR7, DR7_RESET);
    x->dr6 = DR6_RESET;
    vmwrite(VMCS_GUEST_SYSENTER_CS, 0);
    vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
    vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
    if (c->preempt) vmwrite(VMCS_GUEST_PREEMPT_TIMER, vmx_preempt_value());
    vmx_write_host_state();
}

/* The EPT pointer (24.6.11). The root may have served another GuestSpace before: drop what
 * the TLBs may still hold for it (28.3.3.4). The tag (the GuestSpace's ASID) is not used as
 * VPID: a VPID names one virtual processor (28.1), and two VCPUs of one guest sharing it would
 * see each other's linear translations; vmx_vpid gives each VCPU its own. */
static void vmx_set_guest_root(struct vcpu *v, uint64_t root_phys, uint32_t tag)
{
    struct vmx_vcpu *x = vmx_of(v);
    vmx_load(x);
    vmwrite(VMCS_EPT_POINTER, ept_pointer(root_phys));
    ept_invalidate(root_phys);
    if (x->vpid) vpid_invalidate(x->vpid);
}

/* Mappings under root_phys lost rights or went away: INVEPT, for every VPID. */
static void vmx_flush_guest(uint64_t root_phys, uint32_t tag) { ept_invalidate(root_phys); }

/* The VCPU object is going away: write its VMCS back to memory and forget it (24.11.1), so
 * the processor never touches that page again. */
static void vmx_vcpu_destroy(struct vcpu *v)
{
    struct vmx_vcpu *x = vmx_of(v);
    if (!x->vmcs_phys) return;
    vmclear(x->vmcs_phys);
    if (vmx_current == x) vmx_current = NULL;
}

/* Gives the VCPU a VPID of the current generation before it runs (24.6.12). VPIDs are handed
 * out in turn; when the 16 bits run out a new generation starts and every VCPU gets a new one
 * at its next run. A VPID is flushed when handed out, so no stale translation survives reuse.
 * Without VPID support the VCPU runs with VPID 0 ("enable VPID" off): every entry and exit
 * flushes linear mappings. */
static void vmx_vpid(struct vmx_vcpu *x)
{
    static uint32_t next = 1, generation = 1;
    if (!vmx_caps.vpid || x->vpid_gen == generation) return;
    if (next > 0xFFFF) {
        next = 1;
        generation++;
    }
    x->vpid = (uint16_t)next++;
    x->vpid_gen = generation;
    vpid_invalidate(x->vpid);
    vmwrite(VMCS_VPID, x->vpid);
}

static inline void write_cr2(uint64_t v) { __asm__ volatile("mov %0, %%cr2" ::"r"(v)); }

void vmx_dr_own(struct vmx_vcpu *x)
{
    if (x->dr_live) return;
    x->dr_live = true;
    x->proc &= ~PROC_MOV_DR;
    vmwrite(VMCS_PROC_CTLS, x->proc);
}

/* DR0-DR3 and DR6 are not in the VMCS (24.4.1): they are whatever the CPU holds. A guest that
 * owns them (vmx_dr_own) gets its own values at each entry, and they are saved at each exit,
 * so no guest sees another's breakpoints or status. The host runs with DR7 = 0x400 (every
 * exit sets it, 27.5.1), so values left in DR0-3 arm nothing; guests that do not own them
 * exit on MOV DR and cannot read them. */
static void vmx_dr_load(const struct vmx_vcpu *x)
{
    __asm__ volatile(
        "mov %0, %%db0; mov %1, %%db1; mov %2, %%db2; mov %3, %%db3; mov %4, %%db6" ::"r"(x->dr[0]),
        "r"(x->dr[1]), "r"(x->dr[2]), "r"(x->dr[3]), "r"(x->dr6));
}

static void vmx_dr_save(struct vmx_vcpu *x)
{
    __asm__ volatile("mov %%db0, %0; mov %%db1, %1; mov %%db2, %2; mov %%db3, %3; mov %%db6, %4"
                     : "=r"(x->dr[0]), "=r"(x->dr[1]), "=r"(x->dr[2]), "=r"(x->dr[3]),
                       "=r"(x->dr6));
}

/* Enters the guest until an exit the VMM must see, or a host interrupt (RS_EXIT_NONE). The
 * guest's RSP travels between v->gpr and the VMCS; its CR2 is not in the VMCS and is swapped
 * here (its KERNEL_GS_BASE and syscall MSRs by the MSR areas, the FPU by the caller). */
static void vmx_run(struct vcpu *v, struct vcpu_exit *e)
{
    struct vmx_vcpu *x = vmx_of(v);
    for (;;) {
        vmx_load(x);
        vmx_vpid(x);
        if (x->deferred && !x->requeued) vmx_deliver_deferred(x);
        vmwrite(VMCS_HOST_CR3, arch_cr3);
        vmwrite(VMCS_HOST_FS_BASE, arch_fs_base);
        vmwrite(VMCS_GUEST_RSP, v->gpr[RS_GPR_RSP]);
        write_cr2(x->cr2);
        if (x->dr_live) vmx_dr_load(x);
        int rc = vmx_enter(v->gpr, x->launched);
        fpu_leave_guest(); // the exit loaded VMCS_HOST_CR0, whose TS may differ (vcpu_backend.h)
        __asm__ volatile("lgdt %0; lidt %1" ::"m"(vmx_host_gdtr), "m"(vmx_host_idtr));
        if (x->dr_live) vmx_dr_save(x);
        x->cr2 = read_cr2();
        if (rc) {
            /* VMfailValid: a control or host-state field is wrong (30.4 lists the error
             * numbers); VMfailInvalid: no current VMCS. raw_reason = rc << 32 | error. */
            uint64_t err = rc == 1 ? vmread(VMCS_INSN_ERROR) : 0;
            *e = (struct vcpu_exit){.reason = RS_EXIT_INVALID_STATE,
                                    .qual = err,
                                    .raw_reason = (uint64_t)rc << 32 | err};
            vmx_exit_regs(e);
            e->seg = vmx_exit_seg(v);
            return;
        }
        v->gpr[RS_GPR_RSP] = vmread(VMCS_GUEST_RSP);
        if (!(vmread(VMCS_EXIT_REASON) & EXIT_REASON_ENTRY_FAIL)) x->launched = true;
        if (vmx_exit_decode(v, e)) {
            e->seg = vmx_exit_seg(v);
            return;
        }
    }
}

const struct vcpu_backend vmx_backend = {
    .name = "vmx",
    .vendor = "Intel VT-x",
    .probe = vmx_probe,
    .cpu_init = vmx_cpu_init,
    .vcpu_init = vmx_vcpu_init,
    .vcpu_destroy = vmx_vcpu_destroy,
    .set_guest_root = vmx_set_guest_root,
    .get_state = vmx_get_state,
    .set_state = vmx_set_state,
    .run = vmx_run,
    .exit_seg = vmx_exit_seg,
    .exit_bases = vmx_exit_bases,
    .set_rflags = vmx_set_rflags,
    .advance_rip = vmx_advance_rip,
    .inject = vmx_inject,
    .want_window = vmx_want_window,
    .guest_pte = vmx_guest_pte,
    .guest_pte_present = vmx_guest_pte_present,
    .flush_guest = vmx_flush_guest,
};
