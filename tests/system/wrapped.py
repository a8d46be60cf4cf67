# SPDX-License-Identifier: MIT
"""A checker that wraps a run.py command: runs it and names the serial log it wrote."""

import subprocess
import sys


def run(args):
    """Runs the run.py command in args (after an optional "--"); returns (status, log path)."""
    cmd = args[1:] if args[:1] == ["--"] else args
    log = cmd[cmd.index("--log") + 1]
    return subprocess.call([sys.executable] + cmd), log
