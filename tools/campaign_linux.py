# SPDX-License-Identifier: MIT
"""Two Linux guests at work under fault injection: the machine of `tools/campaign.py --linux` and
of tools/demo.sh (docs/resilience.md, "Linux mode").

One boot under QEMU: blk on QEMU's virtio-blk disk, fs on blk, the NIC driver (servers/nic,
virtio-net on QEMU's user network) and the switch (servers/net), two VMMs with Debian's kernel
and busybox initramfs (vmA 10.0.2.15, vmB 10.0.2.16; both on the switch; each guest's virtio disk
is a file of fs, /disks/disk-vma.img and disk-vmb.img: DISKS), and the sample servers (echo with echo-client, kv).
Each guest, driven once through init's shell (`attach`), then runs in the background:
  - a writer: 64 KiB files of random data written with dd conv=fsync and sync, round the names
    f0..f47 of its disk, each acknowledged write's md5 printed (`w vmA N fK MD5`);
  - a counter that is also the stall probe: every 20 ms of guest time (`read -t` on a fifo, a
    shell builtin: no fork) it reads /proc/uptime and prints every gap of 60 ms or more
    (`gap vmA UPTIME_CS GAP_CS`) and each 50th round (`ctr vmA N UPTIME_CS MAXGAP_CS`);
  - busybox httpd serving a 1 MiB random file whose md5 it printed, which the host fetches
    again and again through QEMU's hostfwd (one port per guest), the NIC driver, the switch and
    the guest's virtio-net.
Faults are typed into init's shell (`crash NAME KIND`): a seeded schedule (campaign) or a
person (demo). At the end each guest stops its loops, drops its caches, remounts its disk and
prints every file's md5; the host then runs e2fsck -fn on blk's disk and on the guest's disk
(extracted with debugfs) and compares the acknowledged files there too."""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests/system"))
sys.path.insert(0, str(ROOT / "tests/system/linux"))
import run  # noqa: E402
import linux  # noqa: E402  (start, Guest, BAD_LOG)
import net  # noqa: E402  (Console)
import disk  # noqa: E402  (BAD_DISK_LOG)

# The servers' own lines (a restart's, echo-client's count) and an unattached guest's (its VMM
# prints them whole, "[vmB] ...") share the console with the attached guest's output and land
# anywhere, even inside its prompt: the console's guest view (linux.Guest.text) leaves them out
# as it does init's and the VMMs' (linux.start's host_line). The guests' own lines are read from
# the whole console (raw).
HOST_LINE = re.compile(r"(\[init\] t=\d+|vmm [\w-]+:|\[vm[AB]\]|"
                       r"(?:blk|fs|nic|net|echo|echo-client|kv):) [^\n]*\n")
