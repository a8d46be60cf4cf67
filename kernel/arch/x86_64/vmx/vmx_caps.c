// SPDX-License-Identifier: MIT
// Intel VT-x capabilities: whether the CPU offers what the backend needs, the controls chosen
// once for every VCPU, the fixed CR0/CR4 bits, and turning VMX on (VMXON). Section numbers:
// Intel SDM vol. 3C (see vmx_fields.h).
#include "vmx.h"
#include "../arch.h"
#include "../cpu.h"
#include "../../console.h"
#include "kstring.h"

struct vmx_caps vmx_caps;
struct vmx_dtr vmx_host_gdtr, vmx_host_idtr;

static uint8_t vmxon_region[4096] __attribute__((aligned(4096))); /* one CPU: one region */
static bool vmx_on;

/* VMXON takes the physical address in memory; CF or ZF set = failure (SDM 30.2). */
static bool vmxon(uint64_t phys)
{
    bool bad;
    __asm__ volatile("vmxon %1; setna %0" : "=qm"(bad) : "m"(phys) : "cc", "memory");
    return !bad;
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
    /* Unconditional I/O exiting: every IN/OUT/INS/OUTS exits; RDMSR/WRMSR exit but for the
     * MSRs the guest owns (the MSR bitmap, vmx.c; 25.1.3); CPUID, VMCALL and triple faults
     * always do. CR8 loads and
     * stores exit: without them (and without a TPR shadow) MOV to CR8 writes the host's
     * local APIC TPR, and TPR 15 masks the host's timer for good (25.3, 29.1). RDPMC (host
     * counters), MWAIT / MONITOR (the CPU sleeps with no interrupt for the host to take) and
     * WBINVD (a long uninterruptible stall) exit as on SVM. MOV DR exits until the guest first
     * uses a debug register (vmx_dr_own). */
    uint32_t proc = PROC_HLT_EXITING | PROC_UNCOND_IO | PROC_SECONDARY | PROC_CR8_LOAD |
                    PROC_CR8_STORE | PROC_MOV_DR | PROC_RDPMC | PROC_MWAIT | PROC_MONITOR |
                    PROC_MSR_BITMAPS;
    uint32_t proc_msr = tru ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS;
    c->proc = vmx_adjust(proc_msr, proc, proc, "processor-based", &ok);
    if (!((rdmsr(proc_msr) >> 32) & PROC_INTR_WINDOW)) {
        kprintf("vmx: no interrupt-window exiting\n");
        ok = false;
    }
    if (c->proc & (PROC_IO_BITMAPS | PROC_CR3_LOAD | PROC_CR3_STORE | PROC_TPR_SHADOW)) {
        kprintf("vmx: cannot turn off I/O bitmaps, CR3 exiting or the TPR shadow\n");
        ok = false;
    }
    c->proc2 = vmx_adjust(MSR_VMX_PROCBASED_CTLS2,
                          PROC2_EPT | PROC2_UNRESTRICTED | PROC2_VPID | PROC2_RDTSCP | PROC2_WBINVD,
                          PROC2_EPT | PROC2_UNRESTRICTED | PROC2_WBINVD, "secondary", &ok);
    c->exit = vmx_adjust(tru ? MSR_VMX_TRUE_EXIT_CTLS : MSR_VMX_EXIT_CTLS,
                         EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_DEBUG |
                             EXIT_SAVE_PAT | EXIT_LOAD_PAT,
                         EXIT_HOST_64 | EXIT_SAVE_EFER | EXIT_LOAD_EFER | EXIT_SAVE_DEBUG |
                             EXIT_SAVE_PAT | EXIT_LOAD_PAT,
                         "VM-exit", &ok);
    if (c->exit & EXIT_ACK_INTR) {
        kprintf("vmx: cannot turn off acknowledge-interrupt-on-exit\n");
        ok = false;
    }
    uint32_t entry_msr = tru ? MSR_VMX_TRUE_ENTRY_CTLS : MSR_VMX_ENTRY_CTLS;
    /* The guest's DR7 and DEBUGCTL live in the VMCS (load / save debug controls); a VM exit
     * sets the host's DR7 to 0x400 (27.5.1), so a guest's breakpoints never arm in the host.
     * So do its PAT (load / save IA32_PAT: the guest writes it without an exit) and EFER. */
    c->entry = vmx_adjust(entry_msr, ENTRY_LOAD_EFER | ENTRY_LOAD_DEBUG | ENTRY_LOAD_PAT,
                          ENTRY_LOAD_EFER | ENTRY_LOAD_DEBUG | ENTRY_LOAD_PAT, "VM-entry", &ok) &
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
bool vmx_probe(void) { return cpu_features.vmx && cpu_features.ept && cpu_features.unrestricted; }

/* Enables VMX on this CPU: IA32_FEATURE_CONTROL, VMCS revision and size, controls, CR fixed
 * bits, VMXON (23.7). Returns false, saying why, if VT-x with EPT and unrestricted guest cannot
 * be used. */
bool vmx_cpu_init(void)
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
    __asm__ volatile("sgdt %0; sidt %1" : "=m"(vmx_host_gdtr), "=m"(vmx_host_idtr));
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
