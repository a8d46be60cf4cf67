#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/bench.sh linux: Debian's Linux from power-on to its shell prompt under Resurgo's VMM
(tests/system/linux/linux.manifest, QEMU TCG with SVM) against the same bzImage, initramfs and
command line on bare qemu-system-x86_64 TCG (tools/linux-bare.py), both in one run, as a ratio;
the VMM's exits per second by reason during the boot (init's `exits` command); and the VMM's
memory beyond guest RAM (its image, stack and persistent pages).

Wall-clock figures: the machine's load moves them; run it on a quiet machine, several times.
Prints `bench:` lines."""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/system"))
sys.path.insert(0, str(ROOT / "tests/system/linux"))
import run  # noqa: E402
from linux import Guest, PROMPT  # noqa: E402

B = ROOT / "build"  # --build overrides it
MANIFEST = ROOT / "tests/system/linux/linux.manifest"


def manifest_cmdline():
    for line in MANIFEST.read_text().splitlines():
        m = re.search(r"\bcmdline=(.*)$", line)
        if m and not line.lstrip().startswith("#"):
            return m.group(1).strip()
    sys.exit("bench: FAILED no cmdline= in " + str(MANIFEST))


def bare(cmdline):
    out = subprocess.run([sys.executable, str(ROOT / "tools/linux-bare.py"), "--cmdline", cmdline,
                          "--kernel", str(B / "guests/linux/linux-bzImage"),
                          "--initrd", str(B / "guests/linux/linux-initrd.cpio")],
                         capture_output=True, text=True)
    m = re.search(r"prompt after ([\d.]+) s wall", out.stdout)
    if out.returncode or not m:
        sys.exit(f"bench: FAILED bare boot\n{out.stdout}{out.stderr}")
    return float(m.group(1))


def resurgo():
    a = argparse.Namespace(emu="qemu", kernel=str(B / "kernel/resurgo.elf"), cmdline="", iso=False,
                           icount=False, send=["console"], mem=1024,
                           modules=[("init", str(B / "servers/init/init.elf")),
                                    ("manifest", str(MANIFEST)),
                                    ("vmm", str(B / "servers/vmm/vmm.elf")),
                                    ("linux-bzImage", str(B / "guests/linux/linux-bzImage")),
                                    ("linux-initrd", str(B / "guests/linux/linux-initrd.cpio"))])
    with tempfile.TemporaryDirectory(prefix="resurgo-bench-") as tmp:
        log = os.path.join(tmp, "serial.log")
        open(log, "w").close()
        t0 = time.monotonic()
        proc = run.start_emulator(a, tmp, log)
        g = Guest(a, proc, log)
        try:
            if g.wait(r"type 'help' for the shell", 120, raw=True) is None:
                sys.exit("bench: FAILED init did not start\n" + g.text)
            g.type("attach linux\r")
            if g.wait(re.escape(PROMPT), 600) is None:
                sys.exit("bench: FAILED no prompt\n" + g.text)
            wall = time.monotonic() - t0
            started = re.search(r"\[init\] t=(\d+) linux: kernel .* started", g.raw)
            g.type("\x1d")
            g.type("exits linux\r")
            if g.wait(r"exits linux:[^\n]*total \d+", 30, raw=True) is None:
                sys.exit("bench: FAILED no exit counts\n" + g.text)
            counts = re.findall(r"exits linux:([^\n]*) total (\d+)", g.raw)[-1]
            prompt_ms = re.findall(r"\[init\] t=(\d+) ", g.raw)[-1]
        finally:
            run.stop(proc, "qemu")
    boot_s = (int(prompt_ms) - int(started.group(1))) / 1000 if started else wall
    by_reason = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", counts[0]))
    return wall, boot_s, by_reason, int(counts[1])


def vmm_memory():
    """Bytes the VMM holds beyond guest RAM: its ELF's loadable segments (text, data, bss, as
    init maps them), its stack and persistent pages (servers/init/supervisor.c)."""
    out = subprocess.run(["size", "-A", str(B / "servers/vmm/vmm.elf")], capture_output=True,
                         text=True).stdout
    image = sum(int(n) for name, n in re.findall(r"^(\.\S+)\s+(\d+)", out, re.M)
                if name in (".text", ".rodata", ".data", ".bss"))
    return image + 8 * 4096 + 4096  # init gives every server 8 stack pages and an IPC buffer


def main():
    global B
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--build", default=str(B), help="the meson build directory")
    a = p.parse_args()
    B = Path(a.build).resolve()
    cmdline = manifest_cmdline()
    bare_s = statistics.median(bare(cmdline) for _ in range(a.runs))
    runs = [resurgo() for _ in range(a.runs)]
    ours_s = statistics.median(r[0] for r in runs)
    wall, boot_s, by_reason, total = runs[len(runs) // 2]
    print(f"bench: linux power-on to prompt: resurgo {ours_s:.1f} s, bare qemu TCG {bare_s:.1f} s, "
          f"ratio {ours_s / bare_s:.2f} (median of {a.runs}; cmdline '{cmdline}')")
    rates = ", ".join(f"{k} {v / boot_s:.0f}/s" for k, v in
                      sorted(by_reason.items(), key=lambda kv: -kv[1]))
    print(f"bench: linux exits during boot ({boot_s:.1f} s from the VM's start): {total} "
          f"({total / boot_s:.0f}/s): {rates}")
    print(f"bench: vmm memory beyond guest RAM: {vmm_memory() / 1024:.0f} KiB (image text+rodata+"
          f"data+bss, 8 stack pages, IPC buffer) + 4 KiB persistent state + page tables")
    print("bench: done")


if __name__ == "__main__":
    main()
