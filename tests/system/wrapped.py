# SPDX-License-Identifier: MIT
"""A checker that wraps a run.py command: runs it and names the serial log it wrote."""

import subprocess
import sys
from pathlib import Path


def run(args):
    """Runs the run.py command in args (after an optional "--"); returns (status, log path)."""
    cmd = args[1:] if args[:1] == ["--"] else args
    log = cmd[cmd.index("--log") + 1]
    return subprocess.call([sys.executable] + cmd), log


def print_log(log):
    """Prints the serial log of a run whose own verdict passed but the wrapping checker's did not
    (the rule: a failed emulator run's log is printed)."""
    try:
        text = Path(log).read_text(errors="replace")
    except OSError as e:
        text = f"(cannot read it: {e})"
    print(f"----- serial log ({log}) -----\n{text}\n-----", flush=True)