GUESTS = {"vmA": "10.0.2.15", "vmB": "10.0.2.16"}
# the guests with a disk: both. A disk channel is 66 pages at least (64 requests of 4 KiB), and
# init reserves a slot of its CNode (kernel/boot_root.c, INIT_CNODE_RADIX) for every page of
# every channel in each end's running and standby instance: with 4096 slots a second disk ran
# them out ("no standby instance: not enough memory"); 8192 hold both
DISKS = ["vmA", "vmB"]
TARGETS = ["vmA", "vmB", "fs", "blk", "nic", "net", "echo", "kv"]
FILES = 48            # names a writer cycles through (64 KiB each: 3 MiB of its 16 MiB disk)
WWW_KIB = 1024        # the file each guest serves
# tries of the fetch after the faults (120 s each at most): QEMU's user network (slirp) lost a
# request to a NIC restart and never sent it again, the guest's httpd answered 408 after 60 s
# (docs/resilience.md, "Linux mode"); a guest unreachable in all of them has a broken transfer
FINAL_FETCHES = 3
INNER_MIB, OUTER_MIB = 16, 48
GAP_CS = 6            # the probe prints gaps of at least this many centiseconds
PROBE_CS = 2          # its period
NIC_SLOT = "0x6"      # the NIC's PCI slot (Machine.start)
SERVERS = """\
server blk   prio=110 device=virtio-blk dma=16 watchdog=50 restarts=0 backoff=20 owed=1
server fs    prio=105 watchdog=200 restarts=0 backoff=20 owed=1
server nic   image=nic prio=110 device=virtio-net dma=80 watchdog=200 restarts=0 backoff=20 owed=1
server net   image=net prio=110 watchdog=200 restarts=0 backoff=20 owed=1
server vmA   image=vmm kernel=linux-bzImage initrd=linux-initrd ram=96 prio=100 watchdog=500 restarts=0 backoff=50 owed=1 cmdline=console=ttyS0 loglevel=5 no_timer_check ip=10.0.2.15:::255.255.255.0::eth0:off
server vmB   image=vmm kernel=linux-bzImage initrd=linux-initrd ram=96 prio=100 watchdog=500 restarts=0 backoff=50 owed=1 cmdline=console=ttyS0 loglevel=5 no_timer_check ip=10.0.2.16:::255.255.255.0::eth0:off
server echo        prio=100 persist=1 watchdog=100 restarts=0 backoff=20
server echo-client prio=50 watchdog=0 caps=echo
server kv          prio=100 persist=1 watchdog=100 restarts=0 backoff=20
channel fs0 client=fs server=blk pages=34
channel uplink.a client=nic server=net pages=26
channel uplink.b client=net server=nic pages=26
channel vma.a client=vmA server=net pages=26
channel vma.b client=net server=vmA pages=26
channel vmb.a client=vmB server=net pages=26
channel vmb.b client=net server=vmB pages=26
""" + "".join(f"channel disk-{vm.lower()} client={vm} server=fs pages=66\n" for vm in DISKS)
MODULES = {"vmm": "servers/vmm/vmm.elf", "linux-bzImage": "guests/linux/linux-bzImage",
           "linux-initrd": "guests/linux/linux-initrd.cpio", "blk": "servers/blk/blk.elf",
           "fs": "servers/fs/fs.elf", "nic": "servers/nic/nic-virtio.elf",
           "net": "servers/net/net.elf", "echo": "servers/echo/echo.elf",
           "echo-client": "servers/echo/echo-client.elf",
           "kv": "servers/kv/kv.elf"}
# the guests' own lines, wherever the console put them (named: an attached guest's lines come
# without the VMM's "[vmA] " prefix)
W_RE = re.compile(r"\bw (vm[AB]) (\d+) (f\d+) ([0-9a-f]{32})$", re.M)
WERR_RE = re.compile(r"\bwerr (vm[AB]) (\d+) (f\d+)$", re.M)
CTR_RE = re.compile(r"\bctr (vm[AB]) (\d+) (\d+) (\d+)$", re.M)
GAP_RE = re.compile(r"\bgap (vm[AB]) (\d+) (\d+)$", re.M)
WWW_RE = re.compile(r"\bwww (vm[AB]) ([0-9a-f]{32})\b")
INIT_T = re.compile(r"\[init\] t=(\d+) ")
GUEST_DEATH = re.compile(r"Kernel panic|Oops|BUG:|general protection fault|invalid opcode:|"
                         r"vmm (vm[AB]): guest .*stopped")
GUEST_WARN = re.compile(r"soft lockup|rcu.*stall|hung_task|WARNING:|Call Trace|NETDEV WATCHDOG|"
                        r"transmit queue \d+ timed out")


def module_paths(build):
    b = Path(build)
    paths = {name: str(b / rel) for name, rel in MODULES.items()}
    paths["init"] = str(b / "servers/init/init.elf")
    paths["kernel"] = str(b / "kernel/resurgo.elf")
    missing = [p for p in paths.values() if not Path(p).exists()]
    if missing:
        sys.exit(f"not built: {missing} (run tools/build.sh)")
    return paths


