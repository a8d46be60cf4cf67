#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs tests/system/run.py, then checks the hello guests' tick lines in its serial log: for
each VM named, the lines "[<vm>] tick N" must count 10, 20, 30 ... without a gap, a repeat or a
new start, at least --min of them. That is what a VMM crash must not break: the guest's output
is neither lost nor doubled, and the guest is not started again.

With --after REGEX, at least --min-after of those lines (each VM's) must come after the first
log line that matches REGEX: the guests still tick after whatever that line announces.

usage: ticks.py --vm vm1 [--vm vm2] [--min 20] [--after REGEX [--min-after 10]] -- RUN.PY
       ARGUMENTS (with --log FILE)"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import wrapped  # noqa: E402

TICK_RE = re.compile(r"^\[(\S+)\] tick (\d+)$")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vm", action="append", required=True)
    p.add_argument("--min", type=int, default=20, help="tick lines each VM must print")
    p.add_argument("--every", type=int, default=10, help="the guest's interrupts per tick line")
    p.add_argument("--after", help="regex of the log line after which the guests must tick on")
    p.add_argument("--min-after", type=int, default=10, help="tick lines each VM must print after it")
    p.add_argument("run", nargs=argparse.REMAINDER)
    a = p.parse_args()
    status, log = wrapped.run(a.run)
    if status != 0:
        return status
    seen = {vm: [] for vm in a.vm}
    after = {vm: 0 for vm in a.vm}
    after_re = re.compile(a.after) if a.after else None
    found = False
    with open(log, errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # the emulator was stopped in the middle of this last line: not a tick yet
            line = line.rstrip("\r\n")
            if after_re and not found and after_re.search(line):
                found = True
            m = TICK_RE.match(line)
            if m and m.group(1) in seen:
                seen[m.group(1)].append(int(m.group(2)))
                after[m.group(1)] += found
    bad = []
    for vm, ticks in seen.items():
        want = [a.every * (i + 1) for i in range(len(ticks))]
        if ticks != want:
            first = next(i for i, (t, w) in enumerate(zip(ticks, want)) if t != w)
            bad.append(f"{vm}: tick line {first + 1} says {ticks[first]}, expected {want[first]} "
                       f"(around: {ticks[max(0, first - 2):first + 3]})")
        elif len(ticks) < a.min:
            bad.append(f"{vm}: {len(ticks)} tick lines, expected at least {a.min}")
        elif after_re and after[vm] < a.min_after:
            bad.append(f"{vm}: {after[vm]} tick lines after {a.after!r}"
                       f"{'' if found else ' (never seen)'}, expected at least {a.min_after}")
        else:
            print(f"[ticks] {vm}: {len(ticks)} tick lines, {ticks[0]} to {ticks[-1]}, none lost or doubled"
                  + (f", {after[vm]} after {a.after!r}" if after_re else ""))
    if bad:
        wrapped.print_log(log)
    for b in bad:
        print(f"FAIL: {b}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
