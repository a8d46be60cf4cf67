#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""system-linux-bochs: linux.py's Linux guest test under Bochs (Intel VMX with EPT).

Bochs' COM1 in run.py's configuration writes to a file and takes no input, and linux.py types
into the console. So this harness gives Bochs' COM1 a pseudo-terminal instead (com1 mode=term):
a thread copies everything the guest's UART sends into the log (a.log), which linux.py's Guest
reads as under Bochs, and typing writes to the terminal (Bochs' VGA screen, a terminal of its
own, is read away by run.start_bochs). Everything else (the checks, the verdict) is linux.py's:
the same arguments, `--emu bochs` implied, and init's shell waited for as long as the guest's
prompt (--timeout; linux.py's --shell-timeout). With a linux-vmlinux module the bzImage module stays
out of the ISO: it only names the release `uname -r` must print.

  bochs.py [--ips N] --kernel K --module NAME=PATH ... --log L [--timeout S] [--checks ...]

--ips sets Bochs' instructions per emulated second (cpu: ips=; Bochs' default is 4 M). Bochs'
clock (sync=none) is its instruction count: the TSC, the PIT and the LAPIC timer all run at
`ips` instructions per emulated second, so at 4 M a Linux guest's 250 Hz tick comes every 16000
instructions, fewer than taking the tick through VM exits costs (docs/virtualization.md)."""

import os
import sys
import threading
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
    term.reader.start()
    proc = run.start_bochs(tmp)  # also reads Bochs' VGA screen away; dies with this harness
    g = linux.Guest(a, proc, a.log)  # emu bochs: reads the log file
    g.sock, g.reader = term, term    # typing goes to the terminal; finish() joins its reader
    return proc, g


IPS = None

if __name__ == "__main__":
    if "--ips" in sys.argv:  # Bochs' instructions per emulated second (its own option)
        i = sys.argv.index("--ips")
        IPS = int(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    linux.start = start
    # Under Bochs, GRUB, the kernel and init take some 700 M instructions before init's shell
    # (30 s at Bochs' 25 MIPS on an idle core, minutes on a loaded one): that wait gets as long
    # as the boot to the guest's prompt (--timeout's default) unless --shell-timeout says
    sys.exit(linux.main(defaults={"emu": "bochs", "shell_timeout": 600}))
