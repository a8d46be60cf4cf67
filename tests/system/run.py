#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Resurgo system test harness: boot the kernel in an emulator, watch the
serial log for the test protocol, and give a verdict.

  [test] plan N                          the checks the program will make, before the first
  [test] <ID> PASS <sentence>            one line per check
  [test] <ID> FAIL <sentence> (detail)
  [test] done: N passed, M failed        end of the run
  KERNEL PANIC...                        kernel panic or CPU exception

A run passes only if exactly one plan line came, then exactly N check lines with distinct IDs,
all PASS, then a done line saying N passed, 0 failed, every --expect line was seen and no
--forbid line. A run of a program that makes no checks (boot logs, benchmarks, the shell) says
--no-checks: it passes once every --expect line was seen (and no --forbid line), and must print
no plan line.

Exit status 0 on pass, 1 on failure (the whole serial log is printed)."""

import argparse
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from qemu_cmd import qemu_command, firmware_args, OVMF_VARS, NIC_MAC  # noqa: E402  (tools/qemu_cmd.py)
DONE_RE = re.compile(r"\[test\] done: (\d+) passed, (\d+) failed")
CHECK_RE = re.compile(r"\[test\] (\S+) (PASS|FAIL)\b")
PLAN_RE = re.compile(r"\[test\] plan (\d+)\s*$")
PANIC_RE = re.compile(r"^KERNEL PANIC")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# A triple fault ends Bochs (like QEMU's -no-reboot). Sound is off: without a
# sound card, Bochs 2.7's ALSA driver aborts at start.
BOCHSRC = """\
megs: {mem}
cpu: model=corei7_skylake_x, reset_on_triple_fault=0
panic: action=fatal
{disk}{cdrom}: type=cdrom, path={iso}, status=inserted
boot: cdrom
display_library: term
port_e9_hack: enabled=1
com1: enabled=1, mode=file, dev={log}
log: {bochslog}
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
"""


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emu", choices=["qemu", "bochs"], default="qemu")
    p.add_argument("--kernel", required=True, help="kernel ELF")
    p.add_argument("--module", action="append", default=[], metavar="NAME=PATH",
                   help="boot module, in order (the first is the root task)")
    p.add_argument("--cmdline", default="", metavar="ARGS", help="kernel command line")
    p.add_argument("--icount", action="store_true",
                   help="QEMU -icount shift=0: the TSC and timers count guest instructions")
    p.add_argument("--icount-nosleep", action="store_true",
                   help="QEMU -icount shift=0,sleep=off: also an idle guest's clock jumps to its "
                        "next timer at once instead of waiting for the host's clock, so no "
                        "guest-time figure depends on the host's load")
    p.add_argument("--iso", action="store_true", help="boot a GRUB ISO (always for bochs)")
    p.add_argument("--machine", help="qemu: -machine (pc, q35); default pc")
    p.add_argument("--firmware", choices=["seabios", "ovmf"], default="seabios",
                   help="qemu: SeaBIOS (BIOS) or OVMF (UEFI, pflash)")
    p.add_argument("--iso-disk", action="store_true",
                   help="qemu: the ISO as a raw hard disk (as on a USB stick), not a CD")
    p.add_argument("--mem", type=int, default=256, metavar="MIB", help="the machine's RAM")
    p.add_argument("--disk", metavar="IMG",
                   help="qemu: attach IMG as a virtio-blk PCI disk (or --disk-if ide); bochs: as "
                        "the ATA disk ata0-master (the CD moves to ata1-master)")
    p.add_argument("--disk-if", choices=["virtio", "ide"], default="virtio",
                   help="qemu: the disk's interface (ide: the PIIX's primary channel, master)")
    p.add_argument("--disk-size", type=int, metavar="MIB",
                   help="make --disk a fresh zeroed image of MIB MiB first")
    p.add_argument("--disk-image", metavar="SRC",
                   help="make --disk a fresh copy of the image SRC first (e.g. made by mke2fs -d)")
    p.add_argument("--e2fsck", action="store_true",
                   help="after the run, the host's `e2fsck -fn` must find --disk clean")
    p.add_argument("--disk-unchanged", action="store_true",
                   help="after the run, --disk must still equal --disk-image byte for byte "
                        "(nothing was written to it)")
    p.add_argument("--nic", metavar="MODEL",
                   help="a NIC on --netdev: qemu -device MODEL (virtio-net-pci, e1000); bochs: e1000")
    p.add_argument("--netdev", metavar="SPEC",
                   help="the NIC's backend: qemu -netdev SPEC (default user); bochs 'ETHMOD[,ETHDEV]'"
                        " (default null; e.g. socket,localhost:40000)")
    p.add_argument("--qmp", metavar="PATH", help="qemu: serve QMP on the Unix socket PATH")
    p.add_argument("--timeout", type=float, default=120, metavar="SECONDS")
    p.add_argument("--log", required=True, help="where the serial log is written")
    p.add_argument("--no-checks", action="store_true",
                   help="the program makes no checks (no plan, no done line): the run passes "
                        "once every --expect line (at least one) was seen")
    p.add_argument("--expect-min", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--send", action="append", default=[], metavar="REGEX=>TEXT",
                   help="qemu: once a line matches REGEX, type TEXT (and Enter) on the serial "
                        "console; in order, each after the previous one was sent")
    p.add_argument("--expect", action="append", default=[], metavar="LINE_REGEX",
                   help="a regex that must match some line of the log")
    p.add_argument("--forbid", action="append", default=[], metavar="LINE_REGEX",
                   help="a regex that must match no line of the log (e.g. a restart that "
                        "nothing injected)")
    a = p.parse_args()
    if a.expect_min is not None:  # gone: the program's plan line says how many checks must run
        p.error("--expect-min is gone: the test program prints '[test] plan N' and the run must "
                "make exactly N checks; for a program without checks use --no-checks "
                "(see docs/debugging.md)")
    if a.no_checks and not a.expect:
        p.error("--no-checks needs at least one --expect line")
    if a.disk_size is not None and not a.disk:
        p.error("--disk-size needs --disk")
    if (a.disk_image or a.e2fsck) and not a.disk:
        p.error("--disk-image and --e2fsck need --disk")
    if a.disk_image and a.disk_size is not None:
        p.error("--disk-image or --disk-size, not both")
    if a.disk_unchanged and not a.disk_image:
        p.error("--disk-unchanged needs --disk-image")
    if a.nic and a.emu == "bochs" and a.nic != "e1000":
        p.error("--nic: bochs has the e1000 only")
    a.modules = []
    for m in a.module:
        name, sep, path = m.partition("=")
        if not sep or not name or not path:
            p.error(f"bad --module {m!r}: want NAME=PATH")
        a.modules.append((name, path))
    return a


def make_iso(a, tmp):
    iso = os.path.join(tmp, "resurgo.iso")
    cmd = [str(ROOT / "tools/mkiso.sh")] + (["--cmdline", a.cmdline] if a.cmdline else []) + \
        [iso, a.kernel] + [f"{n}={p}" for n, p in a.modules]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"{r.stdout}\nFAIL: could not make the ISO ({' '.join(cmd)})")
    return iso


def make_disk(a):
    """Makes --disk afresh (zeroed, or a copy of --disk-image) if asked; returns its path."""
    disk, disk_size = getattr(a, "disk", None), getattr(a, "disk_size", None)
    if disk and disk_size is not None:
        with open(disk, "wb") as f:
            f.truncate(disk_size << 20)
    if disk and getattr(a, "disk_image", None):
        shutil.copyfile(a.disk_image, disk)
    return disk


def disk_changes(src, disk):
    """The 1 KiB blocks in which disk differs from src ('' if none), the first few named."""
    with open(src, "rb") as f:
        want = f.read()
    with open(disk, "rb") as f:
        got = f.read()
    if len(got) != len(want):
        return f"{len(got)} bytes, not {len(want)}"
    blocks = [i for i in range(0, len(want), 1024) if want[i:i + 1024] != got[i:i + 1024]]
    if not blocks:
        return ""
    more = ", ..." if len(blocks) > 8 else ""
    return f"{len(blocks)} blocks of 1 KiB ({', '.join(str(b // 1024) for b in blocks[:8])}{more})"


def icount_arg(a):
    """qemu_command's icount for the options: False, True (shift=0) or 'shift=0,sleep=off'."""
    if getattr(a, "icount_nosleep", False):
        return "shift=0,sleep=off"
    return getattr(a, "icount", False)


