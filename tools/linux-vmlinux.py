#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Extracts the uncompressed kernel (vmlinux, an ELF) from a bzImage, for a loader that boots it
through the 64-bit entry the way Firecracker boots a vmlinux (servers/init/linux_boot.c).

The bzImage's setup header points at its compressed payload (payload_offset and payload_length,
boot protocol 2.08+, relative to the protected-mode part); Debian's is XZ with the x86 BCJ
filter, followed by the 4-byte little-endian size of the result (the kernel's size_append). The
kernel is not changed: the output has the same PT_LOAD segments (physical and virtual address,
flags, memory size, entry point) with each segment's trailing zero bytes left out of the file
(its memsz stays; a loader zero-fills memsz - filesz), which halves what a boot loader must read.

  linux-vmlinux.py BZIMAGE OUT"""

import lzma
import struct
import sys

PT_LOAD = 1


def payload(b):
    if len(b) < 0x250 or b[0x202:0x206] != b"HdrS":
        sys.exit("linux-vmlinux: not a bzImage (no 'HdrS' setup header)")
    version = struct.unpack_from("<H", b, 0x206)[0]
    if version < 0x208:
        sys.exit(f"linux-vmlinux: boot protocol {version:#x} has no payload_offset (2.08+)")
    setup = ((b[0x1F1] or 4) + 1) * 512
    off, length = struct.unpack_from("<II", b, 0x248)
    data = b[setup + off:setup + off + length]
    if len(data) != length or length < 4:
        sys.exit("linux-vmlinux: payload beyond the end of the bzImage")
    if not data.startswith(b"\xfd7zXZ\x00"):
        sys.exit(f"linux-vmlinux: payload is not XZ (starts {data[:6].hex()})")
    return data


def vmlinux(data):
    d = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
    out = d.decompress(data)
    size = struct.unpack("<I", data[-4:])[0]
    if not d.eof or len(out) != size:
        sys.exit(f"linux-vmlinux: XZ gave {len(out)} bytes, the payload says {size}")
    if out[:4] != b"\x7fELF" or out[4] != 2 or struct.unpack_from("<H", out, 18)[0] != 62:
        sys.exit("linux-vmlinux: the payload is not an x86-64 ELF")
    return out


def compact(elf):
    """The ELF with its PT_LOAD segments only, each without its trailing zeros in the file."""
    entry, phoff = struct.unpack_from("<QQ", elf, 24)
    phentsize, phnum = struct.unpack_from("<HH", elf, 54)
    segs = []
    for i in range(phnum):
        ph = struct.unpack_from("<IIQQQQQQ", elf, phoff + i * phentsize)
        if ph[0] == PT_LOAD:
            typ, flags, off, vaddr, paddr, filesz, memsz, align = ph
            segs.append((flags, vaddr, paddr, elf[off:off + filesz].rstrip(b"\0"), memsz))
    ehdr = bytearray(elf[:64])
    struct.pack_into("<QQQ", ehdr, 24, entry, 64, 0)  # phoff right after; no section headers
    struct.pack_into("<HHHHHH", ehdr, 52, 64, 56, len(segs), 64, 0, 0)
    out, at = bytearray(ehdr), 64 + 56 * len(segs)
    body = bytearray()
    for flags, vaddr, paddr, data, memsz in segs:
        pos = (at + len(body) + 15) & ~15
        body += b"\0" * (pos - at - len(body))
        out += struct.pack("<IIQQQQQQ", PT_LOAD, flags, pos, vaddr, paddr, len(data), memsz, 16)
        body += data
    return bytes(out + body)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        b = f.read()
    with open(sys.argv[2], "wb") as f:
        f.write(compact(vmlinux(payload(b))))


if __name__ == "__main__":
    main()