def make_image(out):
    """blk's disk: ext2 holding fs's redo log and the guests' disks (DISKS: /disks/disk-vma.img
    tests/system/linux/disk-image.py's image, ext2 with known files), made
    as tests/system/linux/fsdisk-image.py makes its one; kept in out for the next boot (made
    again when it lacks a guest's disk: an image of a build with fewer DISKS)."""
    if os.path.exists(out):
        listing = subprocess.run([shutil.which("debugfs") or "/usr/sbin/debugfs", "-R", "ls /disks",
                                  out], capture_output=True, text=True).stdout
        if all(f"disk-{vm.lower()}.img" in listing for vm in DISKS):
            return out
    mke2fs = shutil.which("mke2fs") or "/usr/sbin/mke2fs"
    env = dict(os.environ, E2FSPROGS_FAKE_TIME="1", SOURCE_DATE_EPOCH="1")
    with tempfile.TemporaryDirectory(prefix="resurgo-camplinux-") as d:
        root = os.path.join(d, "root")
        os.makedirs(os.path.join(root, "disks"))
        with open(os.path.join(root, ".resurgo-log"), "wb") as f:
            f.write(b"\xa5" * 262144)
        for vm in DISKS:
            subprocess.run([sys.executable, str(ROOT / "tests/system/linux/disk-image.py"),
                            os.path.join(root, "disks", f"disk-{vm.lower()}.img"), str(INNER_MIB)],
                           check=True, stdout=subprocess.DEVNULL)
        tmp = out + ".tmp"
        subprocess.run([mke2fs, "-q", "-F", "-t", "ext2", "-b", "1024", "-r", "1", "-d", root,
                        tmp, f"{OUTER_MIB}M"], check=True, env=env, stdout=subprocess.DEVNULL)
        os.replace(tmp, out)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def guest_script(vm):
    """The guest's background work (typed at its shell in one line each)."""
    writer = (f"(w=0; while [ ! -e /tmp/stop ]; do w=$((w+1)); f=f$((w%{FILES})); "
              f"if dd if=/dev/urandom of=/m/c/$f bs=1024 count=64 conv=fsync 2>/dev/null && sync; "
              f"then set -- $(md5sum /m/c/$f); echo \"w {vm} $w $f $1\"; "
              f"else echo \"werr {vm} $w $f\"; fi; done; echo \"wdone {vm} $w\") &")
    # /proc/uptime has two decimals: 1${frac} - 100 keeps a leading zero from being octal
    probe = (f"(mkfifo /tmp/q; exec 3<>/tmp/q; n=0; m=0; read u x </proc/uptime; "
             f"l=$((${{u%.*}}*100+1${{u#*.}}-100)); while [ ! -e /tmp/stop ]; do "
             f"read -t 0.0{PROBE_CS} z <&3; read u x </proc/uptime; c=$((${{u%.*}}*100+1${{u#*.}}-100)); "
             f"d=$((c-l)); l=$c; [ $d -gt $m ] && m=$d; [ $d -ge {GAP_CS} ] && echo \"gap {vm} $c $d\"; "
             f"n=$((n+1)); if [ $((n%50)) = 0 ]; then echo \"ctr {vm} $((n/50)) $c $m\"; m=0; fi; "
             f"done; echo \"cdone {vm} $n\") &")
    return writer, probe