def start_emulator(a, tmp, log):
    """Start the emulator with COM1 going to the file `log`; return the Popen."""
    if a.emu == "qemu":
        serial = ["-serial", f"file:{log}"]
        if a.send:  # a socket to type into; the chardev's logfile is the serial log as before
            a.sock = os.path.join(tmp, "serial.sock")
            serial = ["-chardev", f"socket,id=s0,path={a.sock},server=on,wait=off,logfile={log}",
                      "-serial", "chardev:s0"]
        fw = []  # callers with their own arguments (panic_once.py, linux.py) have no firmware/disk
        if getattr(a, "firmware", "seabios") == "ovmf":
            vars_copy = os.path.join(tmp, "OVMF_VARS.fd")
            shutil.copyfile(OVMF_VARS, vars_copy)
            fw = firmware_args("ovmf", vars_copy)
        disk = make_disk(a)
        cmd = qemu_command(a.kernel, a.modules, a.cmdline, make_iso(a, tmp) if a.iso else None,
                           serial, icount=icount_arg(a), mem_mib=getattr(a, "mem", 256),
                           machine=getattr(a, "machine", None), firmware=fw,
                           iso_disk=getattr(a, "iso_disk", False), disk=disk,
                           disk_if=getattr(a, "disk_if", "virtio"),
                           nic=getattr(a, "nic", None), netdev=getattr(a, "netdev", None),
                           qmp=getattr(a, "qmp", None))
    else:
        iso = make_iso(a, tmp)
        a.bochslog = a.log + ".bochs.log"
        disk = make_disk(a)
        # a flat image; Bochs takes the geometry from its size (16 heads, 63 sectors a track)
        hd = (f"ata0-master: type=disk, path={os.path.abspath(disk)}, mode=flat\n"
              "ata1: enabled=1, ioaddr1=0x170, ioaddr2=0x370, irq=15\n") if disk else ""
        with open(os.path.join(tmp, "bochsrc"), "w") as f:
            f.write(BOCHSRC.format(iso=iso, log=os.path.abspath(log), bochslog=a.bochslog,
                                   mem=getattr(a, "mem", 256), disk=hd,
                                   cdrom="ata1-master" if disk else "ata0-master"))
            if getattr(a, "nic", None):  # Bochs' e1000 plugin; --netdev 'MODULE[,DEVICE]'
                mod, _, dev = (a.netdev or "null").partition(",")
                f.write("plugin_ctrl: e1000=1\n"
                        f"e1000: enabled=1, mac={NIC_MAC}, ethmod={mod}"
                        + (f", ethdev={dev}\n" if dev else "\n"))
        return start_bochs(tmp)
    return spawn(cmd, tmp, os.path.join(tmp, f"{a.emu}.out"))


