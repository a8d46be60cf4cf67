#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Linux guest system test: boot Resurgo with a VMM running Debian's kernel and busybox
initramfs, attach init's console to the guest (init's shell: `attach NAME`), wait for the shell
prompt and type commands, checking each answer.

Every check the run plans is printed as `[test] LINUX-NNNN PASS|FAIL sentence` into the
verdict; the run passes only if every planned check ran and passed. On failure the whole serial
log is printed (and the tail of Bochs' own log).

  linux.py --emu qemu --kernel K --module NAME=PATH ... [--vm linux] --log L [--mem MIB]
           [--timeout S] [--checks prompt,uname,...]

The kernel release `uname -r` must print is read from the bzImage's own setup header (the
module named linux-bzImage)."""

import argparse
import contextlib
import os
import re
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import run  # noqa: E402  (start_emulator, stop: the harness's own emulator handling)

PROMPT = "~ # "
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ALL_CHECKS = ["prompt", "uname", "hypervisor", "interrupts", "date", "sleep", "log", "counter",
              "crashes"]
COUNT_ROUND = 50  # lines per round of the counter loop
COUNT_MAX = 2000  # the loop stops counting here even if too few crashes came
COUNT_MIN_CRASHES = 40  # VMM restarts the counter must live through (crashes check)
COUNT_SECONDS = 300  # nor does it start a round after this long
KINDS = ["hang", "kill", "null", "wild"]  # what kind=random injects (servers/init)
HOST_LINE = re.compile(r"(\[init\] t=\d+|vmm [\w-]+:) [^\n]*\n")
# Kernel messages that must not appear in the guest's log ("log" check).
BAD_LOG = re.compile(r"soft lockup|clocksource.*unstable|Marking TSC unstable|hung_task|"
                     r"BUG:|Oops|Call Trace|rcu.*stall|WARNING:")


class Guest:
    """The console as it grows, and the socket to type into.

    Under QEMU the console is read from the socket QEMU's COM1 writes to, by a thread that
    drains it at once, and that transcript becomes the log (--log). QEMU's own copy of the
    output (its chardev logfile, kept beside it as LOG.qemu) is not exact: QEMU 7.2 logs a byte
    when its non-blocking write to the socket fails with EAGAIN and logs it again when its
    retry succeeds (chardev/char.c, qemu_chr_write_buffer), and an AF_UNIX socket is full after
    some 270 one-byte writes nobody read. The harness read that file and saw the guest's
    'count 11' as 'count 111' whenever it drained the socket late (after a VMM restart's burst of
    init lines): docs/virtualization.md. The socket carries every byte exactly once."""

    def __init__(self, a, proc, log, host_line=None):
        self.a, self.proc = a, proc
        # raw: the console as it came; text: the same without init's and the VMM's own lines
        # (host_line; default: a.host_line if the caller set one, else HOST_LINE), which land
        # anywhere, even inside the guest's prompt: the guest's view
        self.host_line = host_line or getattr(a, "host_line", None) or HOST_LINE
        self.match = None  # the last match wait() found
        self.raw, self.raw_cursor, self.text, self.cursor, self.sock = "", 0, "", 0, None
        self.pending, self.lock, self.log = bytearray(), threading.Lock(), None
        self.reader = None
        if a.emu == "qemu":
            self.sock = connect(a.sock, proc)
            self.reader = threading.Thread(target=self._drain_socket, args=(open(log, "wb"),),
                                           daemon=True)
            self.reader.start()
        else:
            self.log = open(log, "rb")

    def _drain_socket(self, out):
        """The reader thread: everything QEMU sends, into the transcript and `pending`."""
        with out:
            while True:
                try:
                    chunk = self.sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                out.write(chunk)
                out.flush()
                with self.lock:
                    self.pending += chunk

    def read(self):
        if self.log is not None:
            chunk = self.log.read()
        else:
            with self.lock:
                chunk, self.pending = bytes(self.pending), bytearray()
        if chunk:
            self.raw += chunk.decode("utf-8", "replace").replace("\r", "")
            # a host line is written whole and only its end can still be missing: the text
            # before the cursor never changes. Escape sequences go after the host lines: one
            # may land inside a sequence (the shell's ESC [6n after its prompt) and a chunk
            # may end inside one
            self.text = ANSI.sub("", self.host_line.sub("", self.raw))
        return bool(chunk)

    def finish(self):
        """After the emulator stopped: the reader has seen the socket's end; read the rest."""
        if self.reader is not None:
            self.reader.join(5)
        self.read()

    def wait(self, pattern, timeout, raw=False):
        """Waits for pattern in the guest's text (raw: in the whole console) after its cursor;
        moves the cursor past the match (kept in self.match) and returns the text before it, or
        None on time-out or emulator exit."""
        rx, end = re.compile(pattern), time.monotonic() + timeout
        while True:
            text, cursor = (self.raw, self.raw_cursor) if raw else (self.text, self.cursor)
            m = rx.search(text, cursor)
            if m:
                self.match = m
                if raw:
                    self.raw_cursor = m.end()
                else:
                    self.cursor = m.end()
                return text[cursor:m.start()]
            if time.monotonic() > end or (self.proc.poll() is not None and not self.read()):
                return None
            if not self.read():
                time.sleep(0.05)

    def type(self, text):
        if self.sock is None:
            self.sock = connect(self.a.sock, self.proc)
        for ch in text.encode():  # byte by byte, as a person types: the UART has a 16-byte FIFO
            self.sock.sendall(bytes([ch]))
            time.sleep(0.01)

    def command(self, cmd, timeout=60):
        """Types cmd at the prompt; returns its output (the echoed command line removed) and the
        host seconds until the next prompt, or (None, t) if no prompt came."""
        self.type(cmd + "\r")
        t0 = time.monotonic()
        out = self.wait(re.escape(PROMPT), timeout)
        elapsed = time.monotonic() - t0
        if out is None:
            return None, elapsed
        lines = out.split("\n")  # without init's and the VMM's lines (read)
        if lines and cmd in lines[0]:
            lines = lines[1:]
        return "\n".join(lines).strip("\n"), elapsed


