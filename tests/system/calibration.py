#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The boot's clock calibration holds when the emulator loses the CPU, as it does on a loaded
host: QEMU boots twice, once left alone and once stopped and continued (SIGSTOP/SIGCONT, 15 ms
out of every 18) from its start until the kernel prints its TSC rate. The TSC and the PIT count
host time under QEMU's TCG, so a rate measured right does not change; the two rates must agree
within 1 %. A calibration that times a wait loop's end (the kernel before 2d236a8) gave rates
up to 4.7 times too high this way, and Linux guests' clocks ran slow."""

import argparse
import os
import re
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from qemu_cmd import qemu_command  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (spawn: the emulator dies with this harness, even on a time-out)

RATE = re.compile(rb"TSC (\d+) kHz")


def boot(a, log, disturb):
    """One boot until the kernel's timer line; returns its TSC rate in kHz, or None."""
    cmd = qemu_command(a.kernel, [("init", a.init)], "", None, ("-serial", f"file:{log}"))
    proc = run.spawn(cmd, None, os.devnull)
    done = threading.Event()

    def pester():
        while not done.is_set() and proc.poll() is None:
            os.kill(proc.pid, signal.SIGSTOP)
            time.sleep(0.015)
            os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.003)

    t = threading.Thread(target=pester) if disturb else None
    if t:
        t.start()
    rate, end = None, time.monotonic() + a.timeout
    try:
        while rate is None and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.05)
            m = RATE.search(open(log, "rb").read()) if os.path.exists(log) else None
            rate = int(m.group(1)) if m else None
    finally:
        done.set()
        if t:
            t.join()
        os.kill(proc.pid, signal.SIGCONT)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return rate


def boot_log(log):
    """One boot's serial log (up to its timer line), for the report of a failure."""
    if not os.path.exists(log):
        return []
    return open(log, "rb").read().decode("utf-8", "replace").splitlines()


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--kernel", required=True)
    p.add_argument("--init", required=True)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="resurgo-calib-") as tmp:
        calm = boot(a, os.path.join(tmp, "calm.log"), False)
        rough = boot(a, os.path.join(tmp, "rough.log"), True)
        logs = {name: boot_log(os.path.join(tmp, f"{name}.log")) for name in ("calm", "rough")}
    print(f"TSC rate: {calm} kHz left alone, {rough} kHz while stopped 15 ms in every 18")
    checks = [("the undisturbed boot printed its rate", calm is not None),
              ("the disturbed boot printed its rate", rough is not None),
              ("the rates agree within 1 %",
               calm is not None and rough is not None and abs(rough - calm) * 100 <= calm)]
    for what, ok in checks:
        print(f"{'ok' if ok else 'FAILED'}: {what}")
    if not all(ok for _, ok in checks):
        for name, lines in logs.items():
            print(f"--- {name} boot's serial log ---")
            print("\n".join(lines) or "(none)")
    sys.exit(0 if all(ok for _, ok in checks) else 1)


if __name__ == "__main__":
    main()
