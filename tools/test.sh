#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build, then run every test suite (unit and system). Extra arguments go to
# `meson test`, e.g. `tools/test.sh system-qemu -v`.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/build.sh
meson test -C build --print-errorlogs "$@"
