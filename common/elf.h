/* SPDX-License-Identifier: MIT */
/* ELF64 images: the headers the loaders need and one validity check, shared by the kernel
 * (loading init) and libipc (loading servers). */
#pragma once
#include <stdint.h>

struct elf64_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
#define PT_LOAD 1
#define PF_X    1
#define PF_W    2

/* The program headers of a well-formed x86-64 ELF whose PT_LOAD segments lie inside the image
 * and below user_top in ascending order (as the ELF spec requires); NULL otherwise. *phnum
 * gets the number of program headers. */
const struct elf64_phdr *elf_check(const uint8_t *img, uint64_t size, uint64_t user_top,
                                   unsigned *phnum);
