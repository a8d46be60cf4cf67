#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The whole disk benchmark of issue 11 in one run (tools/bench.sh disk): a native client raw
through servers/blk's channel and through servers/fs -> blk (bench/disk/main.c), on QEMU's
virtio-blk and on its PIIX IDE disk (blk's ATA backend), each in its own boot on a fresh 64 MiB
image, wall clock; then the Linux guest's dd through VMM -> fs (filedisk) -> blk against the same
guest kernel on bare QEMU with its own virtio-blk (tools/bench-guest.py disk). At the end one
table of every figure with its ratio (through the stack / raw, Resurgo / bare), and the load
average before each boot (the figures are wall clock on a shared machine). MB = 10^6 bytes.
--icount adds the native part under -icount shift=0 (CPU work only: docs/benchmarks.md).
--smoke: the -DSMOKE clients (1 MiB, 64 random operations), virtio only, the guest's 1 MiB once:
that everything runs and prints (the suite's bench-disk-all-runs). Exit status 0 only if every
boot finished and every figure of the table was printed.
usage: bench-disk.py [--smoke] [--icount] [--ifaces virtio,ide] [--no-linux] [--build DIR]
                     [--size MIB] [--reps N] [--fs-before ELF] [--log DIR]"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# (row, unit, the fs client's label, the raw client's label)
NATIVE = [
    ("sequential write (+fsync), 64 KiB calls", "MB/s",
     "fs window sequential write (+fsync)", "raw blk sequential write"),
    ("sequential write (+fsync), 256 KiB calls", "MB/s",
     "fs window sequential write (+fsync), 256 KiB calls", "raw blk sequential write"),
    ("sequential read, 64 KiB calls", "MB/s",
     "fs window sequential read", "raw blk sequential read"),
    ("sequential read, 256 KiB calls", "MB/s",
     "fs window sequential read, 256 KiB calls", "raw blk sequential read"),
    ("4 KiB random read, QD1", "IOPS",
     "fs window 4 KiB random read", "raw blk 4 KiB random read QD1"),
    ("4 KiB random write, QD1 (fs: +1 fsync)", "IOPS",
     "fs window 4 KiB random write (+1 fsync)", "raw blk 4 KiB random write QD1"),
]
LINE = re.compile(r"^bench: disk (.+?): ([0-9.]+) (MB/s|IOPS)")


def load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def boot(b, log, modules, disk, icount, timeout):
    """One boot through tests/system/run.py: {label: value} of its `bench: disk` lines, or None
    if it did not print `bench: done`."""
    args = [sys.executable, str(ROOT / "tests/system/run.py"), "--timeout", str(timeout),
            "--no-checks", "--expect", "^bench: done", "--log", log,
            "--kernel", str(b / "kernel/resurgo.elf")] + disk
    if icount:
        args.append("--icount")
    for m in modules:
        args += ["--module", m]
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    text = Path(log).read_text(errors="replace") if os.path.exists(log) else ""
    figures = {}
    for line in text.splitlines():
        line = line.strip("\r")
        m = LINE.match(line)
        if line.startswith("bench: disk"):
            print(line, flush=True)
        if m:
            figures[m.group(1)] = float(m.group(2))
        if line.startswith("bench: FAILED"):
            print(line)
    for pat in (r"^fs: blk: .* waits for blk", r"^blk: instance .* requests served",
                r"^blk: instance .* at the device at once"):  # their own counts, the last of each
        last = [x.strip("\r") for x in text.splitlines() if re.match(pat, x)]
        if last:
            print(f"bench: ({last[-1]})")
    if r.returncode != 0:
        print(r.stdout[-2000:])
        return None
    return figures


def native(a, tmp, clock):
    """Raw and through fs on each interface: {ifc: (raw figures, fs figures)}."""
    b = a.build
    src = os.path.join(tmp, "src.img")
    img = os.path.join(tmp, "run.img")
    if not os.path.exists(src):
        subprocess.run([str(ROOT / "tests/system/fs/mkimage.sh"), src, "64"], check=True,
                       stdout=subprocess.DEVNULL)
    suffix = "-smoke" if a.smoke else ""
    srv = [f"init={b / 'servers/init/init.elf'}", f"blk={b / 'servers/blk/blk.elf'}"]
    out = {}
    for ifc in a.ifaces:
        raw_man = ROOT / ("bench/disk/manifest-raw-ata.txt" if ifc == "ide" else
                          "bench/disk/manifest-raw.txt")
        fs_man = os.path.join(tmp, f"manifest-fs-{ifc}.txt")
        text = (ROOT / "bench/disk/manifest-fs.txt").read_text()
        if ifc == "ide":
            text = text.replace("device=virtio-blk dma=16", "device=ata dma=4")
        Path(fs_man).write_text(text)
        runs = {}
        for kind, man, extra, disk in (
                ("raw", raw_man, [f"benchdisk={b / f'bench/bench-disk-raw{suffix}.elf'}"],
                 ["--disk", img, "--disk-size", "64", "--disk-if", ifc]),
                ("fs", fs_man, [f"fs={a.fs or b / 'servers/fs/fs.elf'}",
                                f"benchdisk={b / f'bench/bench-disk-fs{suffix}.elf'}"],
                 ["--disk", img, "--disk-image", src, "--disk-if", ifc])):
            print(f"bench: disk [{ifc}, {clock}, {kind}] load {load()} before the boot", flush=True)
            log = os.path.join(a.log or tmp, f"disk-{ifc}-{clock}-{kind}.log")
            runs[kind] = boot(b, log, srv + [f"manifest={man}"] + extra, disk, clock == "icount",
                              a.timeout)
            if runs[kind] is None:
                print(f"bench: FAILED the {kind} boot on {ifc} ({clock}) did not finish: {log}")
        out[ifc] = (runs["raw"], runs["fs"])
    return out


def fmt(x):
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 100 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def ratio(x, y):
    return f"{x / y:.2f}" if x is not None and y else "-"


def linux(a, tmp):
    """tools/bench-guest.py disk: {(what, side): MB/s}, its lines echoed; None if it failed."""
    args = [sys.executable, str(ROOT / "tools/bench-guest.py"), "disk", "--build", str(a.build)]
    if a.smoke:
        args.append("--smoke")
    if a.size:
        args += ["--size", str(a.size)]
    if a.reps:
        args += ["--reps", str(a.reps)]
    for x in a.fs_before or []:
        args += ["--fs-before", x]
    if a.log:
        args += ["--log", os.path.join(a.log, "disk-linux.log")]
    print(f"bench: disk [linux] load {load()} before", flush=True)
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    fig = {}
    pat = re.compile(r"^bench: disk linux dd sequential (write|read) .*?: (\S+) ([0-9.]+|-) MB/s, "
                     r"bare qemu TCG ([0-9.]+|-) MB/s")
    for line in r.stdout.splitlines():
        if line.startswith("bench:") and line != "bench: done":
            print(line, flush=True)
        m = pat.match(line)
        if m:
            num = lambda s: None if s == "-" else float(s)
            fig[(m.group(1), m.group(2))] = num(m.group(3))
            fig[(m.group(1), "bare")] = num(m.group(4))
    if r.returncode != 0:
        print(r.stdout[-3000:])
        print("bench: FAILED the Linux part (tools/bench-guest.py disk)")
        return None
    return fig


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="small sizes, virtio only: that it runs")
    p.add_argument("--icount", action="store_true", help="also the native part under -icount")
    p.add_argument("--ifaces", help="native part: virtio,ide (--smoke: virtio)")
    p.add_argument("--no-linux", action="store_true", help="without the Linux guest's dd")
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--fs", help="fs's ELF (default BUILD/servers/fs/fs.elf; the guest's too)")
    p.add_argument("--size", type=int, help="the guest's dd: MiB (16; --smoke 1)")
    p.add_argument("--reps", type=int, help="the guest's dd: rounds, the median (3; --smoke 1)")
    p.add_argument("--fs-before", action="append", metavar="ELF",
                   help="the guest's dd: also under this fs first (tools/bench-guest.py)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per native boot")
    p.add_argument("--log", help="a directory for every boot's log (default: a temporary one)")
    a = p.parse_args()
    a.build = Path(a.build).resolve()
    a.ifaces = (a.ifaces or ("virtio" if a.smoke else "virtio,ide")).split(",")
    if a.log:
        os.makedirs(a.log, exist_ok=True)
    ok = True
    with tempfile.TemporaryDirectory(prefix="resurgo-bench-disk-") as tmp:
        clocks = (["icount"] if a.icount else []) + ["wall"]
        nat = {c: native(a, tmp, c) for c in clocks}
        lin = None if a.no_linux else linux(a, tmp)
    print("bench: disk summary: through the stack against raw blk (native) or bare QEMU (Linux "
          "guest), one run, wall clock" + (" (smoke sizes)" if a.smoke else ""))
    for clock in clocks:
        for ifc in a.ifaces:
            raw, fs = nat[clock][ifc]
            ok &= raw is not None and fs is not None
            for row, unit, fl, rl in NATIVE:
                x = fs.get(fl) if fs else None
                y = raw.get(rl) if raw else None
                ok &= x is not None and y is not None
                print(f"bench: disk summary [{ifc}, {clock}] {row}, {unit}: raw blk {fmt(y)}, "
                      f"fs -> blk {fmt(x)}, ratio {ratio(x, y)}")
    if not a.no_linux:
        ok &= lin is not None
        for what, label in (("write", "dd write (conv=fsync)"), ("read", "dd read (after drop_caches)")):
            sides = sorted({s for (w, s) in (lin or {}) if w == what and s != "bare"},
                           key=lambda s: s != "resurgo")
            y = (lin or {}).get((what, "bare"))
            for side in sides or ["resurgo"]:
                x = (lin or {}).get((what, side))
                ok &= x is not None and y is not None
                print(f"bench: disk summary [linux] {label}, MB/s: bare QEMU {fmt(y)}, {side} "
                      f"(VMM -> fs -> blk) {fmt(x)}, ratio {ratio(x, y)}")
    print(f"bench: disk summary: load {load()} at the end")
    if not ok:
        print("bench: FAILED a figure is missing (see above)")
        return 1
    print("bench: done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