def connect(path, proc, timeout=30):
    """A connection to QEMU's console socket, as soon as QEMU has made it (wait=off: QEMU does
    not wait for us; what COM1 sends before we are connected is only in LOG.qemu)."""
    end = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > end or proc.poll() is not None:
                raise
            time.sleep(0.01)


def start(a, tmp, host_line=None):
    """Starts the emulator and the console reader; returns (proc, Guest). The log (a.log) is
    the console as the socket carried it; under QEMU its own chardev log is a.log + '.qemu'.
    host_line (or a.host_line): the regex of the host's lines the guest's view leaves out
    (default HOST_LINE: init's and the VMMs'; a harness with more servers on the console adds
    theirs). The emulator dies with the harness (run.spawn), even on meson's time-out."""
    proc = run.start_emulator(a, tmp, a.log + ".qemu" if a.emu == "qemu" else a.log)
    try:
        return proc, Guest(a, proc, a.log, host_line)
    except OSError:
        run.stop(proc, a.emu)
        raise


@contextlib.contextmanager
def session(a, tmp):
    """Runs the emulator (start) for the with-block and gives its Guest; afterwards stops the
    emulator and reads the console to its end (Guest.finish), whatever the block did."""
    proc, g = start(a, tmp)
    try:
        yield g
    finally:
        run.stop(proc, a.emu)
        g.finish()
        try:  # the emulator's own output, for report (the temporary directory goes)
            a.emu_out = "".join(l for l in open(os.path.join(tmp, f"{a.emu}.out"),
                                                errors="replace")
                                if "terminating on signal" not in l).strip()
        except OSError:
            pass


def boot_to_prompt(g, vm, timeout, shell_timeout=120):
    """init's shell came up within `shell_timeout` s (give-up times: a slow emulator such as
    Bochs needs minutes for GRUB, the kernel and init), `attach VM` gave its console to the
    guest, and the guest's shell prompt came within `timeout` s: True; False if any of it did
    not."""
    if g.wait(r"type 'help' for the shell", shell_timeout, raw=True) is None:
        return False
    g.type(f"attach {vm}\r")
    return g.wait(re.escape(PROMPT), timeout) is not None


def checker(area, names, results):
    """check(name, ok, sentence): appends the result of check `name` (AREA-NNNN, NNNN its
    1-based place in `names`) to `results`."""
    def check(name, ok, sentence):
        results.append((f"{area}-{names.index(name) + 1:04d}", ok, sentence))
    return check


