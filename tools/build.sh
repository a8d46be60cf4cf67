#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install missing dependencies, configure build/ once, and compile.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
if [ ! -f build/build.ninja ]; then
    meson setup build --cross-file tools/cross/x86_64-resurgo.ini
fi
meson compile -C build
