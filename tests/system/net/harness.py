#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The host side of the system-net tests: raw Ethernet frames to and from a Resurgo system in
QEMU through the NIC's `-netdev dgram` backend (two Unix datagram sockets, one frame a datagram).
The system runs a NIC driver (servers/nic) whose link ends at netecho (netecho.c), which sends
every frame back with its MACs swapped; this harness checks what comes back.

  harness.py --nic MODEL [--crash] -- RUN.PY-ARGUMENTS...

It starts tests/system/run.py with the arguments after `--` plus --nic MODEL and a --netdev of
its own, waits until a probe frame comes back, then (normal runs):
  NET-0001 every size 60..1514 comes back intact (16 in flight)
  NET-0002 broadcast frames come back (source: netecho's MAC)
  NET-0003 1,000 frames in bursts sent back to back (--burst, 250: what a path with flow
           control holds; behind the switch a port's fair share of an output ring, which the
           switch drops beyond) all come back
  NET-0004 runts and giants (over 1518 bytes) from the wire: no giant comes back, and the
           traffic after them flows
  NET-0005 (QEMU) the NIC's link goes down and up (QMP set_link): the driver reports both,
           nothing crosses while it is down, traffic flows afterwards
  NET-0006 the driver never restarted (none of the above crashed it)
With --crash it streams frames (48 in flight) until the serial log shows the driver's 12th
restart, reports loss, and checks that the stream continues afterwards (NET-0101, NET-0102).
Then it sends netecho its STOP frame (with its counts), which ends the run with netecho's own
checks. With --dst (system-net-switch*) netecho sits on a switch port behind the driver: frames
go to its port's MAC, --show has it print a line on which the test types init's `net` and
  NET-0007 the switch learned the harness's MAC on the uplink (init's `net`)