# Emulators this process started and has not stopped (stop) yet. Each runs in a session of its
# own (so that stop can signal its whole process group), which is also why a signal to the
# harness's process group does not reach it: when meson ends a test on its time-out (SIGTERM to
# the test's process group, SIGKILL 0.5 s later) the harness kills them first (_on_signal), and
# at any exit (atexit); were the harness killed outright, the emulator's parent-death signal
# (setpriv --pdeathsig) ends it.
_live = set()
_handlers = False


def _kill_live():
    for proc in list(_live):
        try:  # Bochs runs in a session of its own under `script`
            kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        except OSError:
            kids = []
        for pid in [proc.pid] + [int(k) for k in kids]:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        _live.discard(proc)


def _on_signal(signum, frame):
    _kill_live()
    raise SystemExit(128 + signum)  # `finally` blocks run (temporary directories go)


def spawn(cmd, cwd, out_path):
    """Starts an emulator (`cmd` in `cwd`, its output into the file out_path) in a session of its
    own, killed with this process however that ends (a time-out's SIGTERM or SIGHUP, an
    exception, exit, SIGKILL); returns its Popen. stop() ends it."""
    global _handlers
    if not _handlers:
        atexit.register(_kill_live)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, _on_signal)
        _handlers = True
    # util-linux's setpriv: the kernel kills it when the thread that started it ends, so only
    # from the main thread (the process's end)
    if shutil.which("setpriv") and threading.current_thread() is threading.main_thread():
        cmd = ["setpriv", "--pdeathsig", "KILL", "--"] + list(cmd)
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    _live.add(proc)
    return proc


