// SPDX-License-Identifier: MIT
// kernel_main: the boot sequence, from the boot loader's hand-off to the first user thread.
#include "console.h"
#include "boot_root.h"
#include "sched.h"
#include "vcpu_backend.h"
#include "arch/x86_64/arch.h"
#include "arch/x86_64/fpu.h"
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
    for (int i = 0; i < bi->module_count; i++)
        kprintf("module %d: '%s' at %lx, %lu bytes\n", i, bi->modules[i].name, bi->modules[i].base,
                bi->modules[i].size);
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
    arch_cpu_protect();
    kprintf("cpu: SMEP %s, SMAP %s\n", cpu_features.smep ? "on" : "off (not supported)",
            cpu_features.smap ? "on" : "off (not supported)");
    entry_selftest(&boot_info);
    arch_pic_init();
    arch_timer_init(TICK_US);
    kernel_selftest(&boot_info);
    boot_create_root(&boot_info, TICK_US);
    sched_exit_kernel();
}
