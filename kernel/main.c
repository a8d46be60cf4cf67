// SPDX-License-Identifier: MIT
// kernel_main: the boot sequence, from the boot loader's hand-off to the first user thread.
#include "console.h"
#include "boot_root.h"
#include "sched.h"
#include "vcpu_backend.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/acpi_boot.h"
#include "arch/x86_64/cpu.h"
#include "kstring.h"

#define TICK_US 10000

static struct boot_info boot_info;

/* Boot-time self-tests, linked into test kernels only (e.g. arch/x86_64/vmx/vmx_selftest.c). */
__attribute__((weak)) void kernel_selftest(const struct boot_info *bi) { (void)bi; }
/* The entry/panic/SMAP self-tests (arch/x86_64/entry_selftest.c), also test kernels only. */
__attribute__((weak)) void entry_selftest(const struct boot_info *bi) { (void)bi; }

/* "name=on" / "name=off" on the command line: 1 / 0; -1 when absent. */
static int cmdline_switch(const char *cmdline, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = cmdline; *s; s++) {
        if ((s != cmdline && s[-1] != ' ') || strncmp(s, name, n) || s[n] != '=') continue;
        if (!strncmp(s + n + 1, "on", 2)) return 1;
        if (!strncmp(s + n + 1, "off", 3)) return 0;
    }
    return -1;
}

/* "name=WORD" on the command line: the index of WORD in words[0..n), or -1. */
static int cmdline_word(const char *cmdline, const char *name, const char *const *words, int n)
{
    size_t len = strlen(name);
    for (const char *s = cmdline; *s; s++) {
        if ((s != cmdline && s[-1] != ' ') || strncmp(s, name, len) || s[len] != '=') continue;
        for (int i = 0; i < n; i++) {
            size_t w = strlen(words[i]);
            if (!strncmp(s + len + 1, words[i], w) && (s[len + 1 + w] == ' ' || !s[len + 1 + w]))
                return i;
        }
    }
    return -1;
}

/* Page-table isolation: on when the CPU is affected by Meltdown, unless "pti=on|off" says. */
static void pti_select(const struct boot_info *bi)
{
    int forced = cmdline_switch(bi->cmdline, "pti");
    pti_enabled = forced >= 0 ? (uint8_t)forced : cpu_features.meltdown;
    kprintf("pti: %s (%s; CPU %s)\n", pti_enabled ? "on" : "off",
            forced >= 0 ? "command line" : "default",
            cpu_features.meltdown ? "affected by Meltdown" : "not affected by Meltdown");
}

static void print_cpu(void)
{
    const struct cpu_features *f = &cpu_features;
    kprintf("cpu: %s '%s'\n", f->vendor, f->brand);
    if (f->svm)
        kprintf("cpu: virtualisation: AMD SVM%s (%u ASIDs)\n",
                f->npt ? " with NPT" : " without NPT", f->svm_asids);
    else if (f->vmx)
        kprintf("cpu: virtualisation: Intel VMX%s%s%s\n", f->ept ? " with EPT" : " without EPT",
                f->vpid ? ", VPID" : "", f->unrestricted ? ", unrestricted guest" : "");
    else kprintf("cpu: virtualisation: none\n");
}

static void print_boot_info(const struct boot_info *bi)
{
    uint64_t total = 0;
    kprintf("boot: loader %s, command line '%s'\n", bi->loader, bi->cmdline);
    for (int i = 0; i < bi->ram_count; i++) {
        kprintf("mem: %016lx-%016lx usable\n", bi->ram[i].base,
                bi->ram[i].base + bi->ram[i].size - 1);
        total += bi->ram[i].size;
    }
    kprintf("mem: %lu MiB usable\n", total >> 20);
    if (bi->ram_dropped)
        kprintf("mem: %u usable regions beyond the first %d not used\n", bi->ram_dropped,
                BOOT_MAX_REGIONS);
    for (int i = 0; i < bi->module_count; i++)
        kprintf("module %d: '%s' at %lx, %lu bytes\n", i, bi->modules[i].name, bi->modules[i].base,
                bi->modules[i].size);
}

/* The physmap's end as arch_paging_init builds it: whole GiBs, at least 4, at most 512. */
static uint64_t physmap_limit(void)
{
    uint64_t gib = (boot_max_phys() + (1ull << 30) - 1) >> 30;
    return (gib < 4 ? 4 : gib > 512 ? 512 : gib) << 30;
}

/* What a guest needs of this CPU: the vcpu backends take SVM with NPT, or VMX with EPT and
 * unrestricted guest (vcpu_backend.c). Says what is missing. */
static void print_virt_summary(void)
{
    const struct cpu_features *f = &cpu_features;
    if (f->svm && f->npt) kprintf("hw: virtualisation: AMD SVM with NPT: guests can run\n");
    else if (f->vmx && f->ept && f->unrestricted)
        kprintf("hw: virtualisation: Intel VMX with EPT and unrestricted guest: guests can run\n");
    else if (f->svm) kprintf("hw: virtualisation: missing NPT (AMD SVM without nested paging)\n");
    else if (f->vmx)
        kprintf("hw: virtualisation: missing%s%s (Intel VMX present)\n", f->ept ? "" : " EPT",
                f->unrestricted ? "" : " unrestricted guest");
    else
        kprintf("hw: virtualisation: missing VMX and SVM (not in this CPU, or switched off in "
                "the firmware setup, or hidden by a hypervisor)\n");
}

