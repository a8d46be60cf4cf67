#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The crash-resilience demo (issue 15; tools/demo.sh, docs/resilience.md "The demo"): two Linux
guests write files to their disks (files of fs, on blk) and serve a file the host fetches
through the NIC driver and the switch, while you crash servers; a status line per guest shows
they carry on. The machine is tools/campaign_linux.py's; the end is the campaign's summary.

Interactive: type a line and press Enter
  TARGET KIND   crash a server: TARGET one of vmA vmB fs blk nic net echo kv;
                KIND one of kill null wild hang corrupt garble exhaust restart random
  TARGET        the same with KIND random
  1..8          the same for the Nth target of that list
  (empty)       the status lines now
  q             stop: the guests read their files back, the host checks the disks, the summary
  anything else goes to init's shell as typed (ps, restarts, net, help)
init's lines about faults and restarts are shown as they come.

Unattended (--auto): a timed script of crashes, one every --every seconds, round the targets
with the kinds in turn (then seeded random ones), for --duration seconds, then the same end.

  tools/demo.sh [--auto] [--duration S] [--every S] [--seed N] [--out DIR] [--build DIR]"""

import argparse
import os
import random
import re
import select
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import campaign  # noqa: E402
import campaign_linux  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHOW = re.compile(r"\[init\] t=\d+ (inject .*|\S+ (fault|exit|watchdog|killed) \(.*|"
                  r"\S+ restarted .*|\S+ serving again .*|.*restart limit.*|KERNEL PANIC.*)$")
AUTO_KINDS = ["kill", "null", "wild", "hang", "exhaust", "restart"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--auto", action="store_true", help="a timed script of crashes, unattended")
    p.add_argument("--duration", type=float, default=120, help="--auto: seconds of crashes")
    p.add_argument("--every", type=float, default=2.0, help="--auto: seconds between crashes")
    p.add_argument("--status-every", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=str(ROOT / "build" / "demo"))
    p.add_argument("--build", default=str(ROOT / "build"))
    return p.parse_args()


def main():
    d = parse_args()
    out = Path(d.out)
    out.mkdir(parents=True, exist_ok=True)
    a = types.SimpleNamespace(seed=d.seed, rate=1 / d.every, boot_faults=0, kinds=AUTO_KINDS,
                              spare=[], targets=campaign_linux.TARGETS, linux=True, out=str(out),
                              build=d.build, settle=10.0)
    shown = [0]
    last_status = [0.0]
    t_start = time.monotonic()

    def events(m):
        """init's lines about faults and restarts since the last call, and the status lines."""
        lines = m.g.raw.split("\n")
        for line in lines[shown[0]:-1]:
            s = SHOW.search(line)
            if s:
                print(f"  {s.group(0)}", flush=True)
        shown[0] = max(shown[0], len(lines) - 1)
        if time.monotonic() - last_status[0] >= d.status_every:
            status(m)

    def status(m):
        last_status[0] = time.monotonic()
        print(f"--- {time.monotonic() - t_start:6.0f} s", flush=True)
        for line in m.status_lines():
            print("  " + line, flush=True)

    def started(m):
        print("demo: both guests at work (writing files, serving a file the host fetches, "
              "counting and timing their stalls)", flush=True)
        if not d.auto:
            print(__doc__.split("\n\n")[1], flush=True)
        status(m)

    def auto(m, b):
        rng = random.Random(d.seed)
        plan = [(t, k) for k in AUTO_KINDS for t in campaign_linux.TARGETS]
        end = time.monotonic() + d.duration
        i = 0
        while time.monotonic() < end and m.proc.poll() is None:
            m.pump(d.every)
            target, kind = plan[i] if i < len(plan) else (rng.choice(campaign_linux.TARGETS),
                                                          rng.choice(AUTO_KINDS))
            print(f"demo: crash {target} {kind}", flush=True)
            m.crash(target, kind)
            i += 1
            events(m)

    def interactive(m, b):
        targets = campaign_linux.TARGETS
        while m.proc.poll() is None:
            m.pump(0.1)
            events(m)
            r, _, _ = select.select([sys.stdin], [], [], 0)
            if not r:
                continue
            line = sys.stdin.readline()
            if not line:  # end of input: as q
                return
            w = line.split()
            if not w:
                status(m)
            elif w == ["q"]:
                return
            elif w[0].isdigit() and len(w) == 1 and 1 <= int(w[0]) <= len(targets):
                m.crash(targets[int(w[0]) - 1], "random")
            elif w[0] in targets and len(w) <= 2:
                m.crash(w[0], w[1] if len(w) == 2 else "random")
            else:
                m.shell(line.strip())
                m.pump(0.5)
                for l in m.g.raw.split("\n")[shown[0]:-1]:
                    if l.startswith("[init]"):
                        print("  " + l, flush=True)
                shown[0] = len(m.g.raw.split("\n")) - 1

    print(f"demo: booting two Linux guests and the servers (a minute or two under QEMU); log "
          f"{out / 'demo.log'}", flush=True)
    b = campaign.run_linux_boot(a, 0, 0, out / "demo.log", lambda b: None,
                                drive=auto if d.auto else interactive, started=started)
    stats = campaign.Stats()
    stats.add(0, b)
    a.kinds = sorted({k.split("/")[1] for k in stats.cells}) or AUTO_KINDS
    a.targets = sorted({k.split("/")[0] for k in stats.cells}) or campaign_linux.TARGETS
    for line in b.lines:
        print("demo: " + line)
    text = campaign.summary(a, stats, time.monotonic() - t_start)
    (out / "summary.txt").write_text(text)
    print(text, end="")
    print(f"demo: summary in {out / 'summary.txt'}")
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