is checked, and --crash-servers names every server whose restarts the stream waits for.
It prints its check lines as `[harness] ID PASS|FAIL ...`; the exit status is 1 if any
failed or run.py failed."""

import argparse
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "run.py"
NIC_MAC = bytes.fromhex("525400123456")     # tools/qemu_cmd.py NIC_MAC
HOST_MAC = bytes.fromhex("024852534e54")    # ours (locally administered)
ECHO_MAC = bytes.fromhex("025253454348")    # netecho's source for a reflected broadcast
BCAST = b"\xff" * 6
ETYPE = 0x88B5
MAGIC = b"RSGO"
PROBE = 0xFFFF0000
LOSS_WAIT = 15.0  # seconds after which a frame of a lossless path counts lost (a give-up time)


def payload(seq, size):
    """The frame body after the header: magic, seq, size, then bytes from a seeded generator."""
    head = MAGIC + struct.pack("<II", seq, size)
    rest = size - 14 - len(head)
    return head + random.Random(seq).randbytes(max(rest, 0))


DST = NIC_MAC  # where unicast frames go: the NIC itself, or (--dst) netecho's port behind the switch


def frame(seq, size, dst=None):
    dst = DST if dst is None else dst
    return dst + HOST_MAC + struct.pack(">H", ETYPE) + payload(seq, size)


class Link:
    """Our end of QEMU's dgram backend; a thread collects what comes back, by sequence number."""

    def __init__(self, tmp, emu="qemu"):
        self.emu = emu
        if emu == "qemu":
            self.ours = os.path.join(tmp, "host.sock")
            self.qemu = os.path.join(tmp, "qemu.sock")
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(self.ours)
        else:
            # Bochs' socket module binds UDP port P and sends to port P + 1 (eth_socket.cc)
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for _ in range(100):
                port = random.randrange(20000, 60000, 2)
                try:
                    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    probe.bind(("127.0.0.1", port))
                    probe.close()
                    self.sock.bind(("127.0.0.1", port + 1))
                    break
                except OSError:
                    continue
            self.port = port
            self.qemu = ("127.0.0.1", port)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.lock = threading.Lock()
        self.got = {}          # seq -> times seen
        self.bad = []          # frames that came back wrong (a short description each)
        self.giants = 0        # frames longer than 1518 that came back
        self.foreign = 0       # frames that are not ours at all
        self.sent_to = {}      # seq -> (destination, size) of what we sent
        self.stop = False
        self.stuck = False
        threading.Thread(target=self._rx, daemon=True).start()

    def netdev(self):
        if self.emu == "bochs":
            # a bare port means localhost; Debian's Bochs 2.7 garbles 'host:port' (its parser
            # reads the string it freed: "could not translate socket number")
            return f"socket,{self.port}"
        return (f"dgram,local.type=unix,local.path={self.qemu},"
                f"remote.type=unix,remote.path={self.ours}")

    def send(self, seq, size, dst=None, raw=None):
        dst = DST if dst is None else dst
        f = raw if raw is not None else frame(seq, size, dst)
        if raw is None:
            self.sent_to[seq] = (dst, size)
        # QEMU's socket appears once it runs, and a full queue drains (when a loaded host lets
        # QEMU run): retry for 20 s, but only 50 ms while the last frame could not be sent
        # either (a dead path)
        for _ in range(5 if self.stuck else 2000):
            try:
                # never blocking: with the NIC's ring full QEMU stops reading its socket, and a
                # dead receive path must fail the test, not hang it
                self.sock.sendto(f, socket.MSG_DONTWAIT, self.qemu)
                self.stuck = False
                return True
            except (FileNotFoundError, ConnectionRefusedError, BlockingIOError):
                time.sleep(0.01)
                if self.emu == "bochs":
                    return False  # UDP: nobody listens yet, the frame is lost
            except OSError:
                time.sleep(0.01)
        self.stuck = True
        return False

    def _rx(self):
        while not self.stop:
            try:
                f = self.sock.recv(65536)
            except OSError:
                return
            with self.lock:
                self._check(f)

    def _check(self, f):
        if len(f) > 1518:  # proto/net.h's NET_MAX_FRAME: 1514 and a VLAN tag
            self.giants += 1
            return
        if len(f) < 26 or f[14:18] != MAGIC:
            self.foreign += 1
            return
        seq, size = struct.unpack("<II", f[18:26])
        sent = self.sent_to.get(seq)
        if seq >= PROBE:
            self.got[seq] = self.got.get(seq, 0) + 1
            return
        if sent is None:
            self.bad.append(f"seq {seq}: never sent")
            return
        dst, size = sent
        want_src = ECHO_MAC if dst[0] & 1 else dst
        want = HOST_MAC + want_src + struct.pack(">H", ETYPE) + payload(seq, size)
        # a short frame may come back padded to 60 bytes (the e1000 pads what it receives)
        if f[:len(want)] != want or (len(f) != len(want) and len(want) >= 60):
            self.bad.append(f"seq {seq}: {len(f)} bytes, {len(want)} expected, content "
                            f"{'differs' if f[:len(want)] != want else 'equal'}")
            return
        self.got[seq] = self.got.get(seq, 0) + 1

    def seen(self, seq):
        with self.lock:
            return seq in self.got

    def wait(self, seqs, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if all(s in self.got for s in seqs):
                    return []
            time.sleep(0.01)
        with self.lock:
            return [s for s in seqs if s not in self.got]


class Checks:
    def __init__(self):
        self.failed = 0
        self.n = 0

    def check(self, ok, cid, what, detail=""):
        self.n += 1
        self.failed += not ok
        print(f"[harness] {cid} {'PASS' if ok else 'FAIL'} {what}"
              + (f" ({detail})" if detail else ""), flush=True)


def ready(link, deadline, run):
    """Probes until one comes back (the system has booted and netecho runs)."""
    seq = PROBE
    while time.monotonic() < deadline and run.poll() is None:
        link.send(seq, 60, raw=DST + HOST_MAC + struct.pack(">H", ETYPE) + MAGIC
                  + struct.pack("<II", seq, 60) + bytes(34))
        if not link.wait([seq], 0.5):
            return True
        seq += 1
    return False


def windowed(link, seqs_sizes, window, timeout, dst=None, give_up=64):
    """Sends (seq, size) pairs with at most `window` unanswered; returns the ones that never
    came back within `timeout` of being sent. After `give_up` losses it stops: the rest count
    as lost (a dead path should fail the test, not run into its time-out)."""
    outstanding, lost = {}, []
    it = iter(seqs_sizes)
    pending = True
    while pending or outstanding:
        if len(lost) >= give_up:
            return lost + list(outstanding) + [s for s, _ in it]
        now = time.monotonic()
        for s, t in list(outstanding.items()):
            if link.seen(s):
                del outstanding[s]
            elif now - t > timeout:
                del outstanding[s]
                lost.append(s)
        while pending and len(outstanding) < window:
            nxt = next(it, None)
            if nxt is None:
                pending = False
                break
            link.send(nxt[0], nxt[1], dst)
            outstanding[nxt[0]] = time.monotonic()
        if outstanding:
            time.sleep(0.002)
    return lost


def normal(link, c, light=False, burst=250, burst_frames=1000):
    # light (Bochs, some hundred times slower): every 29th size, smaller windows and one burst
    sizes = list(range(60, 1515, 29 if light else 1)) + ([1514] if light else [])
    # give-up times for a frame (LOSS_WAIT): a loaded host makes frames late, not lost
    win, wait = (4, 30.0) if light else (16, LOSS_WAIT)
    lost = windowed(link, [(1 + i, s) for i, s in enumerate(sizes)], win, wait)
    c.check(not lost and not link.bad, "NET-0001",
            f"every frame size 60..1514 came back intact ({len(sizes)} frames)",
            f"{len(lost)} lost, first {lost[:5]}; bad {link.bad[:3]}")

    rnd = random.Random(12)
    bc = [(10000 + i, rnd.randrange(60, 1515)) for i in range(64)]
    lost = windowed(link, bc[:16] if light else bc, win // 2, wait, dst=BCAST)
    bc = bc[:16] if light else bc
    c.check(not lost and not link.bad, "NET-0002",
            f"{len(bc)} broadcast frames came back with netecho's source MAC",
            f"{len(lost)} lost; bad {link.bad[:3]}")

    # Each burst is sent at once and waited for whole before the next: a correct path loses
    # nothing if a burst fits what its lossy points hold (the switch's output ring: a source's
    # share, 64 entries with two ports; a netecho stopped between its reply and its release may
    # still hold one entry of the last burst), whatever the host's load. Bochs' socket module
    # reads one frame per poll, and a burst must fit the host's UDP buffer: 2 of 100 small ones.
    total, missing = 0, []
    nb, per = (2, 100) if light else (-(-burst_frames // burst), burst)
    t0 = time.monotonic()
    for b in range(nb):
        # Bochs' socket module reads one frame per poll into the host's socket buffer: small
        # frames, so that a burst fits there
        frames = [(1000000 + b * 1000 + i, rnd.randrange(60, 128) if light else rnd.randrange(60, 1515))
                  for i in range(per)]
        for s, size in frames:
            link.send(s, size)
        # a give-up time (a loaded host is slow, not lossy); the first lossy burst ends them
        lost = link.wait([s for s, _ in frames], 20.0)
        missing += lost
        total += len(frames)
        if lost:
            print(f"[harness] burst {b}: {per} frames sent, {per - len(lost)} came back",
                  flush=True)
            break
    print(f"[harness] {b + 1} bursts of {per}: {total} frames sent, {total - len(missing)} back "
          f"in {time.monotonic() - t0:.2f} s", flush=True)
    c.check(not missing and not link.bad, "NET-0003",
            f"{nb} burst(s) of {per} frames sent back to back all came back ({nb * per} frames)",
            f"{len(missing)} lost of {total} sent; bad {link.bad[:3]}")

    # from the wire: runts (shorter than a header) and giants (beyond 1514 bytes)
    for i, size in enumerate([1, 10, 13, 1519, 1600, 4000, 9000]):
        hdr = DST + HOST_MAC + struct.pack(">H", ETYPE)
        link.send(0, 0, raw=(hdr + bytes(size))[:size])
    after = [(30000 + i, rnd.randrange(60, 1515)) for i in range(20 if light else 100)]
    lost = windowed(link, after, win, wait)
    c.check(link.giants == 0 and not lost, "NET-0004",
            f"no giant came back and {len(after)} frames after runts and giants all did",
            f"{link.giants} giants back, {len(lost)} lost")


def qmp_call(path, cmd, args):
    """One QMP command on QEMU's QMP socket (greeting, qmp_capabilities, then cmd)."""
    import json
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        f = s.makefile("rw")
        f.readline()  # the greeting
        for c in ({"execute": "qmp_capabilities"}, {"execute": cmd, "arguments": args}):
            f.write(json.dumps(c) + "\n")
            f.flush()
            while True:
                r = json.loads(f.readline())
                if "return" in r or "error" in r:
                    break
        return r


def wait_log(log, pattern, after, timeout):
    """Waits until a line matching pattern appears in the serial log after offset `after`."""
    pat, end = re.compile(pattern, re.M), time.monotonic() + timeout
    while time.monotonic() < end:
        if pat.search(Path(log).read_text(errors="replace")[after:]):
            return True
        time.sleep(0.05)
    return False


def link_flip(link, c, log, qmp):
    """NET-0005: QEMU takes the NIC's link down and up again (QMP set_link): the driver sees
    both changes (its interrupt), and frames flow again afterwards."""
    rnd = random.Random(5)
    at = len(Path(log).read_text(errors="replace"))
    r1 = qmp_call(qmp, "set_link", {"name": "net0", "up": False})
    down = wait_log(log, r"^nic: link change: .* link down", at, 30)
    during = [(40000 + i, 100) for i in range(20)]
    for s, size in during:
        link.send(s, size)
    through = 20 - len(link.wait([s for s, _ in during], 1.0))
    at = len(Path(log).read_text(errors="replace"))
    r2 = qmp_call(qmp, "set_link", {"name": "net0", "up": True})
    up = wait_log(log, r"^nic: link change: .* link up", at, 30)
    after = [(41000 + i, rnd.randrange(60, 1515)) for i in range(100)]
    lost = windowed(link, after, 16, LOSS_WAIT)
    print(f"[harness] link down: {through} of 20 frames came through", flush=True)
    c.check(down and up and not lost and through == 0 and "return" in r1 and "return" in r2,
            "NET-0005", "the driver saw its link go down and up again (QMP set_link), nothing "
            "crossed while it was down, and 100 frames did afterwards",
            f"down {down}, up {up}, {through} through while down, {len(lost)} lost after, "
            f"QMP {r1} {r2}")


def show(link, c, log):
    """NET-0007: netecho prints a line on which the test types init's `net`; the switch's table
    must show the harness's MAC learned on the uplink."""
    at = len(Path(log).read_text(errors="replace"))
    mac = ":".join(f"{b:02x}" for b in HOST_MAC)
    ok = False
    for _ in range(3):
        link.send(0, 0, raw=DST + HOST_MAC + struct.pack(">H", ETYPE) + b"SHOW" + bytes(42))
        ok = wait_log(log, rf"^\[init\] t=\d+   {mac} -> uplink, seen \d+ s ago", at, 10)
        if ok:
            break
    c.check(ok, "NET-0007", f"init's `net` shows the harness's MAC {mac} learned on the uplink")


def flow_until(link, c, log, pattern, go=None, timeout=200.0):
    """NET-0008: frames keep crossing (100 at a time, 16 in flight, every one must come back)
    until a line matching pattern appears in the serial log (another guest finished). With go,
    a broadcast "GO" frame (ethertype 0x88B6) precedes each round of 100 until a line matching go
    is in the log: the other guest waits for it, so its work overlaps this flow."""
    pat, rnd = re.compile(pattern, re.M), random.Random(8)
    gone = re.compile(go, re.M) if go else None
    seq, sent, lost, t0 = 50000, 0, [], time.monotonic()
    while time.monotonic() - t0 < timeout:
        text = Path(log).read_text(errors="replace")
        if pat.search(text):
            break
        if gone and not gone.search(text):
            link.send(0, 0, raw=bytes(6 * [0xFF]) + HOST_MAC + struct.pack(">H", 0x88B6) +
                      b"GO" + bytes(44))
        chunk = [(seq + i, rnd.randrange(60, 1515)) for i in range(100)]
        seq += 100
        sent += len(chunk)
        lost += windowed(link, chunk, 16, LOSS_WAIT)
    seen = bool(pat.search(Path(log).read_text(errors="replace")))
    print(f"[harness] {sent} frames crossed in {time.monotonic() - t0:.1f} s until "
          f"'{pattern}': {len(lost)} lost", flush=True)
    started = not gone or bool(gone.search(Path(log).read_text(errors="replace")))
    c.check(seen and started and sent and not lost, "NET-0008",
            f"frames kept crossing (all came back) until the log said {pattern!r}",
            f"seen {seen}, started {started}, {sent} sent, {len(lost)} lost")


def crash(link, c, log, restarts, servers=("nic",), max_dups=None):
    pats = [re.compile(rf"{s} restarted \(instance \d+, restart {restarts}\)") for s in servers]
    rnd = random.Random(7)
    seq, sent, lost = 100000, 0, []
    t0 = time.monotonic()
    injects, quiet_since = 0, t0
    while time.monotonic() - t0 < 150:
        chunk = [(seq + i, rnd.randrange(60, 1515)) for i in range(200)]
        seq += 200
        sent += len(chunk)
        lost += windowed(link, chunk, 48, 1.0, give_up=200)  # the stream moves on after 1 s
        text = Path(log).read_text(errors="replace")
        # enough restarts, and the manifest's injections are over (none for 2 s): what follows
        # (NET-0102) is after the restarts
        n = len(re.findall(r"^\[init\] t=\d+ inject ", text, re.M))
        if n != injects:
            injects, quiet_since = n, time.monotonic()
        if all(p.search(text) for p in pats) and time.monotonic() - quiet_since > 2.0:
            break
    time.sleep(1.0)  # (only a figure: what is still on its way)
    with link.lock:
        dups = sum(n - 1 for s, n in link.got.items() if s >= 100000 and s < PROBE and n > 1)
        # lost: never came back; one that came after the stream moved on (a loaded host) was late
        lost = [s for s in lost if s not in link.got]
    text = Path(log).read_text(errors="replace")
    each = {s: len(re.findall(rf"{s} restarted \(instance", text)) for s in servers}
    seen = min(each.values())
    print(f"[harness] stream: {sent} frames sent during restarts {each} in "
          f"{time.monotonic() - t0:.1f} s: {len(lost)} lost ({100.0 * len(lost) / max(sent, 1):.2f} %),"
          f" {dups} duplicates", flush=True)
    c.check(seen >= restarts and sent - len(lost) >= sent // 2 and not link.bad, "NET-0101",
            f"a stream of frames crossed {restarts} restarts of each of {', '.join(servers)}",
            f"restarts {each}, {sent} sent, {len(lost)} lost, bad {link.bad[:3]}")
    if max_dups is not None:
        # a frame a crashed server had read but not released is read again (proto/net.h allows
        # a duplicate around a crash): at most one per crash
        c.check(dups <= max_dups * sum(each.values()), "NET-0103",
                f"at most {max_dups} duplicate(s) per crash",
                f"{dups} duplicates in {sum(each.values())} crashes")
    after = [(seq + i, rnd.randrange(60, 1515)) for i in range(300)]
    lost2 = windowed(link, after, 48, LOSS_WAIT)
    c.check(not lost2, "NET-0102", "after the restarts 300 more frames all came back",
            f"{len(lost2)} lost")
    return len(lost)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nic", required=True, help="QEMU NIC model: virtio-net-pci or e1000")
    p.add_argument("--emu", choices=["qemu", "bochs"], default="qemu",
                   help="bochs: its e1000 on the socket module (UDP)")
    p.add_argument("--light", action="store_true", help="fewer frames (a slow emulator)")
    p.add_argument("--crash", action="store_true", help="stream across driver restarts")
    p.add_argument("--restarts", type=int, default=12)
    p.add_argument("--boot-timeout", type=float, default=200)
    p.add_argument("--dst", help="MAC (hex, no colons) unicast frames go to: netecho's port "
                   "behind the switch (default: the NIC's)")
    p.add_argument("--echo-mac", help="MAC (hex) netecho reflects broadcasts from")
    p.add_argument("--show", action="store_true",
                   help="after the checks, have netecho ask for init's `net` (NET-0007)")
    p.add_argument("--flow-until", metavar="REGEX",
                   help="after NET-0001..0004, keep frames flowing until REGEX is in the log "
                   "(NET-0008)")
    p.add_argument("--flow-go", metavar="REGEX",
                   help="with --flow-until: broadcast a GO frame as the flow goes until REGEX is "
                   "in the log (the guest that waits for it has started)")
    p.add_argument("--burst", type=int, default=250,
                   help="frames per burst in NET-0003 (a switch port's fair share bounds it)")
    p.add_argument("--burst-frames", type=int, default=1000,
                   help="NET-0003's frames in all (bursts of --burst)")
    p.add_argument("--crash-servers", default="nic",
                   help="comma-separated servers whose restarts --crash waits for")
    p.add_argument("--max-dups", type=int, help="--crash: duplicates allowed per crash (NET-0103)")
    p.add_argument("run", nargs=argparse.REMAINDER, help="-- then run.py's arguments")
    a = p.parse_args()
    run_args = a.run[1:] if a.run[:1] == ["--"] else a.run
    global DST, ECHO_MAC
    if a.dst:
        DST = bytes.fromhex(a.dst)
    if a.echo_mac:
        ECHO_MAC = bytes.fromhex(a.echo_mac)
    log = run_args[run_args.index("--log") + 1]
    # meson's time-out (SIGTERM): unwind, so that run.py is stopped (it kills its emulator
    # itself) and the temporary directory goes
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    c = Checks()
    with tempfile.TemporaryDirectory(prefix="resurgo-net-") as tmp:
        link = Link(tmp, a.emu)
        qmp = os.path.join(tmp, "qmp.sock")
        cmd = [sys.executable, str(RUN), "--emu", a.emu] + run_args + \
            ["--nic", a.nic, "--netdev", link.netdev()] + (["--qmp", qmp] if a.emu == "qemu" else [])
        run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            if not ready(link, time.monotonic() + a.boot_timeout, run):
                c.check(False, "NET-0000", "a probe frame came back", "none in time")
            else:
                print(f"[harness] the system answers ({a.nic})", flush=True)
                if a.crash:
                    crash(link, c, log, a.restarts, a.crash_servers.split(","), a.max_dups)
                else:
                    normal(link, c, light=a.light, burst=a.burst, burst_frames=a.burst_frames)
                    if a.flow_until:
                        flow_until(link, c, log, a.flow_until, a.flow_go)
                    if a.emu == "qemu":
                        link_flip(link, c, log, qmp)
                    if a.show:
                        show(link, c, log)
                    text = Path(log).read_text(errors="replace")
                    n = len(re.findall(r"(nic|net) restarted", text))
                    c.check(n == 0 and "nic: state destroyed" not in text, "NET-0006",
                            "neither the driver nor the switch ever crashed or restarted", f"{n} restarts")
            with link.lock:
                got = sum(1 for s in link.got if s < PROBE)
            stop = (DST + HOST_MAC + struct.pack(">H", ETYPE) + b"STOP" +
                    struct.pack("<II", len(link.sent_to), got) + bytes(34))
            for _ in range(40):  # a driver that just restarted may lose one
                link.send(0, 0, raw=stop)
                try:
                    run.wait(0.5)
                    break
                except subprocess.TimeoutExpired:
                    pass
            if run.poll() is None:  # STOP never got through: the path is dead; end the run
                print("[harness] netecho never got the STOP frame: interrupting run.py", flush=True)
                run.send_signal(signal.SIGINT)  # its `finally` stops the emulator
            out, _ = run.communicate(timeout=120)
        finally:
            link.stop = True
            if run.poll() is None:
                run.kill()
    print(out, end="")
    if c.failed and run.returncode == 0:  # run.py printed no log: its own verdict passed
        print(f"----- serial log ({log}) -----")
        print(Path(log).read_text(errors="replace"))
        print("-----")
    print(f"[harness] {c.n} checks, {c.failed} failed; foreign frames {link.foreign}; "
          f"run.py exit status {run.returncode}")
    return 1 if c.failed or run.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
