// SPDX-License-Identifier: MIT
// ELF64 image checks shared by the kernel and libipc: every bound a hostile or broken image could
// break is checked before a loader touches a segment.
#include "elf.h"
#include "kstring.h"

const struct elf64_phdr *elf_check(const uint8_t *img, uint64_t size, uint64_t user_top,
                                   unsigned *phnum)
{
    const struct elf64_ehdr *eh = (const void *)img;
    if (!img || size < sizeof(*eh) ||
        memcmp(eh->ident,
               "\x7f"
               "ELF",
               4) ||
        eh->ident[4] != 2 || eh->machine != 62 || eh->phentsize != sizeof(struct elf64_phdr))
        return 0;
    if (eh->phoff > size || eh->phnum > (size - eh->phoff) / sizeof(struct elf64_phdr)) return 0;
    const struct elf64_phdr *ph = (const void *)(img + eh->phoff);
    uint64_t prev_end = 0;
    for (unsigned i = 0; i < eh->phnum; i++) {
        if (ph[i].type != PT_LOAD || !ph[i].memsz) continue;
        if (ph[i].offset > size || ph[i].filesz > size - ph[i].offset ||
            ph[i].filesz > ph[i].memsz || ph[i].vaddr >= user_top ||
            ph[i].memsz > user_top - ph[i].vaddr || ph[i].vaddr < prev_end)
            return 0;
        prev_end = ph[i].vaddr + ph[i].memsz;
    }
    *phnum = eh->phnum;
    return ph;
}
