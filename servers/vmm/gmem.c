// SPDX-License-Identifier: MIT
// Guest memory as the guest's CPU sees it: linear addresses go through the guest's own page
// tables (none, 32-bit, PAE or 4-level, chosen by CR0.PG, CR4.PAE and EFER.LMA) to guest-physical
// addresses in RAM. The VMM uses it to read the instruction of an MMIO exit. The tables are the
// guest's: an entry pointing outside RAM ends the walk, never a read outside it.
#include "vmm.h"

#define PTE_P     1ull
#define PTE_PS    0x80ull
#define ADDR_MASK 0x000FFFFFFFFFF000ull

/* A little-endian entry of `bytes` bytes at gpa, if it lies wholly in RAM. */
static bool read_entry(const struct vmm *v, uint64_t gpa, unsigned bytes, uint64_t *e)
{
    if (gpa >= v->ram_size || v->ram_size - gpa < bytes) return false;
    *e = 0;
    for (unsigned k = 0; k < bytes; k++) *e |= (uint64_t)v->ram[gpa + k] << (8 * k);
    return true;
}

/* Walks 64-bit entries from `table` at `level` (4: PML4 ... 1: PT); *rights &= each entry's
 * R/W and U/S bits. */
static bool walk64(const struct vmm *v, uint64_t table, uint64_t la, unsigned level, uint64_t *gpa,
                   unsigned *rights)
{
    for (; level >= 1; level--) {
        unsigned shift = 12 + 9 * (level - 1);
        uint64_t e;
        if (!read_entry(v, table + ((la >> shift) & 511) * 8, 8, &e) || !(e & PTE_P)) return false;
        *rights &= (unsigned)e & GMEM_RIGHTS;
        if (level == 1 || (level <= 3 && (e & PTE_PS))) { // a 4 KiB, 2 MiB or 1 GiB page
            uint64_t size = 1ull << shift;
            *gpa = (e & ADDR_MASK & ~(size - 1)) | (la & (size - 1));
            return true;
        }
        table = e & ADDR_MASK;
    }
    return false;
}

/* 32-bit paging: two levels of 4-byte entries, 4 MiB pages with CR4.PSE. */
static bool walk32(const struct vmm *v, const struct gmem_cpu *c, uint32_t la, uint64_t *gpa,
                   unsigned *rights)
{
    uint64_t pde, pte;
    if (!read_entry(v, (c->cr3 & 0xFFFFF000u) + (la >> 22) * 4, 4, &pde) || !(pde & PTE_P))
        return false;
    *rights &= (unsigned)pde & GMEM_RIGHTS;
    if ((c->cr4 & CR4_PSE) && (pde & PTE_PS)) {
        *gpa = (pde & 0xFFC00000u) | (la & 0x3FFFFFu);
        return true;
    }
    if (!read_entry(v, (pde & 0xFFFFF000u) + ((la >> 12) & 1023) * 4, 4, &pte) || !(pte & PTE_P))
        return false;
    *rights &= (unsigned)pte & GMEM_RIGHTS;
    *gpa = (pte & 0xFFFFF000u) | (la & 0xFFFu);
    return true;
}

bool gmem_translate_rights(const struct vmm *v, const struct gmem_cpu *c, uint64_t la,
                           uint64_t *gpa, unsigned *rights)
{
    *rights = GMEM_RIGHTS;
    if (!(c->cr0 & CR0_PG)) {
        *gpa = (uint32_t)la;
        return true;
    }
    if (c->efer & EFER_LMA) return walk64(v, c->cr3 & ADDR_MASK, la, 4, gpa, rights);
    if (!(c->cr4 & CR4_PAE)) return walk32(v, c, (uint32_t)la, gpa, rights);
    uint64_t pdpte; // PAE PDPTEs have no R/W or U/S bits
    uint32_t la32 = (uint32_t)la;
    if (!read_entry(v, (c->cr3 & 0xFFFFFFE0u) + (la32 >> 30) * 8, 8, &pdpte) || !(pdpte & PTE_P))
        return false;
    return walk64(v, pdpte & ADDR_MASK, la32, 2, gpa, rights);
}

bool gmem_translate(const struct vmm *v, const struct gmem_cpu *c, uint64_t la, uint64_t *gpa)
{
    unsigned rights;
    return gmem_translate_rights(v, c, la, gpa, &rights);
}

unsigned gmem_fetch(const struct vmm *v, const struct gmem_cpu *c, uint64_t la, uint8_t *buf,
                    unsigned n)
{
    unsigned got = 0;
    while (got < n) {
        uint64_t gpa;
        if (!gmem_translate(v, c, la + got, &gpa)) break;
        uint64_t in_page = 4096 - ((la + got) & 4095); // the next page may map elsewhere
        for (; got < n && in_page; got++, in_page--, gpa++) {
            if (gpa >= v->ram_size) return got;
            buf[got] = v->ram[gpa];
        }
    }
    return got;
}
