#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fault-injection campaign (issue 15, docs/resilience.md): boots the system under QEMU again and
again with guests and clients at work, while init injects faults of seeded random kinds at
random moments into every restartable server, and reports what became of them.

Each boot runs a generated manifest: two VMMs with hello guests (tick lines that must count on
without a gap or repeat), echo with echo-client (a persistent counter), kv, and fs over blk over
QEMU's virtio-blk with fstest-crash writing, checking and deleting files (its checks: every
acknowledged write reads back; after the boot the host's e2fsck -fn must find the disk clean).
A boot ends when fstest is done (it powers off); init injects faults from `inject` lines, one
per target, whose seed= comes from the campaign's seed and the boot's number, so a boot is
replayed with --seed S --boot N (the moments depend on the emulator's timing, the sequence of
kinds and their bit choices does not).

Reported per target and kind: faults injected, restarts, recovery (crash to serving again, from
init's `serving again ... ms after its crash` lines), and the failures that matter: kernel
panics, guest deaths (a hello guest's ticks stop, repeat or skip; a guest stopped by its VMM),
lost acknowledged writes (fstest's checks), a disk e2fsck finds unclean, servers given up or
never serving again, boots that did not end. Output: campaign.json, summary.txt and
recovery.svg (drawn here, no plotting library) in --out; a progress line while it runs.

With --linux the boot is tools/campaign_linux.py's instead: two Linux guests writing synced
files to a disk of fs (vmA), serving a file the host fetches through the NIC driver and the
switch, and counting while they time their own stalls; the faults (typed into init's shell)
go to their VMMs, fs, blk, nic, net, echo and kv, and the report adds the guest-visible stalls
per target and kind.

  tools/campaign.py --faults 1000 --seed 1 [--out DIR] [--build build] [--kinds K1,K2]
                    [--targets T1,T2] [--rate FAULTS_PER_S] [--boot N] [--linux]"""

import argparse
import bisect
import collections
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import campaign_linux

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["kill", "null", "wild", "hang", "corrupt", "garble", "exhaust", "restart"]
TARGETS = ["vm1", "vm2", "echo", "kv", "fs", "blk"]
NET_TARGETS = []  # the NIC drivers and the switch, once the network exists (issue 12): a hook
VMMS = ("vm1", "vm2")
SERVERS = """\
server vm1         image=vmm guest=hello ram=4 prio=100 watchdog=200 restarts=0 backoff=50 owed=1
server vm2         image=vmm guest=hello ram=4 prio=100 watchdog=200 restarts=0 backoff=50 owed=1
server echo        prio=100 persist=1 watchdog=100 restarts=0 backoff=20
server echo-client prio=50 watchdog=0 caps=echo
server kv          prio=100 persist=1 watchdog=100 restarts=0 backoff=20
server blk         prio=110 device=virtio-blk dma=16 watchdog=50 restarts=0 backoff=20 owed=1
server fs          prio=100 watchdog=200 restarts=0 backoff=20 owed=1
server fstest      prio=90 watchdog=0 caps=fs restarts=0 shutdown=1
channel fs0 client=fs server=blk pages=34
"""
MODULES = {  # boot module name: path in the build directory
    "vmm": "servers/vmm/vmm.elf", "hello": "guests/hello.bin", "echo": "servers/echo/echo.elf",
    "echo-client": "servers/echo/echo-client.elf", "kv": "servers/kv/kv.elf",
    "blk": "servers/blk/blk.elf", "fs": "servers/fs/fs.elf",
    "fstest": "tests/system/fs/fstest-crash.elf"}
INIT_RE = re.compile(r"^\[init\] t=(\d+) (.*)$")
CRASH_RE = re.compile(r"^(\S+) (fault|exit|watchdog|killed) \((.*)\): ")
INJECT_RE = re.compile(r"^inject (\w+) into (\S+)( \(not running\))?$")
SERVING_RE = re.compile(r"^(\S+) serving again \(instance \d+\) (\d+) ms after its crash$")
TICK_RE = re.compile(r"^\[(vm\d)\] tick (\d+)$")
# echo-client's line after each burst of ECHO_BURST increments of echo's persistent counter: each
# counter must be the last plus a whole number of bursts (an increment lost or counted twice is a
# lost acknowledged write), and no increment may fail. A whole number, not one: in the Linux mode
# the line shares the console with the guests' and the shell's, which may cut or join lines
# (`attach vmAecho-client: counter 150, ...`), so it is searched for and one may be missed.
ECHO_RE = re.compile(r"echo-client: (?:counter (\d+), \d+ calls|increment failed: (.*))")
ECHO_BURST = 50
FAILED_LOGS_SHOWN, FAILED_LOG_LINES = 3, 400  # printed at the end of a campaign that failed
SETTLE_MAX_S = 60  # --linux: the longest a guest's counter may take to move after the faults
CHECK_RE = re.compile(r"^\[test\] (\S+) FAIL (.*)$")
# fstest-crash's FS-0010 (tests/system/fs/fstest.c) says fs and blk were not restarted as often
# as it wants (12, 25, 50 in all) before it gave up waiting: a boot given too few faults, not a
# lost write. MIN_BOOT_FAULTS_PER_TARGET keeps every boot above that (a boot of 217 faults
# restarted fs 39 times and blk 40; restarts are fewer than faults for null and hang). A campaign
# whose targets leave out fs or blk does not count it (Boot.count_too_few).
TOO_FEW_CHECK = "FS-0010"
CRASH_LOOP = 50  # crashes of a target in a row with no serving again between them
MIN_BOOT_FAULTS_PER_TARGET = 60
BAD_RE = re.compile(r"KERNEL PANIC|restart limit|restart failed|cannot start|"
                    r"vmm (vm\d): guest .*stopped|no standby instance")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faults", type=int, default=1000, help="stop after this many faults")
    p.add_argument("--seed", type=int, help="the campaign's seed (default: a random one, printed)")
    p.add_argument("--boot", type=int, help="replay only this boot of --seed")
    p.add_argument("--out", default=str(ROOT / "build" / "campaign"))
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--targets", help=f"default {','.join(TARGETS)}; with --linux "
                   f"{','.join(campaign_linux.TARGETS)}")
    p.add_argument("--rate", type=float, help="faults per second of guest time, all targets "
                   "together (each target's share is spread with random jitter); default 40, "
                   "with --linux 2 (faults per second of host time, typed into init's shell)")
    p.add_argument("--linux", action="store_true", help="Linux mode: two Linux guests writing "
                   "files, serving a file the host fetches, counting and measuring their stalls, "
                   "next to fs, blk, the NIC driver, the switch and the samples "
                   "(tools/campaign_linux.py)")
    p.add_argument("--settle", type=float, default=10, help="--linux: seconds without faults "
                   "before the final checks (a counter that has not moved by then gets up to "
                   f"{SETTLE_MAX_S} s in all; one that does not move in them is a death)")
    p.add_argument("--boot-timeout", type=float, default=900, help="seconds before a boot counts "
                   "as hung")
    p.add_argument("--max-boots", type=int, default=100000)
    p.add_argument("--spare", action="append", default=[], metavar="KIND:TARGET",
                   help="never inject KIND into TARGET (repeatable): the CI cut spares fs "
                   "corrupt, whose storm is not clean yet (docs/resilience.md)")
    p.add_argument("--replot", metavar="DIR", help="only draw DIR/recovery.svg again from "
                   "DIR/campaign.json")
    p.add_argument("--boot-faults", type=int, default=10000, help="faults per boot (then fstest "
                   "ends the boot with its checks and e2fsck checks the disk); --linux: default "
                   "1000, then the guests' and the host's final checks")
    a = p.parse_args()
    # the Linux mode starts QEMU from another directory: a relative --build gave empty boot logs
    a.build, a.out = os.path.abspath(a.build), os.path.abspath(a.out)
    a.kinds = a.kinds.split(",")
    known = campaign_linux.TARGETS if a.linux else TARGETS + NET_TARGETS
    a.targets = a.targets.split(",") if a.targets else list(campaign_linux.TARGETS if a.linux
                                                            else TARGETS)
    if a.rate is None:
        a.rate = 2.0 if a.linux else 40.0
    if a.linux and a.boot_faults == 10000:
        a.boot_faults = 1000
    for k in a.kinds:
        if k not in KINDS:
            p.error(f"unknown kind {k}")
    for t in a.targets:
        if t not in known:
            p.error(f"unknown target {t}")
    for sp in a.spare:
        k, _, t = sp.partition(":")
        if k not in KINDS or t not in known:
            p.error(f"--spare {sp}: not KIND:TARGET")
        if not kinds_for(a, t):
            p.error(f"--spare leaves no kind for {t}")
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 1 << 31)
    return a


def kinds_for(a, target):
    """The kinds injected into target: --kinds less what --spare spares it."""
    return [k for k in a.kinds if f"{k}:{target}" not in a.spare]


def manifest(a, boot, faults):
    """The boot's manifest: the servers and an inject line per target with its own seed, `faults`
    in all (then fstest finishes its checks in peace and powers off)."""
    rng = random.Random(f"{a.seed}/{boot}")
    count = max(1, -(-faults // len(a.targets)))
    per_target_ms = 1000.0 * len(a.targets) / a.rate  # each target's mean interval
    lines = [f"# tools/campaign.py --seed {a.seed} --boot {boot}", SERVERS.rstrip()]
    for t in a.targets:
        every = max(1, int(per_target_ms / 2))
        at = 500 + rng.randrange(0, 2 * every + 1)
        lines.append(f"inject target={t} kind=random kinds={','.join(kinds_for(a, t))} at={at} "
                     f"every={every} jitter={every * 2} count={count} seed={rng.getrandbits(40) | 1}")
    return "\n".join(lines) + "\n"


class Boot:
    """What one boot's serial log says (parsed as it grows, for the progress line)."""

    def __init__(self, count_too_few=True):
        # FS-0010 counts only when fs and blk are targets: fstest waits for their restarts
        self.count_too_few, self.too_few_seen = count_too_few, False
        self.faults = []     # (line, t, target, kind, running)
        self.crashes = []    # (line, t, target, reason, why)
        self.serving = []    # (line, target, ms)
        self.ticks = {}      # vm: [(line, n)]
        self.echo = None     # echo-client's last counter
        self.bad = []        # failures that matter: (kind, detail)
        self.n = 0
        self.last_t = 0      # init's last time stamp (ms)

    def feed(self, line):
        self.n += 1
        m = INIT_RE.match(line)
        if m:
            t, text = int(m.group(1)), m.group(2)
            self.last_t = t
            i = INJECT_RE.match(text)
            c = CRASH_RE.match(text)
            s = SERVING_RE.match(text)
            if i:
                self.faults.append((self.n, t, i.group(2), i.group(1), not i.group(3)))
            elif c:
                self.crashes.append((self.n, t, c.group(1), c.group(2), c.group(3)))
            elif s:
                self.serving.append((self.n, s.group(1), int(s.group(2))))
        e = ECHO_RE.search(line)
        if e and e.group(2):
            self.bad.append(("lost write", f"echo: an increment failed: {e.group(2)}"))
            self.echo = None  # how many of the burst counted is not known
        elif e:
            n = int(e.group(1))
            if self.echo is not None and (n <= self.echo or (n - self.echo) % ECHO_BURST):
                self.bad.append(("lost write", f"echo's counter went from {self.echo} to {n}"))
            self.echo = n
        tk = TICK_RE.match(line)
        if tk:
            self.ticks.setdefault(tk.group(1), []).append((self.n, int(tk.group(2))))
        f = CHECK_RE.match(line)
        if f:
            kind = ("too few restarts" if f.group(1) == TOO_FEW_CHECK
                    else "lost write" if "fstest" in line or "FS" in f.group(1) else "check")
            if kind != "too few restarts" or self.count_too_few:
                self.bad.append((kind, f"{f.group(1)} FAIL {f.group(2)}"))
            else:
                self.too_few_seen = True
        b = BAD_RE.search(line)
        if b:
            kind = ("kernel panic" if "PANIC" in line else "guest death" if b.group(1)
                    else "server given up")
            self.bad.append((kind, line.strip()[:200]))

    def finish(self, status, verdict):
        """Whole-boot checks once the emulator is gone."""
        for vm in VMMS:
            seq = [n for _, n in self.ticks.get(vm, [])]
            if seq != list(range(10, 10 * len(seq) + 1, 10)):
                bad = next((i for i, n in enumerate(seq) if n != 10 * (i + 1)), len(seq))
                self.bad.append(("guest death", f"{vm}: tick lines break off at {seq[bad - 1:bad + 2]}"))
            # a guest that stopped ticking for good (unless the boot ended right after its fault)
            last = max((f for f in self.faults if f[2] == vm), default=None)
            end_t = self.last_t
            if last and end_t - last[1] > 3000 and \
                    not [1 for ln, _ in self.ticks.get(vm, []) if ln > last[0]]:
                self.bad.append(("guest death", f"{vm}: no tick line in the {end_t - last[1]} ms "
                                 f"after its last fault"))
        # a crash loop: restarted again and again without serving in between (kv found its
        # persistent region gone in each of 9,704 instances; the last crash was near the end)
        events = sorted([(c[0], c[2], "crash") for c in self.crashes] +
                        [(sv[0], sv[1], "serving") for sv in self.serving])
        run = {}
        for _, target, what in events:
            run[target] = run.get(target, 0) + 1 if what == "crash" else 0
            if run[target] == CRASH_LOOP:
                self.bad.append(("crash loop", f"{target}: {CRASH_LOOP} crashes in a row "
                                 "without serving in between"))
        # every crash must be followed by serving again (unless the boot ended right after it)
        end_t = max([c[1] for c in self.crashes] + [f[1] for f in self.faults] + [0])
        lasts = {}
        for c in self.crashes:
            lasts[c[2]] = c
        for target, last in lasts.items():
            back = [s for s in self.serving if s[1] == target and s[0] > last[0]]
            if not back and end_t - last[1] > 2000:
                self.bad.append(("not recovered", f"{target}: no serving again after {last[4]}"))
        # a boot whose one failed check is an FS-0010 not counted (run.py fails it) is good
        only_too_few = self.too_few_seen and not re.search(r"e2fsck|time", verdict)
        if status != 0 and not self.bad and not only_too_few:
            kind = ("lost write" if "e2fsck" in verdict else "boot hung" if "time" in verdict
                    else "boot failed")
            self.bad.append((kind, verdict))


def run_boot(a, boot, faults, paths, log, progress):
    """Boots once with `faults` faults; returns the parsed Boot."""
    text = manifest(a, boot, faults)
    with tempfile.TemporaryDirectory(prefix="resurgo-campaign-") as tmp:
        mf = Path(tmp) / "manifest.txt"
        mf.write_text(text)
        Path(str(log) + ".manifest").write_text(text)
        cmd = [sys.executable, str(ROOT / "tests/system/run.py"), "--kernel", paths["kernel"],
               "--module", "init=" + paths["init"], "--module", f"manifest={mf}"]
        for name, rel in MODULES.items():
            cmd += ["--module", f"{name}={paths[name]}"]
        cmd += ["--disk", str(Path(tmp) / "disk.img"), "--disk-image", paths["image"], "--e2fsck",
                "--timeout", str(a.boot_timeout), "--log", str(log)]
        # a previous run's log in the same --out must not be read as this boot's start
        Path(log).unlink(missing_ok=True)
        out = open(str(log) + ".run", "w")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        b = Boot(count_too_few={"fs", "blk"} <= set(a.targets))
        pos = 0
        buf = ""
        while True:
            done = proc.poll() is not None
            try:
                with open(log, errors="replace") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
            except FileNotFoundError:
                chunk = ""
            buf += chunk
            *lines, buf = buf.split("\n")
            for line in lines:
                b.feed(line.rstrip("\r"))
            progress(b)
            if done:
                break
            time.sleep(1)
        if buf:
            b.feed(buf)
        out.close()
        run_out = Path(str(log) + ".run").read_text(errors="replace").strip().split("\n")
        b.finish(proc.returncode, run_out[-1] if run_out else "")
        if b.bad and (Path(tmp) / "disk.img").exists():  # kept for debugfs/e2fsck
            shutil.copyfile(Path(tmp) / "disk.img", str(log) + ".disk.img")
        return b


def run_linux_boot(a, boot, faults, log, progress, drive=None, started=None):
    """Linux mode (tools/campaign_linux.py): boots the two Linux guests and the servers, starts
    their work, types `faults` crashes into init's shell at seeded moments of a seeded kind and
    target (or has drive(machine, boot) inject them: tools/demo.py), lets the machine settle,
    runs the final checks; returns the parsed Boot."""
    rng = random.Random(f"{a.seed}/linux/{boot}")

    def seeded(m, b):
        for _ in range(faults):
            m.pump(rng.expovariate(a.rate))
            t = rng.choice(a.targets)
            m.crash(t, rng.choice(kinds_for(a, t)))
            if m.proc.poll() is not None:
                break
            progress(b)

    m = campaign_linux.Machine(a.build, log)
    image = campaign_linux.make_image(str(Path(a.out) / "linux-outer.img"))
    bad = []
    b = Boot()
    m.start(image)
    try:
        if not m.wait_guests():
            bad.append(("guest death", "the guests did not both come up"))
        else:
            for vm in campaign_linux.GUESTS:
                err = m.setup_guest(vm)
                if err:
                    bad.append(("guest death", f"{vm}: {err}"))
        if not bad:
            m.start_fetching()
            m.pump(3)
            b.linux = m
            if started:
                started(m)
            (drive or seeded)(m, b)
            before = m.status()
            m.pump(a.settle)
            after = m.status()
            # a counter's round is 50 probe rounds: 1 s on an idle host, 15-30 s on a loaded one
            # (seen at load 5 with two campaigns side by side); one that has not moved yet gets
            # up to SETTLE_MAX_S in all before it counts as a death
            end = time.monotonic() + max(SETTLE_MAX_S - a.settle, 0)
            while time.monotonic() < end and any(after[vm]["counter"] <= before[vm]["counter"]
                                                 for vm in campaign_linux.GUESTS):
                m.pump(1)
                after = m.status()
            for vm in campaign_linux.GUESTS:
                if after[vm]["counter"] <= before[vm]["counter"]:
                    bad.append(("guest death", f"{vm}: its counter stood still at "
                                f"{after[vm]['counter']} for {max(a.settle, SETTLE_MAX_S):g} s "
                                f"after the faults"))
            b.status = after
            bad += m.final_checks()
    finally:
        if m.proc.poll() is None:
            run_stop(m)
    b.status = m.status()
    for line in m.g.raw.split("\n"):
        # an init line may land inside a guest's (tests/system/run.py)
        e = campaign_linux.run.EMBEDDED_INIT_RE.match(line)
        for part in (e.group(1), e.group(2)) if e else (line,):
            b.feed(part)
    # init's "no standby instance" (its slots, docs/resilience.md): the next restart builds the
    # instance itself, and only a "restart failed" after it gives a server up. Reported once per
    # server, not counted
    standby = {}
    for kind, detail in b.bad:
        x = re.search(r"t=(\d+) (\S+): no standby instance", detail)
        if x:
            standby.setdefault(x.group(2), []).append(int(x.group(1)))
    b.bad = [x for x in b.bad if "no standby instance" not in x[1]]
    found = bad + m.guest_failures() + [
        ("guest warning", f"init: {name} had no standby instance (not enough memory) at {len(ts)} "
         f"ticks between t={ts[0]} and t={ts[-1]} ms") for name, ts in standby.items()]
    # a kernel warning in a guest (a soft lockup, an RCU stall: the host's load stretches those)
    # is reported, not counted as a failure that matters; its oops, panic or death is
    b.bad += [x for x in found if x[0] != "guest warning"]
    b.warnings = [x[1] for x in found if x[0] == "guest warning"]
    b.stalls = m.stalls()
    b.finish(0, "")
    b.lines = m.status_lines()
    shutil.rmtree(m.tmp, ignore_errors=True)
    return b


def run_stop(m):
    campaign_linux.run.stop(m.proc, "qemu")
    m.g.finish()


def find_paths(build):
    b = Path(build)
    paths = {name: str(b / rel) for name, rel in MODULES.items()}
    paths["init"] = str(b / "servers/init/init.elf")
    paths["kernel"] = str(b / "kernel/resurgo.elf")
    paths["image"] = str(b / "tests/system/fs/system-fs-src.img")
    missing = [p for p in paths.values() if not Path(p).exists()]
    if missing:
        sys.exit(f"campaign: not built: {missing} (run tools/build.sh)")
    return paths


class Stats:
    def __init__(self):
        self.cells = {}        # (target, kind): {faults, restarts}
        self.recovery = {}     # target: [ms]
        self.failures = []     # {boot, kind, detail}
        self.faults = 0
        self.boots = 0
        self.stalls = {}       # target/kind (or "none": no fault near): [(guest, ms)]
        self.guests = []       # per Linux boot: each guest's status at its end
        self.warnings = []     # kernel warnings in a Linux guest's log (not failures)

    def add(self, boot_no, b):
        self.boots += 1
        crash_lines = {}  # target: the log lines of its crashes, in order
        for x in b.crashes:
            crash_lines.setdefault(x[2], []).append(x[0])
        by_target = {}
        for f in b.faults:
            by_target.setdefault(f[2], []).append(f)
        for target, fs in by_target.items():
            lines = crash_lines.get(target, [])
            for i, f in enumerate(fs):
                nxt = fs[i + 1][0] if i + 1 < len(fs) else 1 << 60
                c = self.cells.setdefault(f"{target}/{f[3]}", {"faults": 0, "restarts": 0,
                                                               "not_running": 0})
                c["faults"] += 1
                c["not_running"] += 0 if f[4] else 1
                # the target's crashes between this fault and its next one
                c["restarts"] += bisect.bisect_left(lines, nxt) - bisect.bisect_right(lines, f[0])
        self.faults += len(b.faults)
        for _, target, ms in b.serving:
            self.recovery.setdefault(target, []).append(ms)
        for kind, detail in b.bad:
            self.failures.append({"boot": boot_no, "kind": kind, "detail": detail})
        # a guest's stall goes to the fault injected nearest to its start, within 500 ms before
        # it and up to its end (faults of any target: a guest stalls for fs or the switch too)
        for vm, end, gap in getattr(b, "stalls", []):
            start = end - gap
            near = [f for f in b.faults if start - 500 <= f[1] <= end]
            f = min(near, key=lambda f: abs(f[1] - start), default=None)
            key = f"{f[2]}/{f[3]}" if f else "none"
            self.stalls.setdefault(key, []).append((vm, gap))
        self.warnings += [{"boot": boot_no, "detail": w} for w in getattr(b, "warnings", [])]
        if getattr(b, "status", None):
            self.guests.append({"boot": boot_no, **b.status})


def pct(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(math.ceil(p / 100.0 * len(s))) - 1)] if p > 0 else s[0]


def svg(recovery, path, title):
    """Recovery time per target ({target: [ms, ...]}): a histogram on a log scale (bins of a
    tenth of a decade, each bar's height its share of the target's restarts, so that targets
    with few restarts show too) with the median and p99 marked. Its size does not grow with the
    number of restarts."""
    targets = sorted(recovery)
    w, left, right, row, bar = 860, 110, 30, 56, 44
    h = 70 + row * max(1, len(targets))
    hi = max([10.0] + [max(v) for v in recovery.values() if v])
    span = math.log10(hi * 1.2)
    x = lambda ms: left + (w - left - right) * math.log10(max(ms, 1.0)) / span
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" '
         f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
         f'<text x="{w / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>']
    decade = 1
    while decade <= hi * 1.2:
        for m in (1, 2, 5):
            v = decade * m
            if v > hi * 1.2:
                break
            o.append(f'<line x1="{x(v):.1f}" y1="30" x2="{x(v):.1f}" y2="{h - 30}" stroke="#ddd"/>')
            o.append(f'<text x="{x(v):.1f}" y="{h - 14}" text-anchor="middle">{v:g}</text>')
        decade *= 10
    o.append(f'<text x="{w / 2}" y="{h - 1}" text-anchor="middle">recovery: crash to serving '
             f'again, ms of guest time (log scale; 0 ms counted at 1)</text>')
    for i, t in enumerate(targets):
        base = 40 + i * row + bar
        v = recovery[t]
        o.append(f'<text x="{left - 8}" y="{base - bar / 2 + 4}" text-anchor="end">{t} '
                 f'(n={len(v)})</text>')
        bins = collections.Counter(int(math.log10(max(ms, 1.0)) * 10) for ms in v)
        most = max(bins.values(), default=1)
        for k, n in sorted(bins.items()):
            x0, x1 = x(10 ** (k / 10)), x(10 ** ((k + 1) / 10))
            hgt = max(1.0, bar * n / most)
            o.append(f'<rect x="{x0:.1f}" y="{base - hgt:.1f}" width="{max(x1 - x0 - 1, 1):.1f}" '
                     f'height="{hgt:.1f}" fill="#3465a4"><title>{10 ** (k / 10):.0f}-'
                     f'{10 ** ((k + 1) / 10):.0f} ms: {n}</title></rect>')
        for p, color in ((50, "#cc0000"), (99, "#f57900")):
            q = pct(v, p)
            if q is not None:
                o.append(f'<line x1="{x(q):.1f}" y1="{base - bar - 4}" x2="{x(q):.1f}" y2="{base + 2}" '
                         f'stroke="{color}" stroke-width="2"><title>p{p} {q} ms</title></line>')
    o.append(f'<text x="{w - right}" y="36" text-anchor="end" fill="#cc0000">median</text>')
    o.append(f'<text x="{w - right}" y="50" text-anchor="end" fill="#f57900">p99</text>')
    o.append("</svg>")
    Path(path).write_text("\n".join(o) + "\n")


def summary(a, stats, elapsed):
    lines = [f"campaign seed {a.seed}: {stats.faults} faults in {stats.boots} boots, "
             f"{elapsed / 60:.1f} min ({stats.faults / max(elapsed, 1):.2f} faults/s)",
             f"replay: tools/campaign.py {'--linux ' if a.linux else ''}--seed {a.seed} --rate {a.rate:g} --boot-faults "
             f"{a.boot_faults} --kinds {','.join(a.kinds)} --targets {','.join(a.targets)} "
             + "".join(f"--spare {sp} " for sp in a.spare) +
             f"--faults F --boot N (F: the campaign's)", "",
             f"{'target/kind':<18}{'faults':>8}{'restarts':>10}{'not run':>9}"]
    for key in sorted(stats.cells):
        c = stats.cells[key]
        lines.append(f"{key:<18}{c['faults']:>8}{c['restarts']:>10}{c['not_running']:>9}")
    lines += ["", f"{'recovery (ms)':<18}{'n':>7}{'median':>8}{'p90':>7}{'p99':>7}{'max':>7}"]
    for t in sorted(stats.recovery):
        v = stats.recovery[t]
        lines.append(f"{t:<18}{len(v):>7}{pct(v, 50):>8}{pct(v, 90):>7}{pct(v, 99):>7}{max(v):>7}")
    if stats.stalls:
        lines += ["", f"guest-visible stalls (the guests' probe: gaps of >= "
                  f"{campaign_linux.GAP_CS * 10} ms in /proc/uptime, 10 ms resolution), "
                  "by the fault nearest to their start",
                  f"{'target/kind':<18}{'stalls':>7}{'median':>8}{'p90':>7}{'max':>7}  guests"]
        for key in sorted(stats.stalls):
            v = [g for _, g in stats.stalls[key]]
            who = ",".join(sorted({vm for vm, _ in stats.stalls[key]}))
            lines.append(f"{key:<18}{len(v):>7}{pct(v, 50):>8}{pct(v, 90):>7}{max(v):>7}  {who}")
    for g in stats.guests:
        for vm, st in g.items():
            if vm == "boot":
                continue
            lines.append(f"boot {g['boot']} {vm}: up {st['uptime_s']:.0f} s, counter "
                         f"{st['counter']}, {st['written'] >> 10} KiB written, "
                         f"{st['fetched'] >> 10} KiB fetched in {st['fetches']} fetches "
                         f"({st['broken']} broken, {st.get('transfer_stalls', 0)} stalled, max "
                         f"{st.get('max_transfer_stall_s', 0)} s), {st['stalls']} stalls (max "
                         f"{st['max_stall_ms']} ms)")
    kinds = {}
    for f in stats.failures:
        kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    lines += ["", "failures that matter: " + (", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
                                           or "none")]
    for f in stats.failures[:30]:
        lines.append(f"  boot {f['boot']}: {f['kind']}: {f['detail']}")
    if stats.warnings:
        lines.append(f"warnings (guest kernel warnings, init without a standby instance; "
                     f"reported, not failures): {len(stats.warnings)}")
        for w in stats.warnings[:5]:
            lines.append(f"  boot {w['boot']}: {w['detail']}")
    return "\n".join(lines) + "\n"


def main():
    a = parse_args()
    if a.replot:
        d = json.loads((Path(a.replot) / "campaign.json").read_text())
        svg({t: v["all"] for t, v in d["recovery_ms"].items()}, Path(a.replot) / "recovery.svg",
            f"Recovery per target: {d['faults']} faults, seed {d['seed']}")
        return
    paths = None if a.linux else find_paths(a.build)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"campaign: seed {a.seed} (replay a boot: --seed {a.seed} --boot N); {a.faults} faults, "
          f"kinds {','.join(a.kinds)}, targets {','.join(a.targets)}, {a.rate:g} faults/s",
          flush=True)
    stats = Stats()
    t0 = time.monotonic()
    tty = sys.stdout.isatty()
    last = [0.0]

    def progress(b):
        now = time.monotonic()
        if not tty and now - last[0] < 15:
            return
        last[0] = now
        done = stats.faults + (len(b.linux.injected) if getattr(b, "linux", None) else len(b.faults))
        rate = done / max(now - t0, 1e-3)
        left = (a.faults - done) / rate if rate > 0 else float("inf")
        line = (f"campaign: {done}/{a.faults} faults, {rate:.1f}/s, "
                f"{len(stats.failures) + len(b.bad)} failures, boot {stats.boots + 1}, "
                f"{'?' if math.isinf(left) else f'{max(left, 0) / 60:.1f} min'} left")
        print(("\r" + line + "   ") if tty else line, end="" if tty else "\n", flush=True)

    boots = [a.boot] if a.boot is not None else range(a.max_boots)
    failed_boots = []
    for n in boots:
        if a.linux:
            # faults typed per boot: the seeded schedule's count, not init's log
            faults = a.boot_faults if a.boot is not None else \
                min(a.boot_faults, max(a.faults - a.boot_faults * n, 1))
            b = run_linux_boot(a, n, faults, out / f"boot-{n}.log", progress)
            for line in b.lines:
                print(("\n" if tty else "") + "campaign: boot " + str(n) + " " + line, flush=True)
        else:
            # the last boot gets what is left, but never so few that fstest-crash cannot see fs
            # and blk restarted as often as it waits for (the campaign then runs a little over)
            faults = min(a.boot_faults, max(a.faults - stats.faults,
                                            MIN_BOOT_FAULTS_PER_TARGET * len(a.targets)))
            b = run_boot(a, n, faults, paths, out / f"boot-{n}.log", progress)
        before = len(stats.failures)
        stats.add(n, b)
        if len(stats.failures) > before:
            failed_boots.append(n)
        if b.bad and tty:
            print()
        for kind, detail in b.bad:
            print(f"campaign: boot {n}: {kind}: {detail} (replay: --seed {a.seed} --boot {n}; "
                  f"log {out / f'boot-{n}.log'})", flush=True)
        if stats.faults >= a.faults or (a.linux and a.boot_faults * (n + 1) >= a.faults):
            break
    if tty:
        print()
    elapsed = time.monotonic() - t0
    report = {"seed": a.seed, "rate": a.rate, "kinds": a.kinds, "spare": a.spare, "targets": a.targets,
              "boots": stats.boots, "faults": stats.faults, "seconds": round(elapsed, 1),
              "cells": stats.cells,
              "recovery_ms": {t: {"n": len(v), "median": pct(v, 50), "p90": pct(v, 90),
                                  "p99": pct(v, 99), "max": max(v), "all": v}
                              for t, v in stats.recovery.items()},
              "failures": stats.failures,
              "stalls_ms": {k: {"n": len(v), "median": pct([g for _, g in v], 50),
                                "max": max(g for _, g in v), "all": v}
                            for k, v in stats.stalls.items()},
              "guests": stats.guests, "warnings": stats.warnings, "linux": a.linux}
    (out / "campaign.json").write_text(json.dumps(report, indent=1) + "\n")
    text = summary(a, stats, elapsed)
    (out / "summary.txt").write_text(text)
    svg(stats.recovery, out / "recovery.svg",
        f"Recovery per target: {stats.faults} faults, seed {a.seed}")
    print(text, end="")
    print(f"campaign: report in {out}/campaign.json, summary.txt, recovery.svg")
    # the serial log's end of the first failing boots: in CI the --out directory is gone after
    for n in failed_boots[:FAILED_LOGS_SHOWN]:
        lines = (out / f"boot-{n}.log").read_text(errors="replace").splitlines()
        print(f"campaign: the last {min(len(lines), FAILED_LOG_LINES)} lines of boot {n}'s log:")
        print("\n".join(lines[-FAILED_LOG_LINES:]))
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
