// SPDX-License-Identifier: MIT
// Boot-time self-test of the VT-x backend, linked into the test kernel only (resurgo-selftest.elf)
// and run when "vmxtest" is on the kernel command line (meson test system-bochs-vmx-selftest).
// It drives the backend directly, below the VCPU layer: a tiny real-mode guest makes each kind of exit once (I/O, CPUID, MSR,
// VMCALL, guest-physical faults, HLT, interrupt window with an injected interrupt, a host timer
// interrupt), a 32-bit protected-mode guest does a 4-byte OUT and triple-faults, a 64-bit guest
// writes to a read-only page, and a state VMX refuses comes back as RS_EXIT_INVALID_STATE.
// Results use the system-test protocol.
#include <resurgo/rights.h>
#include "vmx.h"
#include "../arch.h"
#include "../../console.h"
#include "../../boot_root.h"
#include "kstring.h"

/* Guest-physical layout: RAM pages 0-7 (IVT at 0, real-mode code at 0x1000, its interrupt
 * handler at 0x1100, 32-bit code at 0x2000, 64-bit code at 0x2100, the 64-bit guest's page
 * tables at 0x4000-0x6FFF, a read-only page at 0x7000); 0xB8000 is unmapped (an MMIO hole). */
#define GUEST_PAGES 8
#define RO_GPA      0x7000
#define LATE_GPA    0x8000 /* mapped only once the guest faulted on it */
#define MMIO_GPA    0xB8000

// clang-format off
static const uint8_t real_code[] = {
    0xB0, 0x42,                         /* 1000 mov al, 42h */
    0xE6, 0x80,                         /* 1002 out 80h, al        -> IO out 80h/1 */
    0xBA, 0x34, 0x12,                   /* 1004 mov dx, 1234h */
    0xED,                               /* 1007 in ax, dx          -> IO in 1234h/2 */
    0x66, 0x31, 0xC0,                   /* 1008 xor eax, eax */
    0x0F, 0xA2,                         /* 100B cpuid              -> CPUID */
    0x0F, 0x20, 0xC0,                   /* 100D mov eax, cr0 */
    0x66, 0x25, 0xFF, 0xFF, 0xFF, 0x9F, /* 1010 and eax, 9FFFFFFFh (CD, NW off) */
    0x0C, 0x20,                         /* 1016 or al, 20h (NE on) */
    0x0F, 0x22, 0xC0,                   /* 1018 mov cr0, eax       (handled by the backend) */
    0x66, 0xB9, 0x10, 0, 0, 0,          /* 101B mov ecx, 10h */
    0x0F, 0x32,                         /* 1021 rdmsr              -> MSR read 10h */
    0x0F, 0x30,                         /* 1023 wrmsr              -> MSR write 10h */
    0x0F, 0x01, 0xC1,                   /* 1025 vmcall             -> VMCALL */
    0xBB, 0x00, 0xB8,                   /* 1028 mov bx, 0B800h */
    0x8E, 0xDB,                         /* 102B mov ds, bx */
    0xA2, 0x00, 0x00,                   /* 102D mov [0], al        -> fault, write B8000h */
    0xA0, 0x10, 0x00,                   /* 1030 mov al, [10h]      -> fault, read B8010h */
    0xF4,                               /* 1033 hlt                -> HLT */
    0xFB,                               /* 1034 sti */
    0x90,                               /* 1035 nop                -> interrupt window */
    0xEB, 0xFE,                         /* 1036 jmp $              -> host timer: NONE */
};
static const uint8_t real_isr[] = {
    0xE6, 0x81, /* 1100 out 81h, al -> IO out 81h/1 (the injected vector 20h arrived) */
    0xCF,       /* 1102 iret */
};
static const uint8_t real_isr2[] = {
    0xE6, 0x82, /* 1110 out 82h, al -> IO out 82h/1 (the injected vector 21h arrived) */
    0xCF,       /* 1112 iret */
};
static const uint8_t pm32_code[] = {
    0xBA, 0x00, 0x05, 0, 0,       /* 2000 mov edx, 500h */
    0xB8, 0x78, 0x56, 0x34, 0x12, /* 2005 mov eax, 12345678h */
    0xEF,                         /* 200A out dx, eax -> IO out 500h/4 */
    0x0F, 0x0B,                   /* 200B ud2: IDT limit 0 -> #GP -> #DF -> triple fault */
};