def start_bochs(tmp):
    """Starts Bochs on tmp/bochsrc (and tmp/rc.txt, written here: continue at once) under
    `script`, its output in tmp/bochs.out, and reads its VGA screen away (drain_bochs_screen);
    returns the Popen. Every harness that runs Bochs starts it here."""
    with open(os.path.join(tmp, "rc.txt"), "w") as f:
        f.write("c\n")
    out = os.path.join(tmp, "bochs.out")
    # Bochs' term display needs a tty: `script` provides one.
    proc = spawn(["script", "-qc", "bochs -q -f bochsrc -rc rc.txt", "/dev/null"], tmp, out)
    drain_bochs_screen(out, proc)
    return proc


def drain_bochs_screen(out_path, proc):
    """Bochs' term display with its debugger (Debian's build) draws the VGA screen on a
    pseudo-terminal of its own ('Bochs connected to screen "/dev/pts/N"' in its output, out_path)
    whose other side nobody opens: after some 4 KB of screen updates (the kernel's and init's
    console is mirrored on VGA) Bochs blocks writing to it, and the guest stops. A thread opens
    that terminal and reads it away."""
    def run_():
        rx = re.compile(rb'connected to screen "(/dev/pts/\d+)"')
        while proc.poll() is None:
            try:
                m = rx.search(Path(out_path).read_bytes())
            except OSError:
                m = None
            if m:
                break
            time.sleep(0.1)
        else:
            return
        try:
            fd = os.open(m.group(1).decode(), os.O_RDONLY | os.O_NOCTTY)
        except OSError as e:
            print(f"run.py: cannot open Bochs' screen {m.group(1).decode()}: {e}", flush=True)
            return
        while True:
            try:
                if not os.read(fd, 65536):
                    break
            except OSError:
                break
        os.close(fd)

    threading.Thread(target=run_, daemon=True).start()


def stop(proc, emu):
    """Stop the emulator: SIGTERM for QEMU; Bochs ignores SIGTERM but quits
    cleanly on SIGHUP, and `script` exits once Bochs, its child, has exited.
    SIGKILL for whatever is left after 5 s."""
    def gentle():
        if emu == "qemu":
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            for kid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
                os.kill(int(kid), signal.SIGHUP)

    for send in (gentle, lambda: os.killpg(proc.pid, signal.SIGKILL)):
        if proc.poll() is not None:
            break
        try:
            send()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:  # what is left of its session (Bochs under `script`), whatever happened above
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    _live.discard(proc)


# init's own lines are printed whole, but may land inside a line of a guest or a server (the
# console is shared and init prints when it must): "echo: 1: h[init] t=813 ...\nello guest" is
# the init line and "echo: 1: hello guest".
EMBEDDED_INIT_RE = re.compile(r"^(.+?)(\[init\] t=\d+ .*)$")


def transcribe(path, proc, log, timeout=30):
    """Connects to QEMU's console socket as soon as QEMU has made it and copies everything it
    carries into `log` from a thread of its own; returns the socket (for typing into).

    QEMU's own chardev log is not exact: QEMU 7.2 logs a byte when its non-blocking write to the
    socket fails with EAGAIN and again when the retry succeeds (chardev/char.c,
    qemu_chr_write_buffer), so a reader that drains late sees doubled bytes there. The socket
    carries each byte once (docs/virtualization.md)."""
    import threading
    out = open(log, "wb")
    end = time.monotonic() + timeout
    while True:
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.connect(path)
            break
        except OSError:
            sock.close()
            if time.monotonic() > end or proc.poll() is not None:
                out.close()
                raise
            time.sleep(0.01)

    def copy():
        with out:
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                out.write(chunk)
                out.flush()

    threading.Thread(target=copy, daemon=True).start()
    return sock