class Machine:
    """The running system: QEMU, the console (linux.Guest), the host's fetch loop."""

    def __init__(self, build, log, extra_manifest="", mem=2048, boot_timeout=600):
        self.paths = module_paths(build)
        self.log = str(log)
        self.tmp = tempfile.mkdtemp(prefix="resurgo-camplinux-")
        self.ports = {vm: free_port() for vm in GUESTS}
        self.manifest_text = SERVERS + extra_manifest
        self.boot_timeout = boot_timeout
        self.mem = mem
        self.www = {}               # vm: md5 of the file it serves
        self.fetches = {vm: [] for vm in GUESTS}   # Machine.fetch's records
        self.unreachable = []       # guests no fetch reached after the faults (broken)
        self.stop_fetch = threading.Event()
        self.fetcher = None
        self.proc = self.g = self.con = None
        self.t0 = time.monotonic()
        self.injected = []          # (host time, target, kind) typed
        self.outer = None

    # --- boot ---
    def start(self, image):
        mf = os.path.join(self.tmp, "manifest.txt")
        Path(mf).write_text(self.manifest_text)
        Path(self.log + ".manifest").write_text(self.manifest_text)
        self.outer = os.path.join(self.tmp, "disk.img")
        fwd = ",".join(f"hostfwd=tcp:127.0.0.1:{self.ports[vm]}-{ip}:80" for vm, ip in GUESTS.items())
        mods = [("init", self.paths["init"]), ("manifest", mf)] + \
               [(n, self.paths[n]) for n in MODULES]
        a = types.SimpleNamespace(
            emu="qemu", kernel=self.paths["kernel"], modules=[(n, os.path.abspath(p)) for n, p in mods],
            cmdline="", iso=False, icount=False, send=["console"], mem=self.mem, log=self.log,
            disk=self.outer, disk_image=image, nic="virtio-net-pci",
            netdev=f"user,net=10.0.2.0/24,{fwd}")
        # CAMPAIGN_PCAP=FILE: QEMU records every frame between its user network and the NIC
        # (headers: 200 bytes of each), to see which end of a stalled transfer stopped
        pcap = os.environ.get("CAMPAIGN_PCAP")
        open(self.log, "w").close()
        # QEMU's pc machine gives slots 3 and 4 (the disk's and the NIC's by default) the same
        # IRQ line, which two drivers cannot share yet ("IRQ 11 belongs to blk already"): the
        # NIC goes to a slot of its own line
        plain = run.qemu_command
        run.qemu_command = lambda *x, **k: [c + f",addr={NIC_SLOT}" if c.startswith("virtio-net-pci,")
                                            else c for c in plain(*x, **k)] + (
            ["-object", f"filter-dump,id=dump0,netdev=net0,file={pcap},maxlen=200"] if pcap else [])
        try:
            self.proc, self.g = linux.start(a, self.tmp, host_line=HOST_LINE)
        finally:
            run.qemu_command = plain
        self.con = net.Console(self.g)

    def elapsed(self):
        return time.monotonic() - self.t0

    def pump(self, seconds=0.0):
        """Reads the console for a while (QEMU stops the serial port if nobody reads)."""
        end = time.monotonic() + seconds
        while True:
            self.g.read()
            if time.monotonic() >= end:
                return
            time.sleep(0.05)

    def wait_guests(self):
        """Both guests configured eth0 and printed their first prompt; False on time-out."""
        if self.g.wait(r"type 'help' for the shell", 180, raw=True) is None:
            return False
        end = time.monotonic() + self.boot_timeout
        while time.monotonic() < end and self.proc.poll() is None:
            self.g.read()
            if all(re.search(rf"\[{vm}\] resurgo-guest: eth0 {re.escape(ip)} ", self.g.raw) and
                   re.search(rf"\[{vm}\] ~ # ", self.g.raw) for vm, ip in GUESTS.items()):
                return True
            time.sleep(0.2)
        return False

    def setup_guest(self, vm):
        """Mounts the disk, starts httpd and the two loops; returns None or what failed."""
        # keys typed while the owed check restarts a VMM that looked hung on a loaded host (the
        # Linux mode runs without -icount) can be lost: attach again before calling it a failure
        if not any(self.con.attach(vm, timeout=60) for _ in range(3)):
            return "no prompt after attach (3 tries)"
        mount = "mount -t ext2 /dev/vda /m && mkdir -p /m/c && " if vm in DISKS else ""
        out, _ = self.con.command(
            f"mkdir -p /m /www && {mount}"
            f"dd if=/dev/urandom of=/www/f bs=1024 count={WWW_KIB} 2>/dev/null && "
            f"httpd -h /www -p 80 && set -- $(md5sum /www/f) && echo \"www {vm} $1\"", timeout=240)
        m = WWW_RE.search(out or "")
        if not m:
            return f"setup failed: {(out or '')[-300:]!r}"
        self.www[vm] = m.group(2)
        for cmd in guest_script(vm)[0 if vm in DISKS else 1:]:
            self.g.type(cmd + "\r")
            if self.g.wait(self.con.prompt(), 60) is None:
                return "no prompt after starting the loops"
        self.con.detach()
        return None

    # --- the host's transfers ---
    def fetch(self, vm):
        """One transfer of vm's file: appended to self.fetches[vm] as (host start, outcome,
        bytes, detail, host end), outcome "ok", "wrong" (the bytes differ from what the guest
        served: broken) or "error" (no complete answer: retried, a stall until one comes); the
        console's length at both ends goes to LOG.fetches, to find the transfer in the log."""
        t, at = self.elapsed(), len(self.g.raw)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[vm]}/f",
                                        timeout=120) as r:
                data = r.read()
            md5 = hashlib.md5(data).hexdigest()
            rec = (t, "ok", len(data), "") if md5 == self.www[vm] else \
                (t, "wrong", 0, f"md5 {md5} of {len(data)} bytes, served {self.www[vm]}")
        except Exception as e:  # noqa: BLE001 (an error: a stall while it lasts)
            rec = (t, "error", 0, repr(e)[:200])
        rec += (self.elapsed(),)
        self.fetches[vm].append(rec)
        with open(self.log + ".fetches", "a") as f:
            f.write(f"{vm} {rec[0]:.2f} {rec[4]:.2f} {at} {len(self.g.raw)} {rec[1]} {rec[3]}\n")
        return rec[1]

    def start_fetching(self):
        def loop():
            i = 0
            while not self.stop_fetch.is_set():
                vm = list(GUESTS)[i % len(GUESTS)]
                i += 1
                if self.fetch(vm) == "error":
                    time.sleep(1)
        self.fetcher = threading.Thread(target=loop, daemon=True)
        self.fetcher.start()

    def finish_fetching(self, timeout=200):
        """Ends the fetch loop, then fetches each guest's file once more with the faults over: a
        guest none of FINAL_FETCHES tries reaches has a broken transfer (self.unreachable)."""
        self.stop_fetch.set()
        end = time.monotonic() + timeout
        while self.fetcher and self.fetcher.is_alive() and time.monotonic() < end:
            self.pump(0.2)
        for vm in GUESTS:
            if vm not in self.www:
                continue
            done = threading.Event()
            outcome = []

            def final():
                while len(outcome) < FINAL_FETCHES and set(outcome) <= {"error"}:
                    outcome.append(self.fetch(vm))
                done.set()
            threading.Thread(target=final, daemon=True).start()
            while not done.is_set() and self.proc.poll() is None:
                self.pump(0.2)  # QEMU stops the serial port if nobody reads
            if set(outcome) <= {"error"}:  # wrong bytes are counted as such (guest_failures)
                self.unreachable.append(f"{vm}: no correct transfer in {len(outcome)} tries after "
                                        f"the faults ({self.fetches[vm][-1][3] if outcome else ''})")

    def transfer_stalls(self, vm):
        """A guest's transfer stalls, (host start, seconds): from the start of a fetch that ended
        in an error to the end of the next good one (or of the last try)."""
        res, start = [], None
        for t, outcome, _, _, end in self.fetches[vm]:
            if outcome == "error" and start is None:
                start = t
            elif outcome != "error" and start is not None:
                res.append((start, end - start))
                start = None
        if start is not None:
            res.append((start, self.fetches[vm][-1][4] - start))
        return res

    # --- faults ---
    def crash(self, target, kind):
        self.injected.append((self.elapsed(), target, kind))
        self.g.type(f"crash {target} {kind}\r")

    def shell(self, line):
        self.g.type(line + "\r")

    # --- what the guests said ---
    def status(self):
        """Per guest: uptime (s), bytes written (acknowledged), bytes fetched, stalls, the last
        counter, host seconds since it last counted."""
        text = self.g.raw
        st = {}
        now = self.elapsed()
        for vm in GUESTS:
            ctrs = [m for m in CTR_RE.finditer(text) if m.group(1) == vm]
            ws = {int(m.group(2)) for m in W_RE.finditer(text) if m.group(1) == vm}
            gaps = [int(m.group(3)) for m in GAP_RE.finditer(text) if m.group(1) == vm]
            f, ts = self.fetches[vm], self.transfer_stalls(vm)
            st[vm] = {"uptime_s": int(ctrs[-1].group(3)) / 100 if ctrs else 0.0,
                      "counter": int(ctrs[-1].group(2)) if ctrs else 0,
                      "written": len(ws) * 65536,
                      "fetched": sum(x[2] for x in f if x[1] == "ok"),
                      "fetches": len(f), "broken": sum(1 for x in f if x[1] == "wrong") +
                      sum(1 for u in self.unreachable if u.startswith(vm + ":")),
                      "transfer_stalls": len(ts), "max_transfer_stall_s": round(max(
                          (d for _, d in ts), default=0.0), 1),
                      "transfer_stalls_s": [[round(t), round(d, 1)] for t, d in ts],
                      "stalls": len(gaps), "max_stall_ms": 10 * max(gaps, default=0)}
        return st

    def status_lines(self):
        out = []
        for vm, s in self.status().items():
            out.append(f"{vm}: up {s['uptime_s']:7.1f} s  counter {s['counter']:5d}  written "
                       f"{s['written'] / 2**20:6.1f} MiB  fetched {s['fetched'] / 2**20:6.1f} MiB "
                       f"({s['fetches']} fetches, {s['broken']} broken, {s['transfer_stalls']} "
                       f"stalled, max {s['max_transfer_stall_s']} s)  stalls >= {GAP_CS * 10} ms: "
                       f"{s['stalls']} (max {s['max_stall_ms']} ms)")
        return out

    # --- the end ---
    def final_checks(self):
        """Stops the loops and the fetches, reads every file back in each guest, stops QEMU and
        checks the disks on the host. Returns a list of (kind, detail) failures and facts."""
        bad, facts = [], {}
        self.finish_fetching()
        # the guests without a disk first: once their loops stop, their lines no longer land
        # inside the lines a disk guest prints while attached (its md5sums)
        for vm in sorted(GUESTS, key=lambda v: v in DISKS):
            if not self.con.attach(vm, timeout=120):
                bad.append(("guest death", f"{vm}: no prompt after attach at the end"))
                continue
            if vm not in DISKS:
                out, t = self.con.command("touch /tmp/stop; wait; echo final-done", timeout=120)
                if out is None or "final-done" not in out:
                    bad.append(("guest death", f"{vm}: its loops did not stop ({(out or '')[-200:]!r})"))
                continue
            out, t = self.con.command("touch /tmp/stop; wait; echo 3 > /proc/sys/vm/drop_caches; "
                                      "umount /m && mount -t ext2 /dev/vda /m && echo remounted",
                                      timeout=300)
            if out is None or "remounted" not in out:
                bad.append(("guest death" if out is None else "lost write",
                            f"{vm}: the disk did not mount again ({(out or '')[-200:]!r})"))
                continue
            got, names = {}, " ".join(f"/m/c/f{i}" for i in range(FILES))
            for _ in range(3):  # a server's line may cut one: those files are asked again
                out, _ = self.con.command(f"md5sum {names} 2>&1", timeout=300)
                for m in re.finditer(r"^([0-9a-f]{32})  /m/c/(f\d+)$", out or "", re.M):
                    got.setdefault(m.group(2), m.group(1))
                missing = [f"/m/c/f{i}" for i in range(FILES) if f"f{i}" not in got]
                if not missing:
                    break
                names = " ".join(missing)
            facts[vm] = got
            out, _ = self.con.command("umount /m && sync && echo final-done", timeout=120)
            if out is None or "final-done" not in out:
                bad.append(("lost write", f"{vm}: the disk did not unmount ({(out or '')[-200:]!r})"))
        self.con.detach()
        self.pump(1)
        run.stop(self.proc, "qemu")
        self.g.finish()
        acked = self.acknowledged()
        for vm in DISKS:
            got = facts.get(vm)
            if got is None:
                continue
            wrong = [f for f, s in acked[vm].items() if f in got and got[f] != s]
            unread = [f for f in acked[vm] if f not in got]
            if wrong:
                bad.append(("lost write", f"{vm}: {len(wrong)} of {len(acked[vm])} acknowledged "
                            f"files read back wrong in the guest: {wrong[:5]}"))
            if unread:  # (the host's look at the disk below still checks them)
                bad.append(("lost write", f"{vm}: {len(unread)} acknowledged files whose md5sum "
                            f"did not come through three times: {unread[:5]}"))
        bad += self.host_disk_checks(acked)
        return bad

    def acknowledged(self):
        """Per guest: file -> md5 of its last write, for files whose last write was acknowledged
        and whose line came through whole (a write's line spoilt by the console leaves its file
        unknown: skipped)."""
        text = self.g.raw
        res = {}
        for vm in DISKS:
            acks = {int(m.group(2)): (m.group(3), m.group(4)) for m in W_RE.finditer(text)
                    if m.group(1) == vm}
            errs = {int(m.group(2)) for m in WERR_RE.finditer(text) if m.group(1) == vm}
            done = re.findall(rf"\bwdone {vm} (\d+)$", text, re.M)
            last = int(done[-1]) if done else max(list(acks) + list(errs) + [0])
            files = {}
            for w in range(1, last + 1):  # the last attempt on each name decides
                files[f"f{w % FILES}"] = w
            res[vm] = {f: acks[w][1] for f, w in files.items() if w in acks and acks[w][0] == f}
        return res

    def host_disk_checks(self, acked):
        bad = []
        e2fsck = shutil.which("e2fsck") or "/usr/sbin/e2fsck"
        debugfs = shutil.which("debugfs") or "/usr/sbin/debugfs"
        r = subprocess.run([e2fsck, "-fn", self.outer], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if r.returncode:
            bad.append(("lost write", f"e2fsck -fn on blk's disk: exit {r.returncode}: "
                        f"{r.stdout.decode(errors='replace')[-300:]}"))
        for vm in DISKS:
            inner = os.path.join(self.tmp, f"inner-{vm}.img")
            subprocess.run([debugfs, "-R", f"dump /disks/disk-{vm.lower()}.img {inner}", self.outer],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if not os.path.exists(inner):
                bad.append(("lost write", f"{vm}: debugfs could not extract its disk"))
                continue
            r = subprocess.run([e2fsck, "-fn", inner], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if r.returncode:
                bad.append(("lost write", f"e2fsck -fn on {vm}'s disk: exit {r.returncode}: "
                            f"{r.stdout.decode(errors='replace')[-300:]}"))
            wrong = []
            for f, s in acked[vm].items():
                data = subprocess.run([debugfs, "-R", f"cat /c/{f}", inner], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL).stdout
                if hashlib.md5(data).hexdigest() != s:
                    wrong.append(f)
            if wrong:
                bad.append(("lost write", f"{vm}: {len(wrong)} of {len(acked[vm])} acknowledged "
                            f"files wrong in the extracted disk: {wrong[:5]}"))
        return bad

    def guest_failures(self, end_host_s=None):
        """Guest deaths and warnings from the console, the counters and the fetches."""
        bad = []
        for line in self.g.raw.split("\n"):
            m = GUEST_DEATH.search(line)
            if m:
                bad.append(("guest death", line.strip()[:200]))
            elif GUEST_WARN.search(line):
                bad.append(("guest warning", line.strip()[:200]))
        for vm in GUESTS:
            boots = len(re.findall(rf"\[{vm}\] resurgo-guest: init started", self.g.raw))
            if boots > 1:
                bad.append(("guest death", f"{vm}: its guest booted {boots} times"))
            ns = [int(m.group(2)) for m in CTR_RE.finditer(self.g.raw) if m.group(1) == vm]
            if any(b <= a for a, b in zip(ns, ns[1:])):
                bad.append(("guest death", f"{vm}: its counter went back"))
            for t, outcome, _, detail, _ in self.fetches[vm]:
                if outcome == "wrong":
                    bad.append(("broken transfer", f"{vm} at {t:.0f} s: {detail}"))
        bad += [("broken transfer", u) for u in self.unreachable]
        return bad

    def stalls(self):
        """Every gap the guests' probes printed, as (vm, end in init's ms, gap ms): the guest's
        uptime mapped to init's clock (both count the TSC's time). A guest line was made before
        the init line that follows it on the console was printed, so offset <= that line's t
        minus the guest's uptime; the smallest such bound is the estimate (init prints often)."""
        raw = self.g.raw
        res = []
        for vm in GUESTS:
            offset, items, waiting = None, [], []
            for m in re.finditer(rf"\[init\] t=(\d+) |\b(ctr|gap) {vm} (\d+) (\d+)", raw):
                if m.group(1):
                    t = int(m.group(1))
                    for up in waiting:
                        offset = t - up if offset is None else min(offset, t - up)
                    waiting = []
                    continue
                up = int(m.group(4) if m.group(2) == "ctr" else m.group(3)) * 10
                waiting.append(up)
                if m.group(2) == "gap":
                    items.append((up, int(m.group(4)) * 10))
            if offset is None:
                continue
            res += [(vm, up + offset, gap) for up, gap in items]
        return res
