#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""system-linux-disk: the Linux guest with a virtio-blk disk over virtio-mmio (servers/vmm:
virtio_blk.c, found by the kernel through the VMM's ACPI tables). Boots as linux.py does (its
Guest class: the serial log and the console socket), then, at the guest's shell:

  DISK-0001 the shell prompt came
  DISK-0002 /dev/vda exists with the image's size in sectors, serial (GET_ID) "resurgo-vda"
  DISK-0003 mount -t ext2 /dev/vda succeeds
  DISK-0004 the known files' md5sums are those debugfs reads from the image on the host
  DISK-0005 a 192 KiB file written with dd, synced, its page cache dropped, reads back with the
            same md5sum; after umount and mount again too
  DISK-0006 /proc/interrupts counts the disk's interrupts (virtio0 on IO-APIC pin 16)
  DISK-0007 no kernel warning, oops or virtio error in the log
  DISK-0008 (with init crashing the VMM: disk-crash.manifest) files written with dd and
            synced one by one while the VMM is crashed again and again (rounds of 5, at least 20,
            until DISK-0009's crashes came) all read back with their md5sums after the page
            cache is dropped and the disk mounted again
  DISK-0009 the VMM was crashed and restarted at least 10 times while the files were written

  disk.py --emu qemu --kernel K --module NAME=PATH ... --disk IMG --log L [--timeout S]
          [--checks prompt,device,...]"""

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import linux  # noqa: E402  (session, boot_to_prompt, checker, report, BAD_LOG)

CHECKS = ["prompt", "device", "mount", "known", "write", "interrupts", "log", "crash-write",
          "crashes"]
MIN_CRASHES = 10  # VMM restarts during the writes (crashes check)
WRITE_ROUND, WRITE_MIN, WRITE_MAX = 5, 20, 200  # files per round, at least, at most
WRITE_SECONDS = 300  # no round starts after this long
BAD_DISK_LOG = re.compile(r"virtio_blk.*error|I/O error|EXT[24]-fs error|Buffer I/O|"
                          r"virtio_mmio.*(fail|error)")


def parse_args():
    p = linux.arg_parser(__doc__)
    p.add_argument("--disk", required=True, help="the image (also a module: linux-disk)")
    p.add_argument("--vm", default="linux")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--checks", default=",".join(CHECKS[:7]))
    a = linux.parse(p, CHECKS)
    # the guest's disk is the module (init keeps it, manifest disk=); the image is read here by
    # debugfs only. Not given to QEMU as a drive too: QEMU would lock it for writing, and the
    # two disk tests, which run at the same time, could not both start.
    a.image, a.disk = a.disk, None
    return a


def debugfs_md5(img, path):
    """The md5 of a file inside the ext2 image, read by e2fsprogs' debugfs (not by our code)."""
    out = subprocess.run(["debugfs", "-R", f"cat {path}", img], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    return hashlib.md5(out).hexdigest(), len(out)


def md5_of(out, name):
    m = re.search(r"^([0-9a-f]{32})\s+\S*" + re.escape(name) + r"$", out or "", re.M)
    return m.group(1) if m else None


def main():
    a = parse_args()
    results = []
    check = linux.checker("DISK", CHECKS, results)
    sectors = os.path.getsize(a.image) // 512
    want = {p: debugfs_md5(a.image, p) for p in ("/known.txt", "/dir/known.bin")}
    os.makedirs(os.path.dirname(os.path.abspath(a.log)), exist_ok=True)
    open(a.log, "w").close()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="resurgo-disk-") as tmp, linux.session(a, tmp) as g:
        booted = linux.boot_to_prompt(g, a.vm, a.timeout)
        check("prompt", booted, f"the guest's shell prompt after {time.monotonic() - t0:.1f} s")
        if booted:
            run_checks(a, g, check, sectors, want)
    return linux.report(a, "DISK", CHECKS, [c for c in CHECKS if c in a.checks], results, t0)


def run_checks(a, g, check, sectors, want):
    out, _ = g.command("cat /sys/block/vda/size /sys/block/vda/serial")
    lines = (out or "").split("\n")
    check("device", len(lines) >= 2 and lines[0].strip() == str(sectors) and
          lines[1].strip() == "resurgo-vda",
          f"/dev/vda has {sectors} sectors and serial resurgo-vda: {lines[:2]!r}")
    out, _ = g.command("mkdir -p /tmp/d && mount -t ext2 /dev/vda /tmp/d && echo mounted-ok")
    mounted = out is not None and "mounted-ok" in out
    check("mount", mounted, f"mount -t ext2 /dev/vda: {(out or '')[-200:]!r}")
    if not mounted:
        return
    if "crash-write" in a.checks:
        crash_write(a, g, check)
    if "known" in a.checks:
        out, _ = g.command("md5sum /tmp/d/known.txt /tmp/d/dir/known.bin")
        got = {p: md5_of(out, p.split("/")[-1]) for p in want}
        check("known", all(got[p] == want[p][0] for p in want),
              f"the known files' md5sums match the image's (guest {got}, host "
              f"{ {p: w[0] for p, w in want.items()} })")
    if "write" in a.checks:
        write_back(g, check)
    if "interrupts" in a.checks:
        out, _ = g.command("cat /proc/interrupts")
        row = [l for l in (out or "").split("\n") if re.search(r"virtio|LNRO", l)]
        counted = any(int(m.group(1)) > 0 for l in row
                      for m in [re.match(r"\s*\S+:\s+(\d+)", l)] if m)
        check("interrupts", counted, f"the disk's interrupts are counted: {row[:2]}")
    if "log" in a.checks:
        bad = [l for l in g.raw.split("\n") if linux.BAD_LOG.search(l) or BAD_DISK_LOG.search(l)]
        check("log", not bad, f"no kernel warning or disk error in the log {bad[:3]}")


def write_back(g, check):
    """A file written, synced, read back past the page cache and after a remount."""
    out, _ = g.command("dd if=/dev/urandom of=/tmp/d/new.bin bs=1024 count=192 2>/dev/null; "
                       "sync; md5sum /tmp/d/new.bin; echo 3 > /proc/sys/vm/drop_caches; "
                       "md5sum /tmp/d/new.bin; umount /tmp/d && mount -t ext2 /dev/vda /tmp/d && "
                       "md5sum /tmp/d/new.bin; ls -l /tmp/d/new.bin", timeout=120)
    sums = re.findall(r"^([0-9a-f]{32})\s+\S*new\.bin$", out or "", re.M)
    check("write", len(sums) == 3 and len(set(sums)) == 1 and re.search(r"196608", out or ""),
          f"new.bin (192 KiB) reads back the same after sync, drop_caches and a remount: {sums}")
    g.command("umount /tmp/d")


def crash_write(a, g, check):
    """Files written and synced one by one while init crashes the VMM (the manifest injects
    faults for the whole run); each one's md5sum, taken right after its sync, must hold after
    the page cache is dropped and the disk remounted. The writes go on in rounds of
    WRITE_ROUND files until at least WRITE_MIN files were written and the VMM was restarted
    MIN_CRASHES times during the writes: the crashes come from the phase, not the clock."""
    restarts = re.compile(rf"\[init\] t=\d+ {a.vm} restarted")
    start_at, t0 = len(g.raw), time.monotonic()
    g.command("mkdir -p /tmp/d/c; : > /tmp/sums; i=0")
    n, during, written = 0, 0, True
    while True:
        n += WRITE_ROUND
        out, _ = g.command(
            f"while [ $i -lt {n} ]; do i=$((i+1)); "
            f"dd if=/dev/urandom of=/tmp/d/c/f$i bs=1024 count=64 2>/dev/null; sync; "
            f"md5sum /tmp/d/c/f$i >> /tmp/sums; done; echo written $i", timeout=300)
        written = written and out is not None and f"written {n}" in out
        during = len(restarts.findall(g.raw, start_at))
        if not written or (n >= WRITE_MIN and during >= MIN_CRASHES) or n >= WRITE_MAX or \
                time.monotonic() - t0 > WRITE_SECONDS:
            break
    write_s = time.monotonic() - t0
    out, _ = g.command("echo 3 > /proc/sys/vm/drop_caches; umount /tmp/d && "
                       "mount -t ext2 /dev/vda /tmp/d && md5sum -c /tmp/sums | grep -c ': OK$'",
                       timeout=300)
    lines = (out or "").strip().split("\n")
    ok = written and lines and lines[-1].strip() == str(n)
    check("crash-write", ok, f"{n} synced files of 64 KiB read back intact after drop_caches and a "
          f"remount through the VMM's crashes ({write_s:.1f} s of writes): {lines[-3:]}")
    if "crashes" in a.checks:
        check("crashes", during >= MIN_CRASHES,
              f"the VMM was crashed and restarted {during} times while the files were written "
              f"(at least {MIN_CRASHES}; {len(restarts.findall(g.raw))} in all)")

if __name__ == "__main__":
    sys.exit(main())
