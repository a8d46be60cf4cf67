/* SPDX-License-Identifier: MIT */
/* Loading an ELF image (checked with common/elf.h's elf_check) into a new address space: how
 * many frames it needs, and copying its segments into fresh frames mapped there. */
#pragma once
#include <stdint.h>
#include "elf.h"
#include "env.h"

/* Pages the PT_LOAD segments ph[0..n) occupy (ascending, as elf_check guarantees); a page shared
 * by two adjacent segments counts once. */
uint64_t elf_load_page_count(const struct elf64_phdr *ph, unsigned n);
/* Read-only pages of an image filled once (elf_load_shared) and mapped into every process made
 * from it: a restart then neither zeroes nor copies them, and no instance can change them. */
#define ELF_SHARED_MAX 64
typedef struct elf_shared {
    const uint8_t *img; /* the image they were filled from */
    unsigned n;
    uint64_t vaddr[ELF_SHARED_MAX];
    rs_cptr_t frame[ELF_SHARED_MAX]; /* env's caps (never mapped anywhere themselves) */
    unsigned rights[ELF_SHARED_MAX]; /* RS_RIGHT_READ, | RS_RIGHT_EXEC for text */
} elf_shared_t;

/* Fills a frame from env for each page of img's PT_LOAD segments that no writable segment
 * covers (the first ELF_SHARED_MAX such pages; the rest stay per process). Errors as
 * elf_load_image; on error the frames made so far stay recorded in *sh (usable as they are). */
int elf_load_shared(ps_env_t *env, const uint8_t *img, const struct elf64_phdr *ph, unsigned n,
                    elf_shared_t *sh);
/* Copies the PT_LOAD segments of img into new frames from `child` (zero beyond filesz), mapped
 * in child_vspace at their vaddr with the union of the rights of the segments on each page.
 * Each page is written through env->scratch_vaddr in env's VSpace and unmapped from there
 * again. A page `shared` (may be NULL) holds for img is mapped from a copy of its frame cap (a
 * slot from `child`) instead, without the write right. Errors: those of ps_new_object,
 * ps_map_frame and Frame_Unmap; what was made so far is left to the caller (ps_process_create
 * destroys the process). */
int elf_load_image(ps_env_t *child, rs_cptr_t child_vspace, ps_env_t *env, const uint8_t *img,
                   const struct elf64_phdr *ph, unsigned n, const elf_shared_t *shared);
