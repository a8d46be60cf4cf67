// SPDX-License-Identifier: MIT
// Loading an ELF image into another address space: each page of the PT_LOAD segments is filled
// through the creator's scratch mapping, then moved to its place in the child (see elf_load.h).
#include "elf_load.h"
#include "invoke_stubs.h"
#include "map.h"
#include "kstring.h"

#define PAGE RS_PAGE_SIZE

static bool is_load(const struct elf64_phdr *ph) { return ph->type == PT_LOAD && ph->memsz; }
static uint64_t seg_first_page(const struct elf64_phdr *ph) { return ph->vaddr & ~(PAGE - 1); }
static uint64_t seg_end_page(const struct elf64_phdr *ph)
{
    return (ph->vaddr + ph->memsz + PAGE - 1) & ~(PAGE - 1);
}

uint64_t elf_load_page_count(const struct elf64_phdr *ph, unsigned n)
{
    uint64_t count = 0, next = 0; // segments ascend: pages below `next` are counted already
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i])) continue;
        uint64_t first = seg_first_page(&ph[i]), end = seg_end_page(&ph[i]);
        if (first < next) first = next;
        if (end > first) count += (end - first) / PAGE, next = end;
    }
    return count;
}

/* Fills the page at `va` of the child from every segment that covers it (a page can hold the
 * end of one segment and the start of the next), then maps it with the union of their rights. */
static int load_page(ps_env_t *child, rs_cptr_t child_vspace, ps_env_t *env, const uint8_t *img,
                     const struct elf64_phdr *ph, unsigned n, uint64_t va)
{
    rs_cptr_t f;
    int err = ps_new_object(child, RS_OBJ_FRAME, 0, &f);
    if (err) return err;
    err = ps_map_frame(env, env->vspace, f, env->scratch_vaddr, RS_RIGHT_READ | RS_RIGHT_WRITE,
                       RS_ATTR_DEFAULT);
    if (err) return err;
    uint8_t *dst = (uint8_t *)env->scratch_vaddr;
    unsigned rights = RS_RIGHT_READ;
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i]) || va < seg_first_page(&ph[i]) || va >= seg_end_page(&ph[i])) continue;
        rights |= ((ph[i].flags & PF_W) ? RS_RIGHT_WRITE : 0) |
                  ((ph[i].flags & PF_X) ? RS_RIGHT_EXEC : 0);
        uint64_t file_lo = ph[i].vaddr, file_hi = ph[i].vaddr + ph[i].filesz;
        uint64_t lo = va > file_lo ? va : file_lo, hi = va + PAGE < file_hi ? va + PAGE : file_hi;
        if (lo < hi) memcpy(dst + (lo - va), img + ph[i].offset + (lo - file_lo), hi - lo);
    }
    err = ps_frame_unmap(f); // the frame is zero apart from what was copied: Retype zeroes it
    if (err) return err;
    return ps_map_frame(child, child_vspace, f, va, rights, RS_ATTR_DEFAULT);
}

int elf_load_image(ps_env_t *child, rs_cptr_t child_vspace, ps_env_t *env, const uint8_t *img,
                   const struct elf64_phdr *ph, unsigned n)
{
    uint64_t next = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i])) continue;
        uint64_t first = seg_first_page(&ph[i]), end = seg_end_page(&ph[i]);
        for (uint64_t va = first < next ? next : first; va < end; va += PAGE) {
            int err = load_page(child, child_vspace, env, img, ph, n, va);
            if (err) return err;
        }
        if (end > next) next = end;
    }
    return RS_OK;
}
