#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Synthetic Linux boot images for tests/system/linuxboot: a bzImage around a flat 32-bit
program (its protected-mode part), good or broken on purpose, and test initrds.

  mkbzimage.py bzimage FLAT OUT good|truncated|magic|sects|old|cmdline16
  mkbzimage.py initrd OUT SIZE

The header is a boot protocol 2.15 one as Debian's kernel has (relocatable, 2 MiB alignment,
cmdline_size 2047, initrd_addr_max 0x7fffffff), with 4 setup sectors, pref_address 1 MiB and
init_size 1 MiB. Broken: `truncated` ends halfway through the protected-mode part, `magic` has
"HdrZ" for "HdrS", `sects` says 200 setup sectors, `old` is protocol 2.05; `cmdline16` is good
but takes command lines of at most 16 bytes. An initrd is a text
line padded to 32 bytes, then the bytes (i * 13 + 5) & 0xFF (i: the offset), SIZE bytes in all."""

import struct
import sys

SETUP_SECTS = 4


def bzimage(flat, variant):
    setup = bytearray((SETUP_SECTS + 1) * 512)
    setup[0x1F1] = 200 if variant == "sects" else SETUP_SECTS
    struct.pack_into("<I", setup, 0x1F4, (len(flat) + 15) // 16)   # syssize
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)                    # boot_flag
    setup[0x200:0x202] = b"\xeb\x66"                                # jump: header ends at 0x268
    setup[0x202:0x206] = b"HdrZ" if variant == "magic" else b"HdrS"
    struct.pack_into("<H", setup, 0x206, 0x0205 if variant == "old" else 0x020F)
    setup[0x211] = 0x01                                             # loadflags: LOADED_HIGH
    struct.pack_into("<I", setup, 0x214, 0x100000)                  # code32_start
    struct.pack_into("<I", setup, 0x22C, 0x7FFFFFFF)                # initrd_addr_max
    struct.pack_into("<I", setup, 0x230, 0x200000)                  # kernel_alignment
    setup[0x234] = 1                                                # relocatable_kernel
    setup[0x235] = 21                                               # min_alignment
    struct.pack_into("<I", setup, 0x238, 16 if variant == "cmdline16" else 2047)  # cmdline_size
    struct.pack_into("<Q", setup, 0x258, 0x100000)                  # pref_address
    struct.pack_into("<I", setup, 0x260, 0x100000)                  # init_size
    image = bytes(setup) + flat
    if variant == "truncated":
        image = image[:len(setup) + len(flat) // 2]
    return image


def initrd(size):
    data = bytearray((i * 13 + 5) & 0xFF for i in range(size))
    head = b"resurgo test initrd\n".ljust(32, b"\0")
    data[:min(size, 32)] = head[:size]
    return bytes(data)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "bzimage":
        flat = open(sys.argv[2], "rb").read()
        out = bzimage(flat, sys.argv[4])
        if sys.argv[4] not in ("good", "truncated", "magic", "sects", "old", "cmdline16"):
            sys.exit(f"unknown variant {sys.argv[4]}")
        open(sys.argv[3], "wb").write(out)
    elif len(sys.argv) == 4 and sys.argv[1] == "initrd":
        open(sys.argv[2], "wb").write(initrd(int(sys.argv[3])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
