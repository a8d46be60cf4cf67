// SPDX-License-Identifier: MIT
// Intel VT-x backend: turning VMX on (VMXON), the VMCS of each VCPU (controls and host state),
// running the guest, and the small per-exit operations. Guest state conversion is in
// vmx_state.c, exit decoding in vmx_exit.c, EPT entries in ept.c, the world switch in
// vmx_entry.S. Section numbers: Intel SDM vol. 3C (see vmx_fields.h).
#include "vmx.h"
#include "../arch.h"
#include "../cpu.h"
#include "../switch.h"
#include "../../console.h"
#include "kstring.h"

struct vmx_caps vmx_caps;

/* One CPU: one VMXON region, one current VMCS. */
static uint8_t vmxon_region[4096] __attribute__((aligned(4096)));
static struct vmx_vcpu *vmx_current;
static bool vmx_on;

/* The host's GDTR and IDTR as the kernel set them, taken before any guest ran: a VM exit loads
 * only their bases and sets both limits to 0xFFFF (SDM 27.5.2), so each exit puts them back. */
struct __attribute__((packed)) vmx_dtr {
    uint16_t limit;
    uint64_t base;
};
static struct vmx_dtr host_gdtr, host_idtr;

void vmx_insn_failed(const char *insn, uint64_t field)
{
    uint64_t err = 0;
    if (vmx_current)
        __asm__ volatile("vmread %1, %0" : "=r"(err) : "r"((uint64_t)VMCS_INSN_ERROR) : "cc");
    panic("vmx: %s %lx failed (VM-instruction error %lu)", insn, field, err);
}

/* VMXON, VMCLEAR and VMPTRLD take the physical address in memory; CF or ZF set = failure
 * (SDM 30.2). Each returns true on success. */
