#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The boot calibrates the TSC and LAPIC timer against the HPET, the ACPI PM timer or the PIT
(calib=hpet|pmtimer|pit forces one; by default the best there is), and each gives the same rates:
QEMU runs with -icount shift=0, so every clock counts guest instructions and the rates must agree
to within 0.1 % (the sampling's own granularity). Machines without a clock fall back with a line
saying why: q35 with hpet=off (no HPET table), pc with pit=off (no PIT), and the forced source
missing there. Each boot runs until the kernel prints its TSC rate.

  calibsrc.py --kernel ELF --init ELF"""

import argparse
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from qemu_cmd import qemu_command  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (spawn: the emulator dies with this harness, even on a time-out)

RATE = re.compile(r"timer: LAPIC (\d+) ticks/10ms, TSC (\d+) kHz")
SOURCE = re.compile(r"timer: calibrated against the (HPET|PM timer|PIT) ")
UNUSABLE = re.compile(r"timer: (HPET|PM timer|PIT) unusable for calibration: (.*)")

# name, machine, command line, the source it must end on, the unusable lines it must print
BOOTS = [
    ("pc default", "pc", "", "HPET", []),
    ("pc calib=hpet", "pc", "calib=hpet", "HPET", []),
    ("pc calib=pmtimer", "pc", "calib=pmtimer", "PM timer", []),
    ("pc calib=pit", "pc", "calib=pit", "PIT", []),
    ("q35 calib=pmtimer", "q35", "calib=pmtimer", "PM timer", []),
    ("q35,hpet=off default", "q35,hpet=off", "", "PM timer",
     [("HPET", "no valid HPET table")]),
    ("q35,hpet=off calib=hpet", "q35,hpet=off", "calib=hpet", "PM timer",
     [("HPET", "no valid HPET table (asked for by calib=)")]),
    ("pc,pit=off calib=pit", "pc,pit=off", "calib=pit", "HPET",
     [("PIT", "it does not count (asked for by calib=)")]),
]


def boot(a, tmp, name, machine, cmdline):
    """Boots until the timer line; returns the log text."""
    log = os.path.join(tmp, re.sub(r"\W+", "-", name) + ".log")
    cmd = qemu_command(a.kernel, [("init", a.init)], cmdline, None, ("-serial", f"file:{log}"),
                       icount=True, machine=machine)
    proc = run.spawn(cmd, None, os.devnull)
    end, text = time.monotonic() + a.timeout, ""
    try:
        while time.monotonic() < end and proc.poll() is None:
            time.sleep(0.1)
            text = open(log, errors="replace").read() if os.path.exists(log) else ""
            if RATE.search(text) or "KERNEL PANIC" in text:
                break
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    return open(log, errors="replace").read() if os.path.exists(log) else text


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--kernel", required=True)
    p.add_argument("--init", required=True)
    p.add_argument("--timeout", type=float, default=90)
    a = p.parse_args()
    failed, rates = 0, []

    def check(ok, what):
        nonlocal failed
        failed += not ok
        print(f"{'ok' if ok else 'FAILED'}: {what}")

    with tempfile.TemporaryDirectory(prefix="resurgo-calibsrc-") as tmp:
        for name, machine, cmdline, want, unusable in BOOTS:
            text = boot(a, tmp, name, machine, cmdline)
            r, s = RATE.search(text), SOURCE.search(text)
            got_unusable = UNUSABLE.findall(text)
            print(f"[{name}] source {s.group(1) if s else None}, "
                  f"LAPIC {r.group(1) if r else None} /10ms, TSC {r.group(2) if r else None} kHz; "
                  f"unusable {got_unusable}")
            before = failed
            check(s is not None and s.group(1) == want and r is not None,
                  f"{name}: calibrated against the {want}")
            check(got_unusable == unusable, f"{name}: says {unusable or 'nothing'} of the others")
            if failed > before:  # the rule: a failed emulator run's log is printed
                print(f"--- [{name}] serial log ---\n{text}\n---")
            if r:
                rates.append((name, int(r.group(1)), int(r.group(2))))
    for i, what in ((1, "LAPIC"), (2, "TSC")):
        vals = [x[i] for x in rates]
        check(len(vals) == len(BOOTS) and max(vals) - min(vals) <= max(vals) // 1000,
              f"every source gives the same {what} rate within 0.1 % ({min(vals) if vals else 0}"
              f"..{max(vals) if vals else 0})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
