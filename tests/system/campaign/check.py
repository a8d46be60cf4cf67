#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs tests/system/run.py, then checks what init's log says about the faults it injected.

--scenario owed: every `inject hang into VM` is followed by VM's restart found by what it owed
  (`VM watchdog (owed its guest exit N for K ticks, M ms)` or `(owed a look at K ticks, M ms)`)
  with K ticks of init (10 ms of the machine's time each) below --max-ms, never by the watchdog's
  missed heartbeat, then serving again (the stall, injection to serving, is printed); at least --min-hangs of them; no other VMM restarted (starved by the hung one, not
  hung); every hello guest's tick lines count on without a gap or repeat, and after the last
  restart.
--scenario kinds: exhaust ends in a page fault of the target and its restart; restart kills the
  target and the next instance faults (at 0x8) before serving, then one serves; corrupt and garble
  end in a restart or the target runs on (a later fault of it is still handled); no kernel panic,
  nothing given up; the guests tick on and the echo client keeps counting after the last fault.

usage: check.py --scenario owed|kinds [--vm vm1 ...] -- RUN.PY ARGUMENTS (with --log FILE)"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import wrapped  # noqa: E402

LINE = re.compile(r"^\[init\] t=(\d+) (.*)$")
TICK = re.compile(r"^\[(\S+)\] tick (\d+)$")


def parse(path):
    events, ticks = [], {}
    with open(path, errors="replace") as f:
        for n, raw in enumerate(f):
            line = raw.rstrip("\r\n")
            m = LINE.match(line)
            if m:
                events.append((n, int(m.group(1)), m.group(2)))
            t = TICK.match(line)
            if t:
                ticks.setdefault(t.group(1), []).append((n, int(t.group(2))))
    return events, ticks, open(path, errors="replace").read()


def crashes_of(events, name):
    r = re.compile(r"^%s (fault|exit|watchdog|killed) \((.*)\): " % re.escape(name))
    return [(n, t, m.group(1), m.group(2)) for n, t, text in events for m in [r.match(text)] if m]


def ticks_ok(ticks, vms, after_line, errors):
    for vm in vms:
        seq = ticks.get(vm, [])
        values = [v for _, v in seq]
        if values != list(range(10, 10 * len(values) + 1, 10)):
            errors.append(f"{vm}: tick lines do not count 10, 20, ... (got {values[:3]}...)")
        if sum(1 for n, _ in seq if n > after_line) < 5:
            errors.append(f"{vm}: fewer than 5 tick lines after line {after_line + 1}")


def check_hang(name, n, t, events, crashes, owed, max_ms, errors):
    """The `inject hang into NAME` at log line n (init's t ms): NAME's next restart must be found
    by what it owed (the regex owed, its group 1 the ticks) in ticks below max_ms, and NAME serve
    again. Returns the restart's log line (0: none)."""
    after = [c for c in crashes if c[0] > n]
    if not after:
        errors.append(f"hang of {name} at t={t} ms: never restarted")
        return 0
    cn, ct, reason, why = after[0]
    m = owed.match(why)
    if reason != "watchdog" or not m:
        errors.append(f"hang of {name} at t={t} ms: found by '{reason} ({why})' {ct - t} ms "
                      f"after the injection, not by what it owed")
        return cn
    back = [e for e in events if e[0] > cn and re.match(re.escape(name) + r" serving again ", e[2])]
    stall = back[0][1] - t if back else None
    print(f"check: hang of {name} at t={t}: {why}; found {ct - t} ms after the injection, "
          f"serving again {stall} ms after it")
    # in init's ticks: the emulated machine's PIT, 10 ms each, whatever the host's load
    if 10 * int(m.group(1)) >= max_ms:
        errors.append(f"hang of {name} at t={t} ms: owed {m.group(1)} ticks, not below {max_ms} ms")
    if stall is None:
        errors.append(f"hang of {name} at t={t} ms: never serving again")
    return cn


def check_owed(a, events, ticks, errors):
    owed = re.compile(r"^owed (?:its guest exit \d+ for|a look at) (\d+) ticks, (\d+) ms$")
    last, nhangs = 0, 0
    for vm in a.vm:
        hangs = [(n, t) for n, t, text in events if text == f"inject hang into {vm}"]
        crashes = crashes_of(events, vm)
        nhangs += len(hangs)
        for n, t in hangs:
            last = max(last, check_hang(vm, n, t, events, crashes, owed, a.max_ms, errors))
        # a VMM starved while another spun at its priority is not hung: no other restart
        for c in crashes:
            if not [h for h in hangs if h[0] < c[0] and c[1] - h[1] < 100]:
                errors.append(f"{vm} restarted though nothing was injected into it: {c[2:]}")
    if nhangs < a.min_hangs:
        errors.append(f"{nhangs} hangs injected, expected {a.min_hangs}")
    ticks_ok(ticks, a.vm, last, errors)


def check_kinds(a, events, ticks, log, errors):
    injects = [(n, t, m.group(1), m.group(2)) for n, t, text in events
               for m in [re.match(r"^inject (\w+) into (\S+)$", text)] if m]
    last = 0
    for n, t, kind, target in injects:
        crashes = [c for c in crashes_of(events, target) if c[0] > n]
        restarted = [e for e in events if e[0] > n and e[2].startswith(f"{target} restarted ")]
        if kind == "exhaust":
            if not crashes or crashes[0][2] != "fault" or "page fault" not in crashes[0][3]:
                errors.append(f"exhaust into {target} at t={t}: no page fault next")
        elif kind == "restart":
            if len(crashes) < 2 or crashes[0][2] != "killed" or crashes[1][2] != "fault" \
                    or not crashes[1][3].startswith("page fault at 8,"):
                errors.append(f"restart into {target} at t={t}: not killed, then a fault at 8 "
                              f"of the next instance ({[c[2:] for c in crashes[:2]]})")
            elif len(restarted) < 2:
                errors.append(f"restart into {target} at t={t}: no instance after the crash")
        elif kind in ("corrupt", "garble"):
            # runs on, or restarts: either way a later fault (the final kill) is handled
            later = [i for i in injects if i[0] > n and i[3] == target]
            if later and not [c for c in crashes if c[0] > later[-1][0]]:
                errors.append(f"{kind} into {target} at t={t}: its last fault was not handled")
        if kind in ("corrupt", "garble"):
            nxt = [i[0] for i in injects if i[0] > n and i[3] == target]
            hit = crashes and (not nxt or crashes[0][0] < nxt[0])
            print(f"check: {kind} into {target} at t={t}: {'restarted' if hit else 'ran on'}")
        last = max(last, n)
    for bad in ("restart limit", "KERNEL PANIC", "panic:", "restart failed", "cannot start"):
        if bad in log:
            errors.append(f"the log says '{bad}'")
    ticks_ok(ticks, a.vm, last, errors)
    client = [i for i, l in enumerate(log.splitlines()) if l.startswith("echo-client: counter")]
    if a.client and sum(1 for i in client if i > last) < 1:
        errors.append("echo-client printed no counter line after the last fault")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=["owed", "kinds"], required=True)
    p.add_argument("--vm", action="append", default=[], help="hello guests that must tick on")
    p.add_argument("--max-ms", type=int, default=50, help="owed: what it may owe, ms of guest time")
    p.add_argument("--min-hangs", type=int, default=6)
    p.add_argument("--client", action="store_true", help="kinds: echo-client must count on")
    p.add_argument("run", nargs=argparse.REMAINDER)
    a = p.parse_args()
    status, log = wrapped.run(a.run)
    if status != 0:
        return status
    events, ticks, text = parse(log)
    errors = []
    if a.scenario == "owed":
        check_owed(a, events, ticks, errors)
    else:
        check_kinds(a, events, ticks, text, errors)
    for e in errors:
        print("check: FAIL:", e)
    print("check:", "FAIL" if errors else "PASS")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
