#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the benchmarks under QEMU with -icount shift=0, where rdtsc deltas are exact guest
# instruction counts (repeatable on a busy machine). Prints the `bench:` lines.
# usage: tools/bench.sh [ipc]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh >/dev/null || { echo "build failed"; exit 1; }
which="${1:-ipc}"
elf="build/bench/bench-$which.elf"
[ -f "$elf" ] || { echo "no benchmark '$which' ($elf)"; exit 2; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 120 qemu-system-x86_64 -cpu qemu64,+svm,+npt -m 256M -display none -no-reboot -monitor none \
    -icount shift=0 -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -kernel build/kernel/resurgo.elf -initrd "$elf $which" || true
grep -a '^bench:' "$log" || { cat "$log"; echo "benchmark printed nothing"; exit 1; }
grep -aq '^bench: done' "$log" || { cat "$log"; exit 1; }