def report(a, area, names, planned, results, t0, not_run="not run", exact=False, sort=False,
           note=""):
    """Prints the verdict of a run and returns its exit status (0: passed). Every planned check
    (`planned`, names from `names`) that gave no result is a FAIL "NAME: not run"; the run passes
    only if every result passed (exact: and there are as many results as planned checks). A
    failed run prints the whole serial log (a.log; under Bochs the tail of its own log) before
    the verdict. The closing PASS/FAIL line names the emulator, the seconds since t0 and `note`."""
    ran = {r[0] for r in results}
    for name in planned:
        cid = f"{area}-{names.index(name) + 1:04d}"
        if cid not in ran:
            results.append((cid, False, f"{name}: {not_run}"))
    if sort:
        results.sort()
    verdict = "\n".join(f"[test] {cid} {'PASS' if ok else 'FAIL'} {s}" for cid, ok, s in results)
    tail = f"({a.emu}, {time.monotonic() - t0:.1f} s{'; ' + note if note else ''})"
    if all(ok for _, ok, _ in results) and (not exact or len(results) == len(planned)):
        print(verdict)
        print(f"PASS {tail}")
        return 0
    print(f"----- serial log ({a.log}) -----")
    print(Path(a.log).read_text(errors="replace"))
    if getattr(a, "emu_out", ""):
        print(f"----- {a.emu} output (its last 80 lines) -----")
        print("\n".join(a.emu_out.splitlines()[-80:]))
    if a.emu == "bochs" and getattr(a, "bochslog", None) and os.path.exists(a.bochslog):
        print(f"----- tail of {a.bochslog} -----")
        print("".join(Path(a.bochslog).read_text(errors="replace").splitlines(True)[-40:]))
    print("-----")
    print(verdict)
    print(f"FAIL {tail}")
    return 1


def arg_parser(doc, emus=("qemu",)):
    """The options every Linux guest test takes (the emulator, Resurgo's kernel and modules, the
    machine's RAM, the serial log); the caller adds its own."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emu", choices=list(emus), default="qemu")
    p.add_argument("--kernel", required=True)
    p.add_argument("--module", action="append", default=[], metavar="NAME=PATH")
    p.add_argument("--mem", type=int, default=1024)
    p.add_argument("--log", required=True)
    return p


def parse(p, names=None, defaults=None):
    """Parses arg_parser's options (`defaults`: a harness's own defaults for them, e.g. emu):
    --checks (if `names`: the checks known) becomes a list, and a gets what run.start_emulator
    reads (absolute paths; the console socket to type into)."""
    p.set_defaults(**(defaults or {}))
    a = p.parse_args()
    if names is not None:
        a.checks = a.checks.split(",")
        bad = [c for c in a.checks if c not in names]
        if bad:
            p.error(f"unknown checks {bad}")
    a.cmdline = getattr(a, "cmdline", "")
    a.kernel = os.path.abspath(a.kernel)
    a.modules = [(n, os.path.abspath(q)) for n, q in (m.split("=", 1) for m in a.module)]
    a.iso, a.icount, a.send = a.emu == "bochs", False, ["console"]
    return a


def parse_args(defaults=None):
    p = arg_parser(__doc__, ("qemu", "bochs"))
    p.add_argument("--cmdline", default="")
    p.add_argument("--vm", default="linux", help="the VMM's name in the manifest")
    p.add_argument("--timeout", type=float, default=600, help="for the boot to the prompt")
    p.add_argument("--shell-timeout", type=float, default=120,
                   help="for init's shell, before the guest boots")
    p.add_argument("--checks", default=",".join(ALL_CHECKS))
    return parse(p, ALL_CHECKS, defaults)


def kernel_release(bzimage):
    """The release the kernel's setup header names (kernel_version, boot protocol 2.00+)."""
    b = Path(bzimage).read_bytes()
    at = 0x200 + int.from_bytes(b[0x20E:0x210], "little")
    return b[at:b.index(b"\0", at)].decode().split()[0]


def check_interrupts(out):
    """Timer and serial interrupts were counted: a row naming the timer (IO-APIC pin 2 /
    local timer) and one naming ttyS0, each with a count above 0."""
    def counted(name_rx):
        for line in out.split("\n"):
            if re.search(name_rx, line):
                nums = re.findall(r"^\s*\S+:\s+(\d+)", line)
                if nums and int(nums[0]) > 0:
                    return True
        return False
    return counted(r"timer|LOC:") and counted(r"ttyS0|serial")


def main(defaults=None):
    """The test; `defaults`: another harness's defaults for the options (bochs.py)."""
    a = parse_args(defaults)
    version = kernel_release(dict(a.modules)["linux-bzImage"])
    results = []  # (id, ok, sentence)
    check = checker("LINUX", ALL_CHECKS, results)
    os.makedirs(os.path.dirname(os.path.abspath(a.log)), exist_ok=True)
    open(a.log, "w").close()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="resurgo-linux-") as tmp, session(a, tmp) as g:
        booted = boot_to_prompt(g, a.vm, a.timeout, a.shell_timeout)
        check("prompt", booted, f"the guest's shell prompt after {time.monotonic() - t0:.1f} s")
        if booted:
            run_checks(a, g, version, check)
    return report(a, "LINUX", ALL_CHECKS, [c for c in ALL_CHECKS if c in a.checks], results, t0,
                  not_run="not run (no prompt)", exact=True)


