#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a benchmark under QEMU with -icount shift=0, where rdtsc deltas are exact guest
# instruction counts (repeatable on a busy machine). Prints the `bench:` lines.
# usage: tools/bench.sh [ipc|ipc-pti|restart|vmexit]   (ipc-pti: the kernel booted with pti=on)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh >/dev/null || { echo "build failed"; exit 1; }
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Boots the kernel with the modules ("path name,path name,...") and the kernel command line
# $cmdline, serial to $log; fails unless the run printed `bench: done`.
cmdline=""
boot() {
  timeout 300 qemu-system-x86_64 -cpu qemu64,+svm,+npt -m 256M -display none -no-reboot -monitor none \
      -icount shift=0 -serial "file:$log" -device isa-debug-exit,iobase=0xf4,iosize=4 \
      -kernel build/kernel/resurgo.elf -initrd "$1" ${cmdline:+-append "$cmdline"} || true
  grep -aq '^bench: done' "$log" || { cat "$log"; echo "benchmark did not finish"; exit 1; }
}

# min/median/max of the "[vmexit] mmio: 0x..." deltas servers/vmm printed, after the warm-up.
vmm_figures() {
  grep -a '^\[vmexit\] mmio: 0x' "$log" | tr -d '\r' | sed 's/.*0x//' | tail -n +201 | while read -r h; do echo $((16#$h)); done |
    sort -n | awk '{v[NR] = $1} END {if (!NR) {print "bench: FAILED no samples from servers/vmm"; exit 1}
      printf "bench: vmexit round trip, servers/vmm  min %5d  median %5d  max %7d  (n=%d)\n", v[1], v[int(NR / 2) + 1], v[NR], NR}'
}

case "${1:-ipc}" in
  ipc)     boot "build/bench/bench-ipc.elf ipc"; grep -a '^bench:' "$log" ;;
  ipc-pti) cmdline="pti=on"; boot "build/bench/bench-ipc.elf ipc"; grep -a '^pti:' "$log"; grep -a '^bench:' "$log" ;;
  restart) boot "build/servers/init/init.elf init,bench/restart/manifest.txt manifest,build/servers/echo/echo.elf echo,build/bench/bench-restart.elf restartbench"
           grep -a '^bench:' "$log" ;;
  vmexit)  # next to the bare IPC round trip; the guest's deltas include one RDTSC
           boot "build/bench/bench-ipc.elf ipc"; grep -a '^bench: ipc round trip' "$log"
           vm="build/servers/vmm/vmm.elf vmm,build/bench/bench-vmexit.elf benchvmexit,build/bench/vmexit-guest.bin vmexitguest"
           boot "build/servers/init/init.elf init,bench/vmexit/manifest-bare.txt manifest,$vm"
           grep -a '^bench: vmexit' "$log"
           boot "build/servers/init/init.elf init,bench/vmexit/manifest-vmm.txt manifest,$vm"
           vmm_figures; echo "bench: done" ;;
  *) echo "usage: $0 [ipc|ipc-pti|restart|vmexit]"; exit 2 ;;
esac
