#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every test: builds (installing what is missing), then `meson test` (host unit tests,
# system tests in QEMU and Bochs, benchmark smoke runs). Extra arguments go to `meson test`.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/build.sh
status=0
meson test -C build --print-errorlogs "$@" | tee build/meson-test.out || status=$?
# one plain closing line that any CI reads: "N passed, M failed"
ok=$(sed -n 's/^Ok: *\([0-9]*\).*/\1/p' build/meson-test.out | tail -n 1)
bad=$(sed -n 's/^Fail: *\([0-9]*\).*/\1/p' build/meson-test.out | tail -n 1)
timeouts=$(sed -n 's/^Timeout: *\([0-9]*\).*/\1/p' build/meson-test.out | tail -n 1)
echo "${ok:-0} passed, $(( ${bad:-0} + ${timeouts:-0} )) failed"
exit "$status"
