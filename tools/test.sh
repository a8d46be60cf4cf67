#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test: builds (installing what is missing), then `meson test` (host unit tests,
# system tests in QEMU and Bochs, benchmark smoke runs). Extra arguments go to `meson test`.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/build.sh
status=0
rm -f build/meson-logs/testlog.json
meson test -C build --print-errorlogs "$@" || status=$?
# one plain closing line that any CI reads: "N passed, M failed", from Meson's test log
tools/test-summary.py build/meson-logs/testlog.json
exit "$status"
