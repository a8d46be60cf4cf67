#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Dumps QEMU's ACPI tables as C byte arrays for tests/unit/test_acpi.c:
  test_acpi_dump.py MACHINE FIRMWARE   (pc|q35, seabios|ovmf)
Boots QEMU with no disk (the firmware builds its tables and finds nothing to boot), saves the
guest's RAM with the monitor's pmemsave, finds the RSDP (checksummed "RSD PTR ") and prints the
RSDP, RSDT/XSDT, MADT ("APIC"), FADT ("FACP") and HPET with their physical addresses."""
import os, struct, subprocess, sys, tempfile, time

def ok(b):
    return sum(b) & 0xFF == 0

def main():
    machine, fw = sys.argv[1], sys.argv[2]
    mem = 128 << 20
    tmp = tempfile.mkdtemp()
    dump = os.path.join(tmp, "mem.bin")
    cmd = ["qemu-system-x86_64", "-machine", machine, "-m", "128M", "-display", "none",
           "-nodefaults", "-monitor", "stdio", "-serial", "none"]
    if fw == "ovmf":
        vars_ = os.path.join(tmp, "vars.fd")
        open(vars_, "wb").write(open("/usr/share/OVMF/OVMF_VARS.fd", "rb").read())
        cmd += ["-drive", "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd",
                "-drive", f"if=pflash,format=raw,file={vars_}"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    time.sleep(40 if fw == "ovmf" else 3)
    p.stdin.write(f"pmemsave 0 {mem} \"{dump}\"\n"); p.stdin.flush()
    time.sleep(2)
    p.stdin.write("quit\n"); p.stdin.flush(); p.wait(10)
    m = open(dump, "rb").read()
    # The firmware's own RSDP (revision 2 under OVMF) wins over QEMU's template copy.
    found = [off for off in range(0, len(m) - 36, 16)
             if m[off:off + 8] == b"RSD PTR " and ok(m[off:off + 20])]
    print("/* RSDPs found at " + " ".join(f"{o:x} (rev {m[o + 15]})" for o in found) + " */")
    found.sort(key=lambda o: -m[o + 15])
    rsdp = found[0] if found else None
    assert rsdp is not None, "no RSDP"
    rev = m[rsdp + 15]
    rlen = 36 if rev >= 2 else 20
    out = [("rsdp", rsdp, m[rsdp:rsdp + rlen])]
    rsdt, = struct.unpack_from("<I", m, rsdp + 16)
    xsdt = struct.unpack_from("<Q", m, rsdp + 24)[0] if rev >= 2 else 0
    def table(pa):
        n, = struct.unpack_from("<I", m, pa + 4)
        return m[pa:pa + n]
    tabs = {}
    for name, pa, esz in (("rsdt", rsdt, 4), ("xsdt", xsdt, 8)):
        if not pa:
            continue
        t = table(pa)
        out.append((name, pa, t))
        for i in range(36, len(t), esz):
            e = int.from_bytes(t[i:i + esz], "little")
            tabs[e] = table(e)
    for pa, t in sorted(tabs.items()):
        sig = t[:4].decode()
        if sig in ("APIC", "FACP", "HPET"):
            out.append(({"APIC": "madt", "FACP": "fadt", "HPET": "hpet"}[sig], pa, t))
    pfx = f"qemu_{machine}_{fw}"
    print(f"/* QEMU {machine} with {fw}, -m 128M: dumped by test_acpi_dump.py {machine} {fw}. */")
    for name, pa, t in out:
        print(f"#define {pfx.upper()}_{name.upper()}_PA 0x{pa:x}")
        print(f"static const uint8_t {pfx}_{name}[{len(t)}] = {{")
        for i in range(0, len(t), 12):
            print("    " + " ".join(f"0x{b:02x}," for b in t[i:i + 12]))
        print("};")

main()
