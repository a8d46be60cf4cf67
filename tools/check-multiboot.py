#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Checks the kernel image for the multiboot a.out kludge: QEMU and GRUB's multiboot 1 loader copy
# the file from (header offset - (header_addr - load_addr)) to load_addr as one flat block, so
# every loadable segment's file offset must sit at the same distance from its physical address.
import struct, sys

data = open(sys.argv[1], 'rb').read()
if data[:4] != b'\x7fELF' or data[4] != 2:
    sys.exit('not an ELF64 file')
phoff, = struct.unpack_from('<Q', data, 0x20)
phentsize, phnum = struct.unpack_from('<HH', data, 0x36)
for off in range(0, min(len(data), 8192) - 32, 4):
    magic, flags, cksum = struct.unpack_from('<III', data, off)
    if magic == 0x1BADB002 and (magic + flags + cksum) & 0xFFFFFFFF == 0:
        header_addr, load_addr, load_end, bss_end, entry = struct.unpack_from('<5I', data, off + 12)
        break
else:
    sys.exit('no multiboot 1 header in the first 8 KiB')
delta = off - (header_addr - load_addr) - load_addr  # file offset = paddr + delta
bad = 0
for i in range(phnum):
    p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz = struct.unpack_from(
        '<IIQQQQQ', data, phoff + i * phentsize)
    if p_type != 1 or p_filesz == 0:
        continue
    if p_offset - p_paddr != delta:
        print(f'segment {i}: offset {p_offset:#x} paddr {p_paddr:#x}: not at file offset paddr{delta:+#x}')
        bad += 1
    if p_paddr + p_filesz > load_end:
        print(f'segment {i} ends past load_end_addr {load_end:#x}')
        bad += 1
if not (load_addr <= entry < load_end):
    print(f'entry {entry:#x} outside the loaded image')
    bad += 1
print(f'multiboot header at {off:#x}, load {load_addr:#x}-{load_end:#x}, bss end {bss_end:#x}, entry {entry:#x}')
print('1 passed, 0 failed' if not bad else '0 passed, 1 failed')
sys.exit(1 if bad else 0)
