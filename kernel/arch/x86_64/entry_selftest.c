// SPDX-License-Identifier: MIT
// Boot-time self-tests of the kernel's own protections, linked into the test kernel only and run
// when the command line names them; each ends in exactly one kernel panic that
// tests/system/panic_once.py checks: "entrytest=panic" (a ring-0 iretq to a non-canonical RIP,
// then a second fault while the report is printed), "entrytest=smap" (a kernel read of a user
// page) and "entrytest=smep" (a kernel call into a user page).
#include "arch.h"
#include "cpu.h"
#include "pte.h"
#include "kstring.h"
#include "../../console.h"
#include "../../boot_root.h"

#define TEST_USER_VA 0x0000000040000000ul /* a user page in the kernel's own page tables */

static const char *test_name(const char *cmdline)
{
    for (const char *s = cmdline; *s; s++)
        if (!strncmp(s, "entrytest=", 10)) return s + 10;
    return NULL;
}

static bool is(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(arg, name, n) && (arg[n] == 0 || arg[n] == ' ');
}

static bool fault_in_report;

/* Called by the kernel's exception report (arch/x86_64/trap.c): the report itself faults, as a broken panic
 * path would; the kernel must halt rather than report again. */
void panic_selftest_hook(void)
{
    if (fault_in_report) __asm__ volatile("ud2");
}

/* Maps one user-accessible, writable, executable page at TEST_USER_VA in the kernel PML4 (whose
 * lower half is otherwise empty) holding a `ret`. */
static void map_user_page(void)
{
    uint64_t *pml4 = arch_kernel_pml4();
    uint64_t t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = boot_alloc_page();
        memset(PHYS_TO_VIRT(t[i]), 0, 4096);
    }
    uint64_t flags = PTE_P | PTE_W | PTE_U;
    pml4[(TEST_USER_VA >> 39) & 511] = t[0] | flags;
    ((uint64_t *)PHYS_TO_VIRT(t[0]))[(TEST_USER_VA >> 30) & 511] = t[1] | flags;
    ((uint64_t *)PHYS_TO_VIRT(t[1]))[(TEST_USER_VA >> 21) & 511] = t[2] | flags;
    ((uint64_t *)PHYS_TO_VIRT(t[2]))[(TEST_USER_VA >> 12) & 511] = t[3] | flags;
    *(uint8_t *)PHYS_TO_VIRT(t[3]) = 0xC3; // ret
    write_cr3(read_cr3());                 // flush
}

/* Test kernels call this right after SMEP and SMAP were switched on. */
void entry_selftest(const struct boot_info *bi)
{
    const char *t = test_name(bi->cmdline);
    if (!t) return;
    if (is(t, "panic")) {
        kprintf("entry-selftest: iretq to 0x800000000000 in ring 0, then a fault in the report\n");
        fault_in_report = true;
        __asm__ volatile("movq %%rsp, %%rax\n\t"
                         "pushq %0\n\t"
                         "pushq %%rax\n\t"
                         "pushfq\n\t"
                         "pushq %1\n\t"
                         "movabsq $0x800000000000, %%rax\n\t"
                         "pushq %%rax\n\t"
                         "iretq" ::"i"(GDT_KERNEL_DS),
                         "i"(GDT_KERNEL_CS)
                         : "rax", "memory");
    } else if (is(t, "smap") || is(t, "smep")) {
        bool smap = is(t, "smap");
        if (smap ? !cpu_features.smap : !cpu_features.smep) {
            kprintf("entry-selftest: %s not supported by this CPU\n", smap ? "SMAP" : "SMEP");
            return;
        }
        map_user_page();
        kprintf("entry-selftest: kernel %s user page %lx\n", smap ? "reads" : "calls",
                TEST_USER_VA);
        if (smap) (void)*(volatile uint8_t *)TEST_USER_VA;
        else ((void (*)(void))TEST_USER_VA)();
    } else {
        kprintf("entry-selftest: unknown test '%s'\n", t);
        return;
    }
    kprintf("entry-selftest: no fault\n");
}