def run_checks(a, g, version, check):
    if "uname" in a.checks:
        out, _ = g.command("uname -r")
        check("uname", out is not None and out.strip() == version,
              f"uname -r says {out!r}, the Debian kernel is {version!r}")
    if "hypervisor" in a.checks:
        out, _ = g.command("grep -c hypervisor /proc/cpuinfo")
        check("hypervisor", out is not None and out.strip() == "1",
              f"one CPU, with the hypervisor flag: grep -c says {out!r}")
    if "interrupts" in a.checks:
        out, _ = g.command("cat /proc/interrupts")
        check("interrupts", out is not None and check_interrupts(out),
              "/proc/interrupts counts timer and serial interrupts")
    if "date" in a.checks:
        # the guest read its clock between our typing and its answer: its skew is the distance
        # from that host interval (a loaded host lengthens the interval, not the skew)
        before = time.time()
        out, _ = g.command("date +%s")
        after = time.time()
        try:
            guest = int(out.strip().split()[-1])
            skew = max(int(before) - guest, guest - after, 0)
        except (AttributeError, ValueError, IndexError):
            skew = None
        check("date", skew is not None and skew <= 5,
              f"date +%s is within 5 s of the host's clock (off by {skew if skew is None else round(skew, 1)} s)")
    if "sleep" in a.checks:
        ok, sentence = sleep_check(g)
        check("sleep", ok, sentence)
    if "counter" in a.checks or "crashes" in a.checks:
        counter(a, g, check)
    if "log" in a.checks:
        bad = [l for l in g.raw.split("\n") if BAD_LOG.search(l)]
        check("log", not bad, f"no soft lockup, clocksource or kernel warning in the log {bad[:3]}")


PAUSE = 1.0  # seconds of host time the sleep check's pause lasts (sleep_check)
SLEEP_TRIES = 8  # sleep_check's tries at most (one the host stopped the guest in is taken again)
# The sleep check's command line: the guest's clock (/proc/uptime, 10 ms steps) read by the
# shell's builtins around `sleep 0`, `sleep 2` and `sleep 0` (what starting the process costs),
# then a pause that ends when the harness types a newline, and a last reading.
SLEEP_LINE = ('read u0 x </proc/uptime; sleep 0; read u1 x </proc/uptime; sleep 2; '
              'read u2 x </proc/uptime; sleep 0; read u3 x </proc/uptime; echo "slept $u0 $u1 $u2 $u3"; '
              'read x; read u4 x </proc/uptime; echo "paused $u4"')


def sleep_once(g):
    """One try of sleep_check: (guest seconds of `sleep 2`, of a `sleep 0` (the less of two), of
    the host's pause, of the whole line; host seconds from typing to the last reading), or a
    string saying what failed."""
    t0 = time.monotonic()
    g.type(SLEEP_LINE + "\r")
    if g.wait(r"slept (\d+\.\d\d) (\d+\.\d\d) (\d+\.\d\d) (\d+\.\d\d)\n", 60) is None:
        return "the readings around sleep 2 did not come"
    u = [float(x) for x in g.match.groups()]
    time.sleep(PAUSE)  # the readings are here: the pause starts, timed by the host
    g.type("\r")
    if g.wait(r"paused (\d+\.\d\d)\n", 60) is None:
        return "the reading after the pause did not come"
    host_s = time.monotonic() - t0
    u.append(float(g.match.group(1)))
    if g.wait(re.escape(PROMPT), 60) is None:
        return "no prompt after the sleep check"
    return u[2] - u[1], min(u[1] - u[0], u[3] - u[2]), u[4] - u[3], u[4] - u[0], host_s