#define VMX_PHYS_OP(insn)                                                                          \
    static bool insn(uint64_t phys)                                                                \
    {                                                                                              \
        bool bad;                                                                                  \
        __asm__ volatile(#insn " %1; setna %0" : "=qm"(bad) : "m"(phys) : "cc", "memory");         \
        return !bad;                                                                               \
    }
VMX_PHYS_OP(vmxon)
VMX_PHYS_OP(vmclear)
VMX_PHYS_OP(vmptrld)

void vmx_load(struct vmx_vcpu *x)
{
    if (vmx_current == x) return;
    if (!vmptrld(x->vmcs_phys)) panic("vmx: vmptrld %lx failed", x->vmcs_phys);
    vmx_current = x;
}

/* A control's value: what we want, plus what must be 1 (allowed-0 settings, MSR bits 31:0),
 * minus what may not be 1 (allowed-1 settings, bits 63:32) (SDM A.3-A.5, 31.5.1). Reports
 * the bits of `need` the CPU refuses. */
static uint32_t vmx_adjust(uint32_t msr, uint32_t want, uint32_t need, const char *what, bool *ok)
{
    uint64_t cap = rdmsr(msr);
    uint32_t v = (want | (uint32_t)cap) & (uint32_t)(cap >> 32);
    if ((v & need) != need) {
        kprintf("vmx: %s controls %x not supported\n", what, need & ~v);
        *ok = false;
    }
    return v;
}

/* Chooses every control once (same for every VCPU). Returns false if a control we rely on is
 * missing: EPT, unrestricted guest, unconditional I/O exiting, HLT / external-interrupt / NMI
 * exiting, interrupt-window exiting, 64-bit host, EFER load/save. */
static bool vmx_choose_controls(uint64_t basic)
{
    struct vmx_caps *c = &vmx_caps;
    bool ok = true, tru = basic & VMX_BASIC_TRUE_CTLS;
    /* With bit 55 of IA32_VMX_BASIC set, the TRUE_* MSRs also let default1 controls be 0
     * (A.2): CR3-load/store and INVLPG exiting are then off, which EPT makes pointless. */
    /* The VMX-preemption timer is wanted, not needed: see vmx_preempt_value. */
    c->pin = vmx_adjust(tru ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS,
                        PIN_EXTINT_EXITING | PIN_NMI_EXITING | PIN_PREEMPT_TIMER,
                        PIN_EXTINT_EXITING | PIN_NMI_EXITING, "pin-based", &ok);
    c->preempt = c->pin & PIN_PREEMPT_TIMER;
    /* Unconditional I/O exiting and no MSR bitmaps: every IN/OUT/INS/OUTS and every
     * RDMSR/WRMSR exits (25.1.3); CPUID, VMCALL and triple faults always do. CR8 loads and
     * stores exit: without them (and without a TPR shadow) MOV to CR8 writes the host's
     * local APIC TPR, and TPR 15 masks the host's timer for good (25.3, 29.1). RDPMC (host
     * counters), MWAIT / MONITOR (the CPU sleeps with no interrupt for the host to take) and
     * WBINVD (a long uninterruptible stall) exit as on SVM. MOV DR exits until the guest first
     * uses a debug register (vmx_dr_own). */
    uint32_t proc = PROC_HLT_EXITING | PROC_UNCOND_IO | PROC_SECONDARY | PROC_CR8_LOAD |
                    PROC_CR8_STORE | PROC_MOV_DR | PROC_RDPMC | PROC_MWAIT | PROC_MONITOR;
    uint32_t proc_msr = tru ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS;
    c->proc = vmx_adjust(proc_msr, proc, proc, "processor-based", &ok);
    if (!((rdmsr(proc_msr) >> 32) & PROC_INTR_WINDOW)) {
        kprintf("vmx: no interrupt-window exiting\n");
        ok = false;
    }
    if (c->proc & (PROC_MSR_BITMAPS | PROC_IO_BITMAPS | PROC_CR3_LOAD | PROC_CR3_STORE |
                   PROC_TPR_SHADOW)) {
        kprintf("vmx: cannot turn off I/O or MSR bitmaps, CR3 exiting or the TPR shadow\n");
        ok = false;
    }
    c->proc2 = vmx_adjust(MSR_VMX_PROCBASED_CTLS2,
                          PROC2_EPT | PROC2_UNRESTRICTED | PROC2_VPID | PROC2_RDTSCP | PROC2_WBINVD,
                          PROC2_EPT | PROC2_UNRESTRICTED | PROC2_WBINVD, "secondary", &ok);
    c->exit = vmx_adjust(tru ? MSR_VMX_TRUE_EXIT_CTLS : MSR_VMX_EXIT_CTLS,
                         EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_DEBUG,
                         EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_DEBUG,
                         "VM-exit", &ok);
    if (c->exit & EXIT_ACK_INTR) {
        kprintf("vmx: cannot turn off acknowledge-interrupt-on-exit\n");
        ok = false;
    }
    uint32_t entry_msr = tru ? MSR_VMX_TRUE_ENTRY_CTLS : MSR_VMX_ENTRY_CTLS;
    /* The guest's DR7 and DEBUGCTL live in the VMCS (load / save debug controls); a VM exit
     * sets the host's DR7 to 0x400 (27.5.1), so a guest's breakpoints never arm in the host. */
    c->entry = vmx_adjust(entry_msr, ENTRY_LOAD_EFER | ENTRY_LOAD_DEBUG,
                          ENTRY_LOAD_EFER | ENTRY_LOAD_DEBUG, "VM-entry", &ok) &
               ~ENTRY_IA32E_GUEST;
    if (!((rdmsr(entry_msr) >> 32) & ENTRY_IA32E_GUEST)) {
        kprintf("vmx: no IA-32e mode guests\n");
        ok = false;
    }
    return ok;
}

/* EPT must walk 4 levels with write-back tables, map 2 MiB pages (GuestSpaces use them) and
 * have INVEPT (A.10); VPIDs are used only with INVVPID. */
static bool vmx_check_ept(void)
{
    struct vmx_caps *c = &vmx_caps;
    c->ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
    uint64_t need = EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_INVEPT;
    if ((c->ept_vpid & need) != need ||
        !(c->ept_vpid & (EPT_CAP_INVEPT_SINGLE | EPT_CAP_INVEPT_ALL))) {
        kprintf("vmx: EPT lacks 4-level walks, WB tables, 2 MiB pages or INVEPT (cap %lx)\n",
                c->ept_vpid);
        return false;
    }
    c->vpid = (c->proc2 & PROC2_VPID) && (c->ept_vpid & VPID_CAP_INVVPID) &&
              (c->ept_vpid & (VPID_CAP_INVVPID_SINGLE | VPID_CAP_INVVPID_ALL));
    if (!c->vpid) c->proc2 &= ~PROC2_VPID;
    return true;
}

/* CR0 and CR4 in VMX operation must have the FIXED0 bits set and the FIXED1-clear bits clear
 * (23.8, A.7, A.8); that goes for the host now and for every guest. Unrestricted guest frees
 * CR0.PE and CR0.PG (26.3.1.1). Guests also run with caching on (CD, NW clear); what they
 * wrote is what they read back through the CR0/CR4 read shadows (vmx_state.c). (The host's
 * OSFXSR, without which FXSAVE would skip the guest's XMM registers, is fpu_init's.) */
static void vmx_fix_crs(void)
{
    struct vmx_caps *c = &vmx_caps;
    uint64_t cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0), cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
    uint64_t cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0), cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
    write_cr0((read_cr0() | cr0_fixed0) & cr0_fixed1);
    write_cr4((read_cr4() | cr4_fixed0) & cr4_fixed1);
    c->cr0_set = cr0_fixed0 & ~(CR0_PE | CR0_PG) & 0xFFFFFFFF;
    c->cr0_clr = (~cr0_fixed1 | CR0_CD | CR0_NW) & 0xFFFFFFFF;
    c->cr4_set = cr4_fixed0 & 0xFFFFFFFF;
    c->cr4_clr = ~cr4_fixed1 & 0xFFFFFFFF;
}