static const uint8_t lm64_code[] = {
    0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* 2100 mov rax, 1122..88h */
    0x0F, 0x01, 0xC1,                                           /* 210A vmcall -> VMCALL */
    0x89, 0x04, 0x25, 0x08, 0x70, 0, 0, /* 210D mov [7008h], eax -> fault, write 7008h */
    0xF4,                               /* 2114 hlt -> HLT */
};
// clang-format on

/* The checks the parts below make, VMX-INIT included: the plan line tells run.py, which fails
 * the run unless exactly this many check lines come (a part that stops early shows). */
#define VMX_SELFTEST_CHECKS 25

static int passed, failed;
static uint64_t *guest_pt; /* the EPT page table for GPA 0-2 MiB */

static void check(const char *id, bool ok, const char *what)
{
    kprintf("[test] %s %s %s\n", id, ok ? "PASS" : "FAIL", what);
    if (ok) passed++;
    else failed++;
}

static const char *reason_name(uint32_t r)
{
    static const char *const names[] = {
        "NONE",   "IO",          "GUEST_FAULT", "CPUID",        "MSR_READ",      "MSR_WRITE", "HLT",
        "VMCALL", "INTR_WINDOW", "EXCEPTION",   "TRIPLE_FAULT", "INVALID_STATE", "OTHER"};
    return r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

static unsigned host_irqs;

/* Runs the guest to its next exit the VMM would see, counting (and not returning) host
 * interrupts unless `want_none`; prints every exit decoded. */
static struct vcpu_exit next_exit(struct vcpu *v, bool want_none)
{
    struct vcpu_exit e;
    for (int n = 0; n < 100000; n++) {
        vmx_backend.run(v, &e);
        if (e.reason == RS_EXIT_NONE) {
            host_irqs++;
            if (!want_none) continue;
        }
        kprintf("vmx-selftest: exit %s qual %lx gpa %lx len %lu raw %lx/%lx rip %lx\n",
                reason_name(e.reason), e.qual, e.gpa, e.insn_len, e.raw_reason, e.raw_qual, e.rip);
        return e;
    }
    kprintf("vmx-selftest: no exit after 100000 host interrupts\n");
    return (struct vcpu_exit){.reason = RS_EXIT_OTHER};
}

static void expect(struct vcpu *v, const char *id, uint32_t reason, uint64_t qual, uint64_t gpa,
                   const char *what)
{
    struct vcpu_exit e = next_exit(v, false);
    bool ok = e.reason == reason && e.qual == qual && e.gpa == gpa;
    check(id, ok, what);
    if (reason != RS_EXIT_GUEST_FAULT) vmx_backend.advance_rip(v, e.insn_len);
    else vmx_backend.advance_rip(v, 3); /* the VMM decodes MMIO instructions itself */
}

static bool has_token(const char *s, const char *tok)
{
    size_t n = strlen(tok);
    for (; *s; s++)
        if ((s[0] == tok[0]) && !strncmp(s, tok, n) && (s[n] == 0 || s[n] == ' ')) return true;
    return false;
}

/* Guest RAM and its EPT: PML4 -> PDPT -> PD -> PT -> GUEST_PAGES frames at GPA 0. */
static uint64_t build_guest(uint8_t **ram)
{
    uint64_t t[4];
    for (int i = 0; i < 4; i++) t[i] = boot_alloc_page();
    for (int i = 0; i < 3; i++)
        ((uint64_t *)PHYS_TO_VIRT(t[i]))[0] = vmx_backend.guest_pte(t[i + 1], 0, false);
    uint64_t *pt = guest_pt = PHYS_TO_VIRT(t[3]);
    for (int i = 0; i < GUEST_PAGES; i++) {
        uint64_t f = boot_alloc_page();
        ram[i] = PHYS_TO_VIRT(f);
        unsigned rights = i * 4096 == RO_GPA ? RS_RIGHT_READ : RS_RIGHTS_ALL;
        pt[i] = vmx_backend.guest_pte(f, rights, true);
    }
    memcpy(ram[1], real_code, sizeof(real_code));
    memcpy(ram[1] + 0x100, real_isr, sizeof(real_isr));
    memcpy(ram[1] + 0x110, real_isr2, sizeof(real_isr2));
    memcpy(ram[2], pm32_code, sizeof(pm32_code));
    memcpy(ram[2] + 0x100, lm64_code, sizeof(lm64_code));
    ((uint32_t *)ram[0])[0x20] = 0x1100; /* IVT[20h] = 0000:1100 */
    ((uint32_t *)ram[0])[0x21] = 0x1110; /* IVT[21h] = 0000:1110 */
    /* The 64-bit guest's own page tables: 0-2 MiB identity-mapped with one 2 MiB page. */
    ((uint64_t *)ram[4])[0] = 0x5000 | 7;
    ((uint64_t *)ram[5])[0] = 0x6000 | 7;
    ((uint64_t *)ram[6])[0] = 0x0000 | 0x87;
    return t[0];
}

static void real_mode_part(struct vcpu *v)
{
    rs_vcpu_state_t s;
    vmx_backend.get_state(v, &s);
    check("VMX-RESET",
          s.cs.selector == 0xF000 && s.rip == 0xFFF0 && s.cr0 == 0x60000010 && s.cs.attrib == 0x9B,
          "a new VCPU reads back the x86 reset state");
    s.cs = (struct rs_segment){0, 0, 0xFFFF, 0}; /* attributes left 0, as an SVM VMM might */
    s.rip = 0x1000;
    v->gpr[RS_GPR_RSP] = 0x0FF0;
    vmx_backend.set_state(v, &s);
    expect(v, "VMX-IO-OUT", RS_EXIT_IO, 0x80 | 1 << 16, 0,
           "OUT 80h,AL exits as IO, port 80h, 1 byte, out");
    expect(v, "VMX-IO-IN", RS_EXIT_IO, 0x1234 | 2 << 16 | 1 << 24, 0,
           "IN AX,DX exits as IO, port 1234h, 2 bytes, in");
    expect(v, "VMX-CPUID", RS_EXIT_CPUID, 0, 0, "CPUID exits");
    expect(v, "VMX-RDMSR", RS_EXIT_MSR_READ, 0x10, 0,
           "RDMSR exits with the MSR index (CR0 write handled inside)");
    expect(v, "VMX-WRMSR", RS_EXIT_MSR_WRITE, 0x10, 0, "WRMSR exits with the MSR index");
    struct vcpu_exit e = next_exit(v, false);
    check("VMX-VMCALL", e.reason == RS_EXIT_VMCALL && e.insn_len == 3,
          "VMCALL exits, 3 bytes long");
    vmx_backend.get_state(v, &s);
    kprintf("vmx-selftest: guest cr0 %lx rip %lx cs.attrib %lx\n", s.cr0, s.rip, s.cs.attrib);
    check("VMX-CR0-SHADOW", s.cr0 == 0x30,
          "the guest's own CR0 write (NE on, CD/NW off) reads back as written");
    vmx_backend.advance_rip(v, e.insn_len);
    expect(v, "VMX-MMIO-WRITE", RS_EXIT_GUEST_FAULT, 2, MMIO_GPA,
           "a write to unmapped GPA B8000h is a guest fault (write)");
    expect(v, "VMX-MMIO-READ", RS_EXIT_GUEST_FAULT, 1, MMIO_GPA + 0x10,
           "a read of unmapped GPA B8010h is a guest fault (read)");
    expect(v, "VMX-HLT", RS_EXIT_HLT, 0, 0, "HLT exits");
    vmx_backend.want_window(v, true);
    e = next_exit(v, false);
    check("VMX-WINDOW", e.reason == RS_EXIT_INTR_WINDOW,
          "after STI, an interrupt window exit comes as asked");
    vmx_backend.inject(v, RS_EVENT_MAKE(0x20, RS_EVENT_EXTINT) | RS_EVENT_VALID);
    expect(v, "VMX-INJECT", RS_EXIT_IO, 0x81 | 1 << 16, 0,
           "the injected vector 20h runs the guest handler (OUT 81h)");
    unsigned before = host_irqs;
    e = next_exit(v, true);
    check("VMX-HOST-IRQ", e.reason == RS_EXIT_NONE || host_irqs > before,
          "a host timer interrupt during the guest's loop exits as NONE and is taken by the host");
}

/* An exit in the middle of delivering an injected interrupt (its stack page is not mapped
 * yet) keeps that interrupt for the next entry; one the VMM injects meanwhile comes after. */
static void requeue_part(struct vcpu *v)
{
    rs_vcpu_state_t s;
    vmx_backend.get_state(v, &s);
    s.ss = (struct rs_segment){LATE_GPA >> 4, LATE_GPA, 0xFFFF, 0x93};
    v->gpr[RS_GPR_RSP] = 0x100;
    vmx_backend.set_state(v, &s);
    vmx_backend.inject(v, RS_EVENT_MAKE(0x20, RS_EVENT_EXTINT) | RS_EVENT_VALID);
    struct vcpu_exit e = next_exit(v, false);
    vmx_backend.get_state(v, &s);
    check("VMX-DELIVERY-FAULT",
          e.reason == RS_EXIT_GUEST_FAULT && (e.qual & 2) && (e.gpa & ~0xFFFull) == LATE_GPA &&
              s.pending_event == (0x20 | RS_EVENT_VALID),
          "a fault while delivering vector 20h exits, and 20h stays pending");
    guest_pt[LATE_GPA >> 12] = vmx_backend.guest_pte(boot_alloc_page(), RS_RIGHTS_ALL, true);
    vmx_backend.inject(v, RS_EVENT_MAKE(0x21, RS_EVENT_EXTINT) | RS_EVENT_VALID);
    expect(v, "VMX-REDELIVER", RS_EXIT_IO, 0x81 | 1 << 16, 0,
           "once mapped, vector 20h is delivered first");
    expect(v, "VMX-DEFERRED", RS_EXIT_IO, 0x82 | 1 << 16, 0,
           "and the VMM's vector 21h after its IRET");
}

static void protected_mode_part(struct vcpu *v)
{
    rs_vcpu_state_t s = {0};
    s.rip = 0x2000;
    s.rflags = 2;
    s.cr0 = 0x11; /* PE, ET: no NE, which VMX needs; the shadow hides it */
    s.cs = (struct rs_segment){0x08, 0, 0xFFFFFFFF, 0xC9B};
    s.ds = s.es = s.ss = (struct rs_segment){0x10, 0, 0xFFFFFFFF, 0xC93};
    /* FS, GS null (unusable), TR and LDTR left 0: the backend makes TR a busy TSS */
    vmx_backend.set_state(v, &s);
    struct vcpu_exit e = next_exit(v, false);
    check("VMX-PM32-IO", e.reason == RS_EXIT_IO && e.qual == (0x500 | 4 << 16),
          "32-bit OUT DX,EAX exits as IO, port 500h, 4 bytes");
    vmx_backend.get_state(v, &s);
    check("VMX-PM32-STATE",
          v->gpr[RS_GPR_RAX] == 0x12345678 && s.cr0 == 0x11 && s.cs.attrib == 0xC9B &&
              s.fs.attrib == 0 && s.tr.attrib == 0x8B,
          "guest registers, CR0 and segment attributes read back in the neutral layout");
    vmx_backend.advance_rip(v, e.insn_len);
    e = next_exit(v, false);
    check("VMX-TRIPLE", e.reason == RS_EXIT_TRIPLE_FAULT && e.raw_reason == 2,
          "UD2 with an empty IDT triple-faults (raw reason 2)");
}

static void long_mode_part(struct vcpu *v)
{
    rs_vcpu_state_t s = {0};
    s.rip = 0x2100;
    s.rflags = 2;
    s.cr0 = 0x80000011; /* PG, PE, ET */
    s.cr4 = 0x20;       /* PAE */
    s.cr3 = 0x4000;
    s.efer = 0x100; /* LME only: LMA follows from LME and PG */
    s.cs = (struct rs_segment){0x08, 0, 0xFFFFFFFF, 0xA9B};
    s.ds = s.es = s.ss = (struct rs_segment){0x10, 0, 0xFFFFFFFF, 0xC93};
    vmx_backend.set_state(v, &s);
    struct vcpu_exit e = next_exit(v, false);
    vmx_backend.get_state(v, &s);
    check("VMX-LM64",
          e.reason == RS_EXIT_VMCALL && v->gpr[RS_GPR_RAX] == 0x1122334455667788 &&
              s.efer == 0x500 && s.cs.attrib == 0xA9B,
          "a 64-bit guest runs (EFER.LMA set for it) and VMCALLs with its 64-bit RAX");
    vmx_backend.advance_rip(v, e.insn_len);
    e = next_exit(v, false);
    check("VMX-RO-WRITE",
          e.reason == RS_EXIT_GUEST_FAULT && e.qual == (2 | 8) && e.gpa == RO_GPA + 8,
          "a write to a read-only GuestSpace page is a guest fault (write, mapped) at its GPA");
    vmx_backend.advance_rip(v, 7);
    expect(v, "VMX-LM64-HLT", RS_EXIT_HLT, 0, 0,
           "and the guest goes on after the VMM skipped the write");
}

static void bad_state_part(struct vcpu *v)
{
    rs_vcpu_state_t s;
    vmx_backend.get_state(v, &s);
    s.cr0 = 0x80000010; /* PG without PE: no CPU runs that */
    s.efer = 0;
    vmx_backend.set_state(v, &s);
    struct vcpu_exit e = next_exit(v, false);
    check("VMX-BAD-STATE", e.reason == RS_EXIT_INVALID_STATE && (e.raw_reason & (1u << 31)),
          "CR0.PG without CR0.PE fails VM entry as INVALID_STATE");
}

/* Test kernels call this at boot, after the timer is running and before init exists. */
void kernel_selftest(const struct boot_info *bi)
{
    if (!has_token(bi->cmdline, "vmxtest")) return;
    kprintf("vmx-selftest: start\n");
    kprintf("[test] plan %d\n", VMX_SELFTEST_CHECKS);
    if (!cpu_features.vmx || !vmx_backend.cpu_init()) {
        check("VMX-INIT", false, "VT-x with EPT and unrestricted guest is usable");
    } else {
        check("VMX-INIT", true, "VT-x with EPT and unrestricted guest is usable");
        uint8_t *ram[GUEST_PAGES];
        uint64_t root = build_guest(ram);
        /* A VCPU object as Retype makes it: the control page, then struct vcpu (kernel/vcpu.h). */
        struct vcpu *v = PHYS_TO_VIRT(boot_alloc_page());
        uint64_t vmcs = boot_alloc_page();
        v->ctl = PHYS_TO_VIRT(vmcs);
        v->ctl_phys = vmcs;
        vmx_backend.vcpu_init(v, v->ctl, vmcs);
        vmx_backend.set_state(v, &vcpu_reset_state); /* as vcpu_create does */
        vmx_backend.set_guest_root(v, root, 1);
        real_mode_part(v);
        requeue_part(v);
        protected_mode_part(v);
        long_mode_part(v);
        bad_state_part(v);
        vmx_backend.vcpu_destroy(v);
    }
    kprintf("[test] done: %d passed, %d failed\n", passed, failed);
    arch_shutdown();
}
