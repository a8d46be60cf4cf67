#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""system-linux-fsdisk: the Linux guest's virtio-blk disk is a file of servers/fs. The VMM's
backend (servers/vmm/virtio_blk_chan.c) sends the guest's sectors over the channel disk-linux to
fs, which serves /disks/disk-linux.img (servers/fs/filedisk.c) of its ext2 on blk's virtio-blk
PCI disk: ext2 in a file in ext2 on a PCI disk. init crashes fs and blk again and again
(fsdisk.manifest). Boots as linux.py does, then at the guest's shell:

  FSDISK-0001 the shell prompt came
  FSDISK-0002 /dev/vda has the inner image's size in sectors and serial "resurgo-vda"
  FSDISK-0003 mount -t ext2 /dev/vda succeeds
  FSDISK-0004 N files written with dd and synced one by one (md5sum taken after each sync)
              all read back with those md5sums after drop_caches and a remount
  FSDISK-0005 fs and blk (--crashed: and the VMM) were each crashed and restarted at least 10
              times during the writes
  FSDISK-0006 the image's known files have the md5sums debugfs reads on the host
  FSDISK-0007 no kernel warning, oops or disk error in the guest's log
  (the guest unmounts the disk; the emulator stops; then on the host)
  FSDISK-0008 e2fsck -fn finds the outer image (blk's disk) clean
  FSDISK-0009 e2fsck -fn finds the guest's disk clean, extracted with debugfs -R "dump ..."
  FSDISK-0010 every synced file in the extracted guest disk has the md5sum the guest took

  fsdisk.py --kernel K --module NAME=PATH ... --image OUTER.img --disk RUN.img --log L
            [--files N] [--timeout S] [--crashed fs,blk,linux]"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import linux  # noqa: E402  (session, boot_to_prompt, checker, report, BAD_LOG)
import disk  # noqa: E402  (BAD_DISK_LOG, md5_of)

CHECKS = ["prompt", "device", "mount", "crash-write", "crashes", "known", "log", "outer-fsck",
          "inner-fsck", "host-md5"]
MIN_CRASHES = 10
ROUND = 10  # files per round of writes
MAX_FILES = 100  # 6.4 MiB: the guest disk has 8 MiB
INNER = "/disks/disk-linux.img"
# exactly 32 digits: the console sometimes repeats a byte (docs/virtualization.md), which makes
# 33, and a match of the last 32 would be a wrong sum
SUM = re.compile(r"(?<![0-9a-f])([0-9a-f]{32})  /tmp/d/c/(f\d+)\b")
# fs's and blk's own lines (each restart prints some) share the console with the guest's output
# and may land inside one of its lines (linux.Guest.command takes out init's and the VMM's)
SERVER_LINE = re.compile(r"(?:fs|blk): [^\n]*(?:\n|$)")


def command(g, cmd, timeout=60):
    out, t = g.command(cmd, timeout=timeout)
    return (None if out is None else SERVER_LINE.sub("", out)), t


def parse_args():
    p = linux.arg_parser(__doc__)
    p.add_argument("--image", required=True, help="the outer image made by fsdisk-image.py")
    p.add_argument("--disk", required=True, help="the run's copy of it (blk's PCI disk)")
    p.add_argument("--vm", default="linux")
    p.add_argument("--files", type=int, default=20)
    p.add_argument("--crashed", default="fs,blk",
                   help="the servers that must each restart >= 10 times during the writes")
    p.add_argument("--timeout", type=float, default=600)
    a = linux.parse(p)
    a.disk_image = a.image
    a.written = 0  # files the guest wrote and synced (guest_checks)
    return a


def debugfs(img, req, **kw):
    tool = shutil.which("debugfs") or "/usr/sbin/debugfs"
    return subprocess.run([tool, "-R", req, img], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, **kw).stdout


def fsck(img):
    tool = shutil.which("e2fsck") or "/usr/sbin/e2fsck"
    r = subprocess.run([tool, "-fn", img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode, r.stdout.decode(errors="replace")


def restarts(text, name):
    return len(re.findall(rf"\[init\] t=\d+ {name} restarted", text))


def main():
    a = parse_args()
    results = []
    check = linux.checker("FSDISK", CHECKS, results)
    t0 = time.monotonic()
    os.makedirs(os.path.dirname(os.path.abspath(a.log)), exist_ok=True)
    open(a.log, "w").close()
    sums = {}
    with tempfile.TemporaryDirectory(prefix="resurgo-fsdisk-") as tmp:
        # the guest's disk as the build made it: its size and the known files' md5sums
        inner0 = os.path.join(tmp, "inner0.img")
        debugfs(a.image, f"dump {INNER} {inner0}", check=True)
        sectors = os.path.getsize(inner0) // 512
        want = {p: hashlib.md5(debugfs(inner0, f"cat {p}")).hexdigest()
                for p in ("/known.txt", "/dir/known.bin")}
        with linux.session(a, tmp) as g:
            booted = linux.boot_to_prompt(g, a.vm, a.timeout)
            check("prompt", booted, f"the guest's shell prompt after {time.monotonic() - t0:.1f} s")
            if booted:
                sums = guest_checks(a, g, check, sectors, want)
        host_checks(a, check, tmp, sums)
    text = Path(a.log).read_text(errors="replace")
    stats = (f"fs restarted {restarts(text, 'fs')} times, blk {restarts(text, 'blk')} times in all")
    return linux.report(a, "FSDISK", CHECKS, CHECKS, results, t0, sort=True, note=stats)


def guest_checks(a, g, check, sectors, want):
    out, _ = command(g, "cat /sys/block/vda/size /sys/block/vda/serial")
    lines = [l.strip() for l in (out or "").split("\n") if l.strip()]
    check("device", str(sectors) in lines and "resurgo-vda" in lines,
          f"/dev/vda has {sectors} sectors and serial resurgo-vda: {lines[:4]!r}")
    out, _ = command(g, "mkdir -p /tmp/d && mount -t ext2 /dev/vda /tmp/d && echo mounted-ok",
                       timeout=120)
    mounted = out is not None and "mounted-ok" in out
    check("mount", mounted, f"mount -t ext2 /dev/vda: {(out or '')[-200:]!r}")
    if not mounted:
        return {}
    # files in rounds until there are at least --files and fs and blk each restarted
    # MIN_CRASHES times during the writes: a fast host writes them between a few crashes
    before = {s: restarts(g.raw, s) for s in a.crashed.split(",")}
    n, host_s, out, t_start = 0, 0.0, None, time.monotonic()
    command(g, "mkdir -p /tmp/d/c; : > /tmp/sums")
    while n < MAX_FILES and time.monotonic() - t_start < a.timeout:
        out, t = command(g,
            f"i={n}; while [ $i -lt {n + ROUND} ]; do i=$((i+1)); "
            f"dd if=/dev/urandom of=/tmp/d/c/f$i bs=1024 count=64 2>/dev/null; sync; "
            f"md5sum /tmp/d/c/f$i; done >> /tmp/sums; echo round-done", timeout=a.timeout)
        host_s += t
        if out is None or not re.search(r"^round-done$", out, re.M):
            break
        n += ROUND
        during = {s: restarts(g.raw, s) - before[s] for s in before}
        if n >= a.files and min(during.values()) >= MIN_CRASHES:
            break
    during = {s: restarts(g.raw, s) - before[s] for s in before}
    a.written = n  # what host_checks must find
    out, t = command(g, "echo 3 > /proc/sys/vm/drop_caches; umount /tmp/d && "
                     "mount -t ext2 /dev/vda /tmp/d && md5sum -c /tmp/sums | grep -c ': OK$'",
                     timeout=a.timeout)
    host_s += t
    lines = (out or "").strip().split("\n")
    check("crash-write", n > 0 and bool(lines) and lines[-1].strip() == str(n),
          f"{n} synced files of 64 KiB read back intact after drop_caches and a remount through "
          f"the crashes of {a.crashed} ({host_s:.1f} s): {lines[-3:]}")
    check("crashes", min(during.values()) >= MIN_CRASHES,
          f"{a.crashed} were crashed and restarted {during} times while the files were written "
          f"(at least {MIN_CRASHES} each)")
    # the guest's md5sums, printed three times: a host line or a repeated byte may spoil one;
    # each file's sum is the one most prints agree on
    seen = {}
    for _ in range(3):
        out, _ = command(g, "cat /tmp/sums")
        for m in SUM.finditer(out or ""):
            seen.setdefault(m.group(2), []).append(m.group(1))
    # (a repeated digit in a name, f30 printed as f300, names no file the guest wrote)
    names = {f"f{i}" for i in range(1, n + 1)}
    sums = {f: max(set(v), key=v.count) for f, v in seen.items() if f in names}
    got = {}
    for _ in range(3):  # a server's line may cut one of them: asked again
        out, _ = command(g, "md5sum /tmp/d/known.txt /tmp/d/dir/known.bin")
        for p in want:
            got[p] = got.get(p) or disk.md5_of(out, p.split("/")[-1])
        if all(got.values()):
            break
    check("known", all(got[p] == want[p] for p in want),
          f"the known files' md5sums match the image's (guest {got}, host {want})")
    out, _ = command(g, "umount /tmp/d && sync && echo unmounted-ok", timeout=120)
    bad = [l for l in g.raw.split("\n")
           if linux.BAD_LOG.search(l) or disk.BAD_DISK_LOG.search(l)]
    check("log", not bad and out is not None and "unmounted-ok" in out,
          f"no kernel warning or disk error in the log, and the disk unmounted: {bad[:3]}")
    return sums


def host_checks(a, check, tmp, sums):
    rc, report = fsck(a.disk)
    check("outer-fsck", rc == 0, f"e2fsck -fn on blk's disk: exit status {rc}"
          + ("" if rc == 0 else "\n" + report))
    inner = os.path.join(tmp, "inner.img")
    debugfs(a.disk, f"dump {INNER} {inner}")
    if not os.path.exists(inner):
        check("inner-fsck", False, f"debugfs could not dump {INNER}")
        return
    rc, report = fsck(inner)
    check("inner-fsck", rc == 0, f"e2fsck -fn on the guest's disk ({INNER}): exit status {rc}"
          + ("" if rc == 0 else "\n" + report))
    bad = [f for f, s in sums.items()
           if hashlib.md5(debugfs(inner, f"cat /c/{f}")).hexdigest() != s]
    check("host-md5", len(sums) == a.written and not bad,
          f"{len(sums)} of {a.written} synced files' md5sums known from the guest; on the host "
          f"{len(sums) - len(bad)} match in the extracted disk (wrong: {bad[:5]})")


if __name__ == "__main__":
    sys.exit(main())
