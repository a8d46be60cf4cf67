#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""system-campaign-netowed: runs the network harness (tests/system/net/harness.py --crash, its
frames streaming through the NIC driver and the switch), then checks from init's log that every
hang init injected into the driver or the switch was found by what it owed, not by the watchdog.

For each --target (nic, net): every `inject hang into T` is followed by T's restart as
`T watchdog (owed the end of wakeup N for K ticks, M ms)` (the wakeup it received and never
finished) or `(owed C channels requests for K ticks, M ms)` (a link's frames it stopped taking),
with K ticks of init (10 ms of the machine's time each) below --max-ms, then `T serving again`;
the time from the injection to the restart and to serving again is printed; at least --min-hangs
of each. Every --vm (a VMM below them, starved while a hung one spins above it) is not restarted
within --near-ms after a hang (a restart far from any is noted: on a loaded host without -icount
a VMM's exit can outlast its probe) and its hello guest's tick lines count on after the last
restart.

usage: netowed.py --target nic --target net [--vm vm1] -- HARNESS.PY ARGUMENTS (with --log FILE)"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import check  # noqa: E402  (parse, crashes_of, check_hang, ticks_ok)
import wrapped  # noqa: E402

OWED = re.compile(r"^owed (?:the end of wakeup \d+|\d+ channels requests) for (\d+) ticks, "
                  r"(\d+) ms$")


def check_hangs(a, events, errors):
    last = 0
    for target in a.target:
        hangs = [(n, t) for n, t, text in events if text == f"inject hang into {target}"]
        crashes = check.crashes_of(events, target)
        if len(hangs) < a.min_hangs:
            errors.append(f"{len(hangs)} hangs of {target} injected, expected {a.min_hangs}")
        for n, t in hangs:
            last = max(last, check.check_hang(target, n, t, events, crashes, OWED, a.max_ms,
                                              errors))
    return last


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", action="append", required=True, help="nic, net: hung by init")
    p.add_argument("--vm", action="append", default=[], help="hello guests that must tick on")
    p.add_argument("--max-ms", type=int, default=50, help="what it may owe, ms of guest time")
    p.add_argument("--min-hangs", type=int, default=4, help="hangs of each target")
    p.add_argument("--near-ms", type=int, default=1000,
                   help="a --vm restart this soon after a hang is the hang's doing")
    p.add_argument("run", nargs=argparse.REMAINDER)
    a = p.parse_args()
    status, log = wrapped.run(a.run)
    if status != 0:
        return status
    events, ticks, _ = check.parse(log)
    errors = []
    last = check_hangs(a, events, errors)
    hangs = [t for n, t, text in events for target in a.target
             if text == f"inject hang into {target}"]
    for vm in a.vm:
        # starved while a hung driver or switch spun above it: not hung itself. Far from any
        # hang (the loaded host's own stalls: docs/resilience.md, known limits) it is only noted
        for c in check.crashes_of(events, vm):
            if [t for t in hangs if 0 <= c[1] - t < a.near_ms]:
                errors.append(f"{vm} restarted within {a.near_ms} ms of a hang above it: {c[2:]}")
            else:
                print(f"check: note: {vm} restarted at t={c[1]}, no hang near: {c[2:]}")
    check.ticks_ok(ticks, a.vm, last, errors)
    for e in errors:
        print("check: FAIL:", e)
    print("check:", "FAIL" if errors else "PASS")
    if errors:
        wrapped.print_log(log)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