/* One block that says what this machine is and what the kernel uses of it (docs/bare-metal.md
 * explains how to read it). */
static void print_hardware(const struct boot_info *bi)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    unsigned fam = (r[0] >> 8) & 0xF, model = (r[0] >> 4) & 0xF;
    // CPUID.1 EAX: the extended family adds when family is 0xF, the extended model for
    // families 6 and 0xF (Intel SDM vol 2A, CPUID; AMD APM vol 3, CPUID Fn0000_0001_EAX)
    if (fam == 0xF) fam += (r[0] >> 20) & 0xFF;
    if (fam == 6 || fam >= 0xF) model |= ((r[0] >> 16) & 0xF) << 4;
    kprintf("hw: cpu: %s family %x model %x stepping %x '%s'\n", cpu_features.vendor, fam, model,
            r[0] & 0xF, cpu_features.brand);
    print_virt_summary();
    uint64_t total = 0, top = 0;
    for (int i = 0; i < bi->ram_count; i++) {
        total += bi->ram[i].size;
        top = bi->ram[i].base + bi->ram[i].size;
    }
    kprintf("hw: memory: %lu MiB usable in %d regions (%s), highest %lx%s\n", total >> 20,
            bi->ram_count, bi->memory_map, top, bi->ram_dropped ? ", some regions dropped" : "");
    const struct acpi_info *a = &acpi_info;
    uint64_t lapic_msr = rdmsr(MSR_APIC_BASE) & ~0xFFFull;
    if (a->status == ACPI_OK) {
        kprintf("hw: acpi: %s, tables", a->xsdt ? "XSDT" : "RSDT");
        for (unsigned i = 0; i < a->table_count; i++)
            kprintf(" %s%s", a->table[i].sig, a->table[i].status ? "(bad)" : "");
        kprintf("\n");
    } else {
        kprintf("hw: acpi: none usable (%s): PC defaults\n", acpi_status_str(a->status));
    }
    // The LAPIC is used where IA32_APIC_BASE puts it (SDM vol 3A 11.4.4); the MADT should
    // agree, and a disagreement is worth seeing in the log.
    if (a->status == ACPI_OK && a->madt_status == ACPI_OK) {
        kprintf("hw: interrupts: %u CPUs, LAPIC at %lx (%s), %u IO-APICs, %u ISA overrides\n",
                a->madt.cpu_count, lapic_msr,
                a->madt.lapic_addr == lapic_msr ? "MADT agrees" : "MADT DISAGREES",
                a->madt.ioapic_count, a->madt.override_count);
    } else {
        kprintf("hw: interrupts: no MADT, LAPIC at %lx (IA32_APIC_BASE)\n", lapic_msr);
    }
    const char *why, *routing = arch_irq_routing(&why);
    unsigned lines = arch_irq_lines();
    kprintf("hw: irq routing: %s, ISA IRQs 0-15 on vectors 20-2f", routing);
    if (lines > IRQ_ISA_COUNT)
        kprintf(", GSIs 16-%u on vectors %x-%x (level, active low)", lines - 1,
                irq_vector(IRQ_ISA_COUNT), irq_vector(lines - 1));
    kprintf("%s%s%s\n", why ? " (" : "", why ? why : "", why ? ")" : "");
    // COM1's scratch register (16550 offset 7) keeps what is written where a UART exists.
    outb(0x3FF, 0x5A);
    bool com1 = inb(0x3FF) == 0x5A;
    kprintf("hw: console: serial COM1 %s\n", com1 ? "(present)" : "(no UART answers at 3f8)");
}

_Noreturn void kernel_main(uint32_t magic, uint32_t info_pa)
{
    console_init();
    kprintf("\nResurgo microkernel (x86-64)\n");
    arch_parse_boot_info(magic, info_pa, &boot_info);
    print_boot_info(&boot_info);
    arch_cpu_probe();
    print_cpu();
    pti_select(&boot_info);
    arch_gdt_init();
    arch_syscall_init();
    fpu_init();
    vcpu_backend_select();
    boot_memory_init(&boot_info);
    arch_paging_init(boot_max_phys(), boot_alloc_page);
    arch_acpi_init(&boot_info, physmap_limit());
    arch_cpu_protect();
    kprintf("cpu: SMEP %s, SMAP %s\n", cpu_features.smep ? "on" : "off (not supported)",
            cpu_features.smap ? "on" : "off (not supported)");
    entry_selftest(&boot_info);
    // IO-APIC routing when the MADT allows it; ioapic=off keeps the 8259 (docs/bare-metal.md)
    arch_ioapic_allowed = cmdline_switch(boot_info.cmdline, "ioapic") != 0;
    arch_pic_init();
    static const char *const calib[] = {"hpet", "pmtimer", "pit"};
    int c = cmdline_word(boot_info.cmdline, "calib", calib, 3);
    arch_calib_source = c < 0 ? CALIB_AUTO : CALIB_HPET + c;
    arch_timer_init(TICK_US);
    print_hardware(&boot_info);
    kernel_selftest(&boot_info);
    boot_create_root(&boot_info, TICK_US);
    sched_exit_kernel();
}
