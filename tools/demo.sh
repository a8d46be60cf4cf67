#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The crash-resilience demo (issue 15): two Linux guests at work while you crash servers
# (tools/demo.py: its --help; docs/resilience.md, "The demo"). --auto runs a timed script of
# crashes unattended and ends with the campaign's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || tools/build.sh
exec python3 tools/demo.py "$@"