/* VMX with EPT and unrestricted guest (CPUID 1 ECX.VMX; the secondary controls, SDM A.3.3). */
static bool vmx_probe(void) { return cpu_features.vmx && cpu_features.ept && cpu_features.unrestricted; }

/* Enables VMX on this CPU: IA32_FEATURE_CONTROL, VMCS revision and size, controls, CR fixed
 * bits, VMXON (23.7). Returns false, saying why, if VT-x with EPT and unrestricted guest cannot
 * be used. */
static bool vmx_cpu_init(void)
{
    if (vmx_on) return true;
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 5))) return false;
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK)) { /* firmware left it open: allow VMXON and lock it */
        fc |= FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_NO_SMX;
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc);
    }
    if (!(fc & FEATURE_CONTROL_VMX_NO_SMX)) {
        kprintf("vmx: disabled by the firmware (IA32_FEATURE_CONTROL %lx)\n", fc);
        return false;
    }
    uint64_t basic = rdmsr(MSR_VMX_BASIC);
    /* A.1: the VMCS must fit the 4 KiB control page, live anywhere in memory, be write-back. */
    if (VMX_BASIC_SIZE(basic) > 4096 || (basic & VMX_BASIC_ADDR32) ||
        VMX_BASIC_MEMTYPE(basic) != 6) {
        kprintf("vmx: unusable VMCS layout (IA32_VMX_BASIC %lx)\n", basic);
        return false;
    }
    vmx_caps.revision = VMX_BASIC_REVISION(basic);
    uint64_t misc = rdmsr(MSR_VMX_MISC);
    vmx_caps.soft_len0 = (misc >> 30) & 1;
    vmx_caps.preempt_shift = misc & 0x1F;
    if (!vmx_choose_controls(basic) || !vmx_check_ept()) return false;
    vmx_fix_crs();
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(host_gdtr), "=m"(host_idtr));
    memset(vmxon_region, 0, sizeof(vmxon_region));
    *(uint32_t *)vmxon_region = vmx_caps.revision;
    if (!vmxon((uint64_t)(uintptr_t)vmxon_region - KERNEL_VMA)) {
        kprintf("vmx: VMXON failed\n");
        return false;
    }
    vmx_on = true;
    kprintf("vmx: on, VMCS revision %x, controls pin %x proc %x/%x exit %x entry %x, %s\n",
            vmx_caps.revision, vmx_caps.pin, vmx_caps.proc, vmx_caps.proc2, vmx_caps.exit,
            vmx_caps.entry, vmx_caps.vpid ? "VPID" : "no VPID");
    return true;
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
    vmwrite(VMCS_HOST_GDTR_BASE, host_gdtr.base);
    vmwrite(VMCS_HOST_IDTR_BASE, host_idtr.base);
    vmwrite(VMCS_HOST_SYSENTER_CS, rdmsr(MSR_SYSENTER_CS));
    vmwrite(VMCS_HOST_SYSENTER_ESP, rdmsr(MSR_SYSENTER_ESP));
    vmwrite(VMCS_HOST_SYSENTER_EIP, rdmsr(MSR_SYSENTER_EIP));
    vmwrite(VMCS_HOST_EFER, rdmsr(MSR_EFER));
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
    vmwrite(VMCS_EXIT_MSR_STORE_COUNT, 0);
    vmwrite(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
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
static void vmx_flush_guest(uint64_t root_phys, uint32_t tag)
{
    ept_invalidate(root_phys);
}

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

static void vmx_deliver_deferred(struct vmx_vcpu *x);
static inline void write_cr2(uint64_t v)
{
    __asm__ volatile("mov %0, %%cr2" ::"r"(v));
}

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
    __asm__ volatile("mov %0, %%db0; mov %1, %%db1; mov %2, %%db2; mov %3, %%db3; mov %4, %%db6"
                     ::"r"(x->dr[0]), "r"(x->dr[1]), "r"(x->dr[2]), "r"(x->dr[3]), "r"(x->dr6));
}

