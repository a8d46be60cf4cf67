// SPDX-License-Identifier: MIT
// Kernel page tables: the kernel image at KERNEL_VMA and all physical memory at PHYSMAP_BASE,
// both in the upper half that every VSpace shares. The lower half belongs to user VSpaces.
#include "arch.h"
#include "cpu.h"
#include "pte.h"
#include "../../console.h"
#include "kstring.h"

static uint64_t kernel_pml4[512] __attribute__((aligned(4096)));
static uint64_t kernel_pdpt[512] __attribute__((aligned(4096)));
static uint64_t kernel_pd[512] __attribute__((aligned(4096)));
static uint64_t physmap_pdpt[512] __attribute__((aligned(4096)));
static uint64_t boot_physmap_pds[4][512] __attribute__((aligned(4096)));

static uint64_t kphys(const void *p) { return (uint64_t)(uintptr_t)p - KERNEL_VMA; }

uint64_t *arch_kernel_pml4(void) { return kernel_pml4; }
uint64_t kernel_cr3 __attribute__((section(".entry.data"))); // entry.S loads it on user tables

/* PTI: the kernel half of every user page-table tree maps only the skim window (the .entry
 * section: entry/exit code, GDT, IDT, TSS, entry and IST stacks) at its kernel address. */
static uint64_t skim_pdpt[512] __attribute__((aligned(4096)));
static uint64_t skim_pd[512] __attribute__((aligned(4096)));
static uint64_t skim_pt[2][512] __attribute__((aligned(4096)));
static uint64_t user_kernel_half[256];
extern char __entry_text_start[], __entry_data_start[], __entry_end[];

static void pti_build_skim(void)
{
    unsigned pts = 0;
    int pt_pd_index[2] = {-1, -1};
    for (uint64_t va = (uint64_t)__entry_text_start; va < (uint64_t)__entry_end; va += 4096) {
        int pdi = (int)((va >> 21) & 511);
        unsigned k = pts && pt_pd_index[pts - 1] == pdi ? pts - 1 : pts++;
        if (k >= 2) panic("pti: entry section spans more than two 2 MiB regions");
        pt_pd_index[k] = pdi;
        skim_pd[pdi] = kphys(skim_pt[k]) | PTE_P | PTE_W;
        uint64_t pte = (va - KERNEL_VMA) | PTE_P;
        if (va >= (uint64_t)__entry_data_start) pte |= PTE_W | PTE_NX; // data: RW, no execute
        skim_pt[k][(va >> 12) & 511] = pte;                            // text: read-only
    }
    skim_pdpt[(KERNEL_VMA >> 30) & 511] = kphys(skim_pd) | PTE_P | PTE_W;
    user_kernel_half[511 - 256] = kphys(skim_pdpt) | PTE_P | PTE_W;
}

const uint64_t *arch_user_kernel_half(void)
{
    return pti_enabled ? user_kernel_half : kernel_pml4 + 256;
}


void arch_paging_init(uint64_t max_phys, uint64_t (*alloc_page)(void))
{
    // Kernel image: the first 1 GiB of physical memory at KERNEL_VMA, global, 2 MiB pages.
    for (int i = 0; i < 512; i++)
        kernel_pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_W | PTE_PS | PTE_G;
    kernel_pdpt[510] = kphys(kernel_pd) | PTE_P | PTE_W;
    kernel_pml4[511] = kphys(kernel_pdpt) | PTE_P | PTE_W;

    // Physical memory window: at least 4 GiB (the LAPIC and other MMIO lie below 4 GiB).
    uint64_t gib = (max_phys + (1ull << 30) - 1) >> 30;
    if (gib < 4) gib = 4;
    if (gib > 512) gib = 512;
    for (uint64_t g = 0; g < gib; g++) {
        uint64_t *pd;
        uint64_t pd_phys;
        if (g < 4) {
            pd = boot_physmap_pds[g];
            pd_phys = kphys(pd);
        } else {
            pd_phys = alloc_page();
            pd = PHYS_TO_VIRT(pd_phys);
        }
        for (int i = 0; i < 512; i++)
            pd[i] = ((g << 30) + ((uint64_t)i << 21)) | PTE_P | PTE_W | PTE_PS | PTE_G | PTE_NX;
        physmap_pdpt[g] = pd_phys | PTE_P | PTE_W;
    }
    kernel_pml4[256] = kphys(physmap_pdpt) | PTE_P | PTE_W;

    if (pti_enabled) {
        // no global pages: a kernel translation left in the TLB would serve user-mode
        // speculation after the switch to the user's tables, which is what PTI is to prevent
        write_cr4(read_cr4() & ~(1ull << 7));
        pti_build_skim();
    } else {
        write_cr4(read_cr4() | (1u << 7)); // PGE: kernel mappings survive CR3 switches
    }
    kernel_cr3 = kphys(kernel_pml4);
    arch_switch_vspace(kernel_cr3);
}

uint64_t arch_cr3, arch_fs_base;

void arch_switch_vspace(uint64_t pml4_phys)
{
    if (arch_cr3 != pml4_phys) write_cr3(pml4_phys);
    arch_cr3 = pml4_phys;
}
