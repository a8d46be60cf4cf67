#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs tests/system/run.py, then checks that no client acted on a garbled reply (issue 15's
`garble`: a flipped label bit or flipped bits in the words of a server's next reply).

echo-client (servers/echo/client.c) is echo's only client: it prints echo's persistent counter
after every 50 increments, so each counter line must be the previous one plus 50, and it must
never print `increment failed`. At least --min-garbles garbles must have been injected into
echo, with --min-lines counter lines after the first.

usage: replies.py [--min-garbles N] [--min-lines N] -- RUN.PY ARGUMENTS (with --log FILE)"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import wrapped  # noqa: E402

COUNTER = re.compile(r"^echo-client: counter (\d+),")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--min-garbles", type=int, default=20)
    p.add_argument("--min-lines", type=int, default=20)
    p.add_argument("run", nargs=argparse.REMAINDER)
    a = p.parse_args()
    status, log = wrapped.run(a.run)
    if status != 0:
        return status
    errors, counters, garbles = [], [], 0
    for line in open(log, errors="replace"):
        line = line.rstrip("\r\n")
        if re.match(r"^\[init\] t=\d+ inject garble into echo$", line):
            garbles += 1
        m = COUNTER.match(line)
        if m:
            counters.append(int(m.group(1)))
        if "echo-client: increment failed" in line:
            errors.append(f"a call failed on a garbled reply: {line}")
    for prev, cur in zip(counters, counters[1:]):
        if cur != prev + 50:
            errors.append(f"counter {cur} after {prev}: a garbled value was taken as echo's")
    if garbles < a.min_garbles:
        errors.append(f"{garbles} garbles injected, expected {a.min_garbles}")
    if len(counters) < a.min_lines + 1:
        errors.append(f"{len(counters)} counter lines, expected {a.min_lines + 1}")
    for e in errors[:20]:
        print("check: FAIL:", e)
    print(f"check: {garbles} garbles, {len(counters)} counter lines, {len(errors)} errors")
    print("check:", "FAIL" if errors else "PASS")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
