#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Dumps QEMU's DSDT as a C byte array for tests/unit/test_prt.c:
  test_prt_dump.py MACHINE   (pc|q35; SeaBIOS, -m 128M)
Boots QEMU with no disk, saves the guest's RAM with the monitor's pmemsave, finds the RSDP, the
RSDT, the FADT ("FACP") and the DSDT it names (FADT offset 40), and prints the DSDT."""
import os, struct, subprocess, sys, tempfile, time


def ok(b):
    return sum(b) & 0xFF == 0


def main():
    machine = sys.argv[1]
    mem = 128 << 20
    tmp = tempfile.mkdtemp()
    dump = os.path.join(tmp, "mem.bin")
    cmd = ["qemu-system-x86_64", "-machine", machine, "-m", "128M", "-display", "none",
           "-nodefaults", "-monitor", "stdio", "-serial", "none"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    time.sleep(4)
    p.stdin.write(f"pmemsave 0 {mem} \"{dump}\"\n"); p.stdin.flush()
    time.sleep(2)
    p.stdin.write("quit\n"); p.stdin.flush(); p.wait(10)
    m = open(dump, "rb").read()
    rsdp = next(o for o in range(0, len(m) - 36, 16)
                if m[o:o + 8] == b"RSD PTR " and ok(m[o:o + 20]))
    rsdt, = struct.unpack_from("<I", m, rsdp + 16)
    n, = struct.unpack_from("<I", m, rsdt + 4)
    for i in range(36, n, 4):
        e, = struct.unpack_from("<I", m, rsdt + i)
        if m[e:e + 4] == b"FACP":
            dsdt, = struct.unpack_from("<I", m, e + 40)
            ln, = struct.unpack_from("<I", m, dsdt + 4)
            t = m[dsdt:dsdt + ln]
            assert ok(t)
            print(f"/* QEMU {machine} with SeaBIOS, -m 128M: the DSDT at {dsdt:x}, dumped by "
                  f"test_prt_dump.py {machine}. */")
            print(f"static const uint8_t qemu_{machine}_dsdt[{len(t)}] = {{")
            for k in range(0, len(t), 16):
                print("    " + " ".join(f"0x{x:02x}," for x in t[k:k + 16]))
            print("};")
            return
    sys.exit("no FADT")


main()
