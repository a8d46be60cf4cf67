#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks the test guests' images against the contract (guests/README.md): each image starts at
# its entry point (the ELF's first load segment, linked at 0x100000, byte for byte), and
# everything including .bss ends below 2 MiB, well inside the default 4 MiB of RAM.
# usage: check-guest-images.py ELF BIN [ELF BIN ...]
import struct, sys
for elf_path, bin_path in zip(sys.argv[1::2], sys.argv[2::2]):
    elf, img = open(elf_path, 'rb').read(), open(bin_path, 'rb').read()
    is64 = elf[4] == 2
    word = '<Q' if is64 else '<I'
    entry = struct.unpack_from(word, elf, 24)[0]
    phoff = struct.unpack_from(word, elf, 32 if is64 else 28)[0]
    phentsize, phnum = struct.unpack_from('<HH', elf, 54 if is64 else 42)
    loads = []
    for i in range(phnum):
        if is64:
            kind, _, off, _, paddr, filesz, memsz, _ = struct.unpack_from('<IIQQQQQQ', elf, phoff + i * phentsize)
        else:
            kind, off, _, paddr, filesz, memsz, _, _ = struct.unpack_from('<IIIIIIII', elf, phoff + i * phentsize)
        if kind == 1:
            loads.append((paddr, off, filesz, memsz))
    paddr, off, filesz, _ = min(loads)
    end = max(p + m for p, _, _, m in loads)
    ok = (entry == paddr == 0x100000 and 0 < filesz <= len(img)
          and img[:filesz] == elf[off:off + filesz] and end <= 0x200000)
    print(bin_path, 'entry', hex(entry), 'image', len(img), 'bytes, ends at', hex(end), 'ok' if ok else 'BAD')
    if not ok:
        sys.exit(1)
