#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""system-linux-bochs: linux.py's Linux guest test under Bochs (Intel VMX with EPT).

Bochs' COM1 in run.py's configuration writes to a file and takes no input, and linux.py types
into the console. So this harness gives Bochs' COM1 a pseudo-terminal instead (com1 mode=term):
a thread copies everything the guest's UART sends into the log (a.log), which linux.py's Guest
reads as under Bochs, and typing writes to the terminal (Bochs' VGA screen, a terminal of its
own, is read away too: drain_screen). Everything else (the checks, the verdict) is linux.py's:
the same arguments, `--emu bochs` implied. With a linux-vmlinux module the bzImage module stays
out of the ISO: it only names the release `uname -r` must print.

  bochs.py [--ips N] --kernel K --module NAME=PATH ... --log L [--timeout S] [--checks ...]

--ips sets Bochs' instructions per emulated second (cpu: ips=; Bochs' default is 4 M). Bochs'
clock (sync=none) is its instruction count: the TSC, the PIT and the LAPIC timer all run at
`ips` instructions per emulated second, so at 4 M a Linux guest's 250 Hz tick comes every 16000
instructions, fewer than taking the tick through VM exits costs (docs/virtualization.md)."""

import os
import re
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import linux  # noqa: E402
import run  # noqa: E402


class Terminal:
    """The host side of Bochs' COM1: what the guest sends goes into `log` (a thread drains the
    terminal at once, so the guest's UART never waits for the harness); sendall types."""

    def __init__(self, log):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)  # bytes pass unchanged both ways (no echo, no CR/LF mapping)
        self.path = os.ttyname(self.slave)
        self.reader = threading.Thread(target=self._drain, args=(open(log, "wb"),), daemon=True)

    def _drain(self, out):
        with out:
            while True:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # EIO: every descriptor of the slave side is closed
                    break
                if not chunk:
                    break
                out.write(chunk)
                out.flush()

    def sendall(self, data):
        os.write(self.master, data)

    def join(self, timeout):
        """After Bochs stopped: closing our slave descriptor ends the reader at the end of the
        data."""
        if self.slave is not None:
            os.close(self.slave)
            self.slave = None
        self.reader.join(timeout)


def drain_screen(out_path, proc):
    """Bochs' term display with its debugger (Debian's build) draws the VGA screen on a
    pseudo-terminal of its own ('Bochs connected to screen "/dev/pts/N"' in its output) whose
    other side nobody opens: after some 4 KB of screen updates (init's console is mirrored on
    VGA) Bochs would block writing to it. This thread opens that terminal and reads it away."""
    def run_():
        rx = re.compile(rb'connected to screen "(/dev/pts/\d+)"')
        while proc.poll() is None:
            try:
                m = rx.search(Path(out_path).read_bytes())
            except OSError:
                m = None
            if m:
                break
            time.sleep(0.2)
        else:
            return
        try:
            fd = os.open(m.group(1).decode(), os.O_RDONLY | os.O_NOCTTY)
        except OSError as e:
            print(f"bochs.py: cannot open Bochs' screen {m.group(1).decode()}: {e}")
            return
        while True:
            try:
                if not os.read(fd, 65536):
                    break
            except OSError:
                break
        os.close(fd)

    threading.Thread(target=run_, daemon=True).start()


def start(a, tmp):
    """linux.start for Bochs: run.py's Bochs configuration with COM1 on a terminal."""
    term = Terminal(a.log)
    # the bzImage is there for its release (linux.main read it): the guest boots its vmlinux, so
    # GRUB need not load 8 MB more under Bochs
    if any(n == "linux-vmlinux" for n, _ in a.modules):
        a.modules = [(n, q) for n, q in a.modules if n != "linux-bzImage"]
    iso = run.make_iso(a, tmp)
    a.bochslog = a.log + ".bochs.log"
    rc = run.BOCHSRC.format(iso=iso, log=os.path.abspath(a.log), bochslog=a.bochslog, mem=a.mem,
                            disk="", cdrom="ata0-master")
    rc = rc.replace(f"com1: enabled=1, mode=file, dev={os.path.abspath(a.log)}",
                    f"com1: enabled=1, mode=term, dev={term.path}")
    if term.path not in rc:
        sys.exit("bochs.py: run.BOCHSRC has no 'com1: ... mode=file' line to replace")
    if IPS:
        rc = rc.replace("cpu: model=", f"cpu: ips={IPS}, model=")
    with open(os.path.join(tmp, "bochsrc"), "w") as f:
        f.write(rc)
    with open(os.path.join(tmp, "rc.txt"), "w") as f:
        f.write("c\n")
    term.reader.start()
    with open(os.path.join(tmp, "bochs.out"), "w") as out:
        # Bochs' term display needs a tty of its own: `script` gives it one (as run.py does)
        proc = subprocess.Popen(["script", "-qc", "bochs -q -f bochsrc -rc rc.txt", "/dev/null"],
                                cwd=tmp, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    drain_screen(os.path.join(tmp, "bochs.out"), proc)
    g = linux.Guest(a, proc, a.log)  # emu bochs: reads the log file
    g.sock, g.reader = term, term    # typing goes to the terminal; finish() joins its reader
    # linux.main gives init 120 s to come up; under Bochs, GRUB, the kernel and init take some
    # 700 M instructions before init's shell (30 s at Bochs' 25 MIPS on an idle core, minutes on
    # a loaded one): that wait gets --timeout too
    wait = g.wait

    def patient_wait(pattern, timeout, raw=False):
        return wait(pattern, max(timeout, a.timeout) if "for the shell" in pattern else timeout,
                    raw)

    g.wait = patient_wait
    return proc, g


IPS = None

if __name__ == "__main__":
    if "--ips" in sys.argv:  # Bochs' instructions per emulated second (its own option)
        i = sys.argv.index("--ips")
        IPS = int(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    if "--emu" not in sys.argv:
        sys.argv[1:1] = ["--emu", "bochs"]
    linux.start = start
    sys.exit(linux.main())
