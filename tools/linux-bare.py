#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Linux guest on bare QEMU (no Resurgo): the baseline for `tools/bench.sh linux` and the
proof that the images the build makes (guests/README.md, "Linux guest") boot.

Boots linux-bzImage + linux-initrd.cpio with the command line on qemu-system-x86_64 TCG
(-cpu qemu64, 256 MiB, serial on stdio), waits for the shell prompt, types `uname -r`, checks the
answer is the release the bzImage names, and prints the wall time from starting QEMU to the
prompt and QEMU's CPU time by then: `linux-bare: prompt after S s wall, C s QEMU CPU (...)`.
Exit status 0 only if all of that happened.

  tools/linux-bare.py [--kernel BZIMAGE] [--initrd CPIO] [--cmdline ARGS] [--runs N]
                      [--timeout S] [--log FILE]"""

import argparse
import os
import select
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The command line guests/README.md documents for the Linux guest.
CMDLINE = "console=ttyS0 quiet panic=-1"
# busybox ash with PS1='\w \$ ' in root's home; its line editor may follow the prompt with a
# cursor-position query (ESC [ 6 n) when no input is waiting.
PROMPT = b"~ # "
READY = b"resurgo-guest: shell"
MACHINE = ["-cpu", "qemu64", "-m", "256M", "-display", "none", "-monitor", "none", "-serial", "stdio",
           "-no-reboot"]


def kernel_release(bzimage):
    """The release (`uname -r`) a bzImage names: the first word of the string the setup header's
    kernel_version field points at, relative to 0x200 (Linux boot protocol, Documentation/arch/x86/boot.rst)."""
    data = open(bzimage, "rb").read(0x10000)
    off = int.from_bytes(data[0x20E:0x210], "little") + 0x200
    return data[off:data.index(b"\0", off)].split(b" ")[0].decode()


class Guest:
    """One QEMU run whose serial console is a pair of pipes."""

    def __init__(self, cmd, log):
        self.log = log
        self.buf = b""
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def wait_for(self, pattern, start, deadline):
        """Index just past the first `pattern` in the output at or after `start`; None on time-out or exit."""
        while True:
            i = self.buf.find(pattern, start)
            if i >= 0:
                return i + len(pattern)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if r:
                chunk = os.read(self.p.stdout.fileno(), 65536)
                if not chunk:
                    return None
                self.buf += chunk
                if self.log:
                    self.log.write(chunk)

    def cpu_seconds(self):
        """QEMU's CPU time so far (user + system, all threads): on a busy host a steadier figure
        than wall time, since TCG spends it all on the guest."""
        fields = open(f"/proc/{self.p.pid}/stat").read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def type(self, text):
        self.p.stdin.write(text)
        self.p.stdin.flush()

    def stop(self):
        self.p.kill()
        self.p.wait()


def boot_once(cmd, release, timeout, log):
    """(wall, cpu) seconds from starting QEMU to the prompt, after `uname -r` printed `release`;
    exits on failure."""
    g = Guest(cmd, log)
    try:
        deadline = g.t0 + timeout
        ready = g.wait_for(READY, 0, deadline)
        at = ready is not None and g.wait_for(PROMPT, ready, deadline)
        if not at:
            sys.exit(f"linux-bare: FAILED no shell prompt within {timeout} s\n" + g.buf[-2000:].decode(errors="replace"))
        seconds = time.monotonic() - g.t0, g.cpu_seconds()
        g.type(b"uname -r\n")
        end = g.wait_for(PROMPT, at, time.monotonic() + 30)
        if end is None:
            sys.exit("linux-bare: FAILED no prompt after uname -r\n" + g.buf[at:].decode(errors="replace"))
        # The answer: the lines between the echoed command and the next prompt.
        lines = g.buf[at:end - len(PROMPT)].decode(errors="replace").replace("\r", "").split("\n")
        answer = [l for l in lines[1:] if l.strip()]
        if answer != [release]:
            sys.exit(f"linux-bare: FAILED uname -r printed {answer!r}, expected {release!r}")
        return seconds
    finally:
        g.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernel", default=os.path.join(ROOT, "build/guests/linux/linux-bzImage"))
    p.add_argument("--initrd", default=os.path.join(ROOT, "build/guests/linux/linux-initrd.cpio"))
    p.add_argument("--cmdline", default=CMDLINE)
    p.add_argument("--runs", type=int, default=1, help="boots to time (the median is printed)")
    p.add_argument("--timeout", type=float, default=120, help="seconds to the prompt, per boot")
    p.add_argument("--log", help="append the serial output here")
    a = p.parse_args()
    release = kernel_release(a.kernel)
    cmd = ["qemu-system-x86_64"] + MACHINE + ["-kernel", a.kernel, "-initrd", a.initrd, "-append", a.cmdline]
    log = open(a.log, "ab") if a.log else None
    times = []
    for _ in range(a.runs):
        times.append(boot_once(cmd, release, a.timeout, log))
    wall = " ".join(f"{w:.2f}" for w, _ in times)
    cpu = " ".join(f"{c:.2f}" for _, c in times)
    print(f"linux-bare: prompt after {statistics.median(w for w, _ in times):.2f} s wall, "
          f"{statistics.median(c for _, c in times):.2f} s QEMU CPU (median of {a.runs}; wall {wall}; cpu {cpu}); "
          f"uname -r = {release}; cmdline '{a.cmdline}'")


if __name__ == "__main__":
    main()
