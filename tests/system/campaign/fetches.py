#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""campaign-linux-fetches: how the Linux mode (tools/campaign_linux.py) judges the host's
transfers, against local HTTP servers standing in for the guests' busybox httpd, no QEMU.

- vmA answers `408 Request Timeout` twice (what httpd says after waiting 60 s for a request the
  emulator's user network lost and never sent again, docs/resilience.md "Linux mode"), then the
  right bytes: a transfer stall, no broken transfer;
- vmB serves wrong bytes once: a broken transfer (what a NIC that garbled a frame would cause);
- after the faults, vmA answers right at once, vmB only with errors: vmB is unreachable after
  the faults, a broken transfer.
Before the Linux mode told stalls from broken transfers, each 408 was a broken transfer."""
import hashlib
import http.server
import os
import sys
import tempfile
import threading
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
import campaign_linux  # noqa: E402

GOOD = os.urandom(4096)
# per guest: the answers to its fetches in order (the last repeats): 200, 408 or "wrong"
PLAN = {"vmA": [408, 408, 200], "vmB": [200, "wrong", 200, 503]}


def serve(vm):
    answers = list(PLAN[vm])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            a = answers.pop(0) if len(answers) > 1 else answers[0]
            body = GOOD if a == 200 else GOOD[:-1] + b"x" if a == "wrong" else b""
            self.send_response(200 if a == "wrong" else a)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv.server_address[1]


def main():
    m = object.__new__(campaign_linux.Machine)
    m.log = os.path.join(tempfile.mkdtemp(prefix="campaign-fetches-"), "boot-0.log")
    m.t0 = time.monotonic()
    m.g = types.SimpleNamespace(raw="", read=lambda: None)
    m.proc = types.SimpleNamespace(poll=lambda: None)
    m.ports = {vm: serve(vm) for vm in campaign_linux.GUESTS}
    m.www = {vm: hashlib.md5(GOOD).hexdigest() for vm in campaign_linux.GUESTS}
    m.fetches = {vm: [] for vm in campaign_linux.GUESTS}
    m.unreachable = []
    m.stop_fetch = threading.Event()
    m.fetcher = None
    # the storm: vmA's three fetches, vmB's two
    for vm in ["vmA", "vmB", "vmA", "vmB", "vmA"]:
        m.fetch(vm)
    m.finish_fetching(timeout=5)   # the fetch after the faults: vmA good, vmB 200 then 503s
    bad = m.guest_failures()
    st = m.status()
    broken = sorted(d for k, d in bad if k == "broken transfer")
    errors = []
    if len(broken) != 1 or not broken[0].startswith("vmB at"):
        errors.append(f"broken transfers during the storm: want vmB's wrong bytes only: {broken}")
    if st["vmA"]["broken"] != 0 or st["vmA"]["transfer_stalls"] != 1:
        errors.append(f"vmA: want no broken transfer and one stall: {st['vmA']}")
    # vmB's plan after the storm: 200, then 503 for ever; its final fetch reaches it
    if st["vmB"]["broken"] != 1 or st["vmB"]["transfer_stalls"] != 0:
        errors.append(f"vmB: want 1 broken (wrong bytes), no stall: {st['vmB']}")
    # and a guest no fetch reaches after the faults is a broken transfer
    m.unreachable = []
    m.finish_fetching(timeout=5)   # vmB: 503 in all FINAL_FETCHES tries
    bad = m.guest_failures()
    if not any(k == "broken transfer" and d.startswith("vmB: no correct transfer") for k, d in bad):
        errors.append(f"vmB unreachable after the faults is not a broken transfer: {bad}")
    if any(d.startswith("vmA:") for _, d in bad):
        errors.append(f"vmA reachable after the faults, yet: {bad}")
    for e in errors:
        print("FAIL:", e)
    print("fetches:", {vm: [x[1] for x in f] for vm, f in m.fetches.items()})
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
