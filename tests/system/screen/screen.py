#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""system-screen: the screen console and the PS/2 keyboard, with no serial port at all.

Boots the GRUB ISO (multiboot2, framebuffer tag) in QEMU with a VGA card (-vga std), no display
window and no serial port (-serial none): the kernel's and init's output can only be seen on the
screen. Through QEMU's monitor (a unix socket) it takes screendumps (PPM) and reads them back
into text by matching every 8x16 cell against the kernel's own font (kernel/arch/x86_64/font.c,
rendered here pixel for pixel); a cell that is neither blank nor exactly a glyph is unreadable.
Then it types with the monitor's sendkey, which reaches the emulated i8042, so the keys travel
IRQ 1 -> servers/kbd -> init's shell.

Checks (all must run and pass; the count is printed):
  the kernel banner is rendered, with every cell of its line an exact glyph
  the kernel says it found no COM1 and which framebuffer it uses
  init's prompt ("type 'help' for the shell") and the keyboard driver's start line
  `help` typed on the keyboard: its echo and the answer
  `crash kbd kill` typed: init restarts the driver
  `restarts` typed on the restarted driver: "kbd: 1 restarts"
Usage: screen.py --kernel ELF --module NAME=PATH... [--machine pc|q35] [--log FILE] [--timeout S]"""
import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FONT_C = ROOT / "kernel/arch/x86_64/font.c"
CELL_W, CELL_H = 8, 16


def load_font():
    """{16 row bytes: character} from font.c, in the order of its table (0x20 onwards)."""
    rows = re.findall(r"^\s*\{((?:0x[0-9a-f]{2}, ){15}0x[0-9a-f]{2})\},", FONT_C.read_text(), re.M)
    if len(rows) != 95:
        raise SystemExit(f"font.c: {len(rows)} glyphs, expected 95")
    glyphs = {}
    for i, r in enumerate(rows):
        key = tuple(int(b, 16) for b in r.split(", "))
        if key in glyphs:
            raise SystemExit(f"font.c: {chr(32 + i)!r} looks like {glyphs[key]!r}")
        glyphs[key] = chr(32 + i)
    return glyphs


def read_ppm(path):
    data = Path(path).read_bytes()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    if not m:
        raise ValueError("not a binary PPM")
    w, h, maxval = map(int, m.groups())
    if maxval != 255:
        raise ValueError("PPM maxval %d" % maxval)
    return w, h, data[m.end():m.end() + w * h * 3]


def screen_text(path, glyphs):
    """The screen as lines of text; '\\x00' marks a cell that matches no glyph."""
    w, h, px = read_ppm(path)
    lines = []
    for r in range(h // CELL_H):
        line = []
        for c in range(w // CELL_W):
            key = []
            for y in range(CELL_H):
                off = ((r * CELL_H + y) * w + c * CELL_W) * 3
                b = 0
                for x in range(CELL_W):
                    p = px[off + 3 * x: off + 3 * x + 3]
                    if p[0] + p[1] + p[2] > 3 * 0x55:  # the console draws 0xAAAAAA on black
                        b |= 0x80 >> x
                key.append(b)
            line.append(glyphs.get(tuple(key), "\x00"))
        lines.append("".join(line).rstrip())
    return lines


class Monitor:
    """QEMU's human monitor on a unix socket."""

    def __init__(self, path, deadline):
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.read_prompt()

    def read_prompt(self):
        buf = b""
        self.s.settimeout(30)
        while not buf.endswith(b"(qemu) "):
            chunk = self.s.recv(4096)
            if not chunk:
                raise EOFError("monitor closed")
            buf += chunk
        return buf

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\n")
        return self.read_prompt()