static void vmx_dr_save(struct vmx_vcpu *x)
{
    __asm__ volatile("mov %%db0, %0; mov %%db1, %1; mov %%db2, %2; mov %%db3, %3; mov %%db6, %4"
                     : "=r"(x->dr[0]), "=r"(x->dr[1]), "=r"(x->dr[2]), "=r"(x->dr[3]), "=r"(x->dr6));
}

/* Enters the guest until an exit the VMM must see, or a host interrupt (RS_EXIT_NONE). The
 * guest's RSP travels between v->gpr and the VMCS; its CR2 and KERNEL_GS_BASE are not in the
 * VMCS and are swapped here (the FPU is switched by the caller). */
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
        wrmsr(MSR_KERNEL_GS, x->kernel_gs_base);
        if (x->dr_live) vmx_dr_load(x);
        int rc = vmx_enter(v->gpr, x->launched);
        __asm__ volatile("lgdt %0; lidt %1" ::"m"(host_gdtr), "m"(host_idtr));
        if (x->dr_live) vmx_dr_save(x);
        x->kernel_gs_base = rdmsr(MSR_KERNEL_GS);
        x->cr2 = read_cr2();
        if (rc) {
            /* VMfailValid: a control or host-state field is wrong (30.4 lists the error
             * numbers); VMfailInvalid: no current VMCS. raw_reason = rc << 32 | error. */
            uint64_t err = rc == 1 ? vmread(VMCS_INSN_ERROR) : 0;
            *e = (struct vcpu_exit){.reason = RS_EXIT_INVALID_STATE,
                                    .qual = err,
                                    .raw_reason = (uint64_t)rc << 32 | err};
            vmx_exit_regs(e);
            return;
        }
        v->gpr[RS_GPR_RSP] = vmread(VMCS_GUEST_RSP);
        if (!(vmread(VMCS_EXIT_REASON) & EXIT_REASON_ENTRY_FAIL)) x->launched = true;
        if (vmx_exit_decode(v, e)) return;
    }
}

/* Skips the instruction that exited; it completed, so the STI / MOV SS interrupt shadow it may
 * have been in is over (24.4.2). */
void vmx_advance_rip(struct vcpu *v, uint64_t insn_len)
{
    vmx_load(vmx_of(v));
    vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) + insn_len);
    uint64_t irq = vmread(VMCS_GUEST_INTERRUPTIBILITY);
    if (irq & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS))
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY,
                irq & ~(uint64_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS));
}