def watch(a, proc, log):
    """Follow the serial log until a panic, or the done line and every --expect line (then
    1 s more), emulator exit or timeout. Returns (lines, why_stopped)."""
    start = time.monotonic()
    buf, frag, lines, stop_at, why, ended = "", "", [], None, None, None
    expects = [re.compile(e) for e in a.expect]
    sends = [(re.compile(s.split("=>", 1)[0]), s.split("=>", 1)[1]) for s in a.send]
    sock = getattr(a, "sock_conn", None)
    drain = sock is None  # without transcribe's thread, watch drains the socket itself
    with open(log, errors="replace") as f:
        f.seek(0)
        while True:
            exited = proc.poll() is not None
            chunk = f.read()
            buf += chunk
            *new, buf = buf.split("\n")
            for line in new:
                line = frag + ANSI_RE.sub("", line).replace("\r", "")
                frag = ""
                m = EMBEDDED_INIT_RE.match(line)
                if m:  # the part before init's line goes on in the line after it
                    frag, line = m.group(1), m.group(2)
                lines.append(line)
                if DONE_RE.search(line) or PANIC_RE.match(line):
                    ended = ended or line
                if sends and sends[0][0].search(line):
                    if sock is None:
                        sock = socket.socket(socket.AF_UNIX)
                        sock.connect(a.sock)
                    sock.setblocking(True)  # (transcribe's socket is always blocking)
                    sock.sendall(sends.pop(0)[1].encode() + b"\r")
                    sock.setblocking(not drain)
            # The end: a panic; or the done line (checks) or nothing (no_checks) once every
            # --expect line came, which may be after the done line (a guest's line from init's
            # output ring): never a wall-clock grace that a loaded host cuts short. The second
            # after it only gathers what comes with the end (a panic there still fails the run).
            if stop_at is None and (ended is not None or (a.no_checks and expects)):
                if PANIC_RE.match(ended or "") or all(any(e.search(l) for l in lines)
                                                      for e in expects):
                    stop_at = time.monotonic() + 1.0
            while drain and sock is not None:  # drain what QEMU echoes to us (the log has it): a full
                try:                 # socket would stall the guest's UART
                    if not sock.recv(65536):
                        break
                except (BlockingIOError, OSError):
                    break
            now = time.monotonic()
            if exited and not chunk:
                why = "exited"
                break
            if stop_at is not None and now >= stop_at:
                why = "stopped"
                break
            if now - start > a.timeout:
                why = "timeout"
                break
            if not chunk:
                time.sleep(0.05)
    if buf or frag:
        lines.append(frag + ANSI_RE.sub("", buf).replace("\r", ""))
    return lines, why


def plan_verdict(lines, done):
    """The plan rules (see the module text); None if they hold, else a one-line reason."""
    plans, checks, seen, dup, early = [], [], set(), [], []
    for l in lines:
        m = PLAN_RE.search(l)
        if m:
            plans.append(int(m.group(1)))
            continue
        m = CHECK_RE.search(l)
        if m:
            if not plans:
                early.append(m.group(1))
            checks.append(m.group(1))
            if m.group(1) in seen:
                dup.append(m.group(1))
            seen.add(m.group(1))
    if not plans:
        return "no plan line: the program must print '[test] plan N' before its first check"
    if len(plans) > 1:
        return f"{len(plans)} plan lines ({' '.join(map(str, plans))}): the program declares once"
    plan = plans[0]
    if plan == 0:
        return "the plan is 0 checks (does the tests= filter match any test?)"
    if early:
        return f"check line(s) before the plan line: {' '.join(early[:5])}"
    if dup:
        return f"check ID(s) reported twice: {' '.join(sorted(set(dup))[:10])}"
    if done is None:  # the caller says why it is missing; this is how far the run got
        last = f", the last {checks[-1]}" if checks else ""
        return f"no done line: {len(checks)} of {plan} planned checks ran{last}"
    if len(checks) != plan:
        last = f" (the last was {checks[-1]})" if checks else ""
        return f"{plan} checks planned, {len(checks)} ran{last}"
    passed, failed = int(done.group(1)), int(done.group(2))
    if passed != plan or failed:
        return f"the done line says {passed} passed, {failed} failed; {plan} were planned"
    return None


