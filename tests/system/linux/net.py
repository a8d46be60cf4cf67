#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""system-linux-net: two Linux guests whose VMMs are joined back to back by one network link
(proto/net.h; manifest net.manifest: channels vnet.a and vnet.b), each with a virtio-net card
over virtio-mmio (servers/vmm/virtio_net.c) that /init configures from the command line's ip=.
Boots as linux.py does (its Guest class), then at the guests' shells, through init's `attach`:

  NET-0001 both guests came up with eth0 configured and reached their shell prompt
  NET-0002 vmA's eth0 has the link's MAC, net_link_mac("vnet") (FNV-1a, computed here)
  NET-0003 vmA pings vmB: every one of 5 echo requests answered
  NET-0004 vmB serves a 1 MiB random file with busybox httpd; vmA's wget of it has the md5sum
           vmB computed
  NET-0005 (net-crash.manifest) a 16 MiB file fetched the same way, in rounds, while the harness
           has init crash both VMMs (`crash NAME random`) again and again: every md5 matches
  NET-0006 each VMM was crashed and restarted at least 10 times during those fetches
  NET-0007 no kernel warning, oops, transmit time-out or virtio error in the log
  NET-0008 (net-switch.manifest, --uplink) the host fetches vmB's file with urllib through QEMU's
           user network (hostfwd), the NIC driver (servers/nic), the switch (servers/net) and vmB's
           virtio-net: the md5 matches (the guests' ping above then crossed the switch too)
  NET-0009 (--uplink) the host fetches vmB's 16 MiB file again and again while init crashes the
           NIC driver, the switch and vmB's VMM in turn until each restarted at least 10 times
           during the fetches: every fetch completes with vmB's md5

  net.py --emu qemu --kernel K --module NAME=PATH ... --log L [--timeout S] [--checks ...]
         [--uplink] (the guests on QEMU's user network 10.0.2.0/24 behind a NIC and the switch)"""

import hashlib
import os
import re
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import linux  # noqa: E402  (session, checker, report, HOST_LINE, BAD_LOG)

CHECKS = ["boot", "mac", "ping", "fetch", "crash-fetch", "crashes", "log", "curl", "crash-curl"]
CURL_CRASHED = ["nic", "net", "vmB"]  # what crash-curl crashes, in turn
MIN_CRASHES = 10
CRASH_EVERY = 2.0  # seconds between two crashes of one VMM
LINK = "vnet"
VMS = {"vmA": "10.0.0.1", "vmB": "10.0.0.2"}
BAD_NET_LOG = re.compile(r"NETDEV WATCHDOG|transmit queue \d+ timed out|virtio_net.*(error|fail)|"
                         r"is not a head|virtio_mmio.*(fail|error)")
DETACH = "\x1d"  # Ctrl-]: init's shell takes the keyboard back


def parse_args():
    p = linux.arg_parser(__doc__)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--size-mib", type=int, default=16, help="the crash-fetch file")
    p.add_argument("--checks", default="boot,mac,ping,fetch,log")
    p.add_argument("--uplink", action="store_true",
                   help="QEMU's user network on a virtio-net NIC (hostfwd to vmB's port 80); the "
                        "guests are 10.0.2.15 (link vma) and 10.0.2.16 (link vmb)")
    a = linux.parse(p, CHECKS)
    if a.uplink:
        global LINK
        LINK = "vma"
        VMS.update({"vmA": "10.0.2.15", "vmB": "10.0.2.16"})
        with socket.socket() as s:  # a free port for the forward
            s.bind(("127.0.0.1", 0))
            a.port = s.getsockname()[1]
        a.nic = "virtio-net-pci"
        a.netdev = f"user,net=10.0.2.0/24,hostfwd=tcp:127.0.0.1:{a.port}-{VMS['vmB']}:80"
    return a


def link_mac(name):
    """proto/net.h's net_link_mac: 02:52:53 and 24 bits of the name's FNV-1a hash."""
    h = 2166136261
    for b in name.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return "02:52:53:%02x:%02x:%02x" % ((h >> 16) & 0xFF, (h >> 8) & 0xFF, h & 0xFF)


class Console:
    """init's console shared by both guests: attach one at a time. Each attached guest's shell
    gets a prompt of its own ("vmA-net# "): the other guest's lines ("[vmB] ~ # ") and init's
    share the console."""

    def __init__(self, g):
        self.g, self.vm = g, None

    def prompt(self):
        return re.escape(f"{self.vm}-net# ")

    def attach(self, vm, timeout=60):
        g = self.g
        self.detach()
        g.read()
        g.cursor, g.raw_cursor = len(g.text), len(g.raw)
        g.type(f"attach {vm}\r")
        if g.wait(rf"attached to {vm}", 10, raw=True) is None:
            return False
        self.vm = vm
        g.type(f"PS1=\"{vm}-net\"'# '\r")  # the echo does not hold the prompt itself
        return g.wait(self.prompt(), timeout) is not None

    def detach(self):
        if self.vm:
            self.g.type(DETACH)
            self.g.wait(r"detached from", 10, raw=True)
        self.vm = None

    def command(self, cmd, timeout=60):
        """Types cmd; its output without the echo and without other lines, and the seconds it
        took, or (None, t) if no prompt came."""
        g = self.g
        g.type(cmd + "\r")
        t0 = time.monotonic()
        out = g.wait(self.prompt(), timeout)
        elapsed = time.monotonic() - t0
        if out is None:
            return None, elapsed
        lines = g.host_line.sub("", out).split("\n")
        lines = [l for l in lines if not re.match(r"\[vm[AB]\] ", l)]
        if lines and cmd[:20] in lines[0]:
            lines = lines[1:]
        return "\n".join(lines).strip("\n"), elapsed


def idle(g, seconds):
    """Waits, reading the console (linux.Guest's reader thread drains QEMU's socket, without
    which QEMU stops the serial port and with it the whole machine's console output)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        g.read()
        time.sleep(0.05)


def md5_in(out):
    m = re.search(r"\b([0-9a-f]{32})\b", out or "")
    return m.group(1) if m else None


def main():
    a = parse_args()
    results = []
    check = linux.checker("NET", CHECKS, results)
    os.makedirs(os.path.dirname(os.path.abspath(a.log)), exist_ok=True)
    open(a.log, "w").close()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="resurgo-net-") as tmp, linux.session(a, tmp) as g:
        run_all(a, g, check, t0)
    return linux.report(a, "NET", CHECKS, [c for c in CHECKS if c in a.checks], results, t0)


def run_all(a, g, check, t0):
    up = g.wait(r"type 'help' for the shell", 120, raw=True) is not None
    # both guests configure eth0 and start their shell (unattached: lines "[vm] ...")
    seen = {}
    end = time.monotonic() + a.timeout
    while up and time.monotonic() < end and len(seen) < len(VMS):
        g.read()
        for vm, ip in VMS.items():
            m = re.search(rf"\[{vm}\] resurgo-guest: eth0 {re.escape(ip)} ([0-9a-f:]+)", g.text)
            if m and re.search(rf"\[{vm}\] ~ # ", g.text):  # its shell's first prompt
                seen[vm] = m.group(1)
        idle(g, 0.2)
    con = Console(g)
    booted = len(seen) == len(VMS) and con.attach("vmB")
    check("boot", booted, f"both guests configured eth0 and gave a prompt after "
          f"{time.monotonic() - t0:.1f} s: {seen}")
    if not booted:
        return
    if "mac" in a.checks:
        check("mac", seen.get("vmA") == link_mac(LINK),
              f"vmA's eth0 has net_link_mac({LINK!r}) = {link_mac(LINK)}: {seen.get('vmA')}")
    # vmB: the files and the web server
    size = a.size_mib if "crash-fetch" in a.checks or "crash-curl" in a.checks else 1
    out, _ = con.command(f"mkdir -p /www && dd if=/dev/urandom of=/www/f bs=1024 count={size * 1024}"
                         f" 2>/dev/null && md5sum /www/f && httpd -h /www -p 80 && echo httpd-ok",
                         timeout=120)
    want = md5_in(out)
    if not want or "httpd-ok" not in (out or ""):
        check("fetch", False, f"vmB could not make the file or start httpd: {out!r}")
        return
    if not con.attach("vmA"):
        check("ping", False, "no prompt from vmA after attach")
        return
    if "ping" in a.checks:
        out, t = con.command(f"ping -c 5 {VMS['vmB']}", timeout=60)
        m = re.search(r"(\d+) packets transmitted, (\d+) packets received", out or "")
        check("ping", m is not None and m.group(1) == m.group(2) == "5",
              f"vmA -> vmB: 5 echo requests, 5 replies ({t:.1f} s): {(out or '')[-160:]!r}")
    if "fetch" in a.checks:
        out, t = con.command(f"wget -q -O - http://{VMS['vmB']}/f | md5sum", timeout=180)
        got = md5_in(out)
        check("fetch", got == want, f"vmA fetched vmB's {size} MiB file with wget in {t:.1f} s "
              f"({size / t if t else 0:.2f} MiB/s): md5 {got}, vmB's {want}")
    if "curl" in a.checks:
        curl(a, g, check, want, size)
    if "crash-curl" in a.checks:
        con.detach()
        crash_curl(a, g, check, want, size)
    if "crash-fetch" in a.checks:
        crash_fetch(a, g, con, check, want, size)
    if "log" in a.checks:
        bad = [l for l in g.raw.split("\n") if linux.BAD_LOG.search(l) or BAD_NET_LOG.search(l)]
        check("log", not bad, f"no kernel warning, transmit time-out or virtio error {bad[:3]}")


def host_md5(a):
    """The host's fetch of vmB's file through the forwarded port: its md5."""
    with urllib.request.urlopen(f"http://127.0.0.1:{a.port}/f", timeout=120) as r:
        return hashlib.md5(r.read()).hexdigest()


def curl(a, g, check, want, size):
    """The host fetches vmB's file through the forwarded port while the log is drained."""
    got, err = [None], [None]

    def fetch():
        try:
            got[0] = host_md5(a)
        except Exception as e:  # noqa: BLE001 (reported)
            err[0] = repr(e)

    t0 = time.monotonic()
    th = threading.Thread(target=fetch)
    th.start()
    while th.is_alive() and time.monotonic() - t0 < 150:
        idle(g, 0.2)
    t = time.monotonic() - t0
    check("curl", got[0] == want, f"the host fetched vmB's {size} MiB file through NIC, switch "
          f"and VMM in {t:.1f} s: md5 {got[0]}, vmB's {want} {err[0] or ''}")


def crash_curl(a, g, check, want, size):
    """The host fetches vmB's file in a loop while init's shell crashes the NIC driver, the switch
    and vmB's VMM in turn; TCP (the guest's and slirp's) must carry every fetch through."""
    restarts = {n: re.compile(rf"\[init\] t=\d+ {n} restarted") for n in CURL_CRASHED}
    before = {n: len(rx.findall(g.raw)) for n, rx in restarts.items()}
    sums, errors, stop = [], [], threading.Event()

    def fetch():
        while not stop.is_set():
            try:
                sums.append(host_md5(a))
            except Exception as e:  # noqa: BLE001 (reported)
                errors.append(repr(e))
                return

    th = threading.Thread(target=fetch)
    th.start()
    t0, n, enough_at = time.monotonic(), 0, None
    while th.is_alive() and time.monotonic() - t0 < a.timeout:
        during = {k: len(rx.findall(g.raw)) - before[k] for k, rx in restarts.items()}
        if enough_at is None and min(during.values()) >= MIN_CRASHES:
            enough_at = len(sums)
        if enough_at is not None and len(sums) > enough_at:
            break
        g.type(f"crash {CURL_CRASHED[n % len(CURL_CRASHED)]} random\r")
        n += 1
        idle(g, CRASH_EVERY / len(CURL_CRASHED))
    stop.set()
    while th.is_alive() and time.monotonic() - t0 < a.timeout + 150:
        idle(g, 0.2)
    elapsed = time.monotonic() - t0
    idle(g, 1)
    during = {k: len(rx.findall(g.raw)) - before[k] for k, rx in restarts.items()}
    ok = bool(sums) and all(x == want for x in sums) and not errors and enough_at is not None
    check("crash-curl", ok,
          f"the host fetched vmB's {size} MiB file {len(sums)} times in {elapsed:.1f} s while "
          f"{n} crashes went to {', '.join(CURL_CRASHED)}; restarts during the fetches {during} "
          f"(at least {MIN_CRASHES} each): md5s {sorted(set(sums))}, vmB's {want} {errors[:1]}")


def crash_fetch(a, g, con, check, want, size):
    """vmA fetches in the background, again and again until each VMM has restarted at least
    MIN_CRASHES times during the fetches; meanwhile init's shell crashes vmA and vmB in turn.
    Every fetch must have vmB's md5 (a fast host finishes one 16 MiB fetch between a few
    crashes: the rounds make the crash count independent of the host's speed)."""
    restarts = {vm: re.compile(rf"\[init\] t=\d+ {vm} restarted") for vm in VMS}
    before = {vm: len(rx.findall(g.raw)) for vm, rx in restarts.items()}
    g.type(f"for k in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do "
           f"wget -q -O - http://{VMS['vmB']}/f | md5sum; echo fetch-done-$k; "
           f"[ -e /tmp/enough ] && break; done &\r")
    idle(g, 1)
    con.detach()
    t0 = time.monotonic()
    sums, n, enough_at = [], 0, None
    done = re.compile(r"\[vmA\] ([0-9a-f]{32})\s+-\s*\n(?:.*\n)*?\[vmA\] fetch-done-(\d+)")
    while time.monotonic() - t0 < a.timeout:
        g.read()
        sums = [m.group(1) for m in done.finditer(g.text)]
        during = {vm: len(rx.findall(g.raw)) - before[vm] for vm, rx in restarts.items()}
        if enough_at is None and min(during.values()) >= MIN_CRASHES:
            enough_at = len(sums)  # the fetch under way when the count was reached ends the loop
        if enough_at is not None and len(sums) > enough_at:
            break
        vm = "vmA" if n % 2 == 0 else "vmB"
        g.type(f"crash {vm} random\r")
        n += 1
        # each VMM every CRASH_EVERY s: a restart maps the guest's RAM again, which under TCG
        # takes a good part of a second, and the transfer must go on between them
        idle(g, CRASH_EVERY / 2)
    elapsed = time.monotonic() - t0
    if con.attach("vmA"):
        con.command("touch /tmp/enough; wait", timeout=300)
    during = {vm: len(rx.findall(g.raw)) - before[vm] for vm, rx in restarts.items()}
    check("crash-fetch", bool(sums) and all(x == want for x in sums),
          f"vmA fetched vmB's {size} MiB file {len(sums)} times in {elapsed:.1f} s while both "
          f"VMMs were crashed ({n} crash commands): md5s {sorted(set(sums))}, vmB's {want}")
    if "crashes" in a.checks:
        check("crashes", all(c >= MIN_CRASHES for c in during.values()),
              f"each VMM restarted at least {MIN_CRASHES} times during the fetches: {during}")

if __name__ == "__main__":
    sys.exit(main())
