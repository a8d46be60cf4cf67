#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tools/bench.sh net and disk, the Linux guest's part: the same Debian kernel and initramfs
under Resurgo and on bare QEMU TCG with QEMU's own virtio devices, both in one run, as figures
and ratios (docs/benchmarks.md).

  net:  the host fetches an N MiB file from the guest's busybox httpd through QEMU's user network
        (hostfwd), md5 checked, and the guest pings QEMU's gateway 10.0.2.2 (median round trip).
        Resurgo: nic-virtio -> servers/net (switch) -> servers/vmm virtio-net -> Linux
        (bench/linux/net.manifest); bare: -device virtio-net-pci.
  disk: dd writes N MiB from a random file in the guest's RAM to /dev/vda (conv=fsync), then
        reads them back after drop_caches; md5 checked. Resurgo: servers/vmm virtio-blk ->
        servers/fs filedisk -> servers/blk -> QEMU's virtio-blk PCI disk
        (bench/linux/disk.manifest); bare: -device virtio-blk-pci on a same-size image.

Wall-clock seconds as the host sees them (disk and network I/O do not repeat under -icount):
the machine's load moves them, and is printed next to them. Prints `bench:` lines, then the
run's checks ([test] BENCH-NNNN ...: the guests booted, the transfers completed with the right
md5): exit status 0 only if every check passed. --smoke: small sizes, one repetition.

  bench-guest.py net|disk [--size MIB] [--reps N] [--smoke] [--build DIR] [--log L]"""

import argparse
import contextlib
import hashlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/system"))
sys.path.insert(0, str(ROOT / "tests/system/linux"))
import run  # noqa: E402
import linux  # noqa: E402  (Guest, session, boot_to_prompt, checker, report)

GUEST_IP, GATEWAY = "10.0.2.15", "10.0.2.2"
# The guest's command line in both places: the manifests' (bench/linux/*.manifest), so that
# /init configures the network the same way.
CMDLINE = "console=ttyS0 loglevel=5 no_timer_check"
NET_CMDLINE = CMDLINE + f" ip={GUEST_IP}:::255.255.255.0::eth0:off"
BOOT_TIMEOUT = 600
MD5 = re.compile(r"(?<![0-9a-f])([0-9a-f]{32})(?![0-9a-f])")
NAMES = {"net": ["resurgo-prompt", "resurgo-fetch", "resurgo-ping", "bare-prompt", "bare-fetch",
                 "bare-ping"],
         "disk": ["resurgo-prompt", "resurgo-dd", "bare-prompt", "bare-dd"]}


def load():
    return "load %.1f %.1f %.1f" % os.getloadavg()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resurgo_args(b, manifest, log, extra_modules=(), **kw):
    """What linux.start (run.start_emulator) needs for Resurgo with init, the VMM and the guest."""
    mods = [("init", b / "servers/init/init.elf"), ("vmm", b / "servers/vmm/vmm.elf"),
            ("linux-bzImage", b / "guests/linux/linux-bzImage"),
            ("linux-initrd", b / "guests/linux/linux-initrd.cpio")] + list(extra_modules) + \
        [("manifest", ROOT / "bench/linux" / manifest)]
    return argparse.Namespace(emu="qemu", kernel=str(b / "kernel/resurgo.elf"), cmdline="",
                              iso=False, icount=False, send=["console"], mem=1024, log=log,
                              modules=[(n, str(p)) for n, p in mods], **kw)


@contextlib.contextmanager
def bare(b, tmp, log, mem, cmdline, devices):
    """The guest on bare qemu-system-x86_64 TCG (-machine pc, as tools/linux-bare.py) with
    `devices` (QEMU arguments), its console a socket QEMU waits for (wait=on: nothing is lost
    before the reader connects): a linux.Guest for the with-block; QEMU stopped afterwards."""
    sock = os.path.join(tmp, "bare.sock")
    cmd = ["qemu-system-x86_64", "-machine", "pc", "-cpu", "qemu64", "-m", f"{mem}M",
           "-display", "none", "-monitor", "none", "-no-reboot",
           "-chardev", f"socket,id=s0,path={sock},server=on,wait=on,logfile={log}.qemu",
           "-serial", "chardev:s0", "-kernel", str(b / "guests/linux/linux-bzImage"),
           "-initrd", str(b / "guests/linux/linux-initrd.cpio"), "-append", cmdline] + devices
    with open(os.path.join(tmp, "bare.out"), "w") as out:
        proc = subprocess.Popen(cmd, cwd=tmp, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    a = argparse.Namespace(emu="qemu", sock=sock)
    try:
        g = linux.Guest(a, proc, log)
    except OSError:
        run.stop(proc, "qemu")
        raise
    try:
        yield g
    finally:
        run.stop(proc, "qemu")
        g.finish()


def mb_s(mib, seconds):
    return mib * 1048576 / 1e6 / seconds if seconds else 0.0


def both(a, check, tmp, logs, r, mem, cmdline, devices, measure, sides=None):
    """measure(side, g) on the guest booted under Resurgo (r: resurgo_args), then on bare QEMU
    (mem MiB, the kernel's cmdline, QEMU `devices`): {side: its figures, or (None, None) if the
    guest gave no prompt; side + "-load": the machine's load before and after}. sides: more
    Resurgo runs first, {name: resurgo_args} (the disk benchmark's --fs variants)."""
    figures = {}
    runs = list((sides or {}).items()) + [("resurgo", r), ("bare", None)]
    for side, ra in runs:
        load0 = load()
        with (linux.session(ra, tmp) if ra is not None else
              bare(a.build, tmp, logs[1], mem, cmdline, devices)) as g:
            booted = (linux.boot_to_prompt(g, "linux", BOOT_TIMEOUT) if ra is not None else
                      g.wait(re.escape(linux.PROMPT), BOOT_TIMEOUT) is not None)
            check(f"{side}-prompt", booted, f"the guest's shell prompt ({side})")
            figures[side] = measure(side, g) if booted else (None, None)
        figures[side + "-load"] = f"{load0} -> {load()}"
    return figures


# ---------------------------------------------------------------- net

def net_side(side, g, check, a, port):
    """The file, httpd, the host's fetches and the pings on one booted guest: (MB/s, ms)."""
    out, _ = g.command(f"mkdir -p /www && dd if=/dev/urandom of=/www/f bs=1M count={a.size} "
                       f"2>/dev/null && md5sum /www/f && httpd -h /www -p 80 && echo httpd-ok",
                       timeout=300)
    m = MD5.search(out or "")
    want = m.group(1) if m else None
    if not want or "httpd-ok" not in out:
        check(f"{side}-fetch", False, f"the guest could not make the file or start httpd: {out!r}")
        return None, None
    times, sums, err = [], [], None
    for _ in range(a.reps):
        t0 = time.monotonic()
        try:  # linux.Guest's reader thread drains the console meanwhile
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/f", timeout=300) as r:
                sums.append(hashlib.md5(r.read()).hexdigest())
        except OSError as e:
            err = repr(e)
            break
        times.append(time.monotonic() - t0)
    ok = len(sums) == a.reps and set(sums) == {want}
    rate = mb_s(a.size, statistics.median(times)) if ok else None
    check(f"{side}-fetch", ok, f"the host fetched the guest's {a.size} MiB file {len(sums)} times "
          f"(of {a.reps}) in {' '.join(f'{t:.2f}' for t in times)} s: md5s {sorted(set(sums))}, "
          f"the guest's {want} {err or ''}")
    out, _ = g.command(f"ping -c {a.pings} -i 0.2 {GATEWAY}", timeout=60 + a.pings)
    rtts = [float(x) for x in re.findall(r"seq=\d+ ttl=\d+ time=([\d.]+) ms", out or "")]
    check(f"{side}-ping", len(rtts) > 0, f"{len(rtts)} of {a.pings} echo requests to {GATEWAY} "
          f"answered: {(out or '')[-120:]!r}")
    return rate, (statistics.median(rtts) if rtts else None)


def bench_net(a, check, tmp, logs):
    b = a.build
    port = free_port()
    netdev = f"user,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:{port}-{GUEST_IP}:80"
    r = resurgo_args(b, "net.manifest", logs[0], [("nic", b / "servers/nic/nic-virtio.elf"),
                                                  ("net", b / "servers/net/net.elf")],
                     nic="virtio-net-pci", netdev=netdev)
    f = both(a, check, tmp, logs, r, 160, NET_CMDLINE,
             ["-netdev", f"{netdev},id=n0", "-device", "virtio-net-pci,netdev=n0"],
             lambda side, g: net_side(side, g, check, a, port))
    (rt, rp), (bt, bp) = f["resurgo"], f["bare"]
    print(f"bench: net guest -> host TCP, {a.size} MiB over hostfwd (median of {a.reps}): resurgo "
          f"{fmt(rt, '.2f')} MB/s, bare qemu TCG {fmt(bt, '.2f')} MB/s, ratio {ratio(rt, bt)}")
    print(f"bench: net ping guest -> {GATEWAY} (median of {a.pings}): resurgo {fmt(rp, '.2f')} ms, "
          f"bare qemu TCG {fmt(bp, '.2f')} ms, ratio {ratio(rp, bp)}")
    print(f"bench: net machine {f['resurgo-load']} (resurgo), {f['bare-load']} (bare)")


def fmt(x, spec):
    return "-" if x is None else format(x, spec)


def ratio(x, y):
    return f"{x / y:.2f}" if x and y else "-"


# ---------------------------------------------------------------- disk

def disk_side(side, g, check, a):
    """dd's sequential write and read of a.size MiB on /dev/vda, each a.reps times: the median
    MB/s of each, host wall clock."""
    n = a.size
    out, _ = g.command(f"dd if=/dev/urandom of=/tmp/src bs=1M count={n} 2>/dev/null; "
                       f"md5sum /tmp/src; cat /sys/block/vda/size", timeout=300)
    m = MD5.search(out or "")
    want = m.group(1) if m else None
    sectors = re.findall(r"^(\d+)$", out or "", re.M)
    if not want or not sectors or int(sectors[-1]) < n * 2048:
        check(f"{side}-dd", False, f"no /tmp/src or /dev/vda too small: {out!r}")
        return None, None
    writes, reads, outs = [], [], []

    def timed(cmd, seconds):  # the host's seconds from Enter to the next prompt
        out, t = g.command(cmd + " 2>&1 | grep -c 'records out'", timeout=a.timeout)
        outs.append(out)
        if out is not None:
            seconds.append(t)
        return out is not None

    for _ in range(a.reps):
        if not timed("dd if=/tmp/src of=/dev/vda bs=1M conv=fsync", writes):
            break
        g.command("echo 3 > /proc/sys/vm/drop_caches")
        if not timed(f"dd if=/dev/vda of=/dev/null bs=1M count={n}", reads):
            break
    out, _ = g.command(f"echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda bs=1M count={n} "
                       f"2>/dev/null | md5sum", timeout=a.timeout)
    m = MD5.search(out or "")
    got = m.group(1) if m else None
    ok = len(writes) == len(reads) == a.reps and got == want
    check(f"{side}-dd", ok, f"dd wrote {n} MiB to /dev/vda in {' '.join(f'{t:.2f}' for t in writes)}"
          f" s and read it in {' '.join(f'{t:.2f}' for t in reads)} s; read back after "
          f"drop_caches: md5 {got}, written {want} {outs if not ok else ''}")
    if not ok:
        return None, None
    return mb_s(n, statistics.median(writes)), mb_s(n, statistics.median(reads))


def bench_disk(a, check, tmp, logs):
    b = a.build
    n = a.size
    outer = os.path.join(tmp, "outer.img")
    # the guest's disk: exactly n MiB (the file /disks/disk-linux.img of fs); the outer ext2 with
    # room for it and its indirect blocks (1 KiB blocks)
    subprocess.run([sys.executable, str(ROOT / "tests/system/linux/fsdisk-image.py"), outer,
                    str(n + n // 8 + 8), str(n)], check=True, stdout=subprocess.DEVNULL)
    def resurgo(fs, log):
        return resurgo_args(b, "disk.manifest", log, [("blk", b / "servers/blk/blk.elf"),
                                                      ("fs", Path(fs).resolve())],
                            disk=os.path.join(tmp, "run.img"), disk_image=outer)
    r = resurgo(a.fs or b / "servers/fs/fs.elf", logs[0])
    # --fs-before: the same under another fs first (its own copy of the outer image: run.py
    # copies disk_image to disk at every boot)
    sides = {f"resurgo[{Path(x).name}]": resurgo(x, logs[0]) for x in a.fs_before or []}
    img = os.path.join(tmp, "bare.img")
    with open(img, "wb") as f:  # written out, as the outer image's copy is (not sparse)
        f.write(bytes(n << 20))
    f = both(a, check, tmp, logs, r, 256, CMDLINE,
             ["-drive", f"file={img},format=raw,if=none,id=d0", "-device", "virtio-blk-pci,drive=d0"],
             lambda side, g: disk_side(side, g, check, a), sides)
    (rw, rr), (bw, br) = f["resurgo"], f["bare"]
    for what, i, y in (("write (conv=fsync)", 0, bw), ("read (after drop_caches)", 1, br)):
        for side in list(sides) + ["resurgo"]:
            x = f[side][i]
            print(f"bench: disk linux dd sequential {what}, {n} MiB, bs=1M (median of {a.reps}): "
                  f"{side} {fmt(x, '.2f')} MB/s, bare qemu TCG {fmt(y, '.2f')} MB/s, "
                  f"ratio {ratio(x, y)}")
    for side in list(sides) + ["resurgo"]:
        print(f"bench: disk linux machine {f[side + '-load']} ({side}), {f['bare-load']} (bare)")


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["net", "disk"])
    p.add_argument("--size", type=int, help="MiB moved (net: 16, disk: 16; --smoke: 1)")
    p.add_argument("--reps", type=int, help="fetches / dd rounds, the median printed (3; --smoke: 1)")
    p.add_argument("--pings", type=int, help="ping's echo requests (20; --smoke: 3)")
    p.add_argument("--smoke", action="store_true", help="small sizes: that the benchmark runs")
    p.add_argument("--timeout", type=float, default=600, help="seconds for one dd")
    p.add_argument("--build", default=str(ROOT / "build"))
    p.add_argument("--log", help="both guests' consoles (default: a temporary file)")
    p.add_argument("--fs", help="disk: fs's ELF under Resurgo (default: BUILD/servers/fs/fs.elf)")
    p.add_argument("--fs-before", action="append", metavar="ELF",
                   help="disk: also run under Resurgo with this fs first (repeatable), e.g. "
                        "BUILD/servers/fs/fs-qd1.elf (one blk request at a time)")
    a = p.parse_args()
    a.build = Path(a.build).resolve()
    a.size = a.size or (1 if a.smoke else 16)
    a.reps = a.reps or (1 if a.smoke else 3)
    a.pings = a.pings or (3 if a.smoke else 20)
    results = []
    names = list(NAMES[a.what])
    for x in (a.fs_before or []) if a.what == "disk" else []:  # their checks first
        names[:0] = [f"resurgo[{Path(x).name}]-prompt", f"resurgo[{Path(x).name}]-dd"]
    check = linux.checker("BENCH", names, results)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"resurgo-bench-{a.what}-") as tmp:
        log = a.log or os.path.join(tmp, "console.log")
        os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
        logs = [log + ".resurgo", log + ".bare"]
        for f in logs:
            open(f, "w").close()
        try:
            (bench_net if a.what == "net" else bench_disk)(a, check, tmp, logs)
        finally:
            with open(log, "w") as out:  # both consoles in one log: linux.report prints it
                for side, f in zip(("resurgo", "bare qemu"), logs):
                    out.write(f"----- {side} ({f}) -----\n")
                    out.write(Path(f).read_text(errors="replace"))
        status = linux.report(argparse.Namespace(emu="qemu", log=log), "BENCH", names,
                              names, results, t0, sort=True)
    if status == 0:
        print("bench: done")
    return status


if __name__ == "__main__":
    sys.exit(main())