def verdict(a, lines, why):
    """Return None on pass, else a one-line reason."""
    done = next((m for m in map(DONE_RE.search, lines) if m), None)
    panic = next((l for l in lines if PANIC_RE.match(l)), None)
    fails = [m.group(1) for m in map(CHECK_RE.search, lines) if m and m.group(2) == "FAIL"]
    missing = [e for e in a.expect if not any(re.search(e, l) for l in lines)]
    if panic:
        return f"kernel panic: {panic.strip()}"
    if fails:
        return f"{len(fails)} check(s) failed: {' '.join(fails)}"
    if missing:
        return "expected line not seen: " + ", ".join(repr(e) for e in missing)
    forbidden = [l for l in lines if any(re.search(f, l) for f in a.forbid)]
    if forbidden:
        return f"forbidden line seen: {forbidden[0].strip()!r}"
    if a.no_checks:
        if any(PLAN_RE.search(l) or CHECK_RE.search(l) for l in lines):
            return "the program prints plan or check lines: drop --no-checks"
        return None
    reason = plan_verdict(lines, done)
    if done is None:
        if why == "timeout":
            return f"timeout after {a.timeout:g} s; {reason}"
        return f"emulator exited early (triple fault or reset?); {reason}"
    return reason


def main():
    a = parse_args()
    if a.emu == "bochs":
        a.iso = True
    for tool in (["qemu-system-x86_64"] if a.emu == "qemu" else ["bochs", "script"]) + \
            (["grub-mkrescue"] if a.iso else []):
        if shutil.which(tool) is None:
            sys.exit(f"FAIL: {tool} not found (run tools/deps.sh)")
    for f in [a.kernel] + [p for _, p in a.modules]:
        if not os.path.isfile(f):
            sys.exit(f"FAIL: no such file: {f}")
    a.kernel = os.path.abspath(a.kernel)
    a.modules = [(n, os.path.abspath(p)) for n, p in a.modules]
    os.makedirs(os.path.dirname(os.path.abspath(a.log)), exist_ok=True)
    open(a.log, "w").close()
    with tempfile.TemporaryDirectory(prefix="resurgo-sys-") as tmp:
        t0 = time.monotonic()
        transcript = a.emu == "qemu" and a.send
        # typing into QEMU: the log is what its socket carries (see transcribe), QEMU's own
        # chardev log is a.log + ".qemu"
        proc = start_emulator(a, tmp, a.log + ".qemu" if transcript else a.log)
        try:
            if transcript:
                a.sock_conn = transcribe(a.sock, proc, a.log)
            lines, why = watch(a, proc, a.log)
        finally:
            stop(proc, a.emu)
        elapsed = time.monotonic() - t0
        emu_out = "".join(l for l in Path(tmp, f"{a.emu}.out").open(errors="replace")
                          if "terminating on signal" not in l)
    reason = verdict(a, lines, why)
    if a.e2fsck:
        fsck = shutil.which("e2fsck") or "/usr/sbin/e2fsck"  # /usr/sbin: not in every PATH
        r = subprocess.run([fsck, "-fn", a.disk], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        lines.append(f"----- e2fsck -fn {a.disk}: exit status {r.returncode} -----")
        lines.extend(r.stdout.splitlines())
        fsck_summary = r.stdout.strip().splitlines()[-1:] if r.stdout.strip() else []
        if r.returncode != 0 and reason is None:
            reason = f"e2fsck -fn finds the disk not clean (exit status {r.returncode})"
    if a.disk_unchanged and reason is None:
        changed = disk_changes(a.disk_image, a.disk)
        if changed:
            reason = f"--disk-unchanged: {a.disk} differs from {a.disk_image}: {changed}"
    if reason is None:
        for l in lines:
            if l.startswith("[test]"):
                print(l)
        if a.e2fsck:
            print(f"e2fsck -fn: clean ({' '.join(fsck_summary)})")
        if a.disk_unchanged:
            print("disk: unchanged")
        print(f"PASS ({a.emu}{' iso' if a.iso else ''}, {elapsed:.1f} s)")
        return 0
    print(f"----- serial log ({a.log}) -----")
    print("\n".join(lines))
    if a.emu == "qemu" and emu_out.strip():
        print("----- qemu output -----")
        print(emu_out.strip())
    if a.emu == "bochs" and os.path.exists(a.bochslog):
        print(f"----- tail of {a.bochslog} -----")
        print("".join(Path(a.bochslog).read_text(errors="replace").splitlines(True)[-40:]))
    print("-----")
    print(f"FAIL ({a.emu}{' iso' if a.iso else ''}, {elapsed:.1f} s): {reason}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