def sleep_check(g):
    """`sleep 2` takes 2 s of guest time ± 10 %, measured by the guest's own clock around it, so
    neither the serial line nor the harness counts; what starting a process costs (`sleep 0`,
    the less of one before and one after) is taken off. Under plain QEMU that clock is the
    host's (TSC): a loaded host makes the guest's work (a fork and exec: 0.3 s at load 20) and
    its wake-ups slow in guest time too. So a sleep may never end early (every try's `sleep 2`
    at least 1.8 s), and in one of up to SLEEP_TRIES tries `sleep 2` less `sleep 0` must be
    within 1.8..2.2 s (a try the host stopped the guest in is taken again; a guest whose sleeps
    always overrun or whose timer fires early fails every try).

    The guest's clock must also keep the host's pace, checked in ways a loaded host cannot fail:
    the line waits (`read`) for a newline the harness types PAUSE s of host time after the
    readings reached it, so the last reading is more than PAUSE s of real time after the one
    before, and a clock running slow (half speed: PAUSE/2) shows less than 0.9 PAUSE; and all
    readings lie inside the host's interval from typing the line to the last reading's arrival,
    so a clock running fast shows more guest time than that. Returns (ok, sentence)."""
    tries = []
    for _ in range(SLEEP_TRIES):
        r = sleep_once(g)
        if isinstance(r, str):
            return False, f"sleep 2: {r} (tries before: {tries})"
        tries.append(r)
        if 1.8 <= r[0] - r[1] <= 2.2 or r[0] < 1.8:
            break
    early = [t[0] for t in tries if t[0] < 1.8]
    last = tries[-1][0] - tries[-1][1]
    slow = [t[2] for t in tries if t[2] < 0.9 * PAUSE]
    fast = [(t[3], t[4]) for t in tries if t[3] > t[4] * 1.01 + 0.02]
    ok = not early and 1.8 <= last <= 2.2 and not slow and not fast
    return ok, (f"sleep 2 takes {', '.join(f'{t[0]:.2f} - {t[1]:.2f}' for t in tries)} s of guest "
                f"time less sleep 0's (try by try: sleep 2 never below 1.8, the last difference "
                f"within 1.8..2.2; up to {SLEEP_TRIES} tries); a pause of {PAUSE:g} s on the "
                f"host lasts {', '.join(f'{t[2]:.2f}' for t in tries)} s on the guest's clock (at "
                f"least {0.9 * PAUSE:.1f}: not slow), the whole line "
                f"{', '.join(f'{t[3]:.2f} within {t[4]:.2f}' for t in tries)} s of the host's "
                f"(not fast)")


def counter(a, g, check):
    """A shell loop prints a counter while init crashes the VMM (the manifest injects faults
    for the whole run). The loop runs in rounds of COUNT_ROUND lines, each continuing the count,
    until the VMM was restarted COUNT_MIN_CRASHES times with every kind of fault while it
    counted: the crashes the check needs come from the phase, not from the clock (a slow boot
    once took every injection). Every count line must come exactly once and in order (no line
    lost, none repeated, no byte of one doubled), and the guest must end with its count intact."""
    restarted = re.compile(rf"\[init\] t=\d+ {a.vm} restarted")
    injected = re.compile(rf"\[init\] t=\d+ inject (\w+) into {a.vm}")
    start_at, t0 = len(g.raw), time.monotonic()
    g.command("i=0")
    total, outs = 0, []
    while True:
        total += COUNT_ROUND
        out, _ = g.command(f"while [ $i -lt {total} ]; do i=$((i+1)); echo count $i; "
                           f"sleep 0.05; done; echo loop-end $i", timeout=300)
        outs.append(out or "")
        crashes = len(restarted.findall(g.raw, start_at))
        kinds = sorted(set(injected.findall(g.raw, start_at)))
        enough = crashes >= COUNT_MIN_CRASHES and kinds == KINDS
        if out is None or enough or total >= COUNT_MAX or time.monotonic() - t0 > COUNT_SECONDS:
            break
    host_s = time.monotonic() - t0
    text = "\n".join(outs)
    got = [int(m) for m in re.findall(r"^count (\d+)$", text, re.M)]
    want = list(range(1, total + 1))
    missing = sorted(set(want) - set(got))
    repeated = sorted({n for n in got if got.count(n) > 1})
    # any other line with a count (not the typed command's echo) is damaged: a byte lost or
    # doubled
    damaged = [l for l in text.split("\n")
               if "count" in l and "$" not in l and not re.fullmatch(r"count \d+", l)]
    ends = re.findall(r"^loop-end (\d+)$", text, re.M)
    ended = ends == [str(n) for n in range(COUNT_ROUND, total + 1, COUNT_ROUND)]
    if "counter" in a.checks:
        check("counter", ended and got == want and not damaged,
              f"the shell's loop counts to {total} in rounds of {COUNT_ROUND} through the "
              f"crashes, each line exactly once ({host_s:.1f} s; every round ended: {ended}; "
              f"missing {missing[:5]}, repeated {repeated[:5]}, out of order: "
              f"{got != sorted(got)}, damaged {damaged[:3]})")
    if "crashes" in a.checks:
        check("crashes", crashes >= COUNT_MIN_CRASHES and kinds == KINDS,
              f"the VMM was crashed and restarted {crashes} times while the loop counted (at "
              f"least {COUNT_MIN_CRASHES}), kinds {kinds} (all of {KINDS})")


if __name__ == "__main__":
    sys.exit(main())
