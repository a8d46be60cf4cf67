// SPDX-License-Identifier: MIT
// Loading an ELF image into another address space: each page of the PT_LOAD segments is filled
// through the creator's scratch mapping, then moved to its place in the child, or, read-only,
// shared from frames filled once (see elf_load.h).
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

/* The union of the rights of the segments covering the page at va (RS_RIGHT_READ at least). */
static unsigned page_rights(const struct elf64_phdr *ph, unsigned n, uint64_t va)
{
    unsigned rights = RS_RIGHT_READ;
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i]) || va < seg_first_page(&ph[i]) || va >= seg_end_page(&ph[i])) continue;
        rights |= ((ph[i].flags & PF_W) ? RS_RIGHT_WRITE : 0) |
                  ((ph[i].flags & PF_X) ? RS_RIGHT_EXEC : 0);
    }
    return rights;
}

/* Makes a frame from `mem` holding the page at `va` of the image (every segment that covers it:
 * a page can hold the end of one segment and the start of the next), written through env's
 * scratch mapping and unmapped from there again. */
static int fill_page(ps_env_t *mem, ps_env_t *env, const uint8_t *img, const struct elf64_phdr *ph,
                     unsigned n, uint64_t va, rs_cptr_t *out)
{
    rs_cptr_t f;
    int err = ps_new_object(mem, RS_OBJ_FRAME, 0, &f);
    if (err) return err;
    err = ps_map_frame(env, env->vspace, f, env->scratch_vaddr, RS_RIGHT_READ | RS_RIGHT_WRITE,
                       RS_ATTR_DEFAULT);
    if (err) return err;
    uint8_t *dst = (uint8_t *)env->scratch_vaddr;
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i]) || va < seg_first_page(&ph[i]) || va >= seg_end_page(&ph[i])) continue;
        uint64_t file_lo = ph[i].vaddr, file_hi = ph[i].vaddr + ph[i].filesz;
        uint64_t lo = va > file_lo ? va : file_lo, hi = va + PAGE < file_hi ? va + PAGE : file_hi;
        if (lo < hi) memcpy(dst + (lo - va), img + ph[i].offset + (lo - file_lo), hi - lo);
    }
    *out = f;
    return ps_frame_unmap(f); // the frame is zero apart from what was copied: Retype zeroes it
}

/* The shared frame for the page at va, or 0. */
static rs_cptr_t shared_frame(const elf_shared_t *sh, const uint8_t *img, uint64_t va,
                              unsigned *rights)
{
    if (!sh || sh->img != img) return 0;
    for (unsigned i = 0; i < sh->n; i++)
        if (sh->vaddr[i] == va) return *rights = sh->rights[i], sh->frame[i];
    return 0;
}

static int load_page(ps_env_t *child, rs_cptr_t child_vspace, ps_env_t *env, const uint8_t *img,
                     const struct elf64_phdr *ph, unsigned n, uint64_t va, const elf_shared_t *sh)
{
    unsigned rights = page_rights(ph, n, va);
    rs_cptr_t f = shared_frame(sh, img, va, &rights);
    int err;
    if (f) { // a copy of the cap: each mapping needs a cap of its own
        rs_cptr_t copy = ps_slot_alloc(child->slots);
        if (!copy) return RS_NOT_ENOUGH_MEMORY;
        if ((err = ps_cnode_copy(child->cnode, copy, PS_DEPTH, env->cnode, f, PS_DEPTH)))
            return err;
        f = copy;
    } else if ((err = fill_page(child, env, img, ph, n, va, &f))) return err;
    return ps_map_frame(child, child_vspace, f, va, rights, RS_ATTR_DEFAULT);
}

int elf_load_shared(ps_env_t *env, const uint8_t *img, const struct elf64_phdr *ph, unsigned n,
                    elf_shared_t *sh)
{
    sh->img = img;
    sh->n = 0;
    uint64_t next = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i])) continue;
        uint64_t first = seg_first_page(&ph[i]), end = seg_end_page(&ph[i]);
        for (uint64_t va = first < next ? next : first; va < end; va += PAGE) {
            unsigned rights = page_rights(ph, n, va);
            if ((rights & RS_RIGHT_WRITE) || sh->n == ELF_SHARED_MAX) continue;
            int err = fill_page(env, env, img, ph, n, va, &sh->frame[sh->n]);
            if (err) return err;
            sh->vaddr[sh->n] = va;
            sh->rights[sh->n++] = rights;
        }
        if (end > next) next = end;
    }
    return RS_OK;
}

int elf_load_image(ps_env_t *child, rs_cptr_t child_vspace, ps_env_t *env, const uint8_t *img,
                   const struct elf64_phdr *ph, unsigned n, const elf_shared_t *shared)
{
    uint64_t next = 0;
    for (unsigned i = 0; i < n; i++) {
        if (!is_load(&ph[i])) continue;
        uint64_t first = seg_first_page(&ph[i]), end = seg_end_page(&ph[i]);
        for (uint64_t va = first < next ? next : first; va < end; va += PAGE) {
            int err = load_page(child, child_vspace, env, img, ph, n, va, shared);
            if (err) return err;
        }
        if (end > next) next = end;
    }
    return RS_OK;
}
