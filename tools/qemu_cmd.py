#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The QEMU command line that boots Resurgo, written once: tests/system/run.py imports
qemu_command(); tools/run-qemu.sh runs this file, which prints the command one argument a line.

The machine: an x86-64 CPU with AMD SVM and nested paging (the SVM backend), 256 MiB (--mem), no display,
no reboot (a triple fault ends QEMU). Unless interactive, the monitor is off and the
isa-debug-exit device at port 0xf4 lets the root task's shutdown end QEMU.

  qemu_cmd.py [--interactive] [--gdb] [--icount] [--serial SPEC] [--cmdline ARGS] [--disk IMG]
              (--iso ISO | --kernel ELF [--module NAME=PATH ...])

--disk attaches a raw image as a virtio-blk PCI device (transitional: legacy I/O BAR too), the
disk servers/blk drives."""

import argparse
import sys

QEMU = "qemu-system-x86_64"
MACHINE = ["-cpu", "qemu64,+svm,+npt", "-display", "none", "-no-reboot"]
MEM_MIB = 256  # the default; a Linux guest needs more (--mem)
# Not interactive: no monitor, and a port the kernel's shutdown writes to end QEMU (see
# kernel/arch/x86_64/ioport.c).
BATCH = ["-monitor", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
# UEFI firmware (Debian package ovmf): the code read-only, a writable copy of the variable store.
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"
NIC_MAC = "52:54:00:12:34:56"  # the --nic device's, fixed so a host harness can address it


def firmware_args(firmware, vars_copy=None):
    """QEMU arguments for `firmware`: 'seabios' (QEMU's default BIOS) or 'ovmf' (UEFI, two
    pflash drives; vars_copy: a writable copy of OVMF_VARS.fd, which the caller makes)."""
    if firmware in (None, "seabios"):
        return []
    if firmware != "ovmf" or not vars_copy:
        raise ValueError(f"firmware {firmware!r} (ovmf needs a copy of {OVMF_VARS})")
    return ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={vars_copy}"]


def qemu_command(kernel=None, modules=(), cmdline="", iso=None, serial=("-serial", "mon:stdio"),
                 icount=False, interactive=False, gdb=False, mem_mib=MEM_MIB, machine=None,
                 firmware=(), iso_disk=False, disk=None, disk_if="virtio", nic=None, netdev=None,
                 qmp=None):
    """The command (a list) booting `iso` (a GRUB ISO) or `kernel` with `modules` ((name, path)
    pairs, the first the root task) through QEMU's multiboot loader with `cmdline`. `serial`:
    the arguments giving COM1 its backend. icount: the TSC and timers count guest instructions
    (True: -icount shift=0; a string: -icount STRING, e.g. 'shift=0,sleep=off', where an idle
    guest's clock jumps to its next timer instead of following the host's clock). gdb: wait for gdb on :1234 before the first instruction. mem_mib: the
    machine's RAM. machine: QEMU's -machine (default pc); firmware: firmware_args(); iso_disk: the
    ISO as a raw hard disk (as written to a USB stick) instead of a CD. disk: a raw image attached
    as a virtio-blk PCI device (disk_if "virtio") or as the master of the PIIX's primary IDE
    channel (disk_if "ide"). nic: a NIC model (-device, e.g. virtio-net-pci, e1000) with the
    MAC NIC_MAC, on the backend `netdev` (a -netdev spec without its id, e.g. user or dgram,...).
    qmp: a Unix socket path where QEMU serves QMP (a test flips the NIC's link: set_link net0)."""
    cmd = [QEMU] + MACHINE + ["-m", f"{mem_mib}M"] + ([] if interactive else BATCH) + list(serial)
    cmd += ["-machine", machine] if machine else []
    cmd += list(firmware)
    if icount:
        cmd += ["-icount", icount if isinstance(icount, str) else "shift=0"]
    if iso and iso_disk:
        cmd += ["-drive", f"file={iso},format=raw,media=disk,snapshot=on"]
    elif iso:
        cmd += ["-cdrom", iso]
    else:
        # QEMU's multiboot loader: "path cmdline,path cmdline" (',' doubled).
        mods = ",".join(f"{p.replace(',', ',,')} {n}" for n, p in modules)
        cmd += ["-kernel", kernel] + (["-initrd", mods] if mods else [])
        cmd += ["-append", cmdline] if cmdline else []
    if disk and disk_if == "ide":
        cmd += ["-drive", f"file={disk},format=raw,if=ide,index=0,media=disk"]
    elif disk:
        cmd += ["-drive", f"file={disk},format=raw,if=none,id=disk0",
                "-device", "virtio-blk-pci,drive=disk0"]
    if nic:
        cmd += ["-netdev", f"{netdev or 'user'},id=net0",
                "-device", f"{nic},netdev=net0,mac={NIC_MAC}"]
    if qmp:
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    if gdb:
        cmd += ["-s", "-S"]
    return cmd


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--interactive", action="store_true",
                   help="keep the monitor (Ctrl-A C) and leave out the debug-exit device")
    p.add_argument("--gdb", action="store_true", help="wait for gdb on :1234")
    p.add_argument("--icount", action="store_true", help="-icount shift=0")
    p.add_argument("--mem", type=int, default=MEM_MIB, metavar="MIB", help="the machine's RAM")
    p.add_argument("--serial", default="mon:stdio", metavar="SPEC", help="-serial SPEC")
    p.add_argument("--cmdline", default="", metavar="ARGS", help="kernel command line")
    p.add_argument("--iso", metavar="ISO", help="boot a GRUB ISO")
    p.add_argument("--kernel", metavar="ELF")
    p.add_argument("--module", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--disk", metavar="IMG", help="a raw image as a virtio-blk PCI disk")
    p.add_argument("--nic", metavar="MODEL", help="a NIC (-device MODEL), e.g. virtio-net-pci")
    p.add_argument("--netdev", metavar="SPEC", help="the NIC's backend, e.g. user,hostfwd=...")
    a = p.parse_args()
    if not a.iso and not a.kernel:
        p.error("--iso or --kernel")
    modules = []
    for m in a.module:
        name, sep, path = m.partition("=")
        if not sep or not name or not path:
            p.error(f"bad --module {m!r}: want NAME=PATH")
        modules.append((name, path))
    cmd = qemu_command(a.kernel, modules, a.cmdline, a.iso, ["-serial", a.serial], a.icount,
                       a.interactive, a.gdb, a.mem, disk=a.disk, nic=a.nic, netdev=a.netdev)
    sys.stdout.write("".join(arg + "\n" for arg in cmd))


if __name__ == "__main__":
    main()