/* Event injection (24.8.3, 26.5): RS_EVENT_* has the VMX interruption-information layout.
 * Injecting an interrupt or NMI ends an STI / MOV SS shadow, as SVM's EVENTINJ ignores it;
 * VM entry would fail otherwise (26.3.1.5). A software interrupt or exception returns to the
 * current RIP, as on SVM: it is injected with instruction length 0 where the CPU allows that
 * (A.6), else with length 1 from RIP - 1. */
void vmx_inject_event(uint64_t event)
{
    uint32_t info = (uint32_t)(event & 0xFFF) | INTR_INFO_VALID;
    vmwrite(VMCS_ENTRY_INTR_INFO, info);
    if (info & INTR_INFO_HAS_ERROR) vmwrite(VMCS_ENTRY_EXC_ERROR, (uint32_t)(event >> 32));
    unsigned type = INTR_INFO_TYPE(info);
    if (type == INTR_TYPE_EXTINT || type == INTR_TYPE_NMI) {
        uint64_t irq = vmread(VMCS_GUEST_INTERRUPTIBILITY);
        vmwrite(VMCS_GUEST_INTERRUPTIBILITY,
                irq & ~(uint64_t)(INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS));
    } else if (type >= INTR_TYPE_SW_INT) {
        vmwrite(VMCS_ENTRY_INSN_LEN, vmx_caps.soft_len0 ? 0 : 1);
        if (!vmx_caps.soft_len0) vmwrite(VMCS_GUEST_RIP, vmread(VMCS_GUEST_RIP) - 1);
    }
}

/* Queues the VMM's event. While the entry field holds an event an exit interrupted, which
 * must be delivered first, the VMM's waits (one at a time: a newer one replaces it). */
static void vmx_inject(struct vcpu *v, uint64_t event)
{
    struct vmx_vcpu *x = vmx_of(v);
    vmx_load(x);
    if (x->requeued) {
        x->deferred = event;
        vmx_update_window(x);
        return;
    }
    x->deferred = 0;
    vmx_inject_event(event);
    vmx_update_window(x);
}

/* Before an entry with the entry field free: a deferred external interrupt goes in once the
 * guest can take it (IF set, no STI / MOV SS shadow; interrupt-window exiting waits for that),
 * any other deferred event at once. */
static void vmx_deliver_deferred(struct vmx_vcpu *x)
{
    if (INTR_INFO_TYPE(x->deferred) == INTR_TYPE_EXTINT &&
        (!(vmread(VMCS_GUEST_RFLAGS) & (1u << 9)) ||
         (vmread(VMCS_GUEST_INTERRUPTIBILITY) & (INTERRUPTIBILITY_STI | INTERRUPTIBILITY_MOVSS))))
        return;
    vmx_inject_event(x->deferred);
    x->deferred = 0;
    vmx_update_window(x);
}

void vmx_update_window(struct vmx_vcpu *x)
{
    bool on = x->vmm_window || (x->deferred && INTR_INFO_TYPE(x->deferred) == INTR_TYPE_EXTINT);
    uint32_t proc = on ? x->proc | PROC_INTR_WINDOW : x->proc & ~PROC_INTR_WINDOW;
    if (proc == x->proc) return;
    x->proc = proc;
    vmwrite(VMCS_PROC_CTLS, proc);
}

/* Interrupt-window exiting (24.6.2): exit as soon as RFLAGS.IF = 1 and no shadow blocks. The
 * exit ends the request (vmx_exit.c). */
static void vmx_want_window(struct vcpu *v, bool on)
{
    struct vmx_vcpu *x = vmx_of(v);
    vmx_load(x);
    x->vmm_window = on;
    vmx_update_window(x);
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
    .advance_rip = vmx_advance_rip,
    .inject = vmx_inject,
    .want_window = vmx_want_window,
    .guest_pte = vmx_guest_pte,
    .guest_pte_present = vmx_guest_pte_present,
    .flush_guest = vmx_flush_guest,
};
