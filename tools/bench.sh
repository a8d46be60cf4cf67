#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a benchmark under QEMU with -icount shift=0, where rdtsc deltas are exact guest
# instruction counts (repeatable on a busy machine). Prints the `bench:` lines.
# usage: tools/bench.sh [ipc|restart]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh >/dev/null || { echo "build failed"; exit 1; }
case "${1:-ipc}" in
  ipc)     modules="build/bench/bench-ipc.elf ipc" ;;
  restart) modules="build/servers/init/init.elf init,bench/restart/manifest.txt manifest,build/servers/echo/echo.elf echo,build/bench/bench-restart.elf restartbench" ;;
  *) echo "usage: $0 [ipc|restart]"; exit 2 ;;
esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout 300 qemu-system-x86_64 -cpu qemu64,+svm,+npt -m 256M -display none -no-reboot -monitor none \
    -icount shift=0 -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -kernel build/kernel/resurgo.elf -initrd "$modules" || true
grep -a '^bench:' "$log" || { cat "$log"; echo "benchmark printed nothing"; exit 1; }
grep -aq '^bench: done' "$log" || { cat "$log"; exit 1; }
