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
/* Copies the PT_LOAD segments of img into new frames from `child` (zero beyond filesz), mapped
 * in child_vspace at their vaddr with the union of the rights of the segments on each page.
 * Each page is written through env->scratch_vaddr in env's VSpace and unmapped from there
 * again. Errors: those of ps_new_object, ps_map_frame and Frame_Unmap; what was made so far is
 * left to the caller (ps_process_create destroys the process). */
int elf_load_image(ps_env_t *child, rs_cptr_t child_vspace, ps_env_t *env, const uint8_t *img,
                   const struct elf64_phdr *ph, unsigned n);
