#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Prints the closing line of a test run, "N passed, M failed", from Meson's own record of it
# (build/meson-logs/testlog.json, one JSON object per test), and the names of the tests that
# did not pass. Skipped tests and expected failures count as neither.
# usage: test-summary.py [TESTLOG_JSON]
import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "build/meson-logs/testlog.json"
passed, failed = 0, []
try:
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            if t["result"] == "OK":
                passed += 1
            elif t["result"] not in ("SKIP", "EXPECTEDFAIL"):
                failed.append(f"{t['name']} ({t['result']})")
except FileNotFoundError:
    print(f"no test log at {path}: meson test did not run")
    print("0 passed, 1 failed")
    sys.exit(1)
for name in failed:
    print(f"not passed: {name}")
print(f"{passed} passed, {len(failed)} failed")
