#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Guest-to-guest network figures (not a test): boots system-linux-net's two guests (net.py's
manifest and harness, imported), has vmB serve a random file with busybox httpd, and times vmA's
wget of it, reading both guests' /proc/interrupts (the virtio-net line) before and after, so the
interrupts per MiB can be compared across VMM builds independently of the host's load.

  netbench.py --kernel K --module NAME=PATH ... --log L [--size-mib 4] [--rounds 2]
(the same modules as system-linux-net; swap vmm= for another build). Figures: docs/network.md."""
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "linux"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import net  # noqa: E402
import linux  # noqa: E402
import run  # noqa: E402


def virtio_irqs(con):
    """The sum of the virtio interrupt counts in the attached guest's /proc/interrupts."""
    out, _ = con.command("grep -i virtio /proc/interrupts", timeout=60)
    total = 0
    for line in (out or "").split("\n"):
        m = re.match(r"\s*\d+:\s+(\d+)", line)
        if m:
            total += int(m.group(1))
    return total


def exits(g, con):
    """init's `exits vmA` and `exits vmB` (detached): {vm: {reason: count}}."""
    con.detach()
    res = {}
    for vm in ("vmA", "vmB"):
        g.read()
        at = len(g.raw)  # init's lines are not in g.text
        g.type(f"exits {vm}\r")
        end = time.monotonic() + 20
        m = None
        while m is None and time.monotonic() < end:
            g.read()
            m = re.search(rf"exits {vm}:([^\n]*) total (\d+)", g.raw[at:])
            time.sleep(0.05)
        d = {}
        if m:
            for k, v in re.findall(r"(\w+) (\d+)", m.group(1)):
                d[k] = int(v)
            d["total"] = int(m.group(2))
        res[vm] = d
    return res


def per_mib(e0, e1, size):
    out = []
    for vm in ("vmA", "vmB"):
        keys = sorted(set(e0.get(vm, {})) | set(e1.get(vm, {})))
        parts = [f"{k} {(e1[vm].get(k, 0) - e0[vm].get(k, 0)) / size:.0f}" for k in keys
                 if e1.get(vm, {}).get(k, 0) != e0.get(vm, {}).get(k, 0)]
        out.append(f"{vm}: " + ", ".join(parts))
    return "; ".join(out)


def main():
    extra = [x for x in sys.argv[1:]]
    size, rounds = 4, 2
    if "--size-mib" in extra:
        i = extra.index("--size-mib")
        size = int(extra[i + 1])
        del extra[i:i + 2]
    if "--rounds" in extra:
        i = extra.index("--rounds")
        rounds = int(extra[i + 1])
        del extra[i:i + 2]
    sys.argv = [sys.argv[0]] + extra + ["--checks", "boot"]
    a = net.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="resurgo-netbench-") as tmp:
        proc, g = linux.start(a, tmp)
        try:
            results = bench(g, size, rounds, a.timeout)
        finally:
            run.stop(proc, a.emu)
            g.finish()
    for r in results:
        print(r)
    return 0 if results else 1


def bench(g, size, rounds, timeout):
    up = g.wait(r"type 'help' for the shell", 120, raw=True) is not None
    end = time.monotonic() + timeout
    seen = set()
    while up and time.monotonic() < end and len(seen) < 2:
        g.read()
        for vm in net.VMS:
            if re.search(rf"\[{vm}\] ~ # ", g.text):
                seen.add(vm)
        net.idle(g, 0.2)
    con = net.Console(g)
    if len(seen) < 2 or not con.attach("vmB"):
        print("[netbench] the guests did not come up")
        return []
    out, _ = con.command(f"mkdir -p /www && dd if=/dev/urandom of=/www/f bs=1024 "
                         f"count={size * 1024} 2>/dev/null && httpd -h /www -p 80 && echo httpd-ok",
                         timeout=180)
    if "httpd-ok" not in (out or ""):
        print(f"[netbench] no httpd: {out!r}")
        return []
    res = []
    for k in range(rounds):
        e0 = exits(g, con)
        con.attach("vmB")
        b0 = virtio_irqs(con)
        con.attach("vmA")
        a0 = virtio_irqs(con)
        out, t = con.command(f"wget -q -O /dev/null http://{net.VMS['vmB']}/f && echo got-it",
                             timeout=600)
        a1 = virtio_irqs(con)
        con.attach("vmB")
        b1 = virtio_irqs(con)
        ok = "got-it" in (out or "")
        e1 = exits(g, con)
        res.append(f"[netbench] round {k}: {size} MiB in {t:.1f} s ({size / t:.3f} MiB/s)"
                   f"{'' if ok else ' FAILED'}; virtio interrupts per MiB: receiver vmA "
                   f"{(a1 - a0) / size:.0f}, sender vmB {(b1 - b0) / size:.0f}; exits per MiB "
                   f"(both directions' shell work included) {per_mib(e0, e1, size)}")
        print(res[-1], flush=True)
    con.detach()
    return res


if __name__ == "__main__":
    sys.exit(main())