KEYS = {" ": "spc", "\n": "ret", "-": "minus", ".": "dot", "/": "slash", "=": "equal"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kernel", required=True)
    p.add_argument("--module", action="append", default=[])
    p.add_argument("--log", default="system-screen.log")
    p.add_argument("--timeout", type=float, default=180)
    p.add_argument("--machine", default="pc", help="QEMU machine: pc (i440FX) or q35")
    a = p.parse_args()
    glyphs = load_font()
    log = open(a.log, "w")
    checks = []  # (name, passed)
    planned = 9

    def check(name, ok, detail=""):
        checks.append((name, ok))
        print(f"{'ok' if ok else 'FAIL'} {len(checks)} - {name}{': ' + detail if detail and not ok else ''}",
              file=log, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        iso = os.path.join(tmp, "resurgo.iso")
        subprocess.run([str(ROOT / "tools/mkiso.sh"), "--graphics", iso, a.kernel] + a.module, check=True)
        mon_path = os.path.join(tmp, "monitor.sock")
        dump = os.path.join(tmp, "screen.ppm")
        qemu = ["qemu-system-x86_64", "-machine", a.machine, "-cpu", "qemu64,+svm,+npt", "-m", "256M",
                "-no-reboot",
                "-cdrom", iso, "-vga", "std", "-display", "none", "-serial", "none",
                "-parallel", "none", "-monitor", f"unix:{mon_path},server=on,wait=off"]
        print(" ".join(qemu), file=log, flush=True)
        proc = subprocess.Popen(qemu, stdout=log, stderr=subprocess.STDOUT)
        start = time.time()
        deadline = start + a.timeout
        screen = []
        try:
            mon = Monitor(mon_path, deadline)

            def look():
                nonlocal screen
                mon.cmd(f"screendump {dump}")
                try:
                    screen = screen_text(dump, glyphs)
                except (OSError, ValueError):
                    screen = []  # not written yet, or the card not in the graphics mode yet
                return screen

            def wait_for(pattern, within=60):
                """The first screen line matching pattern (a regex), or None at the time-out."""
                end = min(deadline, time.time() + within)
                while time.time() < end:
                    for line in look():
                        if re.search(pattern, line):
                            return line
                    time.sleep(1)
                return None

            def type_text(text):
                for ch in text:
                    key = KEYS.get(ch, ch)
                    mon.cmd(f"sendkey {key}")
                    time.sleep(0.05)  # init reads the ring every 10 ms tick

            prompt = wait_for(r"^\[init\] t=\d+ type 'help' for the shell$", 120)
            check("init's prompt rendered", prompt is not None)
            banner = [l for l in screen if l.startswith("Resurgo microkernel")]
            check("kernel banner rendered cell for cell",
                  banner == ["Resurgo microkernel (x86-64)"], repr(banner))
            check("no COM1 detected and said",
                  "console: no serial port at COM1 (screen only)" in screen)
            check("framebuffer named", any(re.match(r"console: framebuffer \d+x\d+, 32 bpp", l)
                                           for l in screen))
            kbd = wait_for(r"^kbd: instance 1, i8042 keyboard on IRQ 1$", 30)
            check("keyboard driver started", kbd is not None)
            type_text("help\n")
            echo = wait_for(r"^help$", 30)
            answer = wait_for(r"^\[init\] t=\d+ commands: ps \| restarts \| crash NAME", 30)
            check("help typed, echoed and answered", echo is not None and answer is not None,
                  f"echo {echo!r} answer {answer!r}")
            type_text("crash kbd kill\n")
            restarted = wait_for(r"^\[init\] t=\d+ kbd restarted \(instance 2", 30)
            check("crash kbd kill typed: driver restarted", restarted is not None)
            kbd2 = wait_for(r"^kbd: instance 2, i8042 keyboard on IRQ 1$", 30)
            type_text("restarts\n")
            count = wait_for(r"^\[init\] t=\d+ kbd: 1 restarts$", 30)
            check("restarts typed on the new instance: kbd: 1 restarts", count is not None)
            unreadable = [l for l in screen if "\x00" in l]
            check("every cell on the screen is blank or a glyph", kbd2 is not None and not unreadable,
                  f"instance 2 line {kbd2!r}, unreadable lines {unreadable[:3]!r}")
        except (OSError, EOFError) as e:
            print(f"monitor: {e}", file=log)
        finally:
            print("---- last screen ----", file=log)
            for line in screen:
                print(line.replace("\x00", "#"), file=log)
            proc.kill()
            proc.wait()
            if os.path.exists(dump):  # the last screendump, for a person to look at
                Path(a.log + ".ppm").write_bytes(Path(dump).read_bytes())
    failed = [n for n, ok in checks if not ok]
    print(f"{len(checks) - len(failed)}/{planned} checks passed ({time.time() - start:.1f} s)"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    print(f"log: {a.log}")
    return 0 if len(checks) == planned and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
