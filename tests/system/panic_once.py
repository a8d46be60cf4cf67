#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boots a kernel that is meant to panic (a test kernel's self-test, see
kernel/arch/x86_64/entry_selftest.c) and checks that the panic is reported
exactly once and that the machine then stays halted: the log shows one
"KERNEL PANIC" line matching --panic, the --expect lines, nothing matching
--forbid, and no new output and no emulator exit (reset, triple fault) for
--quiet seconds after the last line. Uses run.py's emulator handling."""

import argparse
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--emu", choices=["qemu", "bochs"], default="qemu")
    p.add_argument("--kernel", required=True)
    p.add_argument("--module", action="append", default=[])
    p.add_argument("--cmdline", default="")
    p.add_argument("--log", required=True)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--quiet", type=float, default=3.0, metavar="SECONDS")
    p.add_argument("--panic", required=True, metavar="REGEX", help="the one panic line")
    p.add_argument("--expect", action="append", default=[], metavar="REGEX")
    p.add_argument("--forbid", action="append", default=[], metavar="REGEX")
    a = p.parse_args()
    a.iso = a.emu == "bochs"
    a.modules = [tuple(m.split("=", 1)) for m in a.module]
    a.send = []
    a.icount = False
    os.makedirs(os.path.dirname(os.path.abspath(a.log)), exist_ok=True)
    open(a.log, "w").close()
    with tempfile.TemporaryDirectory(prefix="resurgo-panic-") as tmp:
        proc = run.start_emulator(a, tmp, a.log)
        start = time.monotonic()
        size, changed, exited, why = 0, time.monotonic(), False, None
        try:
            while True:
                time.sleep(0.1)
                now = time.monotonic()
                n = os.path.getsize(a.log)
                if n != size:
                    size, changed = n, now
                text = open(a.log, errors="replace").read()
                seen = re.search(r"^KERNEL PANIC", text.replace("\r", ""), re.M)
                if proc.poll() is not None:
                    exited = True
                    why = "emulator exited (reset or triple fault?)"
                    break
                if seen and now - changed >= a.quiet:
                    break
                if now - start > a.timeout:
                    why = f"timeout after {a.timeout:g} s" + ("" if seen else " without a panic")
                    break
        finally:
            run.stop(proc, a.emu)
    lines = [run.ANSI_RE.sub("", l).replace("\r", "") for l in open(a.log, errors="replace").read().split("\n")]
    panics = [l for l in lines if l.startswith("KERNEL PANIC")]
    problems = []
    if why:
        problems.append(why)
    if len(panics) != 1:
        problems.append(f"{len(panics)} KERNEL PANIC lines, expected exactly 1")
    if panics and not re.search(a.panic, panics[0]):
        problems.append(f"panic line {panics[0]!r} does not match {a.panic!r}")
    for e in a.expect:
        if not any(re.search(e, l) for l in lines):
            problems.append(f"expected line not seen: {e!r}")
    for f in a.forbid:
        bad = [l for l in lines if re.search(f, l)]
        if bad:
            problems.append(f"forbidden line seen: {bad[0]!r}")
    if problems:
        print("\n".join(lines[-60:]))
        print("FAIL: " + "; ".join(problems))
        return 1
    print(panics[0])
    print(f"PASS ({a.emu}): one panic, then {a.quiet:g} s of silence without a reset")
    return 0


if __name__ == "__main__":
    sys.exit(main())
